//! [`Core`]: the service layer's entry point. It owns the store, the event
//! bus and the one async bridge ([`Core::call`]); each room of the domain is
//! a handle it hands out (`core.tasks()`, `core.agents()`, `core.crews()`,
//! `core.workflows()`, `core.approvals()`, `core.chat()`,
//! `core.providers()`), whose methods are the room's operations.

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
        core.providers().seed_default_providers()?;
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

/// The facade: one handle per room, each borrowing the core. What a room
/// does is a method of its handle (`core.tasks().create(..)`), so `Core`
/// itself holds only the store, the bus and the bridge.
impl Core {
    /// The tasks room: the board, task records, their status moves and dependencies.
    pub fn tasks(&self) -> crate::tasks::Tasks<'_> {
        crate::tasks::Tasks { core: self }
    }

    /// The agents room: agent records, their skills and status.
    pub fn agents(&self) -> crate::agents::Agents<'_> {
        crate::agents::Agents { core: self }
    }

    /// The crews room: crews, members, relationships, their runs, templates and documents.
    pub fn crews(&self) -> crate::crews::Crews<'_> {
        crate::crews::Crews { core: self }
    }

    /// The workflows room: definitions, runs and templates.
    pub fn workflows(&self) -> crate::workflows::Workflows<'_> {
        crate::workflows::Workflows { core: self }
    }

    /// The approval inbox: requests, decisions, expiry.
    pub fn approvals(&self) -> crate::approvals::Approvals<'_> {
        crate::approvals::Approvals { core: self }
    }

    /// Chat sessions and their messages (the streaming is `chat::engine`).
    pub fn chat(&self) -> crate::chat::ChatSessions<'_> {
        crate::chat::ChatSessions { core: self }
    }

    /// The stored provider configurations (keys stay in the keyring).
    pub fn providers(&self) -> crate::providers::Providers<'_> {
        crate::providers::Providers { core: self }
    }

    /// Run traces and the tool-call journal.
    pub fn runs(&self) -> crate::runs::Runs<'_> {
        crate::runs::Runs { core: self }
    }

    /// Messages between agents and people.
    pub fn messages(&self) -> crate::messages::Messages<'_> {
        crate::messages::Messages { core: self }
    }

    /// Team memory: what agents of a crew remember.
    pub fn memory(&self) -> crate::memory::Memory<'_> {
        crate::memory::Memory { core: self }
    }
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
