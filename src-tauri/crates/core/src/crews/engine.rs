//! The crew engine: starts a run of a crew, drives it through its process
//! (sequential, hierarchical, peer review, consensus, routed) and records
//! everything on the way — the run row, every inter-agent message, each
//! member's output, the vote log — so the change events draw a live
//! timeline. Members do their work as tasks on the orchestrator's queue
//! (with their tools, traces and approvals, like any task); the engine's
//! own decisions (a manager's plan and reviews, a reviewer's verdict, a
//! consensus vote, a synthesis) are structured model calls constrained by a
//! JSON schema, made as the deciding agent.
//!
//! Before each step and while it waits, the engine checks the run's budget
//! (tokens, cost, wall time: the first cap reached stops the run cleanly
//! and is recorded as the reason) and whether someone asked it to stop.
//! Work that fails goes to the member's supervisor, then to a human in the
//! approval inbox ([`work::escalate`]).

pub mod turn;
pub mod work;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::run::{self as store, CrewRun, CrewRunStatus, MemberOutput, StopReason};
use super::{Budget, Crew, Process};
use crate::agents::{Agent, LearnedFrom};
use crate::error::{CoreError, Result};
use crate::events::{Entity, Notice, NoticeKind};
use crate::messages::{MessageKind, NewMessage};
use crate::providers::hub::ProviderHub;
use crate::{Core, Id};

/// Longest text kept in one message or prompt section (characters).
pub(crate) const CLIP: usize = 20_000;

/// Cuts `s` to at most `max` characters (on a character boundary).
pub(crate) fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How often a waiting run looks at its tasks, budget and stop flag.
    pub poll: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(200),
        }
    }
}

/// Why a process left its normal course.
#[derive(Debug, Clone)]
pub(crate) enum Halt {
    /// Stop cleanly (a cap, a stop request, a human's rejection).
    Stop {
        reason: StopReason,
        detail: String,
    },
    Fail(String),
}

impl From<CoreError> for Halt {
    fn from(e: CoreError) -> Self {
        Halt::Fail(e.to_string())
    }
}

pub(crate) type Flow<T> = std::result::Result<T, Halt>;

/// How a process ended on its normal course.
#[derive(Debug, Clone)]
pub(crate) struct Finish {
    pub report: String,
    pub reason: StopReason,
}

/// A run this process drives: its stop token and its task.
type Active = (CancellationToken, Option<JoinHandle<()>>);

pub struct CrewEngine {
    core: Arc<Core>,
    hub: Arc<ProviderHub>,
    config: EngineConfig,
    active: Mutex<HashMap<Id, Active>>,
}

impl CrewEngine {
    pub fn new(core: Arc<Core>, hub: Arc<ProviderHub>) -> Arc<Self> {
        Self::with_config(core, hub, EngineConfig::default())
    }

    pub fn with_config(core: Arc<Core>, hub: Arc<ProviderHub>, config: EngineConfig) -> Arc<Self> {
        Arc::new(Self {
            core,
            hub,
            config,
            active: Mutex::new(HashMap::new()),
        })
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<Id, Active>> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates the crew for its process, records a new run and starts it
    /// in the background. Returns the run as recorded (status `planning`).
    pub async fn start(self: &Arc<Self>, crew_id: &str, input: &str) -> Result<CrewRun> {
        crate::validate::id("crew_id", crew_id)?;
        let (crew_id, input) = (crew_id.to_string(), input.to_string());
        let (crew, agents, run) = self
            .core
            .call(move |c| {
                let crew = c.crews().get(&crew_id)?;
                let mut agents = HashMap::new();
                for m in &crew.members {
                    agents.insert(m.agent_id.clone(), c.agents().get(&m.agent_id)?);
                }
                check_ready(&crew, &agents)?;
                let request = crate::validate::text("input", input.trim())?;
                if request.is_empty() && crew.goal.trim().is_empty() {
                    return Err(CoreError::validation(
                        "input",
                        "give the run an input, or the crew a goal to work on",
                    ));
                }
                let run = c.write(|tx| {
                    store::insert_run(tx, &crew.id, crew.process, &request, &crew.budget)
                })?;
                Ok((crew, agents, run))
            })
            .await?;
        let cancel = CancellationToken::new();
        let ctx = RunCtx {
            core: self.core.clone(),
            hub: self.hub.clone(),
            run_id: run.id.clone(),
            input: if run.input.trim().is_empty() {
                crew.goal.trim().to_string()
            } else {
                run.input.clone()
            },
            budget: crew.budget.clone(),
            crew,
            agents,
            started: Instant::now(),
            paused: Mutex::new(Duration::ZERO),
            cancel: cancel.clone(),
            poll: self.config.poll,
        };
        let me = self.clone();
        let id = run.id.clone();
        // Registered before the task starts, so it always finds its entry to remove.
        self.active().insert(id.clone(), (cancel, None));
        let handle = tokio::spawn(async move {
            me.drive(ctx).await;
            me.active().remove(&id);
        });
        if let Some(entry) = self.active().get_mut(&run.id) {
            entry.1 = Some(handle);
        }
        Ok(run)
    }

    /// Starts a run and waits for its end.
    pub async fn run(self: &Arc<Self>, crew_id: &str, input: &str) -> Result<CrewRun> {
        let run = self.start(crew_id, input).await?;
        self.wait(&run.id).await
    }

    /// Waits until the run ended (whichever process drives it).
    pub async fn wait(&self, run_id: &str) -> Result<CrewRun> {
        let mut rx = self.core.events().subscribe();
        loop {
            let id = run_id.to_string();
            let run = self.core.call(move |c| c.crews().get_run(&id)).await?;
            if run.status.is_final() {
                return Ok(run);
            }
            tokio::select! {
                _ = rx.recv() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }

    /// Asks a run to stop (recorded, so it works for a run another process
    /// drives), and stops it at once when this process drives it.
    pub async fn stop(&self, run_id: &str) -> Result<CrewRun> {
        crate::validate::id("id", run_id)?;
        let id = run_id.to_string();
        let run = self.core.call(move |c| c.crews().request_stop(&id)).await?;
        if let Some((token, _)) = self.active().get(run_id) {
            token.cancel();
        }
        Ok(run)
    }

    /// Ids of the runs this process drives now.
    pub fn running(&self) -> Vec<Id> {
        self.active().keys().cloned().collect()
    }

    /// Stops every run this process drives and waits for them (at most `grace`).
    pub async fn shutdown(&self, grace: Duration) {
        let handles: Vec<JoinHandle<()>> = {
            let mut g = self.active();
            g.values_mut()
                .filter_map(|(t, h)| {
                    t.cancel();
                    h.take()
                })
                .collect()
        };
        let _ = tokio::time::timeout(grace, futures::future::join_all(handles)).await;
    }

    async fn drive(self: &Arc<Self>, ctx: RunCtx) {
        let ctx = Arc::new(ctx);
        let c2 = ctx.clone();
        // Its own task: a panic in a process ends this run as failed, not the app.
        let result = match tokio::spawn(async move { run_process(&c2).await }).await {
            Ok(r) => r,
            Err(e) => Err(Halt::Fail(format!("the crew engine failed: {e}"))),
        };
        let (status, reason, error, report) = match result {
            Ok(f) => (CrewRunStatus::Completed, f.reason, None, Some(f.report)),
            Err(Halt::Stop { reason, detail }) => {
                (CrewRunStatus::Stopped, reason, Some(detail), None)
            }
            Err(Halt::Fail(e)) => (CrewRunStatus::Failed, StopReason::Failed, Some(e), None),
        };
        let id = ctx.run_id.clone();
        let summary = match (&status, &error) {
            (CrewRunStatus::Completed, _) => format!("Run completed ({reason})."),
            (_, Some(e)) => format!("Run {status} ({reason}): {e}"),
            _ => format!("Run {status} ({reason})."),
        };
        let _ = ctx
            .say(
                None,
                None,
                MessageKind::StatusUpdate,
                &summary,
                serde_json::json!({ "stop_reason": reason }),
                None,
            )
            .await;
        let finished = self
            .core
            .call(move |c| {
                c.write(|tx| {
                    // A stopped run keeps its latest output as a partial report.
                    let partial = store::load_run(tx, &id)?
                        .outputs
                        .last()
                        .map(|o| o.content.clone());
                    let report = report.or(partial);
                    store::finish_run(tx, &id, status, report.as_deref(), reason, error.as_deref())
                })
            })
            .await;
        match finished {
            Ok(run) => self.core.events().notify(Notice {
                kind: NoticeKind::CrewFinished,
                title: format!("Crew {}: {}", ctx.crew.name, run.status),
                body: run.error.clone().unwrap_or_else(|| {
                    format!(
                        "{} — {}",
                        run.stop_reason.map(|r| r.to_string()).unwrap_or_default(),
                        clip(run.report.as_deref().unwrap_or(""), 200)
                    )
                }),
                view: "crews".into(),
                item_id: Some(ctx.crew.id.clone()),
            }),
            Err(e) => {
                tracing::error!(run = %ctx.run_id, error = %e, "cannot record the end of a crew run")
            }
        }
    }
}

async fn run_process(ctx: &Arc<RunCtx>) -> Flow<Finish> {
    ctx.say(
        None,
        None,
        MessageKind::StatusUpdate,
        &format!(
            "Run started ({}): {}",
            ctx.crew.process,
            clip(&ctx.input, 500)
        ),
        serde_json::json!({ "process": ctx.crew.process, "budget": ctx.budget }),
        None,
    )
    .await?;
    ctx.set_status(CrewRunStatus::Running).await?;
    use super::process;
    match ctx.crew.process {
        Process::Sequential => process::sequential::run(ctx).await,
        Process::Hierarchical => process::hierarchical::run(ctx).await,
        Process::PeerReview => process::peer_review::run(ctx).await,
        Process::Consensus => process::consensus::run(ctx).await,
        Process::Routed => process::routed::run(ctx).await,
    }
}

/// Refuses a crew that cannot run its process, saying what is missing.
pub fn check_ready(crew: &Crew, agents: &HashMap<Id, Agent>) -> Result<()> {
    let need = |n: usize, what: &str| -> Result<()> {
        if crew.members.len() < n {
            return Err(CoreError::validation(
                "members",
                format!(
                    "a {} crew needs {what}; '{}' has {} member(s)",
                    crew.process,
                    crew.name,
                    crew.members.len()
                ),
            ));
        }
        Ok(())
    };
    need(1, "at least one member")?;
    match crew.process {
        Process::PeerReview => need(2, "an author and a reviewer (two members)")?,
        Process::Consensus => need(2, "at least two members")?,
        Process::Hierarchical => {
            let Some(m) = crew.manager_agent_id.as_deref() else {
                return Err(CoreError::validation(
                    "manager_agent_id",
                    "a hierarchical crew needs a manager",
                ));
            };
            if !crew.members.iter().any(|x| x.agent_id != m) {
                return Err(CoreError::validation(
                    "members",
                    "a hierarchical crew needs at least one member besides the manager",
                ));
            }
        }
        Process::Routed | Process::Sequential => {}
    }
    if let Some(off) = agents.values().find(|a| !a.enabled) {
        return Err(CoreError::validation(
            "members",
            format!(
                "{} is disabled; enable it or remove it from the crew",
                off.name
            ),
        ));
    }
    Ok(())
}

/// Everything a process needs while it runs.
pub(crate) struct RunCtx {
    pub core: Arc<Core>,
    pub hub: Arc<ProviderHub>,
    pub run_id: Id,
    pub crew: Crew,
    pub agents: HashMap<Id, Agent>,
    /// The request: the run's input, or the crew's goal.
    pub input: String,
    pub budget: Budget,
    started: Instant,
    /// Time spent waiting for a human, which the wall-time cap does not count.
    paused: Mutex<Duration>,
    pub cancel: CancellationToken,
    pub poll: Duration,
}

impl RunCtx {
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Core) -> Result<T> + Send + 'static,
    ) -> Flow<T> {
        Ok(self.core.call(f).await?)
    }

    pub fn agent(&self, id: &str) -> Flow<&Agent> {
        self.agents
            .get(id)
            .ok_or_else(|| Halt::Fail(format!("agent {id} is not a member of this crew")))
    }

    /// Members in crew order.
    pub fn members(&self) -> Vec<&Agent> {
        self.crew
            .members
            .iter()
            .filter_map(|m| self.agents.get(&m.agent_id))
            .collect()
    }

    /// The agent's role in this crew (its own role when the crew gives none).
    pub fn role_of(&self, agent: &Agent) -> String {
        self.crew
            .members
            .iter()
            .find(|m| m.agent_id == agent.id)
            .map(|m| m.role.clone())
            .filter(|r| !r.trim().is_empty())
            .unwrap_or_else(|| {
                if agent.role.is_empty() {
                    "member".into()
                } else {
                    agent.role.clone()
                }
            })
    }

    /// The crew's goal and shared context, for prompts.
    pub fn brief(&self) -> String {
        let mut s = format!("Crew: {}", self.crew.name);
        if !self.crew.goal.trim().is_empty() {
            s.push_str(&format!("\nCrew goal: {}", self.crew.goal.trim()));
        }
        if let Some(obj) = self
            .crew
            .shared_context
            .as_object()
            .filter(|o| !o.is_empty())
        {
            s.push_str("\nShared context:");
            for (k, v) in obj {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                s.push_str(&format!("\n- {k}: {v}"));
            }
        }
        s
    }

    fn wall_elapsed(&self) -> Duration {
        let paused = *self.paused.lock().unwrap_or_else(|p| p.into_inner());
        self.started.elapsed().saturating_sub(paused)
    }

    pub(crate) fn add_paused(&self, d: Duration) {
        *self.paused.lock().unwrap_or_else(|p| p.into_inner()) += d;
    }

    /// Wall time left under the cap, if there is one.
    pub fn wall_left(&self) -> Option<Duration> {
        self.budget
            .max_wall_secs
            .map(|cap| Duration::from_secs(cap).saturating_sub(self.wall_elapsed()))
    }

    /// Stops the run when asked to or when a cap is reached; refreshes the
    /// stored totals on the way.
    pub async fn check(&self) -> Flow<()> {
        if self.cancel.is_cancelled() {
            return Err(stopped_by_user());
        }
        let id = self.run_id.clone();
        let (requested, (stored, now)) = self
            .db(move |c| {
                c.read(|conn| {
                    let requested: bool = conn.query_row(
                        "SELECT stop_requested FROM crew_runs WHERE id = ?1",
                        [&id],
                        |r| r.get(0),
                    )?;
                    Ok((requested, store::totals(conn, &id)?))
                })
            })
            .await?;
        if requested {
            return Err(stopped_by_user());
        }
        if stored != now {
            let id = self.run_id.clone();
            self.db(move |c| c.write(|tx| store::refresh_totals(tx, &id)))
                .await?;
        }
        let tokens = (now.0 + now.1).max(0) as u64;
        if let Some(cap) = self.budget.max_tokens {
            if tokens >= cap {
                return Err(Halt::Stop {
                    reason: StopReason::TokenCap,
                    detail: format!(
                        "the run's token cap ({cap}) was reached: {tokens} tokens used"
                    ),
                });
            }
        }
        if let Some(cap) = self.budget.max_cost {
            if now.2 >= cap {
                return Err(Halt::Stop {
                    reason: StopReason::CostCap,
                    detail: format!(
                        "the run's cost cap (${cap:.4}) was reached: ${:.4} spent",
                        now.2
                    ),
                });
            }
        }
        if let Some(cap) = self.budget.max_wall_secs {
            if self.wall_elapsed() >= Duration::from_secs(cap) {
                return Err(wall_cap(cap));
            }
        }
        Ok(())
    }

    /// Tokens left under the cap (None = no cap).
    pub async fn tokens_left(&self) -> Flow<Option<u64>> {
        let Some(cap) = self.budget.max_tokens else {
            return Ok(None);
        };
        let id = self.run_id.clone();
        let (_, now) = self
            .db(move |c| c.read(|conn| store::totals(conn, &id)))
            .await?;
        Ok(Some(cap.saturating_sub((now.0 + now.1).max(0) as u64)))
    }

    /// Dollars left under the cap (None = no cap).
    pub async fn cost_left(&self) -> Flow<Option<f64>> {
        let Some(cap) = self.budget.max_cost else {
            return Ok(None);
        };
        let id = self.run_id.clone();
        let (_, now) = self
            .db(move |c| c.read(|conn| store::totals(conn, &id)))
            .await?;
        Ok(Some((cap - now.2).max(0.0)))
    }

    /// Posts a message of this run. With a sender and a recipient it goes on
    /// the direct channel; without a recipient on the team channel — or, with
    /// `task` and `on_task`, on the task's channel.
    pub async fn say(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        kind: MessageKind,
        content: &str,
        context: serde_json::Value,
        task: Option<(&str, bool)>,
    ) -> Flow<crate::messages::Message> {
        let on_task = task.is_some_and(|(_, on)| on) && to.is_none();
        let text = clip(content.trim(), CLIP);
        let m = NewMessage {
            crew_id: (!on_task).then(|| self.crew.id.clone()),
            crew_run_id: Some(self.run_id.clone()),
            task_id: task.map(|(t, _)| t.to_string()),
            from_agent_id: from.map(str::to_string),
            to_agent_id: to.map(str::to_string),
            kind: Some(kind),
            content: if text.is_empty() {
                "(empty)".into()
            } else {
                text
            },
            context: Some(context),
            ..Default::default()
        };
        self.db(move |c| c.messages().send(m)).await
    }

    /// Records a member's output on the run.
    pub async fn output(
        &self,
        agent: &Agent,
        label: &str,
        round: u32,
        task_id: Option<&str>,
        content: &str,
        confidence: Option<f64>,
    ) -> Flow<()> {
        let out = MemberOutput {
            agent_id: agent.id.clone(),
            agent_name: agent.name.clone(),
            label: label.to_string(),
            round,
            task_id: task_id.map(str::to_string),
            content: clip(content, CLIP),
            confidence,
            at: crate::time::now(),
        };
        let id = self.run_id.clone();
        self.db(move |c| c.write(|tx| store::push_output(tx, &id, &out)))
            .await
    }

    pub async fn set_state(&self, key: &'static str, value: serde_json::Value) -> Flow<()> {
        let id = self.run_id.clone();
        self.db(move |c| c.write(|tx| store::set_state(tx, &id, key, value)))
            .await
    }

    pub async fn set_status(&self, status: CrewRunStatus) -> Flow<()> {
        let id = self.run_id.clone();
        self.db(move |c| c.write(|tx| store::set_status(tx, &id, status)))
            .await
    }

    /// Records an outcome or a review on the skills the work exercised.
    pub async fn learn(
        &self,
        agent: &Agent,
        about: &str,
        success: bool,
        from: LearnedFrom,
    ) -> Flow<()> {
        let skills = super::learning::skills_for(agent, about);
        let id = agent.id.clone();
        self.db(move |c| c.write(|tx| super::learning::record(tx, &id, &skills, success, from)))
            .await
    }

    /// Tasks each agent runs now, by agent id (the gate's load signal).
    pub async fn loads(&self) -> Flow<HashMap<String, u32>> {
        self.db(|c| {
            c.read(|conn| {
                let rows = crate::store::row::query_all(
                    conn,
                    "SELECT coalesce(routed_agent_id, assigned_agent_id), count(*) FROM tasks
                     WHERE status IN ('planning', 'running') AND coalesce(routed_agent_id, assigned_agent_id) IS NOT NULL
                     GROUP BY 1",
                    [],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)),
                )?;
                Ok(rows.into_iter().collect())
            })
        })
        .await
    }

    /// Sleeps one poll interval, or less when something changes or the run is cancelled.
    pub async fn pause(
        &self,
        rx: &mut tokio::sync::broadcast::Receiver<crate::Change>,
        watch: Entity,
    ) {
        let deadline = tokio::time::sleep(self.poll);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = self.cancel.cancelled() => return,
                ev = rx.recv() => match ev {
                    Ok(c) if c.entity == watch || c.entity == Entity::External => return,
                    Ok(_) => continue,
                    Err(_) => return,
                },
            }
        }
    }
}

pub(crate) fn stopped_by_user() -> Halt {
    Halt::Stop {
        reason: StopReason::StoppedByUser,
        detail: "stopped on request".into(),
    }
}

pub(crate) fn wall_cap(cap: u64) -> Halt {
    Halt::Stop {
        reason: StopReason::WallTimeCap,
        detail: format!("the run's wall-time cap ({cap} s) was reached"),
    }
}
