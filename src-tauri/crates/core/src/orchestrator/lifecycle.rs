//! The task lifecycle as the scheduler drives it, each move one SQLite
//! transaction: claiming runnable tasks (priority with aging, dependencies,
//! routing, limits), resuming parked ones, recording how a run ended
//! (complete, retry with backoff, fail, park, requeue), and recovery after a
//! crash.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use rusqlite::params;

use super::routing::{self, Candidate};
use crate::agents::Agent;
use crate::error::Result;
use crate::events::{ChangeOp, Entity};
use crate::runs::{self, RunStatus};
use crate::runtime::{Job, Outcome};
use crate::store::row::query_all;
use crate::store::Tx;
use crate::tasks::{self, load_task, move_task, set_status, task_from_row, Task, TaskStatus, COLS};
use crate::time;
use crate::{Core, Id};

/// What the scheduler knows about capacity when it claims.
#[derive(Debug, Clone, Default)]
pub struct Capacity {
    pub agents: Vec<Agent>,
    /// Tasks each agent runs now.
    pub agent_load: HashMap<Id, u32>,
    /// Agents that cannot take work now (restarting after a crash, paused worker).
    pub agent_blocked: HashMap<Id, bool>,
    /// The provider each agent uses.
    pub provider_of: HashMap<Id, String>,
    /// Tasks each provider serves now, and its limit.
    pub provider_load: HashMap<String, u32>,
    pub provider_limit: HashMap<String, u32>,
    /// Providers whose circuit breaker refuses requests now.
    pub provider_blocked: HashMap<String, bool>,
}

impl Capacity {
    fn agent_available(&self, a: &Agent) -> bool {
        let load = self.agent_load.get(&a.id).copied().unwrap_or(0);
        let provider_ok = match self.provider_of.get(&a.id) {
            Some(p) => {
                !self.provider_blocked.get(p).copied().unwrap_or(false)
                    && self.provider_load.get(p).copied().unwrap_or(0)
                        < self.provider_limit.get(p).copied().unwrap_or(u32::MAX)
            }
            None => true,
        };
        a.enabled
            && a.status != crate::agents::AgentStatus::Paused
            && !self.agent_blocked.get(&a.id).copied().unwrap_or(false)
            && load < a.max_concurrent_tasks.max(1)
            && provider_ok
    }

    fn take(&mut self, agent: &Agent) {
        *self.agent_load.entry(agent.id.clone()).or_default() += 1;
        if let Some(p) = self.provider_of.get(&agent.id) {
            *self.provider_load.entry(p.clone()).or_default() += 1;
        }
    }

    fn candidates(&self) -> Vec<Candidate<'_>> {
        self.agents
            .iter()
            .map(|a| Candidate {
                agent: a,
                load: self.agent_load.get(&a.id).copied().unwrap_or(0),
                available: self.agent_available(a),
            })
            .collect()
    }
}

/// Backoff for task retries: `base · 2^(attempt-1)` capped, with equal jitter.
#[derive(Debug, Clone, Copy)]
pub struct TaskRetry {
    pub base: Duration,
    pub max: Duration,
}

impl Default for TaskRetry {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl TaskRetry {
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max);
        exp / 2 + (exp / 2).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Priority with aging: one level per `aging_minutes` waited, at most 10.
pub fn effective_priority(t: &Task, now: chrono::DateTime<chrono::Utc>, aging_minutes: f64) -> f64 {
    aged_priority(t.priority, t.created_at, now, aging_minutes)
}

fn aged_priority(
    priority: u8,
    created_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    aging_minutes: f64,
) -> f64 {
    let waited = (now - created_at).num_milliseconds().max(0) as f64 / 60_000.0;
    let lift = if aging_minutes > 0.0 {
        waited / aging_minutes
    } else {
        0.0
    };
    (f64::from(priority) + lift).min(10.0 + f64::from(priority) / 100.0)
}

/// A queued task as the scheduler ranks it; the whole task is read only
/// for the ones it gets to.
struct Ranked {
    id: Id,
    priority: u8,
    created_at: chrono::DateTime<chrono::Utc>,
}

fn ranked_from_row(r: &rusqlite::Row<'_>) -> Result<Ranked> {
    let id: String = r.get(0)?;
    let priority: i64 = r.get(1)?;
    let created: String = r.get(2)?;
    let created_at = time::parse(&created).ok_or_else(|| crate::CoreError::Corrupt {
        entity: "task",
        id: id.clone(),
        detail: format!("column created_at: bad timestamp '{created}'"),
    })?;
    Ok(Ranked {
        id,
        priority: u8::try_from(priority).unwrap_or(5),
        created_at,
    })
}

enum DepState {
    Ready,
    Waiting,
    Broken(String),
}

fn dependency_state(tx: &Tx<'_>, task_id: &str) -> Result<DepState> {
    let deps: Vec<(String, String)> = query_all(
        tx,
        "SELECT t.title, t.status FROM task_dependencies d JOIN tasks t ON t.id = d.depends_on_id WHERE d.task_id = ?1",
        [task_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (title, status) in &deps {
        match status.as_str() {
            "completed" => {}
            "failed" | "cancelled" => {
                return Ok(DepState::Broken(format!(
                    "the task it depends on, '{title}', {status}"
                )))
            }
            _ => return Ok(DepState::Waiting),
        }
    }
    Ok(DepState::Ready)
}

/// Moves a claimed task to running and gives it a run: the interrupted one
/// to resume, or a new attempt.
fn start(tx: &mut Tx<'_>, task: &Task, agent: &Agent) -> Result<Job> {
    let latest = runs::latest_run(tx, &task.id)?;
    let resume = latest.filter(|r| matches!(r.status, RunStatus::Interrupted | RunStatus::Waiting));
    if task.status == TaskStatus::Queued {
        set_status(tx, &task.id, TaskStatus::Planning, None)?;
    }
    set_status(tx, &task.id, TaskStatus::Running, None)?;
    let run = match resume {
        Some(r) => {
            // A run kept resumable after a failure: continuing it is a new attempt.
            let retry = r.state.retry;
            tasks::resume_attempt(tx, &task.id, &agent.id, retry)?;
            if retry {
                runs::resume_as_attempt(tx, &r.id, task.attempts + 1)?;
            }
            runs::finish_run(tx, &r.id, RunStatus::Running, None)?;
            runs::load_run(tx, &r.id)?
        }
        None => {
            tasks::begin_attempt(tx, &task.id, &agent.id)?;
            runs::insert_run(
                tx,
                &task.id,
                Some(&agent.id),
                task.attempts + 1,
                &runs::RunState::default(),
            )?
        }
    };
    let task = load_task(tx, &task.id)?;
    Ok(Job {
        task,
        run,
        agent: agent.clone(),
    })
}

impl crate::tasks::Tasks<'_> {
    /// A person's retry of a failed task, in one transaction. The attempt
    /// count is kept, so the card tells the truth ("attempt 4/4") and the
    /// earlier runs stay in the trace; when the attempts were used up the
    /// task gets exactly one more (`max_attempts = attempts + 1`). Only
    /// `failed` can go back to the queue (`cancelled` is final). A failed
    /// workflow step reopens its run: the step runs again and the steps
    /// skipped because of its failure wait for it once more.
    pub fn retry(&self, id: &str) -> Result<Task> {
        crate::validate::id("id", id)?;
        self.core.write(|tx| {
            let t = load_task(tx, id)?;
            if t.status != TaskStatus::Failed {
                return Err(crate::CoreError::validation(
                    "status",
                    format!("only failed tasks can be retried; this one is {}", t.status),
                ));
            }
            tasks::requeue_by_hand(tx, id)?;
            crate::workflows::runs::step_retried(tx, id)?;
            load_task(tx, id)
        })
    }
}

impl Core {
    /// Claims up to `max` queued tasks that can run now: eligible (retry time
    /// passed, dependencies complete), best by effective priority (aging),
    /// and routed to an agent with capacity whose provider accepts work.
    pub fn claim_tasks(
        &self,
        max: usize,
        cap: &mut Capacity,
        aging_minutes: f64,
    ) -> Result<Vec<Job>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.write(|tx| claim_queued(tx, max, cap, aging_minutes))
    }

    /// [`Core::claim_resumable`] then [`Core::claim_tasks`] for the slots
    /// left, in one transaction (the scheduler's hot path).
    pub fn claim(&self, max: usize, cap: &mut Capacity, aging_minutes: f64) -> Result<Vec<Job>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let mut jobs = claim_parked(tx, max, cap)?;
            let rest = max - jobs.len();
            if rest > 0 {
                jobs.extend(claim_queued(tx, rest, cap, aging_minutes)?);
            }
            Ok(jobs)
        })
    }

    /// Claims parked tasks whose wait is over: the approval or question was
    /// decided, or every subtask finished.
    pub fn claim_resumable(&self, max: usize, cap: &mut Capacity) -> Result<Vec<Job>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.write(|tx| claim_parked(tx, max, cap))
    }

    /// Records how a run ended. Returns the task as it is afterwards.
    pub fn finish_job(&self, job: &Job, outcome: &Outcome, retry: TaskRetry) -> Result<Task> {
        self.write(|tx| {
            let current = load_task(tx, &job.task.id)?;
            let run = &job.run.id;
            if current.status == TaskStatus::Cancelled {
                runs::finish_run(tx, run, RunStatus::Cancelled, None)?;
                return Ok(current);
            }
            match outcome {
                Outcome::Completed { output, confidence } => {
                    runs::finish_run(tx, run, RunStatus::Completed, None)?;
                    set_status(tx, &current.id, TaskStatus::Completed, None)?;
                    tasks::record_answer(tx, &current.id, output, *confidence)?;
                    update_skills(tx, &job.agent.id, &current.required_capabilities, true)?;
                    crate::workflows::runs::step_finished(tx, &current.id)?;
                }
                Outcome::Failed { error, retryable } => {
                    let retry_now = *retryable && current.attempts < current.max_attempts;
                    // Starting over would run the model's earlier tool calls
                    // again. When one of them has a side effect and the
                    // failure may go away, the run is kept resumable: the
                    // next attempt (automatic, or a retry by hand) continues
                    // it from its last recorded step.
                    if *retryable && has_side_effects(tx, run)? {
                        runs::finish_run(tx, run, RunStatus::Interrupted, Some(error))?;
                        runs::keep_for_retry(tx, run)?;
                    } else {
                        runs::finish_run(tx, run, RunStatus::Failed, Some(error))?;
                    }
                    set_status(tx, &current.id, TaskStatus::Failed, Some(error))?;
                    let mut failed = current.failed_agents.clone();
                    if !failed.contains(&job.agent.id) {
                        failed.push(job.agent.id.clone());
                    }
                    tasks::set_failed_agents(tx, &current.id, &failed)?;
                    update_skills(tx, &job.agent.id, &current.required_capabilities, false)?;
                    if retry_now {
                        let delay = retry.delay(current.attempts, jitter());
                        let at =
                            time::now() + ChronoDuration::milliseconds(delay.as_millis() as i64);
                        tasks::retry_at(tx, &current.id, &at)?;
                    } else {
                        crate::workflows::runs::step_finished(tx, &current.id)?;
                    }
                }
                Outcome::Parked { status } => {
                    runs::finish_run(tx, run, RunStatus::Waiting, None)?;
                    set_status(tx, &current.id, *status, None)?;
                }
                Outcome::Requeue { reason } => {
                    runs::finish_run(tx, run, RunStatus::Interrupted, Some(reason))?;
                    set_status(tx, &current.id, TaskStatus::Queued, None)?;
                }
                Outcome::Cancelled => {
                    // Not cancelled by a person (checked above): the process is
                    // stopping. The run resumes after a restart.
                    runs::finish_run(
                        tx,
                        run,
                        RunStatus::Interrupted,
                        Some("stopped before it finished"),
                    )?;
                    set_status(tx, &current.id, TaskStatus::Queued, None)?;
                }
            }
            // Totals over every run of the task.
            tasks::roll_up_usage(tx, &current.id)?;
            tx.changed(Entity::Task, ChangeOp::Updated, &current.id);
            load_task(tx, &current.id)
        })
    }

    /// After a crash or a kill: runs that were in progress are marked
    /// interrupted and their tasks go back to the queue (they resume from
    /// their last completed step); parked tasks stay parked. Returns how
    /// many tasks were re-queued.
    pub fn recover(&self) -> Result<usize> {
        self.write(|tx| {
            let ids: Vec<String> = query_all(
                tx,
                "SELECT id FROM tasks WHERE status IN ('planning', 'running')",
                [],
                |r| Ok(r.get(0)?),
            )?;
            for id in &ids {
                if let Some(run) = runs::latest_run(tx, id)? {
                    if matches!(run.status, RunStatus::Running | RunStatus::Waiting) {
                        runs::finish_run(
                            tx,
                            &run.id,
                            RunStatus::Interrupted,
                            Some("the app stopped while it ran"),
                        )?;
                    }
                }
                move_task(tx, id, TaskStatus::Queued, None)?;
            }
            // A parked task's run is waiting, not running.
            runs::park_runs_of_parked_tasks(tx)?;
            tx.execute(
                "UPDATE agents SET status = 'idle' WHERE status = 'busy'",
                [],
            )?;
            Ok(ids.len())
        })
    }
}

/// Whether a run has made a tool call that is not safe to repeat and may
/// have happened (started, finished, or left ambiguous).
fn has_side_effects(tx: &Tx<'_>, run_id: &str) -> Result<bool> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM tool_calls WHERE run_id = ?1 AND idempotent = 0 AND state <> 'intended')",
        [run_id],
        |r| r.get(0),
    )?)
}

/// Skills named like the task's capabilities learn from its outcome.
fn update_skills(tx: &Tx<'_>, agent_id: &str, caps: &[String], success: bool) -> Result<()> {
    let now = time::now_sql();
    for cap in caps {
        tx.execute(
            "INSERT INTO agent_skills (id, agent_id, skill_name, proficiency, times_used, success_rate, learned_from, last_used_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, 'practice', ?6, ?6, ?6)
             ON CONFLICT (agent_id, skill_name) DO UPDATE SET
                success_rate = (success_rate * times_used + ?5) / (times_used + 1),
                times_used = times_used + 1,
                proficiency = min(1.0, max(0.0, proficiency + CASE WHEN ?5 = 1.0 THEN 0.05 ELSE -0.05 END)),
                last_used_at = ?6, updated_at = ?6",
            params![crate::new_id(), agent_id, cap, if success { 0.55 } else { 0.45 }, if success { 1.0 } else { 0.0 }, now],
        )?;
    }
    Ok(())
}

/// Queued tasks that can run now, best first, routed and started (see
/// [`Core::claim_tasks`]).
fn claim_queued(
    tx: &mut Tx<'_>,
    max: usize,
    cap: &mut Capacity,
    aging_minutes: f64,
) -> Result<Vec<Job>> {
    let now = time::now();
    let now_sql = time::to_sql(&now);
    let window = (max * 4).clamp(32, 400);
    let mut cands: Vec<Ranked> = query_all(
            tx,
            &format!(
                "SELECT id, priority, created_at FROM tasks WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
                 ORDER BY priority DESC, created_at LIMIT {window}"
            ),
            [&now_sql],
            ranked_from_row,
        )?;
    let oldest: Vec<Ranked> = query_all(
        tx,
        &format!(
            // Left to itself SQLite walks a status index and sorts every
            // queued task here (milliseconds with a long queue).
            "SELECT id, priority, created_at FROM tasks INDEXED BY tasks_queued_age
                 WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
                 ORDER BY created_at LIMIT {window}"
        ),
        [&now_sql],
        ranked_from_row,
    )?;
    let mut seen: HashSet<Id> = cands.iter().map(|c| c.id.clone()).collect();
    for t in oldest {
        if seen.insert(t.id.clone()) {
            cands.push(t);
        }
    }
    cands.sort_by(|a, b| {
        aged_priority(b.priority, b.created_at, now, aging_minutes)
            .total_cmp(&aged_priority(a.priority, a.created_at, now, aging_minutes))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    let mut jobs = Vec::new();
    for c in cands {
        if jobs.len() >= max {
            break;
        }
        match dependency_state(tx, &c.id)? {
            DepState::Waiting => continue,
            DepState::Broken(why) => {
                set_status(tx, &c.id, TaskStatus::Planning, None)?;
                set_status(tx, &c.id, TaskStatus::Failed, Some(&why))?;
                continue;
            }
            DepState::Ready => {}
        }
        let t = load_task(tx, &c.id)?;
        let chosen = {
            let c = cap.candidates();
            routing::choose(&t, &c).cloned()
        };
        let Some(agent) = chosen else { continue };
        cap.take(&agent);
        jobs.push(start(tx, &t, &agent)?);
    }
    Ok(jobs)
}

/// Parked tasks whose wait is over, started again (see
/// [`Core::claim_resumable`]).
fn claim_parked(tx: &mut Tx<'_>, max: usize, cap: &mut Capacity) -> Result<Vec<Job>> {
    let parked: Vec<Task> = query_all(
            tx,
            &format!("SELECT {COLS} FROM tasks WHERE status IN ('awaiting_approval', 'waiting_input', 'delegated') ORDER BY priority DESC, updated_at LIMIT 200"),
            [],
            task_from_row,
        )?;
    let mut jobs = Vec::new();
    for t in parked {
        if jobs.len() >= max {
            break;
        }
        let Some(run) = runs::latest_run(tx, &t.id)? else {
            continue;
        };
        let ready: bool = match t.status {
                TaskStatus::Delegated => tx.query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM tasks WHERE parent_task_id = ?1 AND status NOT IN ('completed', 'failed', 'cancelled'))",
                    [&t.id],
                    |r| r.get(0),
                )?,
                _ => tx.query_row(
                    "SELECT NOT EXISTS (SELECT 1 FROM approvals WHERE run_id = ?1 AND status = 'pending')",
                    [&run.id],
                    |r| r.get(0),
                )?,
            };
        if !ready {
            continue;
        }
        let agent_id = run
            .agent_id
            .clone()
            .or(t.routed_agent_id.clone())
            .or(t.assigned_agent_id.clone())
            .unwrap_or_default();
        let Some(agent) = cap.agents.iter().find(|a| a.id == agent_id).cloned() else {
            continue;
        };
        if !cap.agent_available(&agent) {
            continue;
        }
        cap.take(&agent);
        jobs.push(start(tx, &t, &agent)?);
    }
    Ok(jobs)
}
