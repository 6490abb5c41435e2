//! Consensus: every member answers the question independently (a short
//! position and the full answer), then sees the others' answers and may
//! revise, round after round, until all positions agree or `max_rounds`
//! is reached. The vote log records each member's position per round, the
//! tally and the outcome. Positions are compared normalised (case,
//! punctuation and spacing ignored).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::agents::{Agent, LearnedFrom};
use crate::crews::engine::{clip, turn, Finish, Flow, RunCtx};
use crate::crews::run::{push_vote_round, RoundOutcome, StopReason, Vote, VoteRound};
use crate::messages::MessageKind;

/// A position as compared: lower case, letters and digits, single spaces.
pub fn normalise(position: &str) -> String {
    position
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Members per normalised position, most first (ties by position).
pub fn tally(votes: &[Vote]) -> Vec<(String, u32)> {
    let mut m: BTreeMap<String, u32> = BTreeMap::new();
    for v in votes {
        *m.entry(normalise(&v.position)).or_default() += 1;
    }
    let mut t: Vec<(String, u32)> = m.into_iter().collect();
    t.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    t
}

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {
            "position": { "type": "string", "minLength": 1, "maxLength": 80 },
            "answer": { "type": "string", "maxLength": 1500 }
        },
        "required": ["position", "answer"]
    })
}

async fn vote(ctx: &RunCtx, agent: &Agent, round: u32, max: u32, previous: &[Vote]) -> Flow<Vote> {
    let mut prompt = format!("Question: {}\nRound {round} of {max}.\n", ctx.input);
    if previous.is_empty() {
        prompt.push_str(
            "Answer independently: give your position as a short label (a few words) and your full answer.",
        );
    } else {
        prompt.push_str("The members' answers in the last round:\n");
        for v in previous {
            let me = if v.agent_id == agent.id { " (you)" } else { "" };
            prompt.push_str(&format!(
                "- {}{me}: [{}] {}\n",
                v.agent_name,
                v.position,
                clip(&v.answer, 2000)
            ));
        }
        prompt.push_str(
            "Consider the others' reasoning. Keep your position if you still hold it, or change it to the one you now find best. \
             Use exactly the same short label as another member when you agree with them.",
        );
    }
    let v = turn::ask(
        ctx,
        agent,
        &format!("vote round {round}"),
        &prompt,
        schema(),
    )
    .await?;
    Ok(Vote {
        agent_id: agent.id.clone(),
        agent_name: agent.name.clone(),
        position: turn::text(&v, "position"),
        answer: turn::text(&v, "answer"),
    })
}

pub(crate) async fn run(ctx: &Arc<RunCtx>) -> Flow<Finish> {
    let members: Vec<Agent> = ctx.members().into_iter().cloned().collect();
    let max = ctx.crew.max_rounds.max(1);
    let mut previous: Vec<Vote> = Vec::new();
    for round in 1..=max {
        // Independent within a round: nobody sees this round's other answers.
        let asks = members.iter().map(|a| vote(ctx, a, round, max, &previous));
        let votes: Vec<Vote> = futures::future::join_all(asks)
            .await
            .into_iter()
            .collect::<Flow<Vec<Vote>>>()?;
        for v in &votes {
            ctx.say(
                Some(&v.agent_id),
                None,
                MessageKind::Response,
                &format!("[{}] {}", v.position, v.answer),
                json!({ "round": round, "position": v.position }),
                None,
            )
            .await?;
            if let Ok(a) = ctx.agent(&v.agent_id) {
                ctx.output(
                    a,
                    &format!("vote {round}"),
                    round,
                    None,
                    &format!("[{}] {}", v.position, v.answer),
                    None,
                )
                .await?;
            }
        }
        let t = tally(&votes);
        let agreed = t.len() == 1;
        let outcome = if agreed {
            RoundOutcome::Consensus
        } else if round == max {
            RoundOutcome::NoConsensus
        } else {
            RoundOutcome::Continue
        };
        let entry = VoteRound {
            round,
            votes: votes.clone(),
            tally: t.clone(),
            agreed,
            outcome,
        };
        let id = ctx.run_id.clone();
        ctx.db(move |c| c.write(|tx| push_vote_round(tx, &id, &entry)))
            .await?;
        let summary = t
            .iter()
            .map(|(p, n)| format!("{p} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        ctx.say(
            None,
            None,
            MessageKind::StatusUpdate,
            &format!("Round {round}: {summary} — {outcome}"),
            json!({ "round": round, "tally": t, "outcome": outcome }),
            None,
        )
        .await?;
        if agreed {
            for a in &members {
                ctx.learn(a, &ctx.input, true, LearnedFrom::Feedback)
                    .await?;
            }
            let answer = votes.first().map(|v| v.answer.clone()).unwrap_or_default();
            let position = votes
                .first()
                .map(|v| v.position.clone())
                .unwrap_or_default();
            return Ok(Finish {
                report: format!(
                    "Consensus after {round} round(s) of {}: {position}\n\n{answer}",
                    members.len()
                ),
                reason: StopReason::Consensus,
            });
        }
        previous = votes;
    }
    let t = tally(&previous);
    let lines: Vec<String> = previous
        .iter()
        .map(|v| {
            format!(
                "- {}: [{}] {}",
                v.agent_name,
                v.position,
                clip(&v.answer, 1000)
            )
        })
        .collect();
    let leading = t
        .first()
        .map(|(p, n)| format!("{p} ({n} of {})", previous.len()))
        .unwrap_or_default();
    Ok(Finish {
        report: format!(
            "No consensus after {max} round(s). Leading position: {leading}.\n{}",
            lines.join("\n")
        ),
        reason: StopReason::NoConsensus,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, p: &str) -> Vote {
        Vote {
            agent_id: name.into(),
            agent_name: name.into(),
            position: p.into(),
            answer: String::new(),
        }
    }

    #[test]
    fn positions_compare_normalised_and_tally_most_first() {
        assert_eq!(normalise("  Go with Rust! "), "go with rust");
        let t = tally(&[v("a", "Rust"), v("b", "rust."), v("c", "Go")]);
        assert_eq!(t, vec![("rust".to_string(), 2), ("go".to_string(), 1)]);
    }
}
