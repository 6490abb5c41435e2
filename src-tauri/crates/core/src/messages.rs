//! Inter-agent messages (SPEC §2) on `direct:{from}:{to}`, `team:{crew}` and
//! `task:{task}` channels, persisted so a crew's timeline can be replayed.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{self, query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};

text_enum! {
    pub enum MessageKind ("message type") {
        Request = "request",
        Response = "response",
        Handoff = "handoff",
        Escalation = "escalation",
        StatusUpdate = "status_update",
        Question = "question",
        ApprovalRequest = "approval_request",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Message {
    pub id: Id,
    pub crew_id: Option<Id>,
    pub crew_run_id: Option<Id>,
    pub task_id: Option<Id>,
    pub from_agent_id: Option<Id>,
    /// `None` = broadcast to the channel.
    pub to_agent_id: Option<Id>,
    pub channel: String,
    pub kind: MessageKind,
    pub content: String,
    pub reasoning: String,
    /// Context carried by handoffs (conversation so far, findings…).
    pub context: serde_json::Value,
    pub requires_response: bool,
    pub response_deadline: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct NewMessage {
    #[ts(optional)]
    pub crew_id: Option<Id>,
    #[ts(optional)]
    pub crew_run_id: Option<Id>,
    #[ts(optional)]
    pub task_id: Option<Id>,
    #[ts(optional)]
    pub from_agent_id: Option<Id>,
    #[ts(optional)]
    pub to_agent_id: Option<Id>,
    #[ts(optional)]
    pub kind: Option<MessageKind>,
    pub content: String,
    #[ts(optional)]
    pub reasoning: Option<String>,
    #[ts(optional)]
    pub context: Option<serde_json::Value>,
    #[ts(optional)]
    pub requires_response: Option<bool>,
    #[ts(optional)]
    pub response_deadline: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct MessageFilter {
    #[ts(optional)]
    pub crew_id: Option<Id>,
    #[ts(optional)]
    pub crew_run_id: Option<Id>,
    #[ts(optional)]
    pub task_id: Option<Id>,
    #[ts(optional)]
    pub channel: Option<String>,
    #[ts(optional)]
    pub agent_id: Option<Id>,
}

/// The channel a message travels on: direct when it has a sender and a
/// recipient, else the team's, else the task's.
pub fn channel_for(m: &NewMessage) -> Result<String> {
    match (&m.from_agent_id, &m.to_agent_id, &m.crew_id, &m.task_id) {
        (Some(f), Some(t), _, _) => Ok(format!("direct:{f}:{t}")),
        (None, Some(t), _, _) => Ok(format!("direct:human:{t}")),
        (_, None, Some(c), _) => Ok(format!("team:{c}")),
        (_, None, None, Some(t)) => Ok(format!("task:{t}")),
        _ => Err(CoreError::validation(
            "to_agent_id",
            "a message needs a recipient, a crew or a task",
        )),
    }
}

const COLS: &str =
    "id, crew_id, crew_run_id, task_id, from_agent_id, to_agent_id, channel, kind, content, \
    reasoning, context, requires_response, response_deadline, created_at, updated_at";

fn message_from_row(r: &rusqlite::Row<'_>) -> Result<Message> {
    let c = RowCtx::new(r, "message")?;
    Ok(Message {
        id: c.get("id")?,
        crew_id: c.get("crew_id")?,
        crew_run_id: c.get("crew_run_id")?,
        task_id: c.get("task_id")?,
        from_agent_id: c.get("from_agent_id")?,
        to_agent_id: c.get("to_agent_id")?,
        channel: c.get("channel")?,
        kind: c.parse("kind")?,
        content: c.get("content")?,
        reasoning: c.get("reasoning")?,
        context: c.json("context")?,
        requires_response: c.bool("requires_response")?,
        response_deadline: c.ts_opt("response_deadline")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_message(conn: &Connection, id: &str) -> Result<Message> {
    let sql = format!("SELECT {COLS} FROM messages WHERE id = ?1");
    query_one(conn, &sql, [id], message_from_row)?
        .ok_or_else(|| CoreError::not_found("message", id))
}

/// Inserts a message inside an open transaction.
pub fn insert_message(tx: &mut Tx<'_>, m: &NewMessage) -> Result<Message> {
    let content = validate::text("content", &m.content)?;
    if content.trim().is_empty() {
        return Err(CoreError::validation("content", "must not be empty"));
    }
    let reasoning = validate::text("reasoning", m.reasoning.as_deref().unwrap_or(""))?;
    let context = m.context.clone().unwrap_or_else(|| serde_json::json!({}));
    let context_text = to_json(&context)?;
    validate::max_len("context", &context_text, validate::MAX_TEXT)?;
    for a in [&m.from_agent_id, &m.to_agent_id].into_iter().flatten() {
        crate::agents::ensure_agent(tx, a)?;
    }
    if let Some(c) = &m.crew_id {
        if !row::exists(tx, "crews", c)? {
            return Err(CoreError::not_found("crew", c));
        }
    }
    if let Some(t) = &m.task_id {
        if !row::exists(tx, "tasks", t)? {
            return Err(CoreError::not_found("task", t));
        }
    }
    let channel = channel_for(m)?;
    let id = new_id();
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO messages (id, crew_id, crew_run_id, task_id, from_agent_id, to_agent_id, channel, kind, content,
            reasoning, context, requires_response, response_deadline, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
        params![
            id, m.crew_id, m.crew_run_id, m.task_id, m.from_agent_id, m.to_agent_id, channel,
            m.kind.unwrap_or(MessageKind::Request), content, reasoning, context_text,
            m.requires_response.unwrap_or(false), m.response_deadline.as_ref().map(time::to_sql), now
        ],
    )?;
    tx.changed(Entity::Message, ChangeOp::Created, &id);
    load_message(tx, &id)
}

/// Messages between agents and people: `core.messages()`.
#[derive(Clone, Copy)]
pub struct Messages<'a> {
    pub(crate) core: &'a Core,
}

impl Messages<'_> {
    pub fn send(&self, m: NewMessage) -> Result<Message> {
        self.core.write(|tx| insert_message(tx, &m))
    }

    /// Sends a message at most once per `key` (a tool call's journal key):
    /// a repeated call returns the message already sent.
    pub fn send_once(&self, m: NewMessage, key: Option<&str>) -> Result<Message> {
        let Some(key) = key else {
            return self.send(m);
        };
        self.core.write(|tx| {
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM messages WHERE idempotency_key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .ok();
            if let Some(id) = existing {
                return load_message(tx, &id);
            }
            let msg = insert_message(tx, &m)?;
            tx.execute(
                "UPDATE messages SET idempotency_key = ?2 WHERE id = ?1",
                params![msg.id, key],
            )?;
            Ok(msg)
        })
    }

    /// Messages matching the filter, oldest first (a timeline).
    pub fn list(&self, f: &MessageFilter, paging: Paging) -> Result<Page<Message>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        let wher = "WHERE (?1 IS NULL OR crew_id = ?1) AND (?2 IS NULL OR crew_run_id = ?2)
            AND (?3 IS NULL OR task_id = ?3) AND (?4 IS NULL OR channel = ?4)
            AND (?5 IS NULL OR from_agent_id = ?5 OR to_agent_id = ?5)";
        self.core.store().read_tx(|c| {
            let p = params![f.crew_id, f.crew_run_id, f.task_id, f.channel, f.agent_id];
            let total: u64 = c.query_row(&format!("SELECT count(*) FROM messages {wher}"), p, |r| r.get(0))?;
            let sql = format!("SELECT {COLS} FROM messages {wher} ORDER BY created_at, id LIMIT {limit} OFFSET {offset}");
            let items = query_all(
                c,
                &sql,
                params![f.crew_id, f.crew_run_id, f.task_id, f.channel, f.agent_id],
                message_from_row,
            )?;
            Ok(Page { items, total, limit, offset })
        })
    }
}
