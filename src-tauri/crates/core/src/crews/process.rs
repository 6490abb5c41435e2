//! The five ways a crew works together (SPEC §4), one module each. A
//! process is a plain async function over the run's context: it queues
//! members' work, asks for structured decisions, posts the messages of the
//! timeline and returns the final report and why it ended.

pub mod consensus;
pub mod hierarchical;
pub mod peer_review;
pub mod routed;
pub mod sequential;

use super::engine::RunCtx;
use crate::agents::Agent;

/// The opening of every member's task: the crew, the member's part in it and the request.
pub(crate) fn brief_for(ctx: &RunCtx, agent: &Agent) -> String {
    format!(
        "{}\nYour part: {} in this crew.\nRequest: {}\n",
        ctx.brief(),
        ctx.role_of(agent),
        ctx.input.trim()
    )
}
