//! Members' work as tasks on the orchestrator's queue, and escalation.
//!
//! Each piece of work is a task assigned to the member, linked to the crew
//! and the run, with the run's remaining token and cost budget as its own
//! caps (so a cap also stops work under way). The engine waits for the
//! tasks, watching the budget and the stop flag; the run shows `waiting`
//! while a task waits for a human's approval.
//!
//! Work that fails is escalated: first to the member's supervisor in the
//! crew (a `supervises` / `reports_to` relationship, else the crew's
//! manager), who may resolve it with an answer; if there is none or it
//! passes it on, to a human as an escalation in the approval inbox. The
//! human approves (go on without this output), edits (supplies the
//! answer) or rejects (the run stops).

use std::time::Instant;

use serde_json::{json, Value};

use super::{clip, turn, Flow, Halt, RunCtx, CLIP};
use crate::agents::{Agent, LearnedFrom};
use crate::approvals::{Approval, ApprovalKind, ApprovalStatus, NewApproval};
use crate::crews::run::{CrewRunStatus, StopReason};
use crate::events::Entity;
use crate::messages::MessageKind;
use crate::tasks::{insert_task, NewTask, Task, TaskLinks, TaskStatus, TaskType};
use crate::Id;

/// One piece of work for one member.
#[derive(Debug, Clone)]
pub(crate) struct WorkSpec {
    pub agent_id: Id,
    pub title: String,
    pub objective: String,
    pub capabilities: Vec<String>,
    pub task_type: TaskType,
}

/// What came of it.
#[derive(Debug, Clone)]
pub(crate) struct WorkResult {
    pub task: Task,
    pub output: String,
    pub confidence: Option<f64>,
    /// The output came from an escalation (supervisor or human), not the member.
    pub escalated: bool,
}

/// Queues every piece of work at once (they run in parallel within the
/// scheduler's limits) and waits for all of them.
pub(crate) async fn work_all(ctx: &RunCtx, specs: Vec<WorkSpec>) -> Flow<Vec<WorkResult>> {
    ctx.check().await?;
    let max_tokens = ctx.tokens_left().await?;
    let max_cost = ctx.cost_left().await?;
    let (crew_id, run_id) = (ctx.crew.id.clone(), ctx.run_id.clone());
    let new: Vec<NewTask> = specs
        .iter()
        .map(|s| NewTask {
            title: clip(&s.title, 190),
            objective: Some(clip(&s.objective, CLIP * 2)),
            task_type: Some(s.task_type),
            crew_id: Some(crew_id.clone()),
            assigned_agent_id: Some(s.agent_id.clone()),
            required_capabilities: Some(s.capabilities.clone()),
            max_tokens,
            max_cost,
            ..Default::default()
        })
        .collect();
    let tasks: Vec<Task> = ctx
        .db(move |c| {
            c.write(|tx| {
                let links = TaskLinks {
                    crew_run_id: Some(run_id.clone()),
                    ..Default::default()
                };
                new.iter().map(|t| insert_task(tx, t, &links)).collect()
            })
        })
        .await?;
    let ids: Vec<Id> = tasks.iter().map(|t| t.id.clone()).collect();
    let done = wait_tasks(ctx, &ids).await?;
    let mut out = Vec::with_capacity(done.len());
    for (spec, task) in specs.into_iter().zip(done) {
        let agent = ctx.agent(&spec.agent_id)?.clone();
        let about = format!("{} {}", spec.title, spec.objective);
        // Work with required capabilities already teaches those skills when
        // its task ends (the orchestrator records it); the rest learns here.
        let practice = spec.capabilities.is_empty();
        if task.status == TaskStatus::Completed {
            if practice {
                ctx.learn(&agent, &about, true, LearnedFrom::Practice)
                    .await?;
            }
            out.push(WorkResult {
                output: task.output.clone().unwrap_or_default(),
                confidence: task.confidence,
                task,
                escalated: false,
            });
            continue;
        }
        // A cap or a stop request explains the failure better than the task does.
        ctx.check().await?;
        if practice {
            ctx.learn(&agent, &about, false, LearnedFrom::Practice)
                .await?;
        }
        let problem = format!(
            "'{}' {}: {}",
            task.title,
            task.status,
            task.error
                .clone()
                .unwrap_or_else(|| "no reason given".into())
        );
        let answer = escalate(
            ctx,
            &agent,
            &problem,
            json!({ "task_id": task.id, "objective": spec.objective }),
        )
        .await?;
        out.push(WorkResult {
            output: answer,
            confidence: None,
            task,
            escalated: true,
        });
    }
    Ok(out)
}

/// One piece of work.
pub(crate) async fn work(ctx: &RunCtx, spec: WorkSpec) -> Flow<WorkResult> {
    work_all(ctx, vec![spec])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Halt::Fail("no work result".into()))
}

/// Waits until every task is final, checking the budget and the stop flag.
pub(crate) async fn wait_tasks(ctx: &RunCtx, ids: &[Id]) -> Flow<Vec<Task>> {
    let mut rx = ctx.core.events().subscribe();
    let mut waiting_shown = false;
    loop {
        let list = ids.to_vec();
        let tasks: Vec<Task> = ctx
            .db(move |c| list.iter().map(|i| c.tasks().get(i)).collect())
            .await?;
        if tasks.iter().all(|t| t.status.is_final()) {
            if waiting_shown {
                ctx.set_status(CrewRunStatus::Running).await?;
            }
            return Ok(tasks);
        }
        ctx.check().await?;
        let waiting = tasks.iter().any(|t| {
            matches!(
                t.status,
                TaskStatus::AwaitingApproval | TaskStatus::WaitingInput
            )
        });
        if waiting != waiting_shown {
            ctx.set_status(if waiting {
                CrewRunStatus::Waiting
            } else {
                CrewRunStatus::Running
            })
            .await?;
            waiting_shown = waiting;
        }
        ctx.pause(&mut rx, Entity::Task).await;
    }
}

/// The member's supervisor in the crew: a relationship, else the manager.
async fn supervisor(ctx: &RunCtx, agent: &Agent) -> Flow<Option<Id>> {
    let (crew, id) = (ctx.crew.id.clone(), agent.id.clone());
    let sup = ctx.db(move |c| c.crews().supervisor_of(&crew, &id)).await?;
    let sup = sup.or_else(|| ctx.crew.manager_agent_id.clone());
    Ok(sup.filter(|s| *s != agent.id && ctx.agents.contains_key(s)))
}

/// Escalates a problem with `agent`'s work; returns the answer that replaces
/// its output, or stops the run when a human rejects.
pub(crate) async fn escalate(
    ctx: &RunCtx,
    agent: &Agent,
    problem: &str,
    context: Value,
) -> Flow<String> {
    let mut from = agent.id.clone();
    if let Some(sup_id) = supervisor(ctx, agent).await? {
        let sup = ctx.agent(&sup_id)?.clone();
        ctx.say(
            Some(&agent.id),
            Some(&sup.id),
            MessageKind::Escalation,
            &format!("I could not finish my part: {problem}"),
            context.clone(),
            None,
        )
        .await?;
        let prompt = format!(
            "{} ({}) escalated a problem to you as their supervisor.\nProblem: {problem}\nThe crew's request: {}\n\n\
             Either resolve it — give the answer their part should have produced — or escalate it to a human.",
            agent.name,
            ctx.role_of(agent),
            ctx.input
        );
        let v = turn::ask(
            ctx,
            &sup,
            "escalation",
            &prompt,
            json!({
                "type": "object",
                "properties": {
                    "decision": { "enum": ["resolve", "escalate"] },
                    "answer": { "type": "string", "maxLength": 2000 },
                    "reason": { "type": "string", "maxLength": 300 }
                },
                "required": ["decision", "answer", "reason"]
            }),
        )
        .await?;
        let answer = turn::text(&v, "answer");
        if turn::text(&v, "decision") == "resolve" && !answer.is_empty() {
            ctx.say(
                Some(&sup.id),
                Some(&agent.id),
                MessageKind::Response,
                &format!("Resolved: {answer}"),
                json!({ "reason": turn::text(&v, "reason") }),
                None,
            )
            .await?;
            ctx.output(
                &sup,
                &format!("resolution for {}", agent.name),
                0,
                None,
                &answer,
                None,
            )
            .await?;
            return Ok(answer);
        }
        from = sup.id.clone();
        let reason = turn::text(&v, "reason");
        ctx.say(
            Some(&sup.id),
            None,
            MessageKind::Escalation,
            &format!(
                "Escalating to a human: {}",
                if reason.is_empty() { problem } else { &reason }
            ),
            context.clone(),
            None,
        )
        .await?;
    }
    human(ctx, agent, &from, problem, context).await
}

async fn human(
    ctx: &RunCtx,
    agent: &Agent,
    from: &str,
    problem: &str,
    context: Value,
) -> Flow<String> {
    let input = NewApproval {
        title: clip(
            &format!("Crew {}: {} needs a human", ctx.crew.name, agent.name),
            190,
        ),
        kind: Some(ApprovalKind::Escalation),
        proposed_action: json!({
            "problem": problem,
            "agent": agent.name,
            "request": clip(&ctx.input, 2000),
            "context": context,
            "answer": "",
            "how": "Approve to go on without this output, edit \"answer\" to supply it, or reject to stop the run."
        }),
        agent_id: Some(agent.id.clone()),
        crew_run_id: Some(ctx.run_id.clone()),
        ..Default::default()
    };
    let approval = ctx.db(move |c| c.approvals().create(input)).await?;
    ctx.say(
        Some(from),
        None,
        MessageKind::Escalation,
        &format!("Escalated to a human (approval inbox): {problem}"),
        json!({ "approval_id": approval.id }),
        None,
    )
    .await?;
    ctx.set_status(CrewRunStatus::Waiting).await?;
    let decided = wait_approval(ctx, &approval.id).await?;
    ctx.set_status(CrewRunStatus::Running).await?;
    let comment = decided.comment.clone().unwrap_or_default();
    let outcome = match decided.status {
        ApprovalStatus::Approved => Ok(String::new()),
        ApprovalStatus::Edited => {
            let edited = decided.edited_action.clone().unwrap_or(Value::Null);
            let answer = match &edited {
                Value::String(s) => s.clone(),
                v => v
                    .get("answer")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            };
            Ok(answer)
        }
        other => Err(Halt::Stop {
            reason: StopReason::RejectedByHuman,
            detail: format!(
                "the escalation about {} was {other}{}",
                agent.name,
                if comment.is_empty() {
                    String::new()
                } else {
                    format!(": {comment}")
                }
            ),
        }),
    };
    let note = match &outcome {
        Ok(a) if a.is_empty() => "A human approved going on without this output.".to_string(),
        Ok(a) => format!("A human supplied the answer: {a}"),
        Err(_) => format!("A human {} the escalation; the run stops.", decided.status),
    };
    ctx.say(
        None,
        Some(&agent.id),
        MessageKind::Response,
        &note,
        json!({ "approval_id": decided.id, "comment": comment }),
        None,
    )
    .await?;
    outcome
}

/// Waits for a human's decision. The wall-time cap does not run meanwhile;
/// a stop request still ends the wait. An expired request counts as rejected.
async fn wait_approval(ctx: &RunCtx, id: &str) -> Flow<Approval> {
    let started = Instant::now();
    let mut rx = ctx.core.events().subscribe();
    let result = loop {
        let aid = id.to_string();
        let a = ctx.db(move |c| c.approvals().get(&aid)).await?;
        if a.status != ApprovalStatus::Pending {
            break Ok(a);
        }
        if a.expires_at <= crate::time::now() {
            ctx.db(|c| c.approvals().expire()).await?;
            continue;
        }
        if ctx.cancel.is_cancelled() {
            break Err(super::stopped_by_user());
        }
        let rid = ctx.run_id.clone();
        let requested: bool = ctx
            .db(move |c| {
                c.read(|conn| {
                    Ok(conn.query_row(
                        "SELECT stop_requested FROM crew_runs WHERE id = ?1",
                        [&rid],
                        |r| r.get(0),
                    )?)
                })
            })
            .await?;
        if requested {
            break Err(super::stopped_by_user());
        }
        ctx.pause(&mut rx, Entity::Approval).await;
    };
    ctx.add_paused(started.elapsed());
    result
}
