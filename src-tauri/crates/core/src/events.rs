//! The change-event bus: every committed write publishes what it changed, so
//! the desktop shell (board, tray, notifications) and the orchestrator can
//! react without polling. Events are published after the transaction commits,
//! never for a rolled-back write.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use ts_rs::TS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Agent,
    Crew,
    CrewRun,
    Task,
    Run,
    Approval,
    Message,
    ChatSession,
    ChatMessage,
    Workflow,
    WorkflowRun,
    Provider,
    Settings,
    Memory,
    /// Written by another process (the CLI, a headless runner) on the same data folder.
    External,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Created,
    Updated,
    Deleted,
}

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
pub struct Change {
    pub entity: Entity,
    pub op: ChangeOp,
    pub id: String,
}

impl Change {
    pub fn new(entity: Entity, op: ChangeOp, id: impl Into<String>) -> Self {
        Self {
            entity,
            op,
            id: id.into(),
        }
    }
}

/// Broadcast of committed changes. Slow subscribers lose the oldest events
/// (they see `Lagged`) instead of blocking writers.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Change>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self { tx }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    pub fn publish(&self, change: Change) {
        // No subscriber is fine: nobody is listening yet.
        let _ = self.tx.send(change);
    }

    pub fn publish_all(&self, changes: impl IntoIterator<Item = Change>) {
        for c in changes {
            self.publish(c);
        }
    }
}
