//! The host of one Ensemble process, shared by the window and the CLI: the
//! [`Services`] (core, provider hub with the embedded engine, tools with MCP
//! servers, runtime, chat and crew engines), the data folder's runner lock
//! and the orchestrator it allows, one supervisor that owns every
//! background task of the process, waiting until the queue is idle, and an
//! orderly shutdown that drains the orchestrator and the crew engine, stops
//! the MCP servers and flushes the database.
//!
//! "Take the runner lock, start the services, run the orchestrator, wait,
//! shut down" is written here once; the app's state and the CLI's `run`,
//! `crews run` and `workflows run --wait` use it.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod services;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ensemble_core::agents::{Agent, AgentStatus};
use ensemble_core::orchestrator::{Orchestrator, RunnerLock};
use ensemble_core::tasks::{TaskFilter, TaskStatus};
use ensemble_core::{Core, CoreError, Result};
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

pub use services::Services;

/// How long a shutdown waits for running work to drain by default (the
/// orchestrator interrupts what is left; it resumes at the next start).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);
/// How often [`Host::wait_idle`] looks at the queue.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long the queue must stay idle before [`Host::wait_idle`] believes it
/// (a finishing task may queue the next one).
const IDLE_SETTLE: Duration = Duration::from_millis(300);

/// Who runs the task queue for this data folder, as this process sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(rename = "Runner")]
pub enum RunnerMode {
    /// This process runs the orchestrator.
    Here,
    /// Another process (`ensemble run`, another app) holds the runner lock.
    OtherProcess,
    /// Nobody here runs it: not started, failed, or shut down.
    Stopped,
}

/// The task runner's status as the window shows it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OrchestratorStatus {
    pub runner: RunnerMode,
    /// Pause all (Settings or the tray): no new task starts while set.
    pub paused: bool,
    /// Tasks running now (counted by this runner, or from the store when
    /// another process runs them).
    pub running: u32,
    pub max_concurrent: u32,
    /// One sentence for the UI.
    pub message: String,
}

/// How the status names a runner in another process.
pub const OTHER_RUNNER: &str = "Another runner (ensemble run) is working on this data folder";

/// The sentence of [`OrchestratorStatus::message`].
fn status_message(runner: RunnerMode, paused: bool, running: u32, why: Option<&str>) -> String {
    let tasks = match running {
        1 => "1 task".to_string(),
        n => format!("{n} tasks"),
    };
    match (runner, paused) {
        (RunnerMode::Here, false) => format!("Working: {tasks} running"),
        (RunnerMode::Here, true) if running > 0 => {
            format!("Paused: {tasks} finishing, no new task starts until you resume")
        }
        (RunnerMode::Here, true) => "Paused: no new task starts until you resume".into(),
        (RunnerMode::OtherProcess, false) => format!("{OTHER_RUNNER} ({tasks} running)"),
        (RunnerMode::OtherProcess, true) => format!("{OTHER_RUNNER} (paused)"),
        (RunnerMode::Stopped, _) => format!(
            "Tasks are not being run: {}",
            why.unwrap_or("the task runner is not running")
        ),
    }
}

enum Runner {
    Off(Option<String>),
    Elsewhere,
    Here {
        orch: Arc<Orchestrator>,
        /// Cancelled when the orchestrator's loop has ended.
        ended: CancellationToken,
        /// Why it ended, when it failed.
        failure: Arc<Mutex<Option<String>>>,
        // Held as long as the orchestrator runs; dropped after it stopped.
        _lock: RunnerLock,
    },
}

/// The host of one process. Build it inside the async runtime that is to
/// run its background work ([`Host::start`] is async for that reason).
pub struct Host {
    services: Services,
    runtime: Handle,
    root: CancellationToken,
    supervisor: Mutex<JoinSet<()>>,
    runner: Mutex<Runner>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Host {
    /// Starts the services on `core` (MCP servers included, each given a
    /// few seconds) and marks crew runs of processes that are gone as
    /// interrupted. The runner is not taken yet ([`Host::take_runner`]).
    pub async fn start(core: Arc<Core>) -> Arc<Self> {
        let services = Services::start(core).await;
        Self::with_services(services).await
    }

    /// A host over services built by the caller (tests inject models this
    /// way).
    pub async fn with_services(services: Services) -> Arc<Self> {
        match services.core.call(|c| c.crews().recover_runs()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                count = n,
                "marked crew runs interrupted by the last shutdown"
            ),
            Err(e) => tracing::warn!(error = %e, "could not recover interrupted crew runs"),
        }
        Arc::new(Self {
            services,
            runtime: Handle::current(),
            root: CancellationToken::new(),
            supervisor: Mutex::new(JoinSet::new()),
            runner: Mutex::new(Runner::Off(None)),
        })
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.services.core
    }

    /// Cancelled when the host shuts down; background work watches it.
    pub fn token(&self) -> CancellationToken {
        self.root.clone()
    }

    /// Whether [`Host::shutdown`] has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.root.is_cancelled()
    }

    /// Runs `work` in the background under the host's supervisor: it is
    /// aborted at shutdown if it has not ended by then. Callable from any
    /// thread.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut set = guard(&self.supervisor);
        // Reap what has ended, so a long-lived process does not pile up.
        while set.try_join_next().is_some() {}
        set.spawn_on(work, &self.runtime);
    }

    /// Takes the data folder's runner lock and starts the orchestrator.
    /// `Ok(false)` when another process holds the lock; `Ok(true)` when this
    /// process runs the queue (also when it did already).
    pub fn take_runner(&self) -> Result<bool> {
        let mut slot = guard(&self.runner);
        if self.is_shutting_down() || matches!(*slot, Runner::Here { .. }) {
            return Ok(matches!(*slot, Runner::Here { .. }));
        }
        let lock = match RunnerLock::acquire(self.core().data_dir()) {
            Ok(lock) => lock,
            Err(CoreError::Conflict(_)) => {
                *slot = Runner::Elsewhere;
                return Ok(false);
            }
            Err(e) => {
                *slot = Runner::Off(Some(e.to_string()));
                return Err(e);
            }
        };
        let orch = self.services.orchestrator();
        let ended = CancellationToken::new();
        let failure = Arc::new(Mutex::new(None));
        let (o, done, f) = (orch.clone(), ended.clone(), failure.clone());
        self.spawn(async move {
            let _ended = done.drop_guard();
            if let Err(e) = o.run().await {
                tracing::error!(error = %e, "the task runner stopped");
                *guard(&f) = Some(format!("the task runner stopped: {e}"));
            }
        });
        *slot = Runner::Here {
            orch,
            ended,
            failure,
            _lock: lock,
        };
        tracing::info!("this process runs the task queue");
        Ok(true)
    }

    /// The orchestrator, when this process runs it and it is alive.
    pub fn orchestrator(&self) -> Option<Arc<Orchestrator>> {
        match &*guard(&self.runner) {
            Runner::Here { orch, ended, .. } if !ended.is_cancelled() => Some(orch.clone()),
            _ => None,
        }
    }

    /// Who runs the queue, and why nobody here does when that is the case.
    pub fn runner_mode(&self) -> (RunnerMode, Option<String>) {
        match &*guard(&self.runner) {
            Runner::Here { ended, failure, .. } => {
                if ended.is_cancelled() {
                    let why = guard(failure)
                        .clone()
                        .unwrap_or_else(|| "the task runner stopped".into());
                    (RunnerMode::Stopped, Some(why))
                } else {
                    (RunnerMode::Here, None)
                }
            }
            Runner::Elsewhere => (RunnerMode::OtherProcess, None),
            Runner::Off(why) => (RunnerMode::Stopped, why.clone()),
        }
    }

    /// Who runs the queue, whether work is paused, how many tasks run now,
    /// said in one sentence.
    pub async fn status(&self) -> Result<OrchestratorStatus> {
        let (runner, why) = self.runner_mode();
        let settings = self.core().call(|c| c.settings()).await?;
        let running = match self.orchestrator() {
            Some(o) => o.running_count() as u32,
            None => {
                let filter = TaskFilter {
                    statuses: Some(vec![TaskStatus::Planning, TaskStatus::Running]),
                    ..Default::default()
                };
                let columns = self
                    .core()
                    .call(move |c| c.tasks().board(&filter, 1))
                    .await?;
                columns.iter().map(|c| c.total as u32).sum()
            }
        };
        Ok(OrchestratorStatus {
            runner,
            paused: settings.paused,
            running,
            max_concurrent: settings.max_concurrent_tasks,
            message: status_message(runner, settings.paused, running, why.as_deref()),
        })
    }

    /// Pauses or resumes an agent: through the orchestrator when this
    /// process runs the queue (it re-reads its agents and looks at the queue
    /// again), otherwise in the store, where the runner that owns the queue
    /// reads it. Resuming an agent that is not paused changes nothing.
    pub async fn set_agent_paused(&self, id: &str, paused: bool) -> Result<Agent> {
        ensemble_core::validate::id("id", id)?;
        let orch = self.orchestrator();
        let id = id.to_string();
        self.core()
            .call(move |core| {
                let agent = core.agents().get(&id)?;
                if (agent.status == AgentStatus::Paused) == paused {
                    return Ok(agent);
                }
                match orch {
                    Some(o) => o.set_agent_paused(&id, paused)?,
                    None => core.agents().set_status(
                        &id,
                        if paused {
                            AgentStatus::Paused
                        } else {
                            AgentStatus::Idle
                        },
                    )?,
                }
                core.agents().get(&id)
            })
            .await
    }

    /// Waits until this process's orchestrator has stopped (after a
    /// shutdown, a signal, or a failure); its error, if it failed. Returns at once when it does not run here.
    pub async fn runner_stopped(&self) -> Result<()> {
        let (ended, failure) = match &*guard(&self.runner) {
            Runner::Here { ended, failure, .. } => (ended.clone(), failure.clone()),
            _ => return Ok(()),
        };
        ended.cancelled().await;
        let failed = guard(&failure).clone();
        match failed {
            Some(why) => Err(CoreError::Internal(why)),
            None => Ok(()),
        }
    }

    /// Waits until no task can progress without a person (see
    /// [`Core::queue_is_idle`]) and the orchestrator has nothing running,
    /// for a moment in a row. Ends early, with its error, when the
    /// orchestrator stops.
    pub async fn wait_idle(&self) -> Result<()> {
        let mut idle_since: Option<Instant> = None;
        loop {
            tokio::time::sleep(IDLE_POLL).await;
            let Some(orch) = self.orchestrator() else {
                return self.runner_stopped().await;
            };
            let idle = self
                .core()
                .call(|c| c.tasks().queue_is_idle())
                .await
                .unwrap_or(false)
                && orch.running_count() == 0;
            match (idle, idle_since) {
                (true, None) => idle_since = Some(Instant::now()),
                (true, Some(t)) if t.elapsed() >= IDLE_SETTLE => return Ok(()),
                (false, _) => idle_since = None,
                _ => {}
            }
        }
    }

    /// Stops everything this process runs, in order: no new background
    /// work; the orchestrator drains (at most `grace`; what is left resumes
    /// at the next start) and releases the runner lock; running crew runs
    /// are stopped (at most `grace`); MCP servers are closed; the
    /// supervisor's remaining tasks are aborted; the database is flushed.
    pub async fn shutdown(&self, grace: Duration) {
        self.root.cancel();
        let runner = std::mem::replace(&mut *guard(&self.runner), Runner::Off(None));
        if let Runner::Here {
            orch, ended, _lock, ..
        } = runner
        {
            orch.shutdown();
            match tokio::time::timeout(grace, ended.cancelled()).await {
                Ok(()) => tracing::info!("the task runner stopped"),
                Err(_) => tracing::warn!(
                    "the task runner did not stop in time; interrupted work resumes at the next start"
                ),
            }
            drop(_lock);
        }
        self.services.crews.shutdown(grace).await;
        if tokio::time::timeout(grace, self.services.shutdown_mcp())
            .await
            .is_err()
        {
            tracing::warn!("MCP servers did not stop in time");
        }
        let mut set = std::mem::take(&mut *guard(&self.supervisor));
        set.abort_all();
        while set.join_next().await.is_some() {}
        if let Err(e) = self.core().call(|c| c.store().checkpoint()).await {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
    }

    /// [`Host::shutdown`] from synchronous code (the window's exit event),
    /// on a thread of its own: the caller may be inside the runtime.
    pub fn shutdown_blocking(&self, grace: Duration) {
        let runtime = self.runtime.clone();
        std::thread::scope(|s| {
            let stopped = s.spawn(|| runtime.block_on(self.shutdown(grace))).join();
            if stopped.is_err() {
                tracing::warn!("the shutdown did not finish");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_says_who_runs_the_queue() {
        assert_eq!(
            status_message(RunnerMode::Here, false, 2, None),
            "Working: 2 tasks running"
        );
        assert_eq!(
            status_message(RunnerMode::Here, true, 0, None),
            "Paused: no new task starts until you resume"
        );
        assert_eq!(
            status_message(RunnerMode::Here, true, 1, None),
            "Paused: 1 task finishing, no new task starts until you resume"
        );
        assert!(status_message(RunnerMode::OtherProcess, false, 1, None).starts_with(OTHER_RUNNER));
        assert_eq!(
            status_message(RunnerMode::Stopped, false, 0, Some("disk full")),
            "Tasks are not being run: disk full"
        );
    }
}
