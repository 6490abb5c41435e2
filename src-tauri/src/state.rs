//! The app's managed state: the core, the shutdown flag and the supervisor's
//! root cancellation token that background tasks watch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ensemble_core::chat::engine::ChatEngine;
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::Core;
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, CmdResult};
use crate::services::Services;

pub struct AppState {
    services: Services,
    quitting: AtomicBool,
    root: CancellationToken,
}

impl AppState {
    pub fn new(core: Arc<Core>) -> Self {
        Self {
            services: Services::new(core),
            quitting: AtomicBool::new(false),
            root: CancellationToken::new(),
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

    /// Stops background work and flushes the database.
    pub fn shutdown(&self) {
        self.begin_quit();
        self.root.cancel();
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
