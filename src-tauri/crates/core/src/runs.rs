//! Run traces: every execution of a task is a run made of steps (thought,
//! action, observation), with the decisions taken and the tool-call journal.
//! The journal row of a tool call is written *before* the tool runs
//! (`intended`), moved to `running` right before it starts and to
//! `succeeded`/`failed` with its result after — each in its own committed
//! transaction — so a crash can never repeat a side effect silently.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, Core, Id};

text_enum! {
    pub enum RunStatus ("run status") {
        Running = "running",
        /// Parked: waiting for an approval, subtasks, or a human's answer.
        Waiting = "waiting",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
        /// The process stopped while it ran; a new run resumes from its steps.
        Interrupted = "interrupted",
    }
}

text_enum! {
    pub enum DecisionKind ("decision type") {
        Plan = "plan",
        ToolCall = "tool_call",
        Delegate = "delegate",
        Escalate = "escalate",
        Complete = "complete",
    }
}

text_enum! {
    pub enum ToolCallState ("tool call state") {
        Intended = "intended",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Interrupted while running a side-effecting tool: it may or may not
        /// have happened. A human decides in the inbox.
        Ambiguous = "ambiguous",
    }
}

/// Runtime state a run carries across parks and restarts (stored as JSON;
/// keys this version does not know are kept in the row).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct RunState {
    /// The run failed in a way that may go away after one of its tools had
    /// a side effect, so it was kept resumable: continuing it is a new
    /// attempt, not a new run.
    pub retry: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Run {
    pub id: Id,
    pub task_id: Id,
    pub agent_id: Option<Id>,
    pub attempt: u32,
    pub status: RunStatus,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub error: Option<String>,
    /// Runtime state carried across parks and restarts.
    pub state: RunState,
    #[ts(type = "number")]
    pub tokens_in: u64,
    #[ts(type = "number")]
    pub tokens_out: u64,
    pub cost: f64,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What a step did: the tool and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StepAction {
    pub tool: String,
    pub arguments: serde_json::Value,
    /// The provider's call id (native tool calling) or ours.
    pub call_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RunStep {
    pub id: Id,
    pub run_id: Id,
    pub idx: u32,
    pub thought: String,
    pub action: Option<StepAction>,
    pub observation: Option<String>,
    pub is_final: bool,
    pub final_answer: Option<String>,
    #[ts(type = "number")]
    pub tokens_in: u64,
    #[ts(type = "number")]
    pub tokens_out: u64,
    /// Of `tokens_in`, those the provider's cache held from the step before.
    #[ts(type = "number")]
    pub tokens_cached: u64,
    #[ts(type = "number")]
    pub duration_ms: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A decision an agent recorded during a run (named `RunDecision` in
/// TypeScript: `Decision` there is an approval's verdict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(rename = "RunDecision")]
pub struct Decision {
    pub id: Id,
    pub run_id: Id,
    pub step_id: Option<Id>,
    pub kind: DecisionKind,
    pub reasoning: String,
    pub action: Option<String>,
    pub result: Option<String>,
    pub confidence: Option<f64>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolCallRecord {
    pub id: Id,
    pub run_id: Option<Id>,
    pub step_id: Option<Id>,
    pub tool: String,
    pub arguments: serde_json::Value,
    pub idempotency_key: String,
    pub idempotent: bool,
    pub state: ToolCallState,
    pub result: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    #[ts(type = "number | null")]
    pub duration_ms: Option<u64>,
    pub created_at: Timestamp,
}

/// A run with everything it recorded, for the task drawer.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RunTrace {
    pub run: Run,
    pub steps: Vec<RunStep>,
    pub decisions: Vec<Decision>,
    pub tool_calls: Vec<ToolCallRecord>,
}

fn run_from_row(r: &rusqlite::Row<'_>) -> Result<Run> {
    let c = RowCtx::new(r, "run")?;
    Ok(Run {
        id: c.get("id")?,
        task_id: c.get("task_id")?,
        agent_id: c.get("agent_id")?,
        attempt: c.u32("attempt")?,
        status: c.parse("status")?,
        provider: c.get("provider")?,
        model: c.get("model")?,
        error: c.get("error")?,
        state: c.json("state")?,
        tokens_in: c.u64("tokens_in")?,
        tokens_out: c.u64("tokens_out")?,
        cost: c.get("cost")?,
        started_at: c.ts("started_at")?,
        finished_at: c.ts_opt("finished_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn step_from_row(r: &rusqlite::Row<'_>) -> Result<RunStep> {
    let c = RowCtx::new(r, "run step")?;
    Ok(RunStep {
        id: c.get("id")?,
        run_id: c.get("run_id")?,
        idx: c.u32("idx")?,
        thought: c.get("thought")?,
        action: c.json_opt("action")?,
        observation: c.get("observation")?,
        is_final: c.bool("is_final")?,
        final_answer: c.get("final_answer")?,
        tokens_in: c.u64("tokens_in")?,
        tokens_out: c.u64("tokens_out")?,
        tokens_cached: c.u64("tokens_cached")?,
        duration_ms: c.u64("duration_ms")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn decision_from_row(r: &rusqlite::Row<'_>) -> Result<Decision> {
    let c = RowCtx::new(r, "decision")?;
    Ok(Decision {
        id: c.get("id")?,
        run_id: c.get("run_id")?,
        step_id: c.get("step_id")?,
        kind: c.parse("kind")?,
        reasoning: c.get("reasoning")?,
        action: c.get("action")?,
        result: c.get("result")?,
        confidence: c.get("confidence")?,
        created_at: c.ts("created_at")?,
    })
}

fn call_from_row(r: &rusqlite::Row<'_>) -> Result<ToolCallRecord> {
    let c = RowCtx::new(r, "tool call")?;
    Ok(ToolCallRecord {
        id: c.get("id")?,
        run_id: c.get("run_id")?,
        step_id: c.get("step_id")?,
        tool: c.get("tool")?,
        arguments: c.json("arguments")?,
        idempotency_key: c.get("idempotency_key")?,
        idempotent: c.bool("idempotent")?,
        state: c.parse("state")?,
        result: c.get("result")?,
        error: c.get("error")?,
        started_at: c.ts_opt("started_at")?,
        finished_at: c.ts_opt("finished_at")?,
        duration_ms: c
            .get::<Option<i64>>("duration_ms")?
            .map(|v| v.max(0) as u64),
        created_at: c.ts("created_at")?,
    })
}

pub fn load_run(conn: &Connection, id: &str) -> Result<Run> {
    query_one(conn, "SELECT * FROM runs WHERE id = ?1", [id], run_from_row)?
        .ok_or_else(|| CoreError::not_found("run", id))
}

/// The most recent run of a task.
pub fn latest_run(conn: &Connection, task_id: &str) -> Result<Option<Run>> {
    query_one(
        conn,
        "SELECT * FROM runs WHERE task_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
        [task_id],
        run_from_row,
    )
}

pub fn run_steps(conn: &Connection, run_id: &str) -> Result<Vec<RunStep>> {
    query_all(
        conn,
        "SELECT * FROM run_steps WHERE run_id = ?1 ORDER BY idx",
        [run_id],
        step_from_row,
    )
}

pub fn run_tool_calls(conn: &Connection, run_id: &str) -> Result<Vec<ToolCallRecord>> {
    query_all(
        conn,
        "SELECT * FROM tool_calls WHERE run_id = ?1 ORDER BY created_at, rowid",
        [run_id],
        call_from_row,
    )
}

pub fn tool_call_by_key(conn: &Connection, key: &str) -> Result<Option<ToolCallRecord>> {
    query_one(
        conn,
        "SELECT * FROM tool_calls WHERE idempotency_key = ?1",
        [key],
        call_from_row,
    )
}

/// Inserts a new run of a task (inside the claiming transaction).
pub fn insert_run(
    tx: &mut Tx<'_>,
    task_id: &str,
    agent_id: Option<&str>,
    attempt: u32,
    state: &RunState,
) -> Result<Run> {
    let id = new_id();
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO runs (id, task_id, agent_id, attempt, status, state, started_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?6, ?6)",
        params![id, task_id, agent_id, attempt, to_json(state)?, now],
    )?;
    tx.changed(Entity::Run, ChangeOp::Created, &id);
    load_run(tx, &id)
}

/// A step as the runtime records it.
#[derive(Debug, Clone, Default)]
pub struct NewStep {
    pub thought: String,
    pub action: Option<StepAction>,
    pub observation: Option<String>,
    pub is_final: bool,
    pub final_answer: Option<String>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub tokens_cached: u64,
    pub duration_ms: u64,
}

pub fn insert_step(tx: &mut Tx<'_>, run_id: &str, step: &NewStep) -> Result<RunStep> {
    let idx: i64 = tx.query_row(
        "SELECT coalesce(max(idx) + 1, 0) FROM run_steps WHERE run_id = ?1",
        [run_id],
        |r| r.get(0),
    )?;
    let id = new_id();
    let now = time::now_sql();
    let clip = |s: &str| -> String { s.chars().take(crate::validate::MAX_TEXT).collect() };
    tx.execute(
        "INSERT INTO run_steps (id, run_id, idx, thought, action, observation, is_final, final_answer, tokens_in, tokens_out, tokens_cached, duration_ms, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        params![
            id, run_id, idx, clip(&step.thought), step.action.as_ref().map(to_json).transpose()?,
            step.observation.as_deref().map(clip), step.is_final, step.final_answer.as_deref().map(clip),
            step.tokens_in as i64, step.tokens_out as i64, step.tokens_cached.min(step.tokens_in) as i64,
            step.duration_ms as i64, now
        ],
    )?;
    tx.execute(
        "UPDATE runs SET tokens_in = tokens_in + ?2, tokens_out = tokens_out + ?3, updated_at = ?4 WHERE id = ?1",
        params![run_id, step.tokens_in as i64, step.tokens_out as i64, now],
    )?;
    tx.changed(Entity::Run, ChangeOp::Updated, run_id);
    query_one(
        tx,
        "SELECT * FROM run_steps WHERE id = ?1",
        [&id],
        step_from_row,
    )?
    .ok_or_else(|| CoreError::not_found("run step", &id))
}

/// Sets the observation of a step once its action's result is known.
pub fn set_observation(tx: &mut Tx<'_>, step_id: &str, observation: &str) -> Result<()> {
    let text: String = observation
        .chars()
        .take(crate::validate::MAX_TEXT)
        .collect();
    tx.execute(
        "UPDATE run_steps SET observation = ?2, updated_at = ?3 WHERE id = ?1",
        params![step_id, text, time::now_sql()],
    )?;
    Ok(())
}

pub fn insert_decision(
    tx: &mut Tx<'_>,
    run_id: &str,
    step_id: Option<&str>,
    kind: DecisionKind,
    reasoning: &str,
    action: Option<&str>,
    confidence: Option<f64>,
) -> Result<()> {
    let now = time::now_sql();
    let clip = |s: &str| -> String { s.chars().take(20_000).collect() };
    tx.execute(
        "INSERT INTO decisions (id, run_id, step_id, kind, reasoning, action, confidence, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![new_id(), run_id, step_id, kind, clip(reasoning), action.map(clip), confidence, now],
    )?;
    Ok(())
}

/// Journals a tool call as `intended` (idempotent on the key: a resumed run
/// finds the existing row instead of adding one).
pub fn journal_intend(
    tx: &mut Tx<'_>,
    run_id: Option<&str>,
    step_id: Option<&str>,
    tool: &str,
    arguments: &serde_json::Value,
    key: &str,
    idempotent: bool,
) -> Result<ToolCallRecord> {
    if let Some(existing) = tool_call_by_key(tx, key)? {
        return Ok(existing);
    }
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO tool_calls (id, run_id, step_id, tool, arguments, idempotency_key, idempotent, state, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'intended', ?8, ?8)",
        params![new_id(), run_id, step_id, tool, to_json(arguments)?, key, idempotent, now],
    )?;
    tool_call_by_key(tx, key)?.ok_or_else(|| CoreError::not_found("tool call", key))
}

/// `intended → running`, committed right before the tool starts.
pub fn journal_start(tx: &mut Tx<'_>, call_id: &str) -> Result<()> {
    let now = time::now_sql();
    let n = tx.execute(
        "UPDATE tool_calls SET state = 'running', started_at = ?2, updated_at = ?2 WHERE id = ?1 AND state IN ('intended', 'ambiguous')",
        params![call_id, now],
    )?;
    if n == 0 {
        return Err(CoreError::Conflict(format!(
            "tool call {call_id} is not ready to start"
        )));
    }
    Ok(())
}

/// `running → succeeded | failed`, with the result or error.
pub fn journal_finish(
    tx: &mut Tx<'_>,
    call_id: &str,
    ok: bool,
    result: &str,
    duration_ms: u64,
) -> Result<()> {
    let now = time::now_sql();
    let text: String = result.chars().take(crate::validate::MAX_TEXT).collect();
    tx.execute(
        "UPDATE tool_calls SET state = ?2, result = CASE WHEN ?3 THEN ?4 ELSE NULL END,
            error = CASE WHEN ?3 THEN NULL ELSE ?4 END, finished_at = ?5, duration_ms = ?6, updated_at = ?5 WHERE id = ?1",
        params![call_id, if ok { ToolCallState::Succeeded } else { ToolCallState::Failed }, ok, text, now, duration_ms as i64],
    )?;
    Ok(())
}

/// Marks a call that will not be (re)run, e.g. after the human declined to repeat it.
pub fn journal_abandon(tx: &mut Tx<'_>, call_id: &str, reason: &str) -> Result<()> {
    let now = time::now_sql();
    tx.execute(
        "UPDATE tool_calls SET state = 'failed', error = ?2, finished_at = ?3, updated_at = ?3 WHERE id = ?1",
        params![call_id, reason, now],
    )?;
    Ok(())
}

/// Finishes a run with a final status.
pub fn finish_run(
    tx: &mut Tx<'_>,
    run_id: &str,
    status: RunStatus,
    error: Option<&str>,
) -> Result<()> {
    let now = time::now_sql();
    let finished = !matches!(status, RunStatus::Running | RunStatus::Waiting);
    tx.execute(
        "UPDATE runs SET status = ?2, error = coalesce(?3, error), finished_at = CASE WHEN ?4 THEN ?5 ELSE finished_at END, updated_at = ?5 WHERE id = ?1",
        params![run_id, status, error, finished, now],
    )?;
    tx.changed(Entity::Run, ChangeOp::Updated, run_id);
    Ok(())
}

/// Keeps a failed run resumable: its next start continues it as a new
/// attempt ([`RunState::retry`]).
pub fn keep_for_retry(tx: &mut Tx<'_>, run_id: &str) -> Result<()> {
    tx.execute(
        "UPDATE runs SET state = json_set(state, '$.retry', json('true')) WHERE id = ?1",
        [run_id],
    )?;
    Ok(())
}

/// A run kept for retry continues as attempt `attempt`.
pub fn resume_as_attempt(tx: &mut Tx<'_>, run_id: &str, attempt: u32) -> Result<()> {
    tx.execute(
        "UPDATE runs SET state = json_remove(state, '$.retry'), attempt = ?2 WHERE id = ?1",
        params![run_id, attempt],
    )?;
    Ok(())
}

/// Adds what a step cost to its run's total.
pub fn add_cost(tx: &mut Tx<'_>, run_id: &str, cost: f64) -> Result<()> {
    tx.execute(
        "UPDATE runs SET cost = cost + ?2 WHERE id = ?1",
        params![run_id, cost],
    )?;
    Ok(())
}

/// After a crash: the runs of parked tasks wait, they do not run.
pub fn park_runs_of_parked_tasks(tx: &mut Tx<'_>) -> Result<()> {
    tx.execute(
        "UPDATE runs SET status = 'waiting' WHERE status = 'running' AND task_id IN
            (SELECT id FROM tasks WHERE status IN ('awaiting_approval', 'waiting_input', 'delegated'))",
        [],
    )?;
    Ok(())
}

pub fn set_run_model(tx: &mut Tx<'_>, run_id: &str, provider: &str, model: &str) -> Result<()> {
    tx.execute(
        "UPDATE runs SET provider = ?2, model = ?3, updated_at = ?4 WHERE id = ?1",
        params![run_id, provider, model, time::now_sql()],
    )?;
    Ok(())
}

/// The decisions of a run in order.
pub fn run_decisions(conn: &Connection, run_id: &str) -> Result<Vec<Decision>> {
    query_all(
        conn,
        "SELECT * FROM decisions WHERE run_id = ?1 ORDER BY created_at, rowid",
        [run_id],
        decision_from_row,
    )
}

/// Run traces and the tool-call journal: `core.runs()`.
#[derive(Clone, Copy)]
pub struct Runs<'a> {
    pub(crate) core: &'a Core,
}

impl Runs<'_> {
    /// Tokens (in and out) and dollars every run of a task has used so far.
    pub fn task_usage(&self, task_id: &str) -> Result<(u64, f64)> {
        self.core.read(|c| {
            Ok(c.query_row(
                "SELECT coalesce(sum(tokens_in + tokens_out), 0), coalesce(sum(cost), 0.0) FROM runs WHERE task_id = ?1",
                [task_id],
                |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get::<_, f64>(1)?)),
            )?)
        })
    }

    /// Every run of a task with its steps, decisions and tool calls, newest first.
    pub fn of_task(&self, task_id: &str) -> Result<Vec<RunTrace>> {
        crate::validate::id("id", task_id)?;
        self.core.store().read_tx(|c| {
            crate::tasks::load_task(c, task_id)?;
            let runs = query_all(
                c,
                "SELECT * FROM runs WHERE task_id = ?1 ORDER BY created_at DESC, rowid DESC",
                [task_id],
                run_from_row,
            )?;
            let mut out = Vec::with_capacity(runs.len());
            for run in runs {
                let steps = run_steps(c, &run.id)?;
                let decisions = run_decisions(c, &run.id)?;
                let tool_calls = run_tool_calls(c, &run.id)?;
                out.push(RunTrace {
                    run,
                    steps,
                    decisions,
                    tool_calls,
                });
            }
            Ok(out)
        })
    }

    pub fn get(&self, id: &str) -> Result<Run> {
        self.core.read(|c| load_run(c, id))
    }

    /// Journal rows by state (recovery and tests).
    pub fn tool_calls_in_state(&self, state: ToolCallState) -> Result<Vec<ToolCallRecord>> {
        self.core.read(|c| {
            query_all(
                c,
                "SELECT * FROM tool_calls WHERE state = ?1 ORDER BY created_at",
                [state],
                call_from_row,
            )
        })
    }

    pub fn tool_call(&self, key: &str) -> Result<Option<ToolCallRecord>> {
        self.core.read(|c| tool_call_by_key(c, key))
    }
}

/// The step where a run stopped, if its last step is an unanswered action.
pub fn open_action(conn: &Connection, run_id: &str) -> Result<Option<RunStep>> {
    Ok(conn
        .query_row(
            "SELECT id FROM run_steps WHERE run_id = ?1 AND action IS NOT NULL AND observation IS NULL ORDER BY idx DESC LIMIT 1",
            [run_id],
            |r| r.get::<_, String>(0),
        )
        .optional()?
        .and_then(|id| {
            run_steps(conn, run_id)
                .ok()
                .and_then(|s| s.into_iter().find(|st| st.id == id))
        }))
}
