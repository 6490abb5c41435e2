//! Tasks: the unit of work on the board. Creation with dependencies and
//! subtasks, edits, the status state machine of SPEC §2, cancellation, and the
//! board/list queries.

mod progress;
pub mod status;
mod store;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::query_all;
use crate::time::Timestamp;
use crate::{text_enum, validate, Core, Id, Page, Paging};

pub(crate) use progress::*;
pub use status::TaskStatus;
use store::{filter_sql, insert_dependency};
pub use store::{insert_task, load_task, move_task, requeue_by_hand, TaskLinks};
pub(crate) use store::{set_status, task_from_row, COLS};

text_enum! {
    pub enum TaskType ("task type") {
        Research = "research",
        Analyze = "analyze",
        Generate = "generate",
        Decide = "decide",
        Execute = "execute",
        Review = "review",
        Plan = "plan",
    }
}

/// Named priority levels (SPEC §2).
pub fn priority_from_name(name: &str) -> Option<u8> {
    match name.trim().to_lowercase().as_str() {
        "critical" => Some(10),
        "high" => Some(8),
        "normal" => Some(5),
        "low" => Some(3),
        "background" => Some(1),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Task {
    pub id: Id,
    pub title: String,
    pub objective: String,
    pub task_type: TaskType,
    /// 1–10, 10 highest.
    pub priority: u8,
    pub status: TaskStatus,
    pub crew_id: Option<Id>,
    pub crew_run_id: Option<Id>,
    pub workflow_run_id: Option<Id>,
    pub workflow_step: Option<String>,
    /// The agent a human (or a delegating agent) chose; `None` = routed.
    pub assigned_agent_id: Option<Id>,
    /// The agent the scheduler gave it to (last run).
    pub routed_agent_id: Option<Id>,
    pub required_capabilities: Vec<String>,
    /// "human" or the id of the agent that created it.
    pub created_by: String,
    pub parent_task_id: Option<Id>,
    pub delegation_depth: u32,
    pub depends_on: Vec<Id>,
    pub input: serde_json::Value,
    pub output: Option<String>,
    pub confidence: Option<f64>,
    pub error: Option<String>,
    pub requires_approval: bool,
    pub attempts: u32,
    pub max_attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    /// Agents whose attempts failed; a retry prefers others.
    pub failed_agents: Vec<Id>,
    #[ts(type = "number")]
    pub tokens_in: u64,
    #[ts(type = "number")]
    pub tokens_out: u64,
    pub cost: f64,
    pub max_cost: Option<f64>,
    #[ts(type = "number | null")]
    pub max_tokens: Option<u64>,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub deadline: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Fields of a new task. `title` is required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct NewTask {
    pub title: String,
    #[ts(optional)]
    pub objective: Option<String>,
    #[ts(optional)]
    pub task_type: Option<TaskType>,
    #[ts(optional)]
    pub priority: Option<i64>,
    #[ts(optional)]
    pub crew_id: Option<Id>,
    #[ts(optional)]
    pub assigned_agent_id: Option<Id>,
    #[ts(optional)]
    pub required_capabilities: Option<Vec<String>>,
    #[ts(optional)]
    pub parent_task_id: Option<Id>,
    #[ts(optional)]
    pub depends_on: Option<Vec<Id>>,
    #[ts(optional)]
    pub input: Option<serde_json::Value>,
    #[ts(optional)]
    pub requires_approval: Option<bool>,
    #[ts(optional)]
    pub max_attempts: Option<i64>,
    #[ts(optional)]
    pub max_cost: Option<f64>,
    #[ts(optional, type = "number")]
    pub max_tokens: Option<u64>,
    #[ts(optional)]
    pub deadline: Option<Timestamp>,
    /// "human" (default) or the creating agent's id.
    #[ts(optional)]
    pub created_by: Option<String>,
}

/// Changes to a task; unset fields stay. An empty `assigned_agent_id` unassigns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct TaskPatch {
    #[ts(optional)]
    pub title: Option<String>,
    #[ts(optional)]
    pub objective: Option<String>,
    #[ts(optional)]
    pub task_type: Option<TaskType>,
    #[ts(optional)]
    pub priority: Option<i64>,
    #[ts(optional)]
    pub assigned_agent_id: Option<String>,
    #[ts(optional)]
    pub required_capabilities: Option<Vec<String>>,
    #[ts(optional)]
    pub requires_approval: Option<bool>,
    #[ts(optional)]
    pub max_attempts: Option<i64>,
    #[ts(optional)]
    pub deadline: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct TaskFilter {
    #[ts(optional)]
    pub statuses: Option<Vec<TaskStatus>>,
    #[ts(optional)]
    pub crew_id: Option<Id>,
    #[ts(optional)]
    pub agent_id: Option<Id>,
    #[ts(optional)]
    pub parent_task_id: Option<Id>,
    /// Only tasks without a parent (the board hides subtasks by default).
    #[ts(optional)]
    pub top_level: Option<bool>,
    /// Case-insensitive substring of title or objective.
    #[ts(optional)]
    pub search: Option<String>,
    #[ts(optional)]
    pub min_priority: Option<i64>,
}

/// One kanban column.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct BoardColumn {
    pub status: TaskStatus,
    pub total: u64,
    pub tasks: Vec<Task>,
}

/// The tasks room: the board, task records, their status moves and dependencies: `core.tasks()`.
#[derive(Clone, Copy)]
pub struct Tasks<'a> {
    pub(crate) core: &'a Core,
}

impl Tasks<'_> {
    pub fn create(&self, input: NewTask) -> Result<Task> {
        self.core
            .write(|tx| insert_task(tx, &input, &TaskLinks::default()))
    }

    pub fn get(&self, id: &str) -> Result<Task> {
        self.core.read(|c| load_task(c, id))
    }

    pub fn update(&self, id: &str, patch: TaskPatch) -> Result<Task> {
        self.core.write(|tx| {
            let t = load_task(tx, id)?;
            if t.status.is_final() {
                return Err(CoreError::validation(
                    "status",
                    format!("the task is {}; finished tasks cannot be edited", t.status),
                ));
            }
            let title = match &patch.title {
                Some(v) => validate::name("title", v)?,
                None => t.title,
            };
            let objective = match &patch.objective {
                Some(v) => validate::text("objective", v)?,
                None => t.objective,
            };
            let priority = match patch.priority {
                Some(p) => validate::priority(p)?,
                None => t.priority,
            };
            let agent = match &patch.assigned_agent_id {
                Some(a) if a.trim().is_empty() => None,
                Some(a) => {
                    crate::agents::ensure_agent(tx, a)?;
                    Some(a.clone())
                }
                None => t.assigned_agent_id,
            };
            let caps = match &patch.required_capabilities {
                Some(c) => validate::labels("required_capabilities", c)?,
                None => t.required_capabilities,
            };
            let max_attempts = match patch.max_attempts {
                Some(v) => validate::range_u32("max_attempts", v, 1, 20)?,
                None => t.max_attempts,
            };
            let edited = Task {
                title,
                objective,
                task_type: patch.task_type.unwrap_or(t.task_type),
                priority,
                assigned_agent_id: agent,
                required_capabilities: caps,
                requires_approval: patch.requires_approval.unwrap_or(t.requires_approval),
                max_attempts,
                deadline: patch.deadline.or(t.deadline),
                ..t
            };
            store::write_edit(tx, &edited)?;
            load_task(tx, id)
        })
    }

    /// Moves a task to another status; illegal moves are refused.
    pub fn set_status(&self, id: &str, to: TaskStatus) -> Result<Task> {
        if to == TaskStatus::Cancelled {
            return self.cancel(id);
        }
        self.core.write(|tx| move_task(tx, id, to, None))
    }

    /// Cancels a task and its open subtasks.
    pub fn cancel(&self, id: &str) -> Result<Task> {
        self.core.write(|tx| {
            let t = load_task(tx, id)?;
            status::check_move(t.status, TaskStatus::Cancelled)?;
            let open: Vec<String> = query_all(
                tx,
                "WITH RECURSIVE sub(id) AS (SELECT id FROM tasks WHERE parent_task_id = ?1
                    UNION SELECT t.id FROM tasks t JOIN sub ON t.parent_task_id = sub.id)
                 SELECT id FROM tasks WHERE id IN sub AND status NOT IN ('completed', 'cancelled', 'failed')",
                [id],
                |r| Ok(r.get::<_, String>(0)?),
            )?;
            for sub in open {
                move_task(tx, &sub, TaskStatus::Cancelled, None)?;
            }
            move_task(tx, id, TaskStatus::Cancelled, None)
        })
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        self.core.write(|tx| {
            let n = tx.execute("DELETE FROM tasks WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(CoreError::not_found("task", id));
            }
            tx.changed(Entity::Task, ChangeOp::Deleted, id);
            Ok(())
        })
    }

    pub fn add_dependency(&self, task_id: &str, depends_on: &str) -> Result<Task> {
        self.core.write(|tx| {
            load_task(tx, task_id)?;
            insert_dependency(tx, task_id, depends_on)?;
            tx.changed(Entity::Task, ChangeOp::Updated, task_id);
            load_task(tx, task_id)
        })
    }

    pub fn remove_dependency(&self, task_id: &str, depends_on: &str) -> Result<Task> {
        self.core.write(|tx| {
            load_task(tx, task_id)?;
            tx.execute(
                "DELETE FROM task_dependencies WHERE task_id = ?1 AND depends_on_id = ?2",
                params![task_id, depends_on],
            )?;
            tx.changed(Entity::Task, ChangeOp::Updated, task_id);
            load_task(tx, task_id)
        })
    }

    pub fn list(&self, filter: &TaskFilter, paging: Paging) -> Result<Page<Task>> {
        let (wher, args) = filter_sql(filter)?;
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            let total: u64 = c.query_row(
                &format!("SELECT count(*) FROM tasks {wher}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let sql = format!(
                "SELECT {COLS} FROM tasks {wher} ORDER BY priority DESC, created_at, id LIMIT {limit} OFFSET {offset}"
            );
            let items = query_all(c, &sql, rusqlite::params_from_iter(args.iter()), task_from_row)?;
            Ok(Page { items, total, limit, offset })
        })
    }

    /// The kanban board: for each status, its total and its first tasks by
    /// priority then age. Totals come from `task_counts` (kept by triggers)
    /// when the filter is only statuses and/or top-level.
    pub fn board(&self, filter: &TaskFilter, per_column: u32) -> Result<Vec<BoardColumn>> {
        let per_column = per_column.clamp(1, 500);
        let statuses = filter
            .statuses
            .clone()
            .unwrap_or_else(|| TaskStatus::ALL.to_vec());
        let counted = filter.crew_id.is_none()
            && filter.agent_id.is_none()
            && filter.parent_task_id.is_none()
            && filter.min_priority.is_none()
            && filter.search.as_deref().is_none_or(|s| s.trim().is_empty());
        let count_sql = if filter.top_level == Some(true) {
            "SELECT coalesce((SELECT top_level FROM task_counts WHERE status = ?1), 0)"
        } else {
            "SELECT coalesce((SELECT n FROM task_counts WHERE status = ?1), 0)"
        };
        self.core.store().read_tx(|c| {
            let mut out = Vec::with_capacity(statuses.len());
            for status in statuses {
                let f = TaskFilter {
                    statuses: Some(vec![status]),
                    ..filter.clone()
                };
                let (wher, args) = filter_sql(&f)?;
                let total: u64 = if counted {
                    let n: i64 = c.prepare_cached(count_sql)?.query_row([status], |r| r.get(0))?;
                    n.max(0) as u64
                } else {
                    c.query_row(
                        &format!("SELECT count(*) FROM tasks {wher}"),
                        rusqlite::params_from_iter(args.iter()),
                        |r| r.get(0),
                    )?
                };
                let tasks = if total == 0 {
                    Vec::new()
                } else {
                    let sql = format!(
                        "SELECT {COLS} FROM tasks {wher} ORDER BY priority DESC, created_at, id LIMIT {per_column}"
                    );
                    query_all(c, &sql, rusqlite::params_from_iter(args.iter()), task_from_row)?
                };
                out.push(BoardColumn { status, total, tasks });
            }
            Ok(out)
        })
    }

    /// True when no task can progress without a person: nothing queued
    /// (ready now or later), planning or running, no delegated task whose
    /// subtasks are all done, and no parked task ready to resume (tasks
    /// waiting for a decision do not count).
    pub fn queue_is_idle(&self) -> Result<bool> {
        self.core.read(|c| {
            let busy: bool = c.query_row(
                "SELECT EXISTS (SELECT 1 FROM tasks WHERE status IN ('queued', 'planning', 'running'))
                    OR EXISTS (SELECT 1 FROM tasks t WHERE t.status = 'delegated' AND NOT EXISTS
                        (SELECT 1 FROM tasks s WHERE s.parent_task_id = t.id AND s.status NOT IN ('completed', 'failed', 'cancelled')))
                    OR EXISTS (SELECT 1 FROM tasks t JOIN runs r ON r.task_id = t.id AND r.status = 'waiting'
                        WHERE t.status IN ('awaiting_approval', 'waiting_input') AND NOT EXISTS
                        (SELECT 1 FROM approvals a WHERE a.run_id = r.id AND a.status = 'pending'))",
                [],
                |r| r.get(0),
            )?;
            Ok(!busy)
        })
    }

    /// Direct subtasks of a task, oldest first.
    pub fn subtasks(&self, id: &str) -> Result<Vec<Task>> {
        self.core.read(|c| {
            load_task(c, id)?;
            query_all(
                c,
                &format!(
                    "SELECT {COLS} FROM tasks WHERE parent_task_id = ?1 ORDER BY created_at, id"
                ),
                [id],
                task_from_row,
            )
        })
    }
}
