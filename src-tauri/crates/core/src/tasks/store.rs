//! The `tasks` table: how a task is read (one column list, positional
//! reads), created with its dependencies (cycles refused and named), edited
//! and moved through the status machine. With `progress.rs` the only code
//! that writes the table.

use rusqlite::{params, Connection};

use super::status::{self, TaskStatus};
use super::{NewTask, Task, TaskFilter, TaskType};
use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{self, query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time;
use crate::{new_id, validate, Id};

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

pub(super) fn insert_dependency(tx: &mut Tx<'_>, task: &str, depends_on: &str) -> Result<()> {
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

pub(super) fn filter_sql(filter: &TaskFilter) -> Result<(String, Vec<Box<dyn rusqlite::ToSql>>)> {
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

/// Writes the edited fields of a task (validated by the caller, who read it
/// first) and publishes the change.
pub(super) fn write_edit(tx: &mut Tx<'_>, t: &Task) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET title = ?2, objective = ?3, task_type = ?4, priority = ?5, assigned_agent_id = ?6,
            required_capabilities = ?7, requires_approval = ?8, max_attempts = ?9, deadline = ?10, updated_at = ?11
         WHERE id = ?1",
        params![
            t.id, t.title, t.objective, t.task_type, t.priority, t.assigned_agent_id,
            to_json(&t.required_capabilities)?, t.requires_approval, t.max_attempts,
            t.deadline.as_ref().map(time::to_sql), time::now_sql()
        ],
    )?;
    tx.changed(Entity::Task, ChangeOp::Updated, &t.id);
    Ok(())
}

/// A person's retry: a failed task goes back to the queue now, with one
/// more attempt when its attempts were used up (never above 20).
pub fn requeue_by_hand(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    set_status(tx, id, TaskStatus::Queued, None)?;
    tx.execute(
        "UPDATE tasks SET next_attempt_at = NULL,
            max_attempts = CASE WHEN attempts >= max_attempts THEN min(attempts + 1, 20) ELSE max_attempts END
         WHERE id = ?1",
        [id],
    )?;
    Ok(())
}
