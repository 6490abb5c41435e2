//! The approval inbox: requests an agent makes before a consequential action,
//! decided by a human (approve / edit / reject) or expired (rejected by
//! default). Rows live in SQLite, so a pending request survives restarts.

use chrono::Duration;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};

text_enum! {
    pub enum ApprovalStatus ("approval status") {
        Pending = "pending",
        Approved = "approved",
        Edited = "edited",
        Rejected = "rejected",
        Expired = "expired",
    }
}

text_enum! {
    /// What the request is about.
    pub enum ApprovalKind ("approval kind") {
        /// A tool call that needs a human's go-ahead (copilot).
        ToolCall = "tool_call",
        /// The agent's final answer, before it is delivered.
        FinalOutput = "final_output",
        /// The agent asked a question (ask_human).
        AskHuman = "ask_human",
        /// Manual autonomy: the agent only recommends; a human may "do it".
        Suggestion = "suggestion",
        /// A side-effecting call interrupted by a crash: did it happen?
        AmbiguousToolCall = "ambiguous_tool_call",
        /// Work escalated past the supervisor to a human.
        Escalation = "escalation",
    }
}

text_enum! {
    pub enum Verdict ("verdict") {
        Approve = "approve",
        Edit = "edit",
        Reject = "reject",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Approval {
    pub id: Id,
    pub task_id: Option<Id>,
    pub run_id: Option<Id>,
    pub step_id: Option<Id>,
    pub tool_call_id: Option<Id>,
    pub agent_id: Option<Id>,
    pub crew_run_id: Option<Id>,
    pub kind: ApprovalKind,
    pub title: String,
    /// What the agent wants to do (for a tool call: `{ "tool": …, "arguments": … }`).
    pub proposed_action: serde_json::Value,
    /// The human's edited version, when the verdict was "edit".
    pub edited_action: Option<serde_json::Value>,
    pub status: ApprovalStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub comment: Option<String>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct NewApproval {
    pub title: String,
    #[ts(optional)]
    pub kind: Option<ApprovalKind>,
    pub proposed_action: serde_json::Value,
    #[ts(optional)]
    pub task_id: Option<Id>,
    #[ts(optional)]
    pub run_id: Option<Id>,
    #[ts(optional)]
    pub step_id: Option<Id>,
    #[ts(optional)]
    pub tool_call_id: Option<Id>,
    #[ts(optional)]
    pub agent_id: Option<Id>,
    #[ts(optional)]
    pub crew_run_id: Option<Id>,
    /// Overrides the expiry from Settings.
    #[ts(optional, type = "number")]
    pub expires_in_secs: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Decision {
    #[ts(optional)]
    pub verdict: Option<Verdict>,
    /// Required for "edit": the action to run instead.
    #[ts(optional)]
    pub edited_action: Option<serde_json::Value>,
    #[ts(optional)]
    pub comment: Option<String>,
    #[ts(optional)]
    pub decided_by: Option<String>,
}

const COLS: &str = "id, task_id, run_id, step_id, tool_call_id, agent_id, crew_run_id, kind, title, \
    proposed_action, edited_action, status, decided_by, decided_at, comment, expires_at, created_at, updated_at";

fn approval_from_row(r: &rusqlite::Row<'_>) -> Result<Approval> {
    let c = RowCtx::new(r, "approval")?;
    Ok(Approval {
        id: c.get("id")?,
        task_id: c.get("task_id")?,
        run_id: c.get("run_id")?,
        step_id: c.get("step_id")?,
        tool_call_id: c.get("tool_call_id")?,
        agent_id: c.get("agent_id")?,
        crew_run_id: c.get("crew_run_id")?,
        kind: c.parse("kind")?,
        title: c.get("title")?,
        proposed_action: c.json("proposed_action")?,
        edited_action: c.json_opt("edited_action")?,
        status: c.parse("status")?,
        decided_by: c.get("decided_by")?,
        decided_at: c.ts_opt("decided_at")?,
        comment: c.get("comment")?,
        expires_at: c.ts("expires_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_approval(conn: &Connection, id: &str) -> Result<Approval> {
    let sql = format!("SELECT {COLS} FROM approvals WHERE id = ?1");
    query_one(conn, &sql, [id], approval_from_row)?
        .ok_or_else(|| CoreError::not_found("approval", id))
}

/// The latest request made for a run step, if any.
pub fn approval_for_step(conn: &Connection, step_id: &str) -> Result<Option<Approval>> {
    let sql = format!("SELECT {COLS} FROM approvals WHERE step_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1");
    query_one(conn, &sql, [step_id], approval_from_row)
}

/// Inserts a pending request inside an open transaction.
pub fn insert_approval(
    tx: &mut Tx<'_>,
    input: &NewApproval,
    expiry_hours: u32,
) -> Result<Approval> {
    let title = validate::name("title", &input.title)?;
    let action = to_json(&input.proposed_action)?;
    validate::max_len("proposed_action", &action, validate::MAX_TEXT)?;
    let secs = input
        .expires_in_secs
        .unwrap_or(u64::from(expiry_hours) * 3600)
        .min(10 * 365 * 24 * 3600);
    let expires = time::now() + Duration::seconds(secs as i64);
    let id = new_id();
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO approvals (id, task_id, run_id, step_id, tool_call_id, agent_id, crew_run_id, kind, title,
            proposed_action, status, expires_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'pending', ?11, ?12, ?12)",
        params![
            id, input.task_id, input.run_id, input.step_id, input.tool_call_id, input.agent_id,
            input.crew_run_id, input.kind.unwrap_or(ApprovalKind::ToolCall), title, action,
            time::to_sql(&expires), now
        ],
    )?;
    tx.changed(Entity::Approval, ChangeOp::Created, &id);
    load_approval(tx, &id)
}

/// The approval inbox: requests, decisions, expiry: `core.approvals()`.
#[derive(Clone, Copy)]
pub struct Approvals<'a> {
    pub(crate) core: &'a Core,
}

impl Approvals<'_> {
    pub fn create(&self, input: NewApproval) -> Result<Approval> {
        let hours = self.core.settings()?.approval_expiry_hours;
        self.core.write(|tx| insert_approval(tx, &input, hours))
    }

    pub fn get(&self, id: &str) -> Result<Approval> {
        self.core.read(|c| load_approval(c, id))
    }

    /// Lists requests, newest first; `status` narrows to one status.
    pub fn list(&self, status: Option<ApprovalStatus>, paging: Paging) -> Result<Page<Approval>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            let status = status.map(|s| s.as_str().to_string());
            let total: u64 = c.query_row(
                "SELECT count(*) FROM approvals WHERE ?1 IS NULL OR status = ?1",
                [&status],
                |r| r.get(0),
            )?;
            let order = if status.as_deref() == Some("pending") {
                "expires_at, id"
            } else {
                "created_at DESC, id DESC"
            };
            let sql = format!(
                "SELECT {COLS} FROM approvals WHERE ?1 IS NULL OR status = ?1 ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            );
            let items = query_all(c, &sql, [&status], approval_from_row)?;
            Ok(Page { items, total, limit, offset })
        })
    }

    /// The decided requests (approved, edited, rejected, expired), most
    /// recently decided first: the inbox's history.
    pub fn list_decided(&self, paging: Paging) -> Result<Page<Approval>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            let total: u64 = c.query_row(
                "SELECT count(*) FROM approvals WHERE status <> 'pending'",
                [],
                |r| r.get(0),
            )?;
            let sql = format!(
                "SELECT {COLS} FROM approvals WHERE status <> 'pending'
                 ORDER BY coalesce(decided_at, updated_at) DESC, id DESC LIMIT {limit} OFFSET {offset}"
            );
            let items = query_all(c, &sql, [], approval_from_row)?;
            Ok(Page {
                items,
                total,
                limit,
                offset,
            })
        })
    }

    pub fn pending_count(&self) -> Result<u64> {
        self.core.read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM approvals WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// Records a human decision on a pending request.
    pub fn decide(&self, id: &str, decision: Decision) -> Result<Approval> {
        let Some(verdict) = decision.verdict else {
            return Err(CoreError::validation(
                "verdict",
                format!("is required; expected one of: {}", Verdict::choices()),
            ));
        };
        let comment = decision
            .comment
            .as_deref()
            .map(|c| validate::short_text("comment", c))
            .transpose()?
            .filter(|c| !c.trim().is_empty());
        let edited = match (verdict, &decision.edited_action) {
            (Verdict::Edit, None) => {
                return Err(CoreError::validation(
                    "edited_action",
                    "an edit needs the edited action",
                ))
            }
            (Verdict::Edit, Some(a)) => {
                let text = to_json(a)?;
                validate::max_len("edited_action", &text, validate::MAX_TEXT)?;
                Some(text)
            }
            _ => None,
        };
        let by = validate::name(
            "decided_by",
            decision.decided_by.as_deref().unwrap_or("human"),
        )?;
        self.core.write(|tx| {
            let a = load_approval(tx, id)?;
            if a.status != ApprovalStatus::Pending {
                return Err(CoreError::Conflict(format!(
                    "this request was already {}; only pending requests can be decided",
                    a.status
                )));
            }
            let status = match verdict {
                Verdict::Approve => ApprovalStatus::Approved,
                Verdict::Edit => ApprovalStatus::Edited,
                Verdict::Reject => ApprovalStatus::Rejected,
            };
            let now = time::now_sql();
            tx.execute(
                "UPDATE approvals SET status = ?2, edited_action = ?3, comment = ?4, decided_by = ?5, decided_at = ?6, updated_at = ?6 WHERE id = ?1",
                params![id, status, edited, comment, by, now],
            )?;
            tx.changed(Entity::Approval, ChangeOp::Updated, id);
            load_approval(tx, id)
        })
    }

    /// Marks every pending request past its expiry as expired (the default is
    /// reject). Returns the ids that expired.
    pub fn expire(&self) -> Result<Vec<Id>> {
        self.core.write(|tx| {
            let now = time::now_sql();
            let ids: Vec<Id> = query_all(
                tx,
                "SELECT id FROM approvals WHERE status = 'pending' AND expires_at <= ?1",
                [&now],
                |r| Ok(r.get(0)?),
            )?;
            for id in &ids {
                tx.execute(
                    "UPDATE approvals SET status = 'expired', decided_by = 'expiry', decided_at = ?2, updated_at = ?2,
                        comment = coalesce(comment, 'expired without a decision; rejected by default') WHERE id = ?1",
                    params![id, now],
                )?;
                tx.changed(Entity::Approval, ChangeOp::Updated, id);
            }
            Ok(ids)
        })
    }
}
