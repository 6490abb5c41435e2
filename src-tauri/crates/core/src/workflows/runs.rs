//! Workflow runs: a validated DAG becomes tasks. Every step whose upstream
//! steps are done becomes a task at once, so ready steps run in parallel
//! within the scheduler's limits; outputs flow downstream through
//! `{{step.output}}`; a false condition skips its step, and a step whose
//! upstream steps were all skipped is skipped too (the branch). A failed
//! step fails the run (policy `fail`) or skips what depends on it (`continue`).

use super::Workflows;
use std::collections::HashMap;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{load_workflow, validate_definition, FailurePolicy, WorkflowDefinition, WorkflowStep};
use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::tasks::{insert_task, NewTask, TaskLinks};
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, Id};

/// The largest input a workflow run takes (JSON text), from any caller.
pub const MAX_RUN_INPUT: usize = 64 * 1024;

text_enum! {
    pub enum StepStatus ("workflow step status") {
        Pending = "pending",
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Skipped = "skipped",
    }
}

text_enum! {
    pub enum WorkflowRunStatus ("workflow run status") {
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StepState {
    pub key: String,
    pub status: StepStatus,
    pub task_id: Option<Id>,
    pub output: Option<String>,
    pub error: Option<String>,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WorkflowRun {
    pub id: Id,
    pub workflow_id: Id,
    pub status: WorkflowRunStatus,
    pub input: serde_json::Value,
    pub error: Option<String>,
    pub steps: Vec<StepState>,
    pub definition: WorkflowDefinition,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

fn step_from_row(r: &rusqlite::Row<'_>) -> Result<StepState> {
    let key: String = r.get("step_key")?;
    let c = RowCtx::keyed(r, "workflow step", key.clone());
    Ok(StepState {
        key,
        status: c.parse("status")?,
        task_id: c.get("task_id")?,
        output: c.get("output")?,
        error: c.get("error")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_run(conn: &Connection, id: &str) -> Result<WorkflowRun> {
    let row = query_one(
        conn,
        "SELECT * FROM workflow_runs WHERE id = ?1",
        [id],
        |r| {
            let c = RowCtx::new(r, "workflow run")?;
            Ok((
                c.get::<String>("workflow_id")?,
                c.parse::<WorkflowRunStatus>("status")?,
                c.json::<serde_json::Value>("input")?,
                c.get::<Option<String>>("error")?,
                c.ts_opt("started_at")?,
                c.ts_opt("finished_at")?,
                c.ts("created_at")?,
            ))
        },
    )?
    .ok_or_else(|| CoreError::not_found("workflow run", id))?;
    let wf = load_workflow(conn, &row.0)?;
    let mut steps = query_all(
        conn,
        "SELECT * FROM workflow_run_steps WHERE run_id = ?1",
        [id],
        step_from_row,
    )?;
    // In definition order.
    let order: HashMap<&str, usize> = wf
        .definition
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key.as_str(), i))
        .collect();
    steps.sort_by_key(|s| order.get(s.key.as_str()).copied().unwrap_or(usize::MAX));
    Ok(WorkflowRun {
        id: id.to_string(),
        workflow_id: row.0,
        status: row.1,
        input: row.2,
        error: row.3,
        steps,
        definition: wf.definition,
        started_at: row.4,
        finished_at: row.5,
        created_at: row.6,
    })
}

/// `{{key.output}}` and `{{input}}` filled in.
pub fn render(
    template: &str,
    outputs: &HashMap<String, String>,
    input: &serde_json::Value,
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = after[..end].trim();
        let value = if inner == "input" {
            match input {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            }
        } else {
            let k = inner.strip_suffix(".output").unwrap_or(inner).trim();
            outputs.get(k).cloned().unwrap_or_default()
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

fn set_step(
    tx: &Tx<'_>,
    run_id: &str,
    key: &str,
    status: StepStatus,
    task: Option<&str>,
    output: Option<&str>,
    error: Option<&str>,
) -> Result<()> {
    tx.execute(
        "UPDATE workflow_run_steps SET status = ?3, task_id = coalesce(?4, task_id), output = coalesce(?5, output), error = coalesce(?6, error), updated_at = ?7
         WHERE run_id = ?1 AND step_key = ?2",
        params![run_id, key, status, task, output, error, time::now_sql()],
    )?;
    Ok(())
}

/// Starts every step that can start, skips what must be skipped, and closes
/// the run when every step is settled.
pub fn advance(tx: &mut Tx<'_>, run_id: &str) -> Result<()> {
    let run = load_run(tx, run_id)?;
    if run.status != WorkflowRunStatus::Running {
        return Ok(());
    }
    let by_key: HashMap<&str, &WorkflowStep> = run
        .definition
        .steps
        .iter()
        .map(|s| (s.key.as_str(), s))
        .collect();
    let mut state: HashMap<String, StepStatus> = run
        .steps
        .iter()
        .map(|s| (s.key.clone(), s.status))
        .collect();
    let mut outputs: HashMap<String, String> = run
        .steps
        .iter()
        .filter_map(|s| s.output.clone().map(|o| (s.key.clone(), o)))
        .collect();
    let policy = run.definition.on_failure;
    let mut failed_run: Option<String> = None;
    // Repeat until nothing changes: a skip can unblock (skip) its dependents.
    loop {
        let mut changed = false;
        for step in &run.definition.steps {
            if state.get(&step.key) != Some(&StepStatus::Pending) {
                continue;
            }
            let deps: Vec<StepStatus> = step
                .depends_on
                .iter()
                .map(|d| state.get(d).copied().unwrap_or(StepStatus::Pending))
                .collect();
            if deps
                .iter()
                .any(|d| matches!(d, StepStatus::Pending | StepStatus::Running))
            {
                continue;
            }
            if deps.contains(&StepStatus::Failed) {
                set_step(
                    tx,
                    run_id,
                    &step.key,
                    StepStatus::Skipped,
                    None,
                    None,
                    Some(SKIPPED_BY_FAILURE[0]),
                )?;
                state.insert(step.key.clone(), StepStatus::Skipped);
                if policy == FailurePolicy::Fail {
                    failed_run.get_or_insert_with(|| "a step failed".to_string());
                }
                changed = true;
                continue;
            }
            if !deps.is_empty() && deps.iter().all(|d| *d == StepStatus::Skipped) {
                set_step(
                    tx,
                    run_id,
                    &step.key,
                    StepStatus::Skipped,
                    None,
                    None,
                    Some(SKIPPED_BY_FAILURE[2]),
                )?;
                state.insert(step.key.clone(), StepStatus::Skipped);
                changed = true;
                continue;
            }
            if let Some(cond) = &step.condition {
                let holds = state.get(&cond.step) == Some(&StepStatus::Completed)
                    && outputs.get(&cond.step).is_some_and(|o| cond.holds(o));
                if !holds {
                    let why = format!(
                        "condition on '{}' ({} '{}') is false",
                        cond.step, cond.op, cond.value
                    );
                    set_step(
                        tx,
                        run_id,
                        &step.key,
                        StepStatus::Skipped,
                        None,
                        None,
                        Some(&why),
                    )?;
                    state.insert(step.key.clone(), StepStatus::Skipped);
                    changed = true;
                    continue;
                }
            }
            for d in &step.depends_on {
                if state.get(d) == Some(&StepStatus::Skipped) {
                    outputs
                        .entry(d.clone())
                        .or_insert_with(|| "(skipped)".into());
                }
            }
            let prompt = render(&step.prompt, &outputs, &run.input);
            let title = if step.title.trim().is_empty() {
                step.key.clone()
            } else {
                step.title.clone()
            };
            let task = insert_task(
                tx,
                &NewTask {
                    title,
                    objective: Some(prompt),
                    priority: step.priority,
                    assigned_agent_id: step.agent_id.clone(),
                    required_capabilities: Some(step.capabilities.clone()),
                    created_by: Some("workflow".into()),
                    ..Default::default()
                },
                &TaskLinks {
                    workflow_run_id: Some(run_id.to_string()),
                    workflow_step: Some(step.key.clone()),
                    ..Default::default()
                },
            )?;
            set_step(
                tx,
                run_id,
                &step.key,
                StepStatus::Running,
                Some(&task.id),
                None,
                None,
            )?;
            state.insert(step.key.clone(), StepStatus::Running);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    let _ = by_key;
    let settled = state.values().all(|s| {
        matches!(
            s,
            StepStatus::Completed | StepStatus::Skipped | StepStatus::Failed
        )
    });
    let any_failed = state.values().any(|s| *s == StepStatus::Failed);
    if let Some(why) = failed_run.filter(|_| policy == FailurePolicy::Fail) {
        finish(tx, run_id, WorkflowRunStatus::Failed, Some(&why))?;
    } else if settled {
        let status = if any_failed && policy == FailurePolicy::Fail {
            WorkflowRunStatus::Failed
        } else {
            WorkflowRunStatus::Completed
        };
        finish(tx, run_id, status, None)?;
    }
    tx.changed(Entity::WorkflowRun, ChangeOp::Updated, run_id);
    Ok(())
}

fn finish(tx: &Tx<'_>, run_id: &str, status: WorkflowRunStatus, error: Option<&str>) -> Result<()> {
    let now = time::now_sql();
    tx.execute(
        "UPDATE workflow_runs SET status = ?2, error = ?3, finished_at = ?4, updated_at = ?4 WHERE id = ?1",
        params![run_id, status, error, now],
    )?;
    if status == WorkflowRunStatus::Failed {
        // Steps that never started will not.
        tx.execute(
            "UPDATE workflow_run_steps SET status = 'skipped', error = coalesce(error, ?3), updated_at = ?2 WHERE run_id = ?1 AND status = 'pending'",
            params![run_id, now, SKIPPED_BY_FAILURE[1]],
        )?;
    }
    Ok(())
}

/// A task's workflow run, step key, status, output and error.
type StepRow = (
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

/// Called when a task finishes for good: if it is a workflow step, record
/// its result and move the run on.
pub fn step_finished(tx: &mut Tx<'_>, task_id: &str) -> Result<()> {
    let row: Option<StepRow> = query_one(
        tx,
        "SELECT workflow_run_id, workflow_step, status, output, error FROM tasks WHERE id = ?1",
        [task_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let Some((Some(run), Some(key), status, output, error)) = row else {
        return Ok(());
    };
    let st = if status == "completed" {
        StepStatus::Completed
    } else {
        StepStatus::Failed
    };
    set_step(
        tx,
        &run,
        &key,
        st,
        None,
        output.as_deref(),
        error.as_deref(),
    )?;
    advance(tx, &run)
}

/// Skip reasons that a failure caused; a retried step undoes them.
const SKIPPED_BY_FAILURE: [&str; 3] = [
    "an upstream step failed",
    "the run failed",
    "every upstream step was skipped",
];

/// Called when a person retries a failed task: if it is a workflow step, the
/// step is running again, its run is reopened, and the steps that were
/// skipped because of the failure are pending again (skips by a false
/// condition stay). The run then moves on when the task finishes.
pub fn step_retried(tx: &mut Tx<'_>, task_id: &str) -> Result<()> {
    let row: Option<(Option<String>, Option<String>)> = query_one(
        tx,
        "SELECT workflow_run_id, workflow_step FROM tasks WHERE id = ?1",
        [task_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some((Some(run_id), Some(key))) = row else {
        return Ok(());
    };
    let now = time::now_sql();
    tx.execute(
        "UPDATE workflow_run_steps SET status = 'running', error = NULL, updated_at = ?3
         WHERE run_id = ?1 AND step_key = ?2",
        params![run_id, key, now],
    )?;
    tx.execute(
        "UPDATE workflow_run_steps SET status = 'pending', error = NULL, task_id = NULL, updated_at = ?2
         WHERE run_id = ?1 AND status = 'skipped' AND error IN (?3, ?4, ?5)",
        params![
            run_id,
            now,
            SKIPPED_BY_FAILURE[0],
            SKIPPED_BY_FAILURE[1],
            SKIPPED_BY_FAILURE[2]
        ],
    )?;
    tx.execute(
        "UPDATE workflow_runs SET status = 'running', error = NULL, finished_at = NULL, updated_at = ?2
         WHERE id = ?1 AND status IN ('failed', 'completed')",
        params![run_id, now],
    )?;
    advance(tx, &run_id)
}

impl Workflows<'_> {
    /// Starts a run of a workflow: every ready step becomes a task now.
    pub fn start(&self, workflow_id: &str, input: serde_json::Value) -> Result<WorkflowRun> {
        crate::validate::id("id", workflow_id)?;
        let len = input.to_string().len();
        if len > MAX_RUN_INPUT {
            return Err(CoreError::TooLarge {
                field: "input".into(),
                len,
                max: MAX_RUN_INPUT,
            });
        }
        self.core.write(|tx| {
            let wf = load_workflow(tx, workflow_id)?;
            if wf.is_template {
                return Err(CoreError::validation(
                    "workflow",
                    "this is a template: instantiate it, then run the copy",
                ));
            }
            validate_definition(&wf.definition)?;
            let id = new_id();
            let now = time::now_sql();
            tx.execute(
                "INSERT INTO workflow_runs (id, workflow_id, status, input, started_at, created_at, updated_at) VALUES (?1, ?2, 'running', ?3, ?4, ?4, ?4)",
                params![id, wf.id, to_json(&input)?, now],
            )?;
            for s in &wf.definition.steps {
                tx.execute(
                    "INSERT INTO workflow_run_steps (run_id, step_key, status, created_at, updated_at) VALUES (?1, ?2, 'pending', ?3, ?3)",
                    params![id, s.key, now],
                )?;
            }
            tx.changed(Entity::WorkflowRun, ChangeOp::Created, &id);
            advance(tx, &id)?;
            load_run(tx, &id)
        })
    }

    pub fn run(&self, id: &str) -> Result<WorkflowRun> {
        crate::validate::id("run_id", id)?;
        self.core.read(|c| load_run(c, id))
    }

    /// Runs of a workflow, newest first.
    pub fn runs(&self, workflow_id: &str) -> Result<Vec<WorkflowRun>> {
        crate::validate::id("workflow_id", workflow_id)?;
        self.core.read(|c| {
            let ids: Vec<String> = query_all(
                c,
                "SELECT id FROM workflow_runs WHERE workflow_id = ?1 ORDER BY created_at DESC LIMIT 50",
                [workflow_id],
                |r| Ok(r.get(0)?),
            )?;
            ids.iter().map(|id| load_run(c, id)).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_outputs_and_input() {
        let mut out = HashMap::new();
        out.insert("a".to_string(), "A-result".to_string());
        let r = render(
            "Use {{ a.output }} and {{input}}; {{missing.output}}|{{ unclosed",
            &out,
            &serde_json::json!("topic"),
        );
        assert_eq!(r, "Use A-result and topic; |{{ unclosed");
    }
}
