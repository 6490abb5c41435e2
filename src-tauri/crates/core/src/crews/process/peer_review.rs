//! Peer review: an author drafts, a reviewer critiques with a verdict
//! (approve / revise), and the author revises — until the reviewer approves
//! or the crew's `max_rounds` (default 5) is reached. The author is the
//! member whose crew role says author (else the first member), the
//! reviewer the one whose role says reviewer (else the next). Each verdict
//! is feedback on the author's skills.

use std::sync::Arc;

use serde_json::json;

use super::brief_for;
use crate::agents::{Agent, LearnedFrom};
use crate::crews::engine::turn;
use crate::crews::engine::work::{work, WorkSpec};
use crate::crews::engine::{clip, Finish, Flow, Halt, RunCtx, CLIP};
use crate::crews::run::StopReason;
use crate::messages::MessageKind;
use crate::tasks::TaskType;

fn pick<'a>(
    ctx: &RunCtx,
    members: &'a [&'a Agent],
    word: &str,
    not: Option<&str>,
) -> Option<&'a Agent> {
    members
        .iter()
        .copied()
        .filter(|a| Some(a.id.as_str()) != not)
        .find(|a| ctx.role_of(a).to_lowercase().contains(word))
}

pub(crate) async fn run(ctx: &Arc<RunCtx>) -> Flow<Finish> {
    let members = ctx.members();
    let author = pick(ctx, &members, "author", None)
        .or_else(|| pick(ctx, &members, "writer", None))
        .or_else(|| members.first().copied())
        .ok_or_else(|| Halt::Fail("the crew has no author".into()))?
        .clone();
    let reviewer = pick(ctx, &members, "review", Some(&author.id))
        .or_else(|| members.iter().copied().find(|a| a.id != author.id))
        .ok_or_else(|| Halt::Fail("the crew has no reviewer".into()))?
        .clone();
    let max_rounds = ctx.crew.max_rounds.max(1);
    let mut draft = String::new();
    let mut critique = String::new();
    let mut rounds = Vec::new();
    for round in 1..=max_rounds {
        let mut objective = brief_for(ctx, &author);
        if round == 1 {
            objective.push_str(&format!(
                "\nWrite the first draft. {} will review it.",
                reviewer.name
            ));
        } else {
            objective.push_str(&format!(
                "\nYour previous draft:\n---\n{}\n---\n{}'s critique:\n---\n{}\n---\nRevise the draft so that it answers every point; reply with the whole revised draft.",
                clip(&draft, CLIP),
                reviewer.name,
                clip(&critique, CLIP)
            ));
        }
        let res = work(
            ctx,
            WorkSpec {
                agent_id: author.id.clone(),
                title: format!("{} · draft {round}", ctx.crew.name),
                objective,
                capabilities: Vec::new(),
                task_type: TaskType::Generate,
            },
        )
        .await?;
        draft = res.output;
        ctx.output(
            &author,
            &format!("draft {round}"),
            round,
            Some(&res.task.id),
            &draft,
            res.confidence,
        )
        .await?;
        ctx.say(
            Some(&author.id),
            Some(&reviewer.id),
            MessageKind::Handoff,
            &format!("Draft {round} for your review."),
            json!({ "draft": clip(&draft, CLIP), "round": round, "task_id": res.task.id }),
            None,
        )
        .await?;
        let prompt = format!(
            "Review draft {round} of {max_rounds} by {}.\nThe request: {}\n\nDraft:\n---\n{}\n---\n\
             Give your verdict: \"approve\" if it fully answers the request, else \"revise\" with a critique listing what to change.",
            author.name,
            ctx.input,
            clip(&draft, CLIP)
        );
        let v = turn::ask(
            ctx,
            &reviewer,
            "verdict",
            &prompt,
            json!({
                "type": "object",
                "properties": {
                    "verdict": { "enum": ["approve", "revise"] },
                    "critique": { "type": "string", "maxLength": 1000 }
                },
                "required": ["verdict", "critique"]
            }),
        )
        .await?;
        let approved = turn::text(&v, "verdict") == "approve";
        critique = turn::text(&v, "critique");
        let verdict = if approved { "APPROVED" } else { "REVISE" };
        ctx.say(
            Some(&reviewer.id),
            Some(&author.id),
            MessageKind::Response,
            &format!(
                "{verdict}: {}",
                if critique.is_empty() {
                    "(no comment)"
                } else {
                    &critique
                }
            ),
            json!({ "round": round, "verdict": if approved { "approve" } else { "revise" } }),
            None,
        )
        .await?;
        ctx.output(
            &reviewer,
            &format!("review {round}"),
            round,
            None,
            &format!("{verdict}: {critique}"),
            None,
        )
        .await?;
        ctx.learn(&author, &ctx.input, approved, LearnedFrom::Feedback)
            .await?;
        rounds.push(json!({ "round": round, "verdict": if approved { "approve" } else { "revise" }, "critique": critique }));
        ctx.set_state("reviews", json!(rounds)).await?;
        if approved {
            return Ok(Finish {
                report: draft,
                reason: StopReason::Approved,
            });
        }
    }
    Ok(Finish {
        report: draft,
        reason: StopReason::MaxRounds,
    })
}
