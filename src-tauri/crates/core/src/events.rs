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

/// Something a person should hear about even with the window hidden
/// (the desktop app turns it into a notification).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Notice {
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    /// The view to open when the notice is activated.
    pub view: String,
    /// What the notice is about inside that view, opened with it: a task's
    /// id for "tasks", a crew's for "crews".
    #[serde(default)]
    #[ts(optional)]
    pub item_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    ApprovalNeeded,
    TaskFailed,
    ActedOnAutopilot,
    CrewFinished,
}

/// Broadcast of committed changes (and of notices). Slow subscribers lose
/// the oldest events (they see `Lagged`) instead of blocking writers.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Change>,
    notices: broadcast::Sender<Notice>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        let (notices, _) = broadcast::channel(256);
        Self { tx, notices }
    }

    pub fn notify(&self, notice: Notice) {
        tracing::info!(target: "ensemble::notice", kind = ?notice.kind, title = %notice.title, body = %notice.body, "notice");
        let _ = self.notices.send(notice);
    }

    pub fn subscribe_notices(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
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
