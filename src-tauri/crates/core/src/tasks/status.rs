//! The task status state machine (SPEC §2):
//!
//! ```text
//! queued → planning → running ⇄ waiting_input | awaiting_approval | delegated | reviewing
//! running → completed | failed | cancelled
//! failed → queued (retry with backoff while attempts < max_attempts)
//! any non-final → cancelled
//! ```
//!
//! Two moves the spec leaves implicit are allowed so that no work is lost:
//! `planning → queued` (no agent or provider available yet: wait instead of
//! failing) and `running | planning → queued` is reserved for crash recovery
//! (an interrupted run is re-queued), plus `planning → failed` (no agent can
//! ever take the task).

use crate::error::{CoreError, Result};
use crate::text_enum;

text_enum! {
    pub enum TaskStatus ("task status") {
        Queued = "queued",
        Planning = "planning",
        Running = "running",
        WaitingInput = "waiting_input",
        AwaitingApproval = "awaiting_approval",
        Delegated = "delegated",
        Reviewing = "reviewing",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

impl TaskStatus {
    /// No further moves except, for `failed`, a retry.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Failed)
    }

    /// A run is in progress or parked inside `running`.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Self::Planning
                | Self::Running
                | Self::WaitingInput
                | Self::AwaitingApproval
                | Self::Delegated
                | Self::Reviewing
        )
    }

    /// Whether `self → to` is a legal move.
    pub fn can_move_to(&self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        match (self, to) {
            (Queued, Planning) => true,
            (Planning, Running | Queued | Failed) => true,
            (Running, WaitingInput | AwaitingApproval | Delegated | Reviewing) => true,
            (WaitingInput | AwaitingApproval | Delegated | Reviewing, Running) => true,
            (Running, Completed | Failed | Queued) => true,
            (Failed, Queued) => true,
            (from, Cancelled) => !from.is_final(),
            _ => false,
        }
    }
}

pub fn check_move(from: TaskStatus, to: TaskStatus) -> Result<()> {
    if from.can_move_to(to) {
        Ok(())
    } else {
        Err(CoreError::IllegalTransition {
            from: from.to_string(),
            to: to.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TaskStatus::*;
    use super::*;

    #[test]
    fn spec_moves_are_legal() {
        for (a, b) in [
            (Queued, Planning),
            (Planning, Running),
            (Running, WaitingInput),
            (WaitingInput, Running),
            (Running, AwaitingApproval),
            (AwaitingApproval, Running),
            (Running, Delegated),
            (Delegated, Running),
            (Running, Reviewing),
            (Reviewing, Running),
            (Running, Completed),
            (Running, Failed),
            (Running, Cancelled),
            (Failed, Queued),
            (Queued, Cancelled),
            (AwaitingApproval, Cancelled),
        ] {
            assert!(a.can_move_to(b), "{a} → {b} should be legal");
        }
    }

    #[test]
    fn illegal_moves_are_refused() {
        for (a, b) in [
            (Queued, Running),
            (Queued, Completed),
            (Completed, Queued),
            (Completed, Cancelled),
            (Cancelled, Queued),
            (Failed, Running),
            (WaitingInput, Completed),
            (Planning, Completed),
        ] {
            assert!(!a.can_move_to(b), "{a} → {b} should be illegal");
            assert_eq!(
                check_move(a, b).err().map(|e| e.code()),
                Some("ILLEGAL_TRANSITION")
            );
        }
    }
}
