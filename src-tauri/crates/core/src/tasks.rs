//! Tasks: the unit of work on the board. Creation with dependencies and
//! subtasks, edits, the status state machine of SPEC §2, cancellation, and the
//! board/list queries.

pub mod status;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{self, query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};

pub use status::TaskStatus;

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

pub(crate) const COLS: &str = "id, title, objective, task_type, priority, status, crew_id, crew_run_id, \
    workflow_run_id, workflow_step, assigned_agent_id, routed_agent_id, required_capabilities, created_by, parent_task_id, \
    delegation_depth, input, output, confidence, error, requires_approval, attempts, max_attempts, \
    next_attempt_at, failed_agents, tokens_in, tokens_out, cost, max_cost, max_tokens, started_at, \
    completed_at, deadline, created_at, updated_at, \
    (SELECT json_group_array(depends_on_id) FROM task_dependencies d WHERE d.task_id = tasks.id) AS depends_on";

/// The columns of [`COLS`], in order.
const COL_NAMES: [&str; 36] = [
    "id",
    "title",
    "objective",
    "task_type",
    "priority",
    "status",
    "crew_id",
    "crew_run_id",
    "workflow_run_id",
    "workflow_step",
    "assigned_agent_id",
    "routed_agent_id",
    "required_capabilities",
    "created_by",
    "parent_task_id",
    "delegation_depth",
    "input",
    "output",
    "confidence",
    "error",
    "requires_approval",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "failed_agents",
    "tokens_in",
    "tokens_out",
    "cost",
    "max_cost",
    "max_tokens",
    "started_at",
    "completed_at",
    "deadline",
    "created_at",
    "updated_at",
    "depends_on",
];

pub(crate) fn task_from_row(r: &rusqlite::Row<'_>) -> Result<Task> {
    let c = RowCtx::with_columns(r, "task", &COL_NAMES)?;
    let priority: i64 = c.get("priority")?;
    Ok(Task {
        id: c.get("id")?,
        title: c.get("title")?,
        objective: c.get("objective")?,
        task_type: c.parse("task_type")?,
        priority: u8::try_from(priority).unwrap_or(5),
        status: c.parse("status")?,
        crew_id: c.get("crew_id")?,
        crew_run_id: c.get("crew_run_id")?,
        workflow_run_id: c.get("workflow_run_id")?,
        workflow_step: c.get("workflow_step")?,
        assigned_agent_id: c.get("assigned_agent_id")?,
        routed_agent_id: c.get("routed_agent_id")?,
        required_capabilities: c.json("required_capabilities")?,
        created_by: c.get("created_by")?,
        parent_task_id: c.get("parent_task_id")?,
        delegation_depth: c.u32("delegation_depth")?,
        depends_on: c.json("depends_on")?,
        input: c.json("input")?,
        output: c.get("output")?,
        confidence: c.get("confidence")?,
        error: c.get("error")?,
        requires_approval: c.bool("requires_approval")?,
        attempts: c.u32("attempts")?,
        max_attempts: c.u32("max_attempts")?,
        next_attempt_at: c.ts_opt("next_attempt_at")?,
        failed_agents: c.json("failed_agents")?,
        tokens_in: c.u64("tokens_in")?,
        tokens_out: c.u64("tokens_out")?,
        cost: c.get("cost")?,
        max_cost: c.get("max_cost")?,
        max_tokens: c.get::<Option<i64>>("max_tokens")?.map(|v| v.max(0) as u64),
        started_at: c.ts_opt("started_at")?,
        completed_at: c.ts_opt("completed_at")?,
        deadline: c.ts_opt("deadline")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_task(conn: &Connection, id: &str) -> Result<Task> {
    let sql = format!("SELECT {COLS} FROM tasks WHERE id = ?1");
    query_one(conn, &sql, [id], task_from_row)?.ok_or_else(|| CoreError::not_found("task", id))
}

fn title_of(conn: &Connection, id: &str) -> String {
    conn.query_row("SELECT title FROM tasks WHERE id = ?1", [id], |r| {
        r.get::<_, String>(0)
    })
    .map(|t| format!("'{t}'"))
    .unwrap_or_else(|_| id.to_string())
}

/// Refuses `task → depends_on` when `depends_on` already (transitively)
/// depends on `task`; the error names the cycle.
fn check_no_cycle(conn: &Connection, task: &str, depends_on: &str) -> Result<()> {
    if task == depends_on {
        return Err(CoreError::Cycle {
            path: format!("{} depends on itself", title_of(conn, task)),
        });
    }
    // Depth-first search from `depends_on` along dependencies, keeping the path.
    let mut stack: Vec<(String, Vec<String>)> =
        vec![(depends_on.to_string(), vec![depends_on.to_string()])];
    let mut seen = std::collections::HashSet::new();
    while let Some((node, path)) = stack.pop() {
        if node == task {
            let mut names: Vec<String> = vec![title_of(conn, task)];
            names.extend(path.iter().map(|id| title_of(conn, id)));
            return Err(CoreError::Cycle {
                path: names.join(" → "),
            });
        }
        if !seen.insert(node.clone()) {
            continue;
        }
        let next: Vec<String> = query_all(
            conn,
            "SELECT depends_on_id FROM task_dependencies WHERE task_id = ?1",
            [&node],
            |r| Ok(r.get::<_, String>(0)?),
        )?;
        for n in next {
            let mut p = path.clone();
            p.push(n.clone());
            stack.push((n, p));
        }
    }
    Ok(())
}

fn insert_dependency(tx: &mut Tx<'_>, task: &str, depends_on: &str) -> Result<()> {
    if !row::exists(tx, "tasks", depends_on)? {
        return Err(CoreError::not_found("task", depends_on));
    }
    check_no_cycle(tx, task, depends_on)?;
    let now = time::now_sql();
    tx.execute(
        "INSERT OR IGNORE INTO task_dependencies (task_id, depends_on_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        params![task, depends_on, now],
    )?;
    Ok(())
}

/// Inserts a validated task inside an open transaction (used by services that
/// create tasks as part of a larger write: workflows, delegation, crews).
pub fn insert_task(tx: &mut Tx<'_>, input: &NewTask, extra: &TaskLinks) -> Result<Task> {
    let title = validate::name("title", &input.title)?;
    let objective = validate::text("objective", input.objective.as_deref().unwrap_or(""))?;
    let priority = validate::priority(input.priority.unwrap_or(5))?;
    let caps = validate::labels(
        "required_capabilities",
        input.required_capabilities.as_deref().unwrap_or(&[]),
    )?;
    let max_attempts = validate::range_u32("max_attempts", input.max_attempts.unwrap_or(3), 1, 20)?;
    if let Some(c) = input.max_cost {
        if c.is_nan() || c < 0.0 {
            return Err(CoreError::validation("max_cost", "must be zero or more"));
        }
    }
    let input_json = input.input.clone().unwrap_or(serde_json::Value::Null);
    let input_text = to_json(&input_json)?;
    validate::max_len("input", &input_text, validate::MAX_TEXT)?;
    let created_by = validate::name("created_by", input.created_by.as_deref().unwrap_or("human"))?;

    if let Some(agent) = input.assigned_agent_id.as_deref().filter(|a| !a.is_empty()) {
        crate::agents::ensure_agent(tx, agent)?;
    }
    if let Some(crew) = input.crew_id.as_deref() {
        if !row::exists(tx, "crews", crew)? {
            return Err(CoreError::not_found("crew", crew));
        }
    }
    let mut depth = 0;
    if let Some(parent) = input.parent_task_id.as_deref() {
        let p = load_task(tx, parent).map_err(|e| match e {
            CoreError::NotFound { .. } => CoreError::not_found("parent task", parent),
            other => other,
        })?;
        if p.status.is_final() {
            return Err(CoreError::validation(
                "parent_task_id",
                format!(
                    "the parent task is {}; subtasks can only be added to open tasks",
                    p.status
                ),
            ));
        }
        depth = p.delegation_depth + u32::from(extra.delegated);
    }
    let deps = input.depends_on.clone().unwrap_or_default();
    if deps.len() > validate::MAX_LIST {
        return Err(CoreError::validation(
            "depends_on",
            format!("at most {} dependencies", validate::MAX_LIST),
        ));
    }

    let id = new_id();
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO tasks (id, title, objective, task_type, priority, status, crew_id, crew_run_id, workflow_run_id,
            workflow_step, assigned_agent_id, required_capabilities, created_by, parent_task_id, delegation_depth,
            input, requires_approval, max_attempts, max_cost, max_tokens, deadline, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?21)",
        params![
            id, title, objective, input.task_type.unwrap_or(TaskType::Execute), priority, input.crew_id,
            extra.crew_run_id, extra.workflow_run_id, extra.workflow_step,
            input.assigned_agent_id.as_deref().filter(|a| !a.is_empty()), to_json(&caps)?, created_by,
            input.parent_task_id, depth, input_text, input.requires_approval.unwrap_or(false), max_attempts,
            input.max_cost, input.max_tokens.map(|v| v.min(i64::MAX as u64) as i64),
            input.deadline.as_ref().map(time::to_sql), now
        ],
    )?;
    for d in &deps {
        insert_dependency(tx, &id, d)?;
    }
    tx.changed(Entity::Task, ChangeOp::Created, &id);
    load_task(tx, &id)
}

/// Links a task to the larger structure that created it.
#[derive(Debug, Clone, Default)]
pub struct TaskLinks {
    pub crew_run_id: Option<Id>,
    pub workflow_run_id: Option<Id>,
    pub workflow_step: Option<String>,
    /// Created by an agent's delegation: one level deeper than its parent.
    pub delegated: bool,
}

/// Moves a task to `to` if the state machine allows it, stamping times and
/// publishing the change. Returns the updated task.
pub fn move_task(tx: &mut Tx<'_>, id: &str, to: TaskStatus, error: Option<&str>) -> Result<Task> {
    set_status(tx, id, to, error)?;
    load_task(tx, id)
}

/// [`move_task`] without reading the task back, for callers that do not
/// need it (the scheduler's hot path).
pub(crate) fn set_status(
    tx: &mut Tx<'_>,
    id: &str,
    to: TaskStatus,
    error: Option<&str>,
) -> Result<()> {
    let (status, started_at): (String, Option<String>) = query_one(
        tx,
        "SELECT status, started_at FROM tasks WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .ok_or_else(|| CoreError::not_found("task", id))?;
    let corrupt = |col: &str, detail: String| CoreError::Corrupt {
        entity: "task",
        id: id.to_string(),
        detail: format!("column {col}: {detail}"),
    };
    let current: TaskStatus = status
        .parse()
        .map_err(|e: CoreError| corrupt("status", e.to_string()))?;
    if let Some(t) = started_at.as_deref() {
        time::parse(t).ok_or_else(|| corrupt("started_at", format!("bad timestamp '{t}'")))?;
    }
    status::check_move(current, to)?;
    let now = time::now_sql();
    let started = matches!(to, TaskStatus::Planning | TaskStatus::Running) && started_at.is_none();
    tx.execute(
        "UPDATE tasks SET status = ?2, updated_at = ?3,
            started_at = CASE WHEN ?4 THEN ?3 ELSE started_at END,
            completed_at = CASE WHEN ?5 THEN ?3 ELSE completed_at END,
            error = coalesce(?6, error)
         WHERE id = ?1",
        params![
            id,
            to,
            now,
            started,
            to.is_final() || to == TaskStatus::Failed,
            error
        ],
    )?;
    tx.changed(Entity::Task, ChangeOp::Updated, id);
    Ok(())
}

impl Core {
    pub fn create_task(&self, input: NewTask) -> Result<Task> {
        self.write(|tx| insert_task(tx, &input, &TaskLinks::default()))
    }

    pub fn get_task(&self, id: &str) -> Result<Task> {
        self.read(|c| load_task(c, id))
    }

    pub fn update_task(&self, id: &str, patch: TaskPatch) -> Result<Task> {
        self.write(|tx| {
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
            let deadline = patch.deadline.or(t.deadline);
            tx.execute(
                "UPDATE tasks SET title = ?2, objective = ?3, task_type = ?4, priority = ?5, assigned_agent_id = ?6,
                    required_capabilities = ?7, requires_approval = ?8, max_attempts = ?9, deadline = ?10, updated_at = ?11
                 WHERE id = ?1",
                params![
                    id, title, objective, patch.task_type.unwrap_or(t.task_type), priority, agent,
                    to_json(&caps)?, patch.requires_approval.unwrap_or(t.requires_approval), max_attempts,
                    deadline.as_ref().map(time::to_sql), time::now_sql()
                ],
            )?;
            tx.changed(Entity::Task, ChangeOp::Updated, id);
            load_task(tx, id)
        })
    }

    /// Moves a task to another status; illegal moves are refused.
    pub fn set_task_status(&self, id: &str, to: TaskStatus) -> Result<Task> {
        if to == TaskStatus::Cancelled {
            return self.cancel_task(id);
        }
        self.write(|tx| move_task(tx, id, to, None))
    }

    /// A person's retry of a failed task, in one transaction. The attempt
    /// count is kept, so the card tells the truth ("attempt 4/4") and the
    /// earlier runs stay in the trace; when the attempts were used up the
    /// task gets exactly one more (`max_attempts = attempts + 1`). Only
    /// `failed` can go back to the queue (`cancelled` is final). A failed
    /// workflow step reopens its run: the step runs again and the steps
    /// skipped because of its failure wait for it once more.
    pub fn retry_task(&self, id: &str) -> Result<Task> {
        self.write(|tx| {
            let t = load_task(tx, id)?;
            if t.status != TaskStatus::Failed {
                return Err(CoreError::validation(
                    "status",
                    format!("only failed tasks can be retried; this one is {}", t.status),
                ));
            }
            set_status(tx, id, TaskStatus::Queued, None)?;
            tx.execute(
                "UPDATE tasks SET next_attempt_at = NULL,
                    max_attempts = CASE WHEN attempts >= max_attempts THEN min(attempts + 1, 20) ELSE max_attempts END
                 WHERE id = ?1",
                [id],
            )?;
            crate::orchestrator::workflow::step_retried(tx, id)?;
            load_task(tx, id)
        })
    }

    /// Cancels a task and its open subtasks.
    pub fn cancel_task(&self, id: &str) -> Result<Task> {
        self.write(|tx| {
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

    pub fn delete_task(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM tasks WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(CoreError::not_found("task", id));
            }
            tx.changed(Entity::Task, ChangeOp::Deleted, id);
            Ok(())
        })
    }

    pub fn add_task_dependency(&self, task_id: &str, depends_on: &str) -> Result<Task> {
        self.write(|tx| {
            load_task(tx, task_id)?;
            insert_dependency(tx, task_id, depends_on)?;
            tx.changed(Entity::Task, ChangeOp::Updated, task_id);
            load_task(tx, task_id)
        })
    }

    pub fn remove_task_dependency(&self, task_id: &str, depends_on: &str) -> Result<Task> {
        self.write(|tx| {
            load_task(tx, task_id)?;
            tx.execute(
                "DELETE FROM task_dependencies WHERE task_id = ?1 AND depends_on_id = ?2",
                params![task_id, depends_on],
            )?;
            tx.changed(Entity::Task, ChangeOp::Updated, task_id);
            load_task(tx, task_id)
        })
    }

    pub fn list_tasks(&self, filter: &TaskFilter, paging: Paging) -> Result<Page<Task>> {
        let (wher, args) = filter_sql(filter)?;
        let (limit, offset) = (paging.limit(), paging.offset());
        self.store().read_tx(|c| {
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
    pub fn task_board(&self, filter: &TaskFilter, per_column: u32) -> Result<Vec<BoardColumn>> {
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
        self.store().read_tx(|c| {
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

    /// Direct subtasks of a task, oldest first.
    pub fn subtasks(&self, id: &str) -> Result<Vec<Task>> {
        self.read(|c| {
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

fn filter_sql(filter: &TaskFilter) -> Result<(String, Vec<Box<dyn rusqlite::ToSql>>)> {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
    if let Some(statuses) = filter.statuses.as_ref().filter(|s| !s.is_empty()) {
        let mut marks = Vec::new();
        for s in statuses {
            args.push(Box::new(*s));
            marks.push(format!("?{}", args.len()));
        }
        clauses.push(format!("status IN ({})", marks.join(", ")));
    }
    if let Some(v) = &filter.crew_id {
        args.push(Box::new(v.clone()));
        clauses.push(format!("crew_id = ?{}", args.len()));
    }
    if let Some(v) = &filter.agent_id {
        args.push(Box::new(v.clone()));
        clauses.push(format!("assigned_agent_id = ?{}", args.len()));
    }
    if let Some(v) = &filter.parent_task_id {
        args.push(Box::new(v.clone()));
        clauses.push(format!("parent_task_id = ?{}", args.len()));
    }
    if filter.top_level == Some(true) {
        clauses.push("parent_task_id IS NULL".to_string());
    }
    if let Some(s) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        validate::max_len("search", s, validate::MAX_NAME)?;
        args.push(Box::new(format!("%{}%", s.to_lowercase())));
        let n = args.len();
        clauses.push(format!(
            "(lower(title) LIKE ?{n} OR lower(objective) LIKE ?{n})"
        ));
    }
    if let Some(p) = filter.min_priority {
        args.push(Box::new(validate::priority(p)?));
        clauses.push(format!("priority >= ?{}", args.len()));
    }
    let wher = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    Ok((wher, args))
}
