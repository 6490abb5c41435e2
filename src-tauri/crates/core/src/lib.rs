//! Ensemble's core: the domain model, the SQLite store, the service layer and
//! the change-event bus. Nothing here depends on Tauri: the desktop shell and
//! the command line are thin transports over [`Core`].

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod agents;
pub mod approvals;
pub mod chat;
pub mod core;
pub mod crews;
pub mod demo;
pub mod error;
pub mod events;
pub mod memory;
pub mod messages;
pub mod model_files;
pub mod orchestrator;
pub mod paths;
pub mod portable_data;
pub mod providers;
pub mod runs;
pub mod runtime;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod tasks;
pub mod templates;
pub mod time;
pub mod tools;
pub mod validate;
pub mod workflows;

pub use crate::core::Core;
pub use error::{CoreError, Result};
pub use events::{Change, ChangeOp, Entity, EventBus};
pub use store::Store;
pub use validate::IdArg;

/// Identifier of every record: a UUID v7 (time-ordered) as text.
pub type Id = String;

/// Creates a new time-ordered identifier.
pub fn new_id() -> Id {
    uuid::Uuid::now_v7().to_string()
}

/// One page of a list, with the total number of matching records.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, ts_rs::TS)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

/// Paging of list calls; `limit` is capped at [`Paging::MAX_LIMIT`].
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct Paging {
    #[ts(optional)]
    pub limit: Option<u32>,
    #[ts(optional)]
    pub offset: Option<u32>,
}

impl Paging {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 1000;

    pub fn limit(&self) -> u32 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }

    pub fn offset(&self) -> u32 {
        self.offset.unwrap_or(0)
    }
}
