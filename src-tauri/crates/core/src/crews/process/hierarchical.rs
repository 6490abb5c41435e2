//! Hierarchical: the manager plans — it splits the request into subtasks,
//! each with the capabilities it needs (structured output) — and delegates
//! each subtask to the member the expert gate ranks best for those
//! capabilities, as a task on the orchestrator's queue. It reviews every
//! result and may send it back with feedback (up to `max_rounds` tries per
//! subtask), then writes the final report from the accepted results.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::agents::{Agent, LearnedFrom};
use crate::crews::engine::work::{work, work_all, WorkResult, WorkSpec};
use crate::crews::engine::{clip, turn, Finish, Flow, Halt, RunCtx, CLIP};
use crate::crews::gate::{self, Candidate};
use crate::crews::run::StopReason;
use crate::messages::MessageKind;
use crate::tasks::TaskType;

/// Most subtasks one plan may have.
const MAX_SUBTASKS: usize = 6;

#[derive(Debug, Clone)]
struct Subtask {
    title: String,
    objective: String,
    capabilities: Vec<String>,
}

/// The plan's schema. Capabilities must be ones the team has (an enum), so
/// even a small model plans work someone can take.
fn plan_schema(team_caps: &[String]) -> Value {
    let cap = if team_caps.is_empty() {
        json!({ "type": "string", "maxLength": 64 })
    } else {
        json!({ "enum": team_caps })
    };
    json!({
        "type": "object",
        "properties": {
            "subtasks": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_SUBTASKS,
                "items": {
                    "type": "object",
                    "properties": {
                        "title": { "type": "string", "minLength": 1, "maxLength": 80 },
                        "objective": { "type": "string", "maxLength": 400 },
                        "capabilities": { "type": "array", "maxItems": 3, "items": cap }
                    },
                    "required": ["title", "objective", "capabilities"]
                }
            }
        },
        "required": ["subtasks"]
    })
}

fn parse_plan(v: &Value) -> Vec<Subtask> {
    v.get("subtasks")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .take(MAX_SUBTASKS)
                .map(|s| Subtask {
                    title: turn::text(s, "title"),
                    objective: turn::text(s, "objective"),
                    capabilities: s
                        .get("capabilities")
                        .and_then(Value::as_array)
                        .map(|c| {
                            c.iter()
                                .filter_map(Value::as_str)
                                .map(|x| x.trim().to_lowercase().replace(' ', "_"))
                                .filter(|x| !x.is_empty() && x.len() <= 64)
                                .take(8)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .filter(|s| !s.title.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn run(ctx: &Arc<RunCtx>) -> Flow<Finish> {
    let manager_id = ctx
        .crew
        .manager_agent_id
        .clone()
        .ok_or_else(|| Halt::Fail("a hierarchical crew needs a manager".into()))?;
    let manager = ctx.agent(&manager_id)?.clone();
    let workers: Vec<Agent> = ctx
        .members()
        .into_iter()
        .filter(|a| a.id != manager.id)
        .cloned()
        .collect();
    let roster: Vec<String> = workers
        .iter()
        .map(|a| {
            format!(
                "- {} ({}): {}",
                a.name,
                ctx.role_of(a),
                a.capabilities.join(", ")
            )
        })
        .collect();

    // 1. Plan.
    let prompt = format!(
        "Plan the work for this request: {}\nYour team:\n{}\n\
         Split it into concrete subtasks (at most {MAX_SUBTASKS}), each with a title, an objective and the capabilities it needs \
         (use the team's capability names).",
        ctx.input,
        roster.join("\n")
    );
    let mut team_caps: Vec<String> = workers
        .iter()
        .flat_map(|a| a.capabilities.iter().cloned())
        .collect();
    team_caps.sort();
    team_caps.dedup();
    let plan =
        parse_plan(&turn::ask(ctx, &manager, "plan", &prompt, plan_schema(&team_caps)).await?);
    if plan.is_empty() {
        return Err(Halt::Fail(format!("{} planned no subtask", manager.name)));
    }
    let listing: Vec<String> = plan
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}", i + 1, s.title))
        .collect();
    let plan_json: Vec<Value> = plan
        .iter()
        .map(|s| json!({ "title": s.title, "objective": s.objective, "capabilities": s.capabilities }))
        .collect();
    ctx.say(
        Some(&manager.id),
        None,
        MessageKind::StatusUpdate,
        &format!("Plan:\n{}", listing.join("\n")),
        json!({ "plan": plan_json }),
        None,
    )
    .await?;

    // 2. Delegate by capability.
    let load = ctx.loads().await?;
    let mut assigned: Vec<(Subtask, Agent)> = Vec::new();
    let mut routing = Vec::new();
    for s in &plan {
        let cands: Vec<Candidate<'_>> = workers
            .iter()
            .map(|a| Candidate {
                agent: a,
                load: load.get(&a.id).copied().unwrap_or(0),
            })
            .collect();
        let ranking = gate::score_all(
            &format!("{} {}", s.title, s.objective),
            &s.capabilities,
            &cands,
        );
        let best = ranking
            .first()
            .and_then(|b| workers.iter().find(|a| a.id == b.agent_id))
            .ok_or_else(|| Halt::Fail("no member can take the subtasks".into()))?
            .clone();
        routing.push(json!({ "subtask": s.title, "agent": best.name, "scores": ranking }));
        ctx.say(
            Some(&manager.id),
            Some(&best.id),
            MessageKind::Request,
            &format!("Subtask for you: {} — {}", s.title, s.objective),
            json!({ "subtask": s.title, "capabilities": s.capabilities }),
            None,
        )
        .await?;
        assigned.push((s.clone(), best));
    }
    ctx.set_state(
        "plan",
        json!({ "subtasks": plan_json, "delegation": routing }),
    )
    .await?;
    let specs: Vec<WorkSpec> = assigned
        .iter()
        .map(|(s, a)| spec(ctx, s, a, &manager, None))
        .collect();
    let results = work_all(ctx, specs).await?;

    // 3. Review, sending back what is not good enough.
    let mut accepted: Vec<(Subtask, Agent, String)> = Vec::new();
    for ((s, agent), mut res) in assigned.into_iter().zip(results) {
        let mut attempt = 1;
        loop {
            report_back(ctx, &agent, &manager, &s, &res).await?;
            ctx.output(
                &agent,
                &format!("subtask: {}", s.title),
                attempt,
                Some(&res.task.id),
                &res.output,
                res.confidence,
            )
            .await?;
            let prompt = format!(
                "Review the result of the subtask \"{}\" (objective: {}) by {}, try {attempt} of {}.\nResult:\n---\n{}\n---\n\
                 Accept it if it does the subtask; otherwise send it back with feedback on what to change.",
                s.title,
                s.objective,
                agent.name,
                ctx.crew.max_rounds,
                clip(&res.output, CLIP)
            );
            let v = turn::ask(
                ctx,
                &manager,
                "review",
                &prompt,
                json!({
                    "type": "object",
                    "properties": {
                        "verdict": { "enum": ["accept", "revise"] },
                        "feedback": { "type": "string", "maxLength": 1000 }
                    },
                    "required": ["verdict", "feedback"]
                }),
            )
            .await?;
            let accept = turn::text(&v, "verdict") == "accept";
            let feedback = turn::text(&v, "feedback");
            ctx.learn(
                &agent,
                &format!("{} {}", s.title, s.capabilities.join(" ")),
                accept,
                LearnedFrom::Feedback,
            )
            .await?;
            if accept || attempt >= ctx.crew.max_rounds {
                ctx.say(
                    Some(&manager.id),
                    Some(&agent.id),
                    MessageKind::Response,
                    &format!(
                        "{}: {}",
                        if accept { "Accepted" } else { "Kept after the last try" },
                        if feedback.is_empty() { "thank you" } else { &feedback }
                    ),
                    json!({ "subtask": s.title, "verdict": if accept { "accept" } else { "revise" }, "try": attempt }),
                    None,
                )
                .await?;
                break;
            }
            ctx.say(
                Some(&manager.id),
                Some(&agent.id),
                MessageKind::Request,
                &format!("Sent back: {feedback}"),
                json!({ "subtask": s.title, "verdict": "revise", "try": attempt, "previous": clip(&res.output, CLIP) }),
                None,
            )
            .await?;
            attempt += 1;
            res = work(
                ctx,
                spec(
                    ctx,
                    &s,
                    &agent,
                    &manager,
                    Some((&res.output, &feedback, attempt)),
                ),
            )
            .await?;
        }
        accepted.push((s, agent, res.output));
    }

    // 4. Report.
    let results: Vec<String> = accepted
        .iter()
        .map(|(s, a, out)| format!("## {} (by {})\n{}", s.title, a.name, clip(out, CLIP / 2)))
        .collect();
    let prompt = format!(
        "Write the final report for the request: {}\nThe accepted results of your team:\n\n{}",
        ctx.input,
        results.join("\n\n")
    );
    let v = turn::ask(
        ctx,
        &manager,
        "report",
        &prompt,
        json!({
            "type": "object",
            "properties": { "report": { "type": "string", "minLength": 1, "maxLength": 6000 } },
            "required": ["report"]
        }),
    )
    .await?;
    let report = turn::text(&v, "report");
    ctx.say(
        Some(&manager.id),
        None,
        MessageKind::Response,
        &report,
        json!({ "final_report": true }),
        None,
    )
    .await?;
    ctx.output(&manager, "report", 0, None, &report, None)
        .await?;
    Ok(Finish {
        report,
        reason: StopReason::Completed,
    })
}

fn spec(
    ctx: &RunCtx,
    s: &Subtask,
    agent: &Agent,
    manager: &Agent,
    again: Option<(&str, &str, u32)>,
) -> WorkSpec {
    let mut objective = format!(
        "{}\nYour part: {} in this crew. {} gave you this subtask of the request \"{}\".\nSubtask: {}\n{}",
        ctx.brief(),
        ctx.role_of(agent),
        manager.name,
        ctx.input.trim(),
        s.title,
        s.objective
    );
    let mut title = format!("{} · {}", ctx.crew.name, s.title);
    if let Some((previous, feedback, attempt)) = again {
        objective.push_str(&format!(
            "\n\n{} sent your previous result back.\nYour previous result:\n---\n{}\n---\nFeedback:\n---\n{}\n---\nRedo the subtask addressing the feedback.",
            manager.name,
            clip(previous, CLIP),
            feedback
        ));
        title = format!("{title} (try {attempt})");
    }
    WorkSpec {
        agent_id: agent.id.clone(),
        title,
        objective,
        capabilities: s.capabilities.clone(),
        task_type: TaskType::Execute,
    }
}

async fn report_back(
    ctx: &RunCtx,
    agent: &Agent,
    manager: &Agent,
    s: &Subtask,
    res: &WorkResult,
) -> Flow<()> {
    ctx.say(
        Some(&agent.id),
        Some(&manager.id),
        MessageKind::Response,
        &res.output,
        json!({ "subtask": s.title, "task_id": res.task.id, "escalated": res.escalated }),
        Some((&res.task.id, false)),
    )
    .await?;
    Ok(())
}
