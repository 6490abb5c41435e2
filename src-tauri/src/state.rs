//! The app's managed state: the services, the shutdown flag, the
//! supervisor's root cancellation token that background tasks watch, and the
//! task runner (the orchestrator) when this process holds the data folder's
//! runner lock. Without the lock (another process such as `ensemble run`
//! holds it) the app is a viewer and takes over once the lock is free.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ensemble_core::chat::engine::ChatEngine;
use ensemble_core::orchestrator::{Orchestrator, RunnerLock};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::tools::mcp::McpStatus;
use ensemble_core::tools::ToolRegistry;
use ensemble_core::{Core, CoreError};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Manager, Runtime};
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, CmdResult};
use crate::services::Services;

/// How long quitting waits for running work to drain (the orchestrator
/// interrupts what is left; it resumes at the next start).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(10);
/// How often a viewer tries to take the runner lock over.
const LOCK_RETRY: Duration = Duration::from_secs(2);

/// Who runs the task queue for this data folder, as this process sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunnerMode {
    /// This process runs the orchestrator.
    Here,
    /// Another process (`ensemble run`, another app) holds the runner lock.
    OtherProcess,
    /// Nobody here runs it: not started, failed, or shut down.
    Stopped,
}

enum Runner {
    Off(Option<String>),
    Elsewhere,
    Here {
        orch: Arc<Orchestrator>,
        task: JoinHandle<()>,
        failure: Arc<Mutex<Option<String>>>,
        // Held as long as the orchestrator runs; dropped after it stopped.
        lock: RunnerLock,
    },
}

pub struct AppState {
    services: Services,
    quitting: AtomicBool,
    root: CancellationToken,
    runner: Mutex<Runner>,
    /// Model downloads under way, by file name, with what cancels each.
    downloads: Mutex<HashMap<String, CancellationToken>>,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    pub fn new(core: Arc<Core>) -> Self {
        Self {
            // MCP servers start here (each has a few seconds), so agents
            // see their tools from the first task on.
            services: tauri::async_runtime::block_on(Services::start(core)),
            quitting: AtomicBool::new(false),
            root: CancellationToken::new(),
            runner: Mutex::new(Runner::Off(None)),
            downloads: Mutex::new(HashMap::new()),
        }
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The embedded engine (for its models folders and file checks).
    pub fn embedded(&self) -> &Arc<ensemble_llm_embedded::EmbeddedProvider> {
        &self.services.embedded
    }

    /// Registers a download (one per file name at a time); its token is
    /// also cancelled when the app quits.
    pub fn start_download(
        &self,
        spec: &ensemble_core::model_files::DownloadSpec,
    ) -> Result<(String, CancellationToken), CoreError> {
        let name = ensemble_core::model_files::file_name_for(spec)?;
        let mut downloads = guard(&self.downloads);
        if downloads.contains_key(&name) {
            return Err(CoreError::Conflict(format!(
                "{name} is being downloaded already"
            )));
        }
        let token = self.root.child_token();
        downloads.insert(name.clone(), token.clone());
        Ok((name, token))
    }

    pub fn end_download(&self, name: &str) {
        guard(&self.downloads).remove(name);
    }

    /// Cancels the download of `name`; false when none runs.
    pub fn cancel_download(&self, name: &str) -> bool {
        match guard(&self.downloads).get(name) {
            Some(token) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.services.core
    }

    pub fn hub(&self) -> &Arc<ProviderHub> {
        &self.services.hub
    }

    pub fn chat(&self) -> &Arc<ChatEngine> {
        &self.services.chat
    }

    /// The crew engine: starts, watches and stops crew runs.
    pub fn crews(&self) -> &Arc<ensemble_core::crews::engine::CrewEngine> {
        &self.services.crews
    }

    /// The tools agents can use in this process (built-in and MCP).
    pub fn tools(&self) -> &Arc<ToolRegistry> {
        &self.services.tools
    }

    /// The live status of each MCP server configured at start.
    pub fn mcp_statuses(&self) -> Vec<McpStatus> {
        self.services.mcp_statuses()
    }

    /// Cancelled when the app shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.root.clone()
    }

    pub fn quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    pub fn begin_quit(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    /// The orchestrator, when this process runs it and it is alive.
    pub fn orchestrator(&self) -> Option<Arc<Orchestrator>> {
        match &*guard(&self.runner) {
            Runner::Here { orch, task, .. } if !task.inner().is_finished() => Some(orch.clone()),
            _ => None,
        }
    }

    /// Who runs the queue, and why nobody here does when that is the case.
    pub fn runner_mode(&self) -> (RunnerMode, Option<String>) {
        match &*guard(&self.runner) {
            Runner::Here { task, failure, .. } => {
                if task.inner().is_finished() {
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

    /// Takes the runner lock and starts the orchestrator. `Ok(false)` when
    /// another process holds the lock.
    fn try_start_runner(&self) -> Result<bool, CoreError> {
        let mut slot = guard(&self.runner);
        if self.quitting() || matches!(*slot, Runner::Here { .. }) {
            return Ok(true);
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
        let failure = Arc::new(Mutex::new(None));
        let (o, f) = (orch.clone(), failure.clone());
        let task = tauri::async_runtime::spawn(async move {
            if let Err(e) = o.run().await {
                tracing::error!(error = %e, "the task runner stopped");
                *guard(&f) = Some(format!("the task runner stopped: {e}"));
            }
        });
        *slot = Runner::Here {
            orch,
            task,
            failure,
            lock,
        };
        tracing::info!("this app runs the task queue");
        Ok(true)
    }

    /// Stops background work, lets the orchestrator drain (at most
    /// [`SHUTDOWN_WAIT`]), releases the runner lock and flushes the database.
    pub fn shutdown(&self) {
        self.begin_quit();
        self.root.cancel();
        let runner = std::mem::replace(&mut *guard(&self.runner), Runner::Off(None));
        if let Runner::Here {
            orch, task, lock, ..
        } = runner
        {
            orch.shutdown();
            // A thread of its own: this may be called from inside the async runtime.
            // The timeout is made inside the runtime (it needs its timer).
            let waited = std::thread::spawn(move || {
                tauri::async_runtime::block_on(async move {
                    tokio::time::timeout(SHUTDOWN_WAIT, task).await
                })
            })
            .join();
            match waited {
                Ok(Ok(_)) => tracing::info!("the task runner stopped"),
                _ => tracing::warn!(
                    "the task runner did not stop in time; interrupted work resumes at the next start"
                ),
            }
            drop(lock);
        }
        // MCP servers get their stdin closed and a moment to exit; a thread
        // of its own for the same reason as above.
        let services = self.services.clone();
        let stopped = std::thread::spawn(move || {
            tauri::async_runtime::block_on(async move {
                tokio::time::timeout(SHUTDOWN_WAIT, services.shutdown_mcp()).await
            })
        })
        .join();
        if !matches!(stopped, Ok(Ok(()))) {
            tracing::warn!("MCP servers did not stop in time");
        }
        if let Err(e) = self.core().store().checkpoint() {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
    }

    /// Runs a blocking core call off the async runtime.
    pub async fn call<T, F>(&self, f: F) -> CmdResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> ensemble_core::Result<T> + Send + 'static,
    {
        let core = self.core().clone();
        tauri::async_runtime::spawn_blocking(move || f(&core))
            .await
            .map_err(|e| AppError::Shell(format!("background call failed: {e}")))?
            .map_err(AppError::from)
    }
}

/// Starts the task runner if this process can take the data folder's runner
/// lock; otherwise the app is a viewer and retries now and then, so it takes
/// over when `ensemble run` exits.
pub fn start_runner<R: Runtime>(app: &AppHandle<R>) {
    let state = app.state::<AppState>();
    match state.try_start_runner() {
        Ok(true) => return,
        Ok(false) => {
            tracing::info!("another runner works on this data folder; this app is a viewer")
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start the task runner");
            return;
        }
    }
    let handle = app.clone();
    let stop = state.shutdown_token();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(LOCK_RETRY) => {}
            }
            let h = handle.clone();
            let taken = tauri::async_runtime::spawn_blocking(move || {
                h.state::<AppState>().try_start_runner()
            })
            .await;
            match taken {
                Ok(Ok(false)) => continue,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot start the task runner");
                    break;
                }
                _ => break,
            }
        }
    });
}
