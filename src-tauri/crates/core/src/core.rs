//! [`Core`]: the service layer's entry point. It owns the store and the event
//! bus; the domain modules (`agents`, `tasks`, …) add their methods to it.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::events::EventBus;
use crate::store::{Store, Tx};

#[derive(Debug)]
pub struct Core {
    store: Store,
    bus: EventBus,
    data_dir: PathBuf,
}

impl Core {
    /// Opens the data folder: creates it, opens and migrates the database,
    /// and seeds the default provider configurations on first use.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            crate::CoreError::io(format!("cannot create {}", data_dir.display()), e)
        })?;
        let store = Store::open_in_dir(data_dir)?;
        let core = Self {
            store,
            bus: EventBus::default(),
            data_dir: data_dir.to_path_buf(),
        };
        core.seed_default_providers()?;
        Ok(core)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn events(&self) -> &EventBus {
        &self.bus
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A write transaction whose changes are published once it commits.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let (value, changes) = self.store.write(f)?;
        self.bus.publish_all(changes);
        Ok(value)
    }

    pub fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<T>) -> Result<T> {
        self.store.read(f)
    }
}

impl Core {
    /// Runs a blocking call on the core off the async threads: the one
    /// bridge from async code (runtime, orchestrator, chat and crew engines,
    /// tools, the host and the app) to the synchronous store.
    pub async fn call<T, F>(self: &std::sync::Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Core) -> Result<T> + Send + 'static,
    {
        let core = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&core))
            .await
            .map_err(|e| crate::CoreError::Internal(format!("database task failed: {e}")))?
    }

    /// Publishes an [`Entity::External`](crate::Entity::External) change
    /// whenever another process (the CLI, the app, a headless runner)
    /// commits to the database, checking SQLite's `data_version` every
    /// `every`, until `stop`. The orchestrator then reloads agents and
    /// settings and notices cancelled tasks; the app forwards it to the UI.
    pub async fn watch_external_writes(
        self: std::sync::Arc<Self>,
        every: std::time::Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        // The first look publishes too: a write that landed between the
        // caller's own first read and this watcher's first look counts.
        let mut last = None;
        loop {
            let core = self.clone();
            let v = tokio::task::spawn_blocking(move || core.store.external_data_version()).await;
            if let Ok(Ok(v)) = v {
                if last != Some(v) {
                    tracing::debug!("another process wrote to the database");
                    self.bus.publish(crate::Change::new(
                        crate::Entity::External,
                        crate::ChangeOp::Updated,
                        "database",
                    ));
                }
                last = Some(v);
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// What the About panel and Settings show about this installation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub database: String,
    pub schema_version: u32,
}

impl Core {
    pub fn info(&self) -> Result<AppInfo> {
        let schema_version = self.read(crate::store::migrations::current_version)?;
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            data_dir: self.data_dir.display().to_string(),
            database: self.store.path().display().to_string(),
            schema_version,
        })
    }
}

/// What the system tray currently shows, read back from its menu.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct TrayStatus {
    #[ts(type = "number")]
    pub pending: u64,
    pub paused: bool,
    pub approvals_label: String,
    pub pause_label: String,
    pub tooltip: String,
}
