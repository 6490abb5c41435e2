//! Chat sessions and their messages. A streamed assistant message is created
//! as `streaming` and finished as `complete`, `stopped` or `error`, keeping
//! whatever text arrived.

pub mod engine;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{self, query_all, query_one, to_json, RowCtx};
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};

text_enum! {
    pub enum ChatRole ("chat role") {
        User = "user",
        Assistant = "assistant",
        System = "system",
        Tool = "tool",
    }
}

text_enum! {
    pub enum ChatStatus ("chat message status") {
        Streaming = "streaming",
        Complete = "complete",
        Stopped = "stopped",
        Error = "error",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ChatSession {
    pub id: Id,
    pub title: String,
    pub agent_id: Option<Id>,
    /// Route each message through the expert gate instead of a fixed agent.
    pub auto_route: bool,
    pub message_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ChatMessage {
    pub id: Id,
    pub session_id: Id,
    pub role: ChatRole,
    pub content: String,
    pub agent_id: Option<Id>,
    pub status: ChatStatus,
    /// Tool calls, reasoning, tokens, errors.
    pub metadata: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct SessionInput {
    #[ts(optional)]
    pub title: Option<String>,
    /// Empty string clears the agent.
    #[ts(optional)]
    pub agent_id: Option<String>,
    #[ts(optional)]
    pub auto_route: Option<bool>,
}

const SESSION_COLS: &str = "id, title, agent_id, auto_route, created_at, updated_at, \
    (SELECT count(*) FROM chat_messages m WHERE m.session_id = chat_sessions.id) AS message_count";

fn session_from_row(r: &rusqlite::Row<'_>) -> Result<ChatSession> {
    let c = RowCtx::new(r, "chat session")?;
    Ok(ChatSession {
        id: c.get("id")?,
        title: c.get("title")?,
        agent_id: c.get("agent_id")?,
        auto_route: c.bool("auto_route")?,
        message_count: c.u32("message_count")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn message_from_row(r: &rusqlite::Row<'_>) -> Result<ChatMessage> {
    let c = RowCtx::new(r, "chat message")?;
    Ok(ChatMessage {
        id: c.get("id")?,
        session_id: c.get("session_id")?,
        role: c.parse("role")?,
        content: c.get("content")?,
        agent_id: c.get("agent_id")?,
        status: c.parse("status")?,
        metadata: c.json("metadata")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_session(conn: &Connection, id: &str) -> Result<ChatSession> {
    let sql = format!("SELECT {SESSION_COLS} FROM chat_sessions WHERE id = ?1");
    query_one(conn, &sql, [id], session_from_row)?
        .ok_or_else(|| CoreError::not_found("chat session", id))
}

pub fn load_chat_message(conn: &Connection, id: &str) -> Result<ChatMessage> {
    query_one(
        conn,
        "SELECT * FROM chat_messages WHERE id = ?1",
        [id],
        message_from_row,
    )?
    .ok_or_else(|| CoreError::not_found("chat message", id))
}

/// Chat sessions and their messages (the streaming is `chat::engine`): `core.chat()`.
#[derive(Clone, Copy)]
pub struct ChatSessions<'a> {
    pub(crate) core: &'a Core,
}

impl ChatSessions<'_> {
    pub fn create_session(&self, input: SessionInput) -> Result<ChatSession> {
        let title = validate::name("title", input.title.as_deref().unwrap_or("New chat"))?;
        let id = new_id();
        self.core.write(|tx| {
            let agent = input.agent_id.as_deref().filter(|a| !a.trim().is_empty());
            if let Some(a) = agent {
                crate::agents::ensure_agent(tx, a)?;
            }
            let now = time::now_sql();
            tx.execute(
                "INSERT INTO chat_sessions (id, title, agent_id, auto_route, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                params![id, title, agent, input.auto_route.unwrap_or(false), now],
            )?;
            tx.changed(Entity::ChatSession, ChangeOp::Created, &id);
            load_session(tx, &id)
        })
    }

    pub fn get_session(&self, id: &str) -> Result<ChatSession> {
        self.core.read(|c| load_session(c, id))
    }

    pub fn update_session(&self, id: &str, input: SessionInput) -> Result<ChatSession> {
        self.core.write(|tx| {
            let cur = load_session(tx, id)?;
            let title = match &input.title {
                Some(t) => validate::name("title", t)?,
                None => cur.title,
            };
            let agent = match &input.agent_id {
                Some(a) if a.trim().is_empty() => None,
                Some(a) => {
                    crate::agents::ensure_agent(tx, a)?;
                    Some(a.clone())
                }
                None => cur.agent_id,
            };
            tx.execute(
                "UPDATE chat_sessions SET title = ?2, agent_id = ?3, auto_route = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, title, agent, input.auto_route.unwrap_or(cur.auto_route), time::now_sql()],
            )?;
            tx.changed(Entity::ChatSession, ChangeOp::Updated, id);
            load_session(tx, id)
        })
    }

    pub fn delete_session(&self, id: &str) -> Result<()> {
        self.core.write(|tx| {
            if tx.execute("DELETE FROM chat_sessions WHERE id = ?1", [id])? == 0 {
                return Err(CoreError::not_found("chat session", id));
            }
            tx.changed(Entity::ChatSession, ChangeOp::Deleted, id);
            Ok(())
        })
    }

    /// Sessions, most recently active first.
    pub fn list_sessions(&self, paging: Paging) -> Result<Page<ChatSession>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            let total: u64 = c.query_row("SELECT count(*) FROM chat_sessions", [], |r| r.get(0))?;
            let sql = format!(
                "SELECT {SESSION_COLS} FROM chat_sessions ORDER BY updated_at DESC, id DESC LIMIT {limit} OFFSET {offset}"
            );
            let items = query_all(c, &sql, [], session_from_row)?;
            Ok(Page { items, total, limit, offset })
        })
    }

    pub fn add_message(
        &self,
        session_id: &str,
        role: ChatRole,
        content: &str,
        agent_id: Option<&str>,
        status: ChatStatus,
    ) -> Result<ChatMessage> {
        let content = validate::text("content", content)?;
        if role == ChatRole::User && content.trim().is_empty() {
            return Err(CoreError::validation("content", "the message is empty"));
        }
        let id = new_id();
        self.core.write(|tx| {
            if !row::exists(tx, "chat_sessions", session_id)? {
                return Err(CoreError::not_found("chat session", session_id));
            }
            let now = time::now_sql();
            tx.execute(
                "INSERT INTO chat_messages (id, session_id, role, content, agent_id, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![id, session_id, role, content, agent_id, status, now],
            )?;
            tx.execute("UPDATE chat_sessions SET updated_at = ?2 WHERE id = ?1", params![session_id, now])?;
            tx.changed(Entity::ChatMessage, ChangeOp::Created, &id);
            load_chat_message(tx, &id)
        })
    }

    /// Sets a message's text, status and metadata (end of a stream).
    pub fn finish_message(
        &self,
        id: &str,
        content: &str,
        status: ChatStatus,
        metadata: serde_json::Value,
    ) -> Result<ChatMessage> {
        // The partial text is kept even when it is oversize: truncate rather than lose it.
        let content: String = content.chars().take(validate::MAX_TEXT).collect();
        self.core.write(|tx| {
            let n = tx.execute(
                "UPDATE chat_messages SET content = ?2, status = ?3, metadata = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, content, status, to_json(&metadata)?, time::now_sql()],
            )?;
            if n == 0 {
                return Err(CoreError::not_found("chat message", id));
            }
            tx.changed(Entity::ChatMessage, ChangeOp::Updated, id);
            load_chat_message(tx, id)
        })
    }

    /// A session's messages, oldest first.
    pub fn messages(&self, session_id: &str, paging: Paging) -> Result<Page<ChatMessage>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            load_session(c, session_id)?;
            let total: u64 = c.query_row(
                "SELECT count(*) FROM chat_messages WHERE session_id = ?1",
                [session_id],
                |r| r.get(0),
            )?;
            let sql = format!(
                "SELECT * FROM chat_messages WHERE session_id = ?1 ORDER BY created_at, id LIMIT {limit} OFFSET {offset}"
            );
            let items = query_all(c, &sql, [session_id], message_from_row)?;
            Ok(Page { items, total, limit, offset })
        })
    }
}
