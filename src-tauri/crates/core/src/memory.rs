//! Team memory: facts a crew shares (from the `remember` tool, from crew
//! settings), included in members' instructions.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, RowCtx};
use crate::time::{self, Timestamp};
use crate::{new_id, validate, Core, Id};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MemoryEntry {
    pub id: Id,
    pub crew_id: Option<Id>,
    pub agent_id: Option<Id>,
    pub source: String,
    pub content: String,
    pub created_at: Timestamp,
}

fn entry_from_row(r: &rusqlite::Row<'_>) -> Result<MemoryEntry> {
    let c = RowCtx::new(r, "memory entry")?;
    Ok(MemoryEntry {
        id: c.get("id")?,
        crew_id: c.get("crew_id")?,
        agent_id: c.get("agent_id")?,
        source: c.get("source")?,
        content: c.get("content")?,
        created_at: c.ts("created_at")?,
    })
}

/// Team memory: what agents of a crew remember: `core.memory()`.
#[derive(Clone, Copy)]
pub struct Memory<'a> {
    pub(crate) core: &'a Core,
}

impl Memory<'_> {
    /// Saves a fact; with a `key`, a repeated call saves nothing new.
    pub fn remember(
        &self,
        crew_id: Option<&str>,
        agent_id: Option<&str>,
        content: &str,
        source: &str,
        key: Option<&str>,
    ) -> Result<MemoryEntry> {
        let content = validate::text("content", content)?;
        if content.trim().is_empty() {
            return Err(CoreError::validation(
                "content",
                "there is nothing to remember",
            ));
        }
        self.core.write(|tx| {
            if let Some(k) = key {
                let existing = query_all(tx, "SELECT * FROM team_memory WHERE idempotency_key = ?1", [k], entry_from_row)?;
                if let Some(e) = existing.into_iter().next() {
                    return Ok(e);
                }
            }
            let id = new_id();
            let now = time::now_sql();
            tx.execute(
                "INSERT INTO team_memory (id, crew_id, agent_id, source, content, idempotency_key, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![id, crew_id, agent_id, source, content.trim(), key, now],
            )?;
            tx.changed(Entity::Memory, ChangeOp::Created, &id);
            let e = query_all(tx, "SELECT * FROM team_memory WHERE id = ?1", [&id], entry_from_row)?;
            e.into_iter().next().ok_or_else(|| CoreError::not_found("memory entry", &id))
        })
    }

    /// The latest `limit` facts of a crew (or, without a crew, the facts kept outside crews), oldest first.
    pub fn team(&self, crew_id: Option<&str>, limit: u32) -> Result<Vec<MemoryEntry>> {
        self.core.read(|c| {
            let mut v = query_all(
                c,
                "SELECT * FROM team_memory WHERE crew_id IS ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2",
                params![crew_id, limit.clamp(1, 500)],
                entry_from_row,
            )?;
            v.reverse();
            Ok(v)
        })
    }
}
