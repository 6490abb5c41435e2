//! Crew runs as stored: one row per execution of a crew with its status,
//! each member's outputs, the consensus vote log, token and cost totals and
//! why it stopped. Every write publishes a `CrewRun` change (and the run's
//! messages publish `Message` changes), so the UI can draw a live timeline.
//! The engine ([`super::engine`]) drives a run; any process may ask it to
//! stop through the `stop_requested` flag.

use super::Crews;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Budget, CrewStatus, Process};
use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::messages::{Message, MessageFilter};
use crate::store::row::{query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, Id, Page, Paging};

text_enum! {
    pub enum CrewRunStatus ("crew run status") {
        Planning = "planning",
        Running = "running",
        /// Waiting for a human's decision on an escalation.
        Waiting = "waiting",
        Completed = "completed",
        Failed = "failed",
        Stopped = "stopped",
    }
}

impl CrewRunStatus {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Stopped)
    }
}

text_enum! {
    /// Why a run ended.
    pub enum StopReason ("stop reason") {
        /// The process ran to its end (sequential, hierarchical, routed).
        Completed = "completed",
        /// Peer review: the reviewer approved the draft.
        Approved = "approved",
        /// Peer review: max_rounds reached without approval.
        MaxRounds = "max_rounds",
        /// Consensus: every member took the same position.
        Consensus = "consensus",
        /// Consensus: rounds ran out without agreement.
        NoConsensus = "no_consensus",
        /// Routed, CASCADE: no agent reached the confidence threshold.
        CascadeExhausted = "cascade_exhausted",
        TokenCap = "token_cap",
        CostCap = "cost_cap",
        WallTimeCap = "wall_time_cap",
        StoppedByUser = "stopped_by_user",
        /// A human rejected (or let expire) an escalation.
        RejectedByHuman = "rejected_by_human",
        Failed = "failed",
        /// The process coordinating the run ended before the run did.
        Interrupted = "interrupted",
    }
}

/// One piece of work a member delivered during the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct MemberOutput {
    pub agent_id: Id,
    pub agent_name: String,
    /// What this output is: "step 1", "draft 2", "review 2", "subtask: …", "answer", "report".
    pub label: String,
    pub round: u32,
    pub task_id: Option<Id>,
    pub content: String,
    pub confidence: Option<f64>,
    pub at: Timestamp,
}

/// One member's position in one consensus round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Vote {
    pub agent_id: Id,
    pub agent_name: String,
    /// The short position label the member chose.
    pub position: String,
    pub answer: String,
}

text_enum! {
    pub enum RoundOutcome ("round outcome") {
        /// No agreement yet: another round follows.
        Continue = "continue",
        Consensus = "consensus",
        /// The last round ended without agreement.
        NoConsensus = "no_consensus",
    }
}

/// A consensus round: every member's position and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct VoteRound {
    pub round: u32,
    pub votes: Vec<Vote>,
    /// Members per (normalised) position, most first.
    pub tally: Vec<(String, u32)>,
    pub agreed: bool,
    pub outcome: RoundOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CrewRun {
    pub id: Id,
    pub crew_id: Id,
    pub process: Process,
    pub status: CrewRunStatus,
    pub input: String,
    /// The final output (report, approved draft, consensus answer…).
    pub report: Option<String>,
    pub stop_reason: Option<StopReason>,
    pub error: Option<String>,
    pub outputs: Vec<MemberOutput>,
    pub vote_log: Vec<VoteRound>,
    /// Process details: the budget in force, the plan, the gate's scores, review rounds.
    pub state: serde_json::Value,
    #[ts(type = "number")]
    pub tokens_in: u64,
    #[ts(type = "number")]
    pub tokens_out: u64,
    pub cost: f64,
    pub stop_requested: bool,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl CrewRun {
    pub fn tokens(&self) -> u64 {
        self.tokens_in + self.tokens_out
    }
}

const COLS: &str = "id, crew_id, process, status, input, report, stop_reason, error, outputs, vote_log, \
    state, tokens_in, tokens_out, cost, stop_requested, started_at, finished_at, created_at, updated_at";

fn run_from_row(r: &rusqlite::Row<'_>) -> Result<CrewRun> {
    let c = RowCtx::new(r, "crew run")?;
    Ok(CrewRun {
        id: c.get("id")?,
        crew_id: c.get("crew_id")?,
        process: c.parse("process")?,
        status: c.parse("status")?,
        input: c.get("input")?,
        report: c.get("report")?,
        stop_reason: c.parse_opt("stop_reason")?,
        error: c.get("error")?,
        outputs: c.json("outputs")?,
        vote_log: c.json("vote_log")?,
        state: c.json("state")?,
        tokens_in: c.u64("tokens_in")?,
        tokens_out: c.u64("tokens_out")?,
        cost: c.get("cost")?,
        stop_requested: c.bool("stop_requested")?,
        started_at: c.ts_opt("started_at")?,
        finished_at: c.ts_opt("finished_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_run(conn: &Connection, id: &str) -> Result<CrewRun> {
    let sql = format!("SELECT {COLS} FROM crew_runs WHERE id = ?1");
    query_one(conn, &sql, [id], run_from_row)?.ok_or_else(|| CoreError::not_found("crew run", id))
}

fn touch(tx: &mut Tx<'_>, id: &str) {
    tx.changed(Entity::CrewRun, ChangeOp::Updated, id);
}

fn set_crew_status(tx: &mut Tx<'_>, crew_id: &str, status: CrewStatus) -> Result<()> {
    tx.execute(
        "UPDATE crews SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![crew_id, status, time::now_sql()],
    )?;
    tx.changed(Entity::Crew, ChangeOp::Updated, crew_id);
    Ok(())
}

/// The open run of a crew, if one is in progress.
pub fn open_run_of(conn: &Connection, crew_id: &str) -> Result<Option<Id>> {
    query_one(
        conn,
        "SELECT id FROM crew_runs WHERE crew_id = ?1 AND status IN ('planning', 'running', 'waiting') LIMIT 1",
        [crew_id],
        |r| Ok(r.get(0)?),
    )
}

/// Inserts a new run in `planning` for `crew_id`, coordinated by this process.
pub(crate) fn insert_run(
    tx: &mut Tx<'_>,
    crew_id: &str,
    process: Process,
    input: &str,
    budget: &Budget,
) -> Result<CrewRun> {
    if let Some(open) = open_run_of(tx, crew_id)? {
        return Err(CoreError::Conflict(format!(
            "this crew is already running (run {open}); stop that run first"
        )));
    }
    let id = new_id();
    let now = time::now_sql();
    // The owner is this process: its PID, and its start time so that
    // another process given the same PID later is not taken for it.
    let state = serde_json::json!({
        "budget": budget,
        "owner_started": process_start(std::process::id().into()),
    });
    tx.execute(
        "INSERT INTO crew_runs (id, crew_id, process, status, input, state, owner_pid, started_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'planning', ?4, ?5, ?6, ?7, ?7, ?7)",
        params![id, crew_id, process, input, to_json(&state)?, i64::from(std::process::id()), now],
    )?;
    tx.changed(Entity::CrewRun, ChangeOp::Created, &id);
    set_crew_status(tx, crew_id, CrewStatus::Planning)?;
    load_run(tx, &id)
}

pub(crate) fn set_status(tx: &mut Tx<'_>, id: &str, status: CrewRunStatus) -> Result<()> {
    let run = load_run(tx, id)?;
    if run.status.is_final() || run.status == status {
        return Ok(());
    }
    tx.execute(
        "UPDATE crew_runs SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, status, time::now_sql()],
    )?;
    touch(tx, id);
    let crew_status = match status {
        CrewRunStatus::Planning => CrewStatus::Planning,
        _ => CrewStatus::Running,
    };
    set_crew_status(tx, &run.crew_id, crew_status)
}

pub(crate) fn push_output(tx: &mut Tx<'_>, id: &str, out: &MemberOutput) -> Result<()> {
    let mut run = load_run(tx, id)?;
    run.outputs.push(out.clone());
    tx.execute(
        "UPDATE crew_runs SET outputs = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, to_json(&run.outputs)?, time::now_sql()],
    )?;
    touch(tx, id);
    Ok(())
}

pub(crate) fn push_vote_round(tx: &mut Tx<'_>, id: &str, round: &VoteRound) -> Result<()> {
    let mut run = load_run(tx, id)?;
    run.vote_log.push(round.clone());
    tx.execute(
        "UPDATE crew_runs SET vote_log = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, to_json(&run.vote_log)?, time::now_sql()],
    )?;
    touch(tx, id);
    Ok(())
}

/// Sets one key of the run's `state` object.
pub(crate) fn set_state(
    tx: &mut Tx<'_>,
    id: &str,
    key: &str,
    value: serde_json::Value,
) -> Result<()> {
    let mut run = load_run(tx, id)?;
    if !run.state.is_object() {
        run.state = serde_json::json!({});
    }
    if let Some(obj) = run.state.as_object_mut() {
        obj.insert(key.to_string(), value);
    }
    tx.execute(
        "UPDATE crew_runs SET state = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, to_json(&run.state)?, time::now_sql()],
    )?;
    touch(tx, id);
    Ok(())
}

/// Adds the usage of a model call the engine made itself, then refreshes the totals.
pub(crate) fn add_turn_usage(
    tx: &mut Tx<'_>,
    id: &str,
    tokens_in: u64,
    tokens_out: u64,
    cost: f64,
) -> Result<()> {
    tx.execute(
        "UPDATE crew_runs SET turn_tokens_in = turn_tokens_in + ?2, turn_tokens_out = turn_tokens_out + ?3,
            turn_cost = turn_cost + ?4 WHERE id = ?1",
        params![id, tokens_in.min(i64::MAX as u64) as i64, tokens_out.min(i64::MAX as u64) as i64, cost],
    )?;
    refresh_totals(tx, id)
}

/// Totals = the engine's own calls + every run of every task of the crew run
/// (including runs still in progress, so a cap stops work that is under way).
/// Tokens in, tokens out and cost.
pub(crate) type Totals = (i64, i64, f64);

/// The run's totals as stored and as they are now.
pub(crate) fn totals(conn: &Connection, id: &str) -> Result<(Totals, Totals)> {
    Ok(conn.query_row(
        "SELECT c.tokens_in, c.tokens_out, c.cost,
            c.turn_tokens_in + coalesce(sum(r.tokens_in), 0),
            c.turn_tokens_out + coalesce(sum(r.tokens_out), 0),
            c.turn_cost + coalesce(sum(r.cost), 0)
         FROM crew_runs c LEFT JOIN tasks t ON t.crew_run_id = c.id LEFT JOIN runs r ON r.task_id = t.id
         WHERE c.id = ?1 GROUP BY c.id",
        [id],
        |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), (r.get(3)?, r.get(4)?, r.get(5)?))),
    )?)
}

pub(crate) fn refresh_totals(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    let ((now_in, now_out, now_cost), (t_in, t_out, t_cost)) = totals(tx, id)?;
    if (now_in, now_out) != (t_in, t_out) || (now_cost - t_cost).abs() > 1e-12 {
        tx.execute(
            "UPDATE crew_runs SET tokens_in = ?2, tokens_out = ?3, cost = ?4 WHERE id = ?1",
            params![id, t_in, t_out, t_cost],
        )?;
        touch(tx, id);
    }
    Ok(())
}

/// Ends a run: final status, report, reason and error; the crew's status
/// follows. Open tasks of the run are cancelled. A run already final is left alone.
pub(crate) fn finish_run(
    tx: &mut Tx<'_>,
    id: &str,
    status: CrewRunStatus,
    report: Option<&str>,
    reason: StopReason,
    error: Option<&str>,
) -> Result<CrewRun> {
    let run = load_run(tx, id)?;
    if run.status.is_final() {
        return Ok(run);
    }
    cancel_open_tasks(tx, id)?;
    refresh_totals(tx, id)?;
    let now = time::now_sql();
    tx.execute(
        "UPDATE crew_runs SET status = ?2, report = coalesce(?3, report), stop_reason = ?4, error = ?5,
            finished_at = ?6, updated_at = ?6 WHERE id = ?1",
        params![id, status, report, reason, error, now],
    )?;
    touch(tx, id);
    let crew_status = match status {
        CrewRunStatus::Completed => CrewStatus::Completed,
        CrewRunStatus::Failed => CrewStatus::Failed,
        _ => CrewStatus::Stopped,
    };
    set_crew_status(tx, &run.crew_id, crew_status)?;
    load_run(tx, id)
}

/// Cancels the run's tasks that have not finished (the orchestrator stops
/// those that are running when it sees the change).
pub(crate) fn cancel_open_tasks(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    let open: Vec<Id> = query_all(
        tx,
        "SELECT id FROM tasks WHERE crew_run_id = ?1 AND status NOT IN ('completed', 'failed', 'cancelled')",
        [id],
        |r| Ok(r.get(0)?),
    )?;
    for t in open {
        // A task whose parent was cancelled just before is already final.
        let still_open: bool = tx.query_row(
            "SELECT status NOT IN ('completed', 'failed', 'cancelled') FROM tasks WHERE id = ?1",
            [&t],
            |r| r.get(0),
        )?;
        if still_open {
            crate::tasks::move_task(tx, &t, crate::tasks::TaskStatus::Cancelled, None)?;
        }
    }
    Ok(())
}

/// When the process `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`); `None` when there is no such process or no `/proc`.
fn process_start(pid: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count the
    // fields after its closing parenthesis (field 3 is the first).
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that owns a crew run is still alive: the PID names a
/// live process that started when the owner did (a PID the system gave to
/// another process since is not the owner). Rows written before the start
/// time was recorded are judged by the PID alone. Without `/proc` only this
/// process counts as alive (the app is then the one coordinator, and its
/// runs end with it).
fn process_alive(pid: i64, started: Option<u64>) -> bool {
    let this = pid == i64::from(std::process::id());
    if cfg!(target_os = "linux") {
        return match (process_start(pid), started) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        };
    }
    this
}

/// The owner of a run as stored: its PID and start time.
type Owner = (Option<i64>, Option<u64>);

/// Reads [`Owner`] from the columns `pid_col` and the one after it.
fn owner_of(r: &rusqlite::Row<'_>, pid_col: usize) -> rusqlite::Result<Owner> {
    let pid: Option<i64> = r.get(pid_col)?;
    let started: Option<i64> = r.get(pid_col + 1)?;
    Ok((pid, started.and_then(|s| u64::try_from(s).ok())))
}

impl Crews<'_> {
    pub fn get_run(&self, id: &str) -> Result<CrewRun> {
        crate::validate::id("id", id)?;
        self.core.read(|c| load_run(c, id))
    }

    /// Runs of one crew (or of every crew), newest first.
    pub fn list_runs(&self, crew_id: Option<&str>, paging: Paging) -> Result<Page<CrewRun>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            let total: u64 = c.query_row(
                "SELECT count(*) FROM crew_runs WHERE ?1 IS NULL OR crew_id = ?1",
                [crew_id],
                |r| r.get(0),
            )?;
            let sql = format!(
                "SELECT {COLS} FROM crew_runs WHERE ?1 IS NULL OR crew_id = ?1
                 ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {offset}"
            );
            let items = query_all(c, &sql, [crew_id], run_from_row)?;
            Ok(Page {
                items,
                total,
                limit,
                offset,
            })
        })
    }

    /// The run's timeline: every message of the run, oldest first.
    pub fn run_messages(&self, run_id: &str, paging: Paging) -> Result<Page<Message>> {
        crate::validate::id("id", run_id)?;
        self.get_run(run_id)?;
        self.core.messages().list(
            &MessageFilter {
                crew_run_id: Some(run_id.to_string()),
                ..Default::default()
            },
            paging,
        )
    }

    /// Asks a run to stop. The process coordinating it stops at its next
    /// check (within a fraction of a second); a run whose coordinator is
    /// gone is stopped here and now.
    pub fn request_stop(&self, id: &str) -> Result<CrewRun> {
        self.core.write(|tx| {
            let run = load_run(tx, id)?;
            if run.status.is_final() {
                return Err(CoreError::Conflict(format!(
                    "this run already ended ({}); there is nothing to stop",
                    run.status
                )));
            }
            tx.execute(
                "UPDATE crew_runs SET stop_requested = 1, updated_at = ?2 WHERE id = ?1",
                params![id, time::now_sql()],
            )?;
            touch(tx, id);
            let (pid, started) = tx.query_row(
                "SELECT owner_pid, json_extract(state, '$.owner_started') FROM crew_runs WHERE id = ?1",
                [id],
                |r| owner_of(r, 0),
            )?;
            if !pid.is_some_and(|p| process_alive(p, started)) {
                return finish_run(
                    tx,
                    id,
                    CrewRunStatus::Stopped,
                    None,
                    StopReason::StoppedByUser,
                    None,
                );
            }
            load_run(tx, id)
        })
    }

    /// After a restart: open runs whose coordinating process is gone are
    /// stopped as interrupted (their open tasks cancelled). Returns how many.
    pub fn recover_runs(&self) -> Result<usize> {
        self.core.write(|tx| {
            let open: Vec<(Id, Owner)> = query_all(
                tx,
                "SELECT id, owner_pid, json_extract(state, '$.owner_started') FROM crew_runs
                 WHERE status IN ('planning', 'running', 'waiting')",
                [],
                |r| Ok((r.get(0)?, owner_of(r, 1)?)),
            )?;
            let mut n = 0;
            for (id, (pid, started)) in open {
                if pid.is_some_and(|p| process_alive(p, started)) {
                    continue;
                }
                finish_run(
                    tx,
                    &id,
                    CrewRunStatus::Stopped,
                    None,
                    StopReason::Interrupted,
                    Some("the process running this crew ended before the run did"),
                )?;
                n += 1;
            }
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::AgentInput;
    use crate::crews::{CrewInput, MemberInput};
    use crate::Core;

    /// A crew run whose recorded owner PID now belongs to another process
    /// (the PID was given out again: same number, other start time) is
    /// recovered as interrupted instead of staying "running" for ever.
    #[test]
    fn a_reused_pid_does_not_keep_a_dead_crew_run_alive() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).unwrap();
        let ada = core
            .agents()
            .create(AgentInput {
                name: Some("Ada".into()),
                ..Default::default()
            })
            .unwrap();
        let crew = core
            .crews()
            .create(CrewInput {
                name: Some("Crew".into()),
                goal: Some("Write".into()),
                members: Some(vec![MemberInput {
                    agent_id: ada.id.clone(),
                    role: None,
                }]),
                ..Default::default()
            })
            .unwrap();
        let run = core
            .write(|tx| insert_run(tx, &crew.id, Process::Sequential, "go", &Budget::default()))
            .unwrap();
        // Owned by this live process: left alone.
        assert_eq!(core.crews().recover_runs().unwrap(), 0);
        // PID 1 is alive, but it is not the process that started this run.
        let init_started = process_start(1).expect("PID 1 exists") as i64;
        core.write(|tx| {
            Ok(tx.execute(
                "UPDATE crew_runs SET owner_pid = 1, state = json_set(state, '$.owner_started', ?2) WHERE id = ?1",
                rusqlite::params![run.id, init_started + 1],
            )?)
        })
        .unwrap();
        assert_eq!(core.crews().recover_runs().unwrap(), 1);
        let after = core.crews().get_run(&run.id).unwrap();
        assert_eq!(after.status, CrewRunStatus::Stopped);
    }
}
