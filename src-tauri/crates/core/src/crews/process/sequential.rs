//! Sequential: a pipeline. Members work in crew order; each receives the
//! previous member's output through a handoff (a `handoff` message on the
//! direct channel carrying the output as context) and builds on it. The
//! last output is the run's report.

use std::sync::Arc;

use serde_json::json;

use super::brief_for;
use crate::crews::engine::work::{work, WorkSpec};
use crate::crews::engine::{clip, Finish, Flow, RunCtx, CLIP};
use crate::crews::run::StopReason;
use crate::messages::MessageKind;
use crate::tasks::TaskType;

pub(crate) async fn run(ctx: &Arc<RunCtx>) -> Flow<Finish> {
    let members: Vec<_> = ctx.members().into_iter().cloned().collect();
    let total = members.len();
    let mut previous: Option<(crate::agents::Agent, String, String)> = None;
    for (i, agent) in members.iter().enumerate() {
        let step = i as u32 + 1;
        let mut objective = brief_for(ctx, agent);
        match &previous {
            Some((prev, output, task_id)) => {
                ctx.say(
                    Some(&prev.id),
                    Some(&agent.id),
                    MessageKind::Handoff,
                    &format!("Handing over to {} (step {step} of {total}).", agent.name),
                    json!({ "output": clip(output, CLIP), "from_task": task_id, "step": step }),
                    None,
                )
                .await?;
                objective.push_str(&format!(
                    "\nThe previous member, {} ({}), produced this:\n---\n{}\n---\nDo your part building on it.",
                    prev.name,
                    ctx.role_of(prev),
                    clip(output, CLIP)
                ));
            }
            None => objective.push_str("\nYou go first: do your part of the request."),
        }
        let result = work(
            ctx,
            WorkSpec {
                agent_id: agent.id.clone(),
                title: format!(
                    "{} · step {step}/{total}: {}",
                    ctx.crew.name,
                    ctx.role_of(agent)
                ),
                objective,
                capabilities: Vec::new(),
                task_type: TaskType::Generate,
            },
        )
        .await?;
        ctx.say(
            Some(&agent.id),
            None,
            MessageKind::Response,
            &result.output,
            json!({ "step": step, "escalated": result.escalated }),
            Some((&result.task.id, true)),
        )
        .await?;
        ctx.output(
            agent,
            &format!("step {step}"),
            step,
            Some(&result.task.id),
            &result.output,
            result.confidence,
        )
        .await?;
        previous = Some((agent.clone(), result.output, result.task.id));
    }
    let report = previous.map(|(_, o, _)| o).unwrap_or_default();
    Ok(Finish {
        report,
        reason: StopReason::Completed,
    })
}
