//! The app's managed state: the process's [`Host`] (services, the task
//! runner when this process holds the data folder's runner lock, the
//! supervisor whose root token background tasks watch), the quit flag and
//! the model downloads under way. Without the lock (another process such
//! as `ensemble run` holds it) the app is a viewer and takes over once the
//! lock is free.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ensemble_core::chat::engine::ChatEngine;
use ensemble_core::orchestrator::Orchestrator;
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::tools::mcp::McpStatus;
use ensemble_core::tools::ToolRegistry;
use ensemble_core::{Core, CoreError};
pub use ensemble_host::RunnerMode;
use ensemble_host::{Host, Services};
use tauri::{AppHandle, Manager, Runtime};
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, CmdResult};

/// How long quitting waits for running work to drain (the orchestrator
/// interrupts what is left; it resumes at the next start).
pub const SHUTDOWN_WAIT: Duration = ensemble_host::SHUTDOWN_WAIT;
/// How often a viewer tries to take the runner lock over.
const LOCK_RETRY: Duration = Duration::from_secs(2);

pub struct AppState {
    host: Arc<Host>,
    quitting: AtomicBool,
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
            host: tauri::async_runtime::block_on(Host::start(core)),
            quitting: AtomicBool::new(false),
            downloads: Mutex::new(HashMap::new()),
        }
    }

    /// The host of this process: services, runner, supervisor.
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    pub fn services(&self) -> &Services {
        self.host.services()
    }

    /// The embedded engine (for its models folders and file checks).
    pub fn embedded(&self) -> &Arc<ensemble_llm_embedded::EmbeddedProvider> {
        &self.services().embedded
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
        let token = self.host.token().child_token();
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
        &self.services().core
    }

    pub fn hub(&self) -> &Arc<ProviderHub> {
        &self.services().hub
    }

    pub fn chat(&self) -> &Arc<ChatEngine> {
        &self.services().chat
    }

    /// The crew engine: starts, watches and stops crew runs.
    pub fn crews(&self) -> &Arc<ensemble_core::crews::engine::CrewEngine> {
        &self.services().crews
    }

    /// The tools agents can use in this process (built-in and MCP).
    pub fn tools(&self) -> &Arc<ToolRegistry> {
        &self.services().tools
    }

    /// The live status of each MCP server configured at start.
    pub fn mcp_statuses(&self) -> Vec<McpStatus> {
        self.services().mcp_statuses()
    }

    /// Cancelled when the app shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.host.token()
    }

    pub fn quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    pub fn begin_quit(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    /// The orchestrator, when this process runs it and it is alive.
    pub fn orchestrator(&self) -> Option<Arc<Orchestrator>> {
        self.host.orchestrator()
    }

    /// Who runs the queue, and why nobody here does when that is the case.
    pub fn runner_mode(&self) -> (RunnerMode, Option<String>) {
        self.host.runner_mode()
    }

    /// Takes the runner lock and starts the orchestrator. `Ok(false)` when
    /// another process holds the lock.
    fn try_start_runner(&self) -> Result<bool, CoreError> {
        if self.quitting() {
            return Ok(true);
        }
        self.host.take_runner()
    }

    /// Stops background work, lets the orchestrator and the crew engine
    /// drain (at most [`SHUTDOWN_WAIT`] each), releases the runner lock,
    /// stops the MCP servers and flushes the database.
    pub fn shutdown(&self) {
        self.begin_quit();
        self.host.shutdown_blocking(SHUTDOWN_WAIT);
    }

    /// Runs a blocking core call off the async runtime.
    pub async fn call<T, F>(&self, f: F) -> CmdResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> ensemble_core::Result<T> + Send + 'static,
    {
        self.core().call(f).await.map_err(AppError::from)
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
    state.host().spawn(async move {
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
