//! What running a task writes on it: a new or resumed attempt on an agent,
//! the answer, the agents that failed it, the time of the next try, the
//! token and cost totals over its runs; and the few writes that put a task
//! somewhere without running it (an import's interrupted task back in the
//! queue, the demo's finished history). The orchestrator, the importer and
//! the demo call these; none of them writes the table itself.

use rusqlite::params;

use super::TaskStatus;
use crate::error::Result;
use crate::events::{ChangeOp, Entity};
use crate::store::row::to_json;
use crate::store::Tx;
use crate::time::{self, Timestamp};

/// A new attempt starts on `agent`: one more attempt, no retry time left.
pub(crate) fn begin_attempt(tx: &mut Tx<'_>, id: &str, agent: &str) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET attempts = attempts + 1, next_attempt_at = NULL, routed_agent_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, agent, time::now_sql()],
    )?;
    Ok(())
}

/// A kept run continues on `agent`; when it was kept for a retry that is a
/// new attempt (and the retry time is spent).
pub(crate) fn resume_attempt(tx: &mut Tx<'_>, id: &str, agent: &str, retry: bool) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET routed_agent_id = ?2, updated_at = ?3,
            attempts = attempts + ?4, next_attempt_at = CASE WHEN ?4 THEN NULL ELSE next_attempt_at END
         WHERE id = ?1",
        params![id, agent, time::now_sql(), retry],
    )?;
    Ok(())
}

/// The answer of a completed task (any earlier error is cleared).
pub(crate) fn record_answer(
    tx: &mut Tx<'_>,
    id: &str,
    output: &str,
    confidence: Option<f64>,
) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET output = ?2, confidence = ?3, error = NULL, updated_at = ?4 WHERE id = ?1",
        params![id, output, confidence, time::now_sql()],
    )?;
    Ok(())
}

/// The agents that failed the task, so that routing tries another.
pub(crate) fn set_failed_agents(tx: &mut Tx<'_>, id: &str, agents: &[String]) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET failed_agents = ?2 WHERE id = ?1",
        params![id, to_json(&agents)?],
    )?;
    Ok(())
}

/// A failed attempt goes back to the queue, to be tried again at `at`.
pub(crate) fn retry_at(tx: &mut Tx<'_>, id: &str, at: &Timestamp) -> Result<()> {
    super::set_status(tx, id, TaskStatus::Queued, None)?;
    tx.execute(
        "UPDATE tasks SET next_attempt_at = ?2, completed_at = NULL WHERE id = ?1",
        params![id, time::to_sql(at)],
    )?;
    Ok(())
}

/// The task's tokens and cost: the totals over all its runs.
pub(crate) fn roll_up_usage(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET tokens_in = (SELECT coalesce(sum(tokens_in), 0) FROM runs WHERE task_id = ?1),
            tokens_out = (SELECT coalesce(sum(tokens_out), 0) FROM runs WHERE task_id = ?1),
            cost = (SELECT coalesce(sum(cost), 0) FROM runs WHERE task_id = ?1) WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// The key that makes a delegation idempotent: the same request from the
/// same call finds this subtask instead of creating another.
pub(crate) fn set_idempotency_key(tx: &mut Tx<'_>, id: &str, key: &str) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET idempotency_key = ?2 WHERE id = ?1",
        params![id, key],
    )?;
    Ok(())
}

/// An imported task that was running on the exporting machine waits in the
/// queue here (its runs are marked interrupted by the importer).
pub(crate) fn requeue_imported(tx: &mut Tx<'_>, id: &str) -> Result<()> {
    tx.execute(
        "UPDATE tasks SET status = 'queued', updated_at = ?2 WHERE id = ?1",
        params![id, time::now_sql()],
    )?;
    Ok(())
}

/// How a demo task ended, written as history (no run happens).
pub(crate) enum PastEnd<'a> {
    /// Failed twice on `agent` with `error`.
    Failed {
        agent: &'a str,
        error: &'a str,
    },
    Cancelled,
    /// Completed by `agent` in one attempt.
    Completed {
        agent: &'a str,
        output: &'a str,
        confidence: f64,
        tokens_in: u64,
        tokens_out: u64,
    },
}

/// Writes a demo task's past end and publishes the change.
pub(crate) fn write_past_end(tx: &mut Tx<'_>, id: &str, end: PastEnd<'_>) -> Result<()> {
    let now = time::now_sql();
    match end {
        PastEnd::Failed { agent, error } => tx.execute(
            "UPDATE tasks SET status = 'failed', attempts = 2, max_attempts = 2, routed_agent_id = ?2,
                failed_agents = ?3, started_at = ?4, completed_at = ?4, updated_at = ?4, error = ?5
             WHERE id = ?1",
            params![id, agent, to_json(&[agent])?, now, error],
        )?,
        PastEnd::Cancelled => tx.execute(
            "UPDATE tasks SET status = 'cancelled', completed_at = ?2, updated_at = ?2 WHERE id = ?1",
            params![id, now],
        )?,
        PastEnd::Completed {
            agent,
            output,
            confidence,
            tokens_in,
            tokens_out,
        } => tx.execute(
            "UPDATE tasks SET status = 'completed', output = ?2, confidence = ?3, attempts = 1,
                routed_agent_id = ?4, tokens_in = ?5, tokens_out = ?6,
                started_at = ?7, completed_at = ?7, updated_at = ?7
             WHERE id = ?1",
            params![id, output, confidence, agent, tokens_in as i64, tokens_out as i64, now],
        )?,
    };
    tx.changed(Entity::Task, ChangeOp::Updated, id);
    Ok(())
}
