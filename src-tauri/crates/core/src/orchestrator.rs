//! The orchestrator: takes tasks from the queue (priority then age, with
//! aging), routes them to agents, runs them within the global, per-agent and
//! per-provider limits, retries failures with backoff, holds work back while
//! a provider's circuit breaker is open, resumes parked runs when their wait
//! is over, and keeps each agent's runtime status and heartbeat. A run that
//! crashes its worker is re-queued and the agent restarts after a backoff.
//! On shutdown it stops claiming, lets running work finish for a grace
//! period, then interrupts the rest so it resumes after a restart.
//!
//! Only one orchestrator may run per data folder: [`RunnerLock`].

pub mod delegation;
pub mod lifecycle;
pub mod routing;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::OptionalExtension;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::agents::{Agent, AgentFilter, AgentStatus};
use crate::error::{CoreError, Result};
use crate::events::{Entity, Notice, NoticeKind};
use crate::providers::hub::ProviderHub;
use crate::runtime::{Executor, Job, Outcome};
use crate::tasks::TaskStatus;
use crate::{Core, Id, Paging};

pub use lifecycle::{Capacity, TaskRetry};

#[derive(Debug, Clone)]
pub struct OrchestratorConfig {
    /// One priority level gained per this many minutes in the queue.
    pub aging_minutes: f64,
    pub retry: TaskRetry,
    /// How often agents' status and heartbeat are written.
    pub heartbeat: Duration,
    /// Longest wait between two looks at the queue.
    pub poll: Duration,
    /// First restart delay of a crashed agent worker (doubles per crash, max 1 min).
    pub restart_backoff: Duration,
    /// How long shutdown waits for running work before interrupting it.
    pub shutdown_grace: Duration,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        Self {
            aging_minutes: 10.0,
            retry: TaskRetry::default(),
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_millis(500),
            restart_backoff: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(8),
        }
    }
}

/// Counters for tests, benchmarks and the UI.
#[derive(Debug, Default)]
pub struct Stats {
    pub started: AtomicU64,
    pub finished: AtomicU64,
    pub max_running: AtomicUsize,
    pub crashes: AtomicU64,
}

#[derive(Debug, Clone)]
struct Running {
    agent: Id,
    provider: String,
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct Inner {
    running: HashMap<Id, Running>,
    agents: Vec<Agent>,
    agents_stale: bool,
    /// Crashed workers: restarts so far and when they may work again.
    crashed: HashMap<Id, (u32, Instant)>,
    /// Agent → provider name, refreshed with the agents.
    provider_of: HashMap<Id, String>,
    max_agent_load: HashMap<Id, u32>,
    last_status: HashMap<Id, AgentStatus>,
    /// Settings and provider configurations, refreshed with the agents (a
    /// settings or provider change marks them stale too).
    settings: crate::settings::Settings,
    providers: Vec<crate::providers::ProviderConfig>,
}

pub struct Orchestrator {
    core: Arc<Core>,
    hub: Arc<ProviderHub>,
    executor: Arc<dyn Executor>,
    config: OrchestratorConfig,
    inner: Mutex<Inner>,
    wake: Notify,
    stop: CancellationToken,
    pub stats: Stats,
}

impl Orchestrator {
    pub fn new(
        core: Arc<Core>,
        hub: Arc<ProviderHub>,
        executor: Arc<dyn Executor>,
        config: OrchestratorConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            core,
            hub,
            executor,
            config,
            inner: Mutex::new(Inner {
                agents_stale: true,
                ..Default::default()
            }),
            wake: Notify::new(),
            stop: CancellationToken::new(),
            stats: Stats::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the scheduler to look at the queue now.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Stops the orchestrator (see [`Orchestrator::run`]).
    pub fn shutdown(&self) {
        self.stop.cancel();
        self.wake.notify_one();
    }

    pub fn running_count(&self) -> usize {
        self.lock().running.len()
    }

    /// The most tasks one agent ran at once so far.
    pub fn max_agent_load(&self, agent: &str) -> u32 {
        self.lock().max_agent_load.get(agent).copied().unwrap_or(0)
    }

    /// Pauses or resumes one agent: a paused agent takes no new tasks.
    pub fn set_agent_paused(&self, agent: &str, paused: bool) -> Result<()> {
        self.core.agents().set_status(
            agent,
            if paused {
                AgentStatus::Paused
            } else {
                AgentStatus::Idle
            },
        )?;
        self.lock().agents_stale = true;
        self.nudge();
        Ok(())
    }

    async fn refresh_agents(&self) -> Result<()> {
        {
            // Cleared before reading, so a change that lands while this
            // refresh awaits marks the cache stale again instead of being lost.
            let mut g = self.lock();
            if !g.agents_stale {
                return Ok(());
            }
            g.agents_stale = false;
        }
        let (agents, settings, providers) = match self
            .core
            .call(|c| {
                let agents = c.agents().list(
                    &AgentFilter {
                        enabled: Some(true),
                        ..Default::default()
                    },
                    Paging {
                        limit: Some(Paging::MAX_LIMIT),
                        offset: None,
                    },
                )?;
                Ok((agents.items, c.settings()?, c.providers().list()?))
            })
            .await
        {
            Ok(loaded) => loaded,
            Err(e) => {
                self.lock().agents_stale = true;
                return Err(e);
            }
        };
        let default = self
            .hub
            .default_choice()
            .await
            .map(|d| d.provider)
            .unwrap_or_default();
        let mut g = self.lock();
        g.provider_of = agents
            .iter()
            .map(|a| {
                (
                    a.id.clone(),
                    a.provider
                        .clone()
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| default.clone()),
                )
            })
            .collect();
        g.agents = agents;
        g.settings = settings;
        g.providers = providers;
        Ok(())
    }

    /// What can take work now. Call [`Orchestrator::refresh_agents`] first.
    fn capacity(&self) -> Capacity {
        let g = self.lock();
        let now = Instant::now();
        let mut cap = Capacity {
            agents: g.agents.clone(),
            provider_of: g.provider_of.clone(),
            ..Default::default()
        };
        for r in g.running.values() {
            *cap.agent_load.entry(r.agent.clone()).or_default() += 1;
            *cap.provider_load.entry(r.provider.clone()).or_default() += 1;
        }
        for (agent, (_, until)) in &g.crashed {
            if *until > now {
                cap.agent_blocked.insert(agent.clone(), true);
            }
        }
        for p in &g.providers {
            cap.provider_limit
                .insert(p.name.clone(), p.max_concurrent.max(1));
            cap.provider_blocked
                .insert(p.name.clone(), !self.hub.breaker(&p.name).is_available());
        }
        cap
    }

    /// Runs until [`Orchestrator::shutdown`]: recovers interrupted work, then
    /// schedules. Returns after running work drained or was interrupted.
    pub async fn run(self: Arc<Self>) -> Result<()> {
        let requeued = self.core.call(|c| c.recover()).await?;
        if requeued > 0 {
            tracing::info!(
                count = requeued,
                "re-queued tasks interrupted by the last shutdown"
            );
        }
        let mut jobs: JoinSet<()> = JoinSet::new();
        let mut events = self.core.events().subscribe();
        let mut last_expiry = Instant::now() - Duration::from_secs(3600);
        let mut last_heartbeat = Instant::now() - self.config.heartbeat;
        // Look at the queue at once, not after the first change or poll.
        self.wake.notify_one();
        loop {
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
                ev = events.recv() => {
                    // Take the changes already waiting too, so that a burst
                    // of them costs one look at the queue, not one each.
                    let mut batch = Vec::new();
                    let mut lagged = ev.is_err();
                    batch.extend(ev.ok());
                    while batch.len() < 1024 {
                        match events.try_recv() {
                            Ok(c) => batch.push(c),
                            Err(broadcast::error::TryRecvError::Empty) => break,
                            Err(broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                            Err(broadcast::error::TryRecvError::Closed) => {
                                lagged = true;
                                break;
                            }
                        }
                    }
                    if lagged {
                        self.lock().agents_stale = true;
                    }
                    self.on_changes(&batch).await;
                }
                Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
            }
            // Drain finished jobs without waiting.
            while let Some(r) = jobs.try_join_next() {
                if let Err(e) = r {
                    tracing::error!(error = %e, "a job supervisor failed");
                }
            }
            if last_heartbeat.elapsed() >= self.config.heartbeat {
                last_heartbeat = Instant::now();
                if let Err(e) = self.heartbeat().await {
                    tracing::warn!(error = %e, "heartbeat failed");
                }
            }
            if last_expiry.elapsed() >= Duration::from_secs(15) {
                last_expiry = Instant::now();
                match self.core.call(|c| c.approvals().expire()).await {
                    Ok(ids) if !ids.is_empty() => {
                        tracing::info!(count = ids.len(), "approvals expired (rejected by default)")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot expire approvals"),
                }
            }
            if let Err(e) = self.schedule(&mut jobs).await {
                tracing::warn!(error = %e, "scheduling failed; retrying shortly");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        self.drain(jobs).await;
        let _ = self.heartbeat().await;
        Ok(())
    }

    async fn on_changes(&self, changes: &[crate::Change]) {
        // Running tasks that changed: one was perhaps cancelled.
        let mut touched: Vec<(Id, CancellationToken)> = Vec::new();
        {
            let mut g = self.lock();
            for c in changes {
                match c.entity {
                    Entity::Agent | Entity::Provider | Entity::Settings => g.agents_stale = true,
                    // Another process wrote: agents or settings may have
                    // changed, and a running task may have been cancelled.
                    Entity::External => {
                        g.agents_stale = true;
                        for (id, r) in &g.running {
                            if !touched.iter().any(|(t, _)| t == id) {
                                touched.push((id.clone(), r.cancel.clone()));
                            }
                        }
                    }
                    Entity::Task => {
                        if let Some(r) = g.running.get(&c.id) {
                            if !touched.iter().any(|(id, _)| *id == c.id) {
                                touched.push((c.id.clone(), r.cancel.clone()));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if touched.is_empty() {
            return;
        }
        let ids: Vec<Id> = touched.iter().map(|(id, _)| id.clone()).collect();
        let cancelled = self
            .core
            .call(move |co| {
                co.read(|conn| {
                    let mut stmt = conn.prepare_cached("SELECT status FROM tasks WHERE id = ?1")?;
                    let mut out = Vec::new();
                    for id in ids {
                        let status: Option<String> =
                            stmt.query_row([&id], |r| r.get(0)).optional()?;
                        if status.as_deref() == Some(TaskStatus::Cancelled.as_str()) {
                            out.push(id);
                        }
                    }
                    Ok(out)
                })
            })
            .await
            .unwrap_or_default();
        for (id, token) in touched {
            if cancelled.contains(&id) {
                token.cancel();
            }
        }
    }

    async fn schedule(self: &Arc<Self>, jobs: &mut JoinSet<()>) -> Result<()> {
        if self.stop.is_cancelled() {
            return Ok(());
        }
        // Agents, settings and providers are read again only after a change.
        self.refresh_agents().await?;
        let (paused, max) = {
            let g = self.lock();
            (g.settings.paused, g.settings.max_concurrent_tasks)
        };
        if paused {
            return Ok(());
        }
        let running = self.running_count();
        let free = (max as usize).saturating_sub(running);
        if free == 0 {
            return Ok(());
        }
        let mut cap = self.capacity();
        let aging = self.config.aging_minutes;
        let claimed = self
            .core
            .call(move |c| c.claim(free, &mut cap, aging))
            .await?;
        let more = claimed.len() == free;
        for job in claimed {
            self.launch(job, jobs);
        }
        if more {
            // The queue may hold more: look again without waiting.
            self.wake.notify_one();
        }
        Ok(())
    }

    fn launch(self: &Arc<Self>, job: Job, jobs: &mut JoinSet<()>) {
        let cancel = self.stop.child_token();
        {
            let mut g = self.lock();
            let provider = g
                .provider_of
                .get(&job.agent.id)
                .cloned()
                .unwrap_or_default();
            g.running.insert(
                job.task.id.clone(),
                Running {
                    agent: job.agent.id.clone(),
                    provider,
                    cancel: cancel.clone(),
                },
            );
            let load = g
                .running
                .values()
                .filter(|r| r.agent == job.agent.id)
                .count() as u32;
            let m = g.max_agent_load.entry(job.agent.id.clone()).or_default();
            *m = (*m).max(load);
            let n = g.running.len();
            self.stats.max_running.fetch_max(n, Ordering::SeqCst);
        }
        self.stats.started.fetch_add(1, Ordering::SeqCst);
        let me = self.clone();
        jobs.spawn(async move {
            let executor = me.executor.clone();
            let (job2, c2) = (job.clone(), cancel.clone());
            // A panic inside the executor crashes only this worker task.
            let outcome = match tokio::spawn(async move { executor.execute(job2, c2).await }).await
            {
                Ok(o) => o,
                Err(e) => {
                    me.crashed(&job.agent.id, &e.to_string());
                    Outcome::Requeue {
                        reason: format!("the agent's worker crashed: {e}"),
                    }
                }
            };
            if let Some(task) = me.record_end(&job, &outcome).await {
                if task.status == TaskStatus::Failed {
                    me.core.events().notify(Notice {
                        kind: NoticeKind::TaskFailed,
                        title: format!("Task failed: {}", task.title),
                        body: task.error.clone().unwrap_or_default(),
                        view: "tasks".into(),
                        item_id: Some(task.id.clone()),
                    });
                }
            }
            me.lock().running.remove(&job.task.id);
            me.stats.finished.fetch_add(1, Ordering::SeqCst);
            me.wake.notify_one();
        });
    }

    /// Records how a run ended. While the store refuses for a while (locked
    /// by another process, disk full) it tries again, so the task does not
    /// stay `running` with nobody working on it; if the app stops first, the
    /// run is recovered at the next start.
    async fn record_end(&self, job: &Job, outcome: &Outcome) -> Option<crate::tasks::Task> {
        let mut delay = Duration::from_millis(100);
        loop {
            let (j, o, retry) = (job.clone(), outcome.clone(), self.config.retry);
            let e = match self.core.call(move |c| c.finish_job(&j, &o, retry)).await {
                Ok(task) => return Some(task),
                Err(e) => e,
            };
            if !e.is_transient_storage() {
                tracing::error!(task = %job.task.id, error = %e, "cannot record the end of a run");
                return None;
            }
            tracing::warn!(task = %job.task.id, error = %e, ?delay, "cannot record the end of a run yet; trying again");
            tokio::select! {
                _ = self.stop.cancelled() => return None,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    fn crashed(&self, agent: &str, why: &str) {
        self.stats.crashes.fetch_add(1, Ordering::SeqCst);
        let mut g = self.lock();
        let e = g
            .crashed
            .entry(agent.to_string())
            .or_insert((0, Instant::now()));
        e.0 += 1;
        let backoff = self
            .config
            .restart_backoff
            .saturating_mul(2u32.saturating_pow(e.0.saturating_sub(1)))
            .min(Duration::from_secs(60));
        e.1 = Instant::now() + backoff;
        tracing::error!(
            agent,
            restarts = e.0,
            ?backoff,
            error = why,
            "agent worker crashed; restarting after a backoff"
        );
    }

    /// Writes each agent's status (busy / idle / error while restarting;
    /// paused is kept) and heartbeat.
    async fn heartbeat(&self) -> Result<()> {
        let updates: Vec<(Id, AgentStatus)> = {
            let mut g = self.lock();
            let now = Instant::now();
            let mut out = Vec::new();
            let agents = g.agents.clone();
            for a in &agents {
                if a.status == AgentStatus::Paused {
                    continue;
                }
                let busy = g.running.values().any(|r| r.agent == a.id);
                let restarting = g.crashed.get(&a.id).is_some_and(|(_, until)| *until > now);
                let s = if restarting {
                    AgentStatus::Error
                } else if busy {
                    AgentStatus::Busy
                } else {
                    AgentStatus::Idle
                };
                g.last_status.insert(a.id.clone(), s);
                out.push((a.id.clone(), s));
            }
            out
        };
        if updates.is_empty() {
            return Ok(());
        }
        self.core.call(move |c| {
            c.write(|tx| {
                let now = crate::time::now_sql();
                for (id, s) in &updates {
                    tx.execute(
                        "UPDATE agents SET status = ?2, last_heartbeat = ?3 WHERE id = ?1 AND status <> 'paused'",
                        rusqlite::params![id, s, now],
                    )?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn drain(&self, mut jobs: JoinSet<()>) {
        let grace = self.config.shutdown_grace;
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                r = jobs.join_next() => if r.is_none() { return },
            }
        }
        // Interrupt what is still running; each records itself as interrupted.
        let tokens: Vec<CancellationToken> = self
            .lock()
            .running
            .values()
            .map(|r| r.cancel.clone())
            .collect();
        for t in tokens {
            t.cancel();
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while jobs.join_next().await.is_some() {}
        })
        .await;
    }
}

/// One orchestrator per data folder: an exclusive lock on `<data>/runner.lock`,
/// released when the process ends (even when killed).
pub struct RunnerLock {
    _file: std::fs::File,
}

impl RunnerLock {
    /// The error of a second runner on one data folder.
    pub fn busy() -> CoreError {
        CoreError::Conflict(
            "another Ensemble runner (the app or `ensemble run`) is already working on this data folder".into(),
        )
    }

    pub fn acquire(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join("runner.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CoreError::io(format!("cannot open {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Self::busy()),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(CoreError::io(format!("cannot lock {}", path.display()), e))
            }
        }
    }
}
