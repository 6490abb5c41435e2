//! What happens to a step: an action is checked, submitted to the agent's
//! autonomy level (manual: recorded as a suggestion; copilot: waits for
//! approval when the tool is consequential; autopilot: runs, the human is
//! told), journaled and run; a final answer is delivered or, when the agent
//! is configured so, first approved. `resume` picks up a run exactly where
//! it stopped — after a park or a crash — using the journal and the inbox.

use crate::agents::Autonomy;
use crate::approvals::{Approval, ApprovalKind, ApprovalStatus};
use crate::error::Result;
use crate::events::{Notice, NoticeKind};
use crate::providers::Usage;
use crate::runs::{self, DecisionKind, NewStep, RunStep, StepAction, ToolCallState};
use crate::tasks::TaskStatus;
use crate::tools::{ToolContext, ToolOutput};

use super::{AgentRuntime, Ctx, Outcome};

fn key(ctx: &Ctx, step: &RunStep) -> String {
    format!("{}:{}", ctx.job.run.id, step.idx)
}

fn parked(status: TaskStatus) -> Result<Option<Outcome>> {
    Ok(Some(Outcome::Parked { status }))
}

/// A tool decided on by the model: validate, record, then obey autonomy.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn act(
    rt: &AgentRuntime,
    ctx: &mut Ctx,
    thought: String,
    tool: String,
    arguments: serde_json::Value,
    call_id: String,
    usage: Usage,
    ms: u64,
) -> Result<Option<Outcome>> {
    let action = StepAction {
        tool: tool.clone(),
        arguments: arguments.clone(),
        call_id,
    };
    if !ctx.tools.iter().any(|t| t.name == tool) {
        let names: Vec<&str> = ctx.tools.iter().map(|t| t.name.as_str()).collect();
        let problem = if names.is_empty() {
            format!("unknown tool '{tool}': you have no tools, finish with an answer")
        } else {
            format!("unknown tool '{tool}'; you may use: {}", names.join(", "))
        };
        return rt
            .repair(ctx, &thought, Some(action), &problem, usage, ms)
            .await;
    }
    if let Err(e) = rt.tools().check(&tool, &arguments) {
        return rt
            .repair(ctx, &thought, Some(action), &e.to_string(), usage, ms)
            .await;
    }
    ctx.repairs = 0;
    let kind = match tool.as_str() {
        "delegate_task" => DecisionKind::Delegate,
        "ask_human" => DecisionKind::Escalate,
        _ if ctx.steps.is_empty() => DecisionKind::Plan,
        _ => DecisionKind::ToolCall,
    };
    let st = rt
        .record(
            ctx,
            NewStep {
                thought: thought.clone(),
                action: Some(action.clone()),
                tokens_in: usage.input_tokens,
                tokens_cached: usage.cached_input_tokens,
                tokens_out: usage.output_tokens,
                duration_ms: ms,
                ..Default::default()
            },
            Some((kind, thought, Some(format!("{tool} {arguments}")), None)),
        )
        .await?;
    decide(rt, ctx, &st, arguments).await
}

/// Applies the agent's autonomy to a recorded, valid action.
async fn decide(
    rt: &AgentRuntime,
    ctx: &mut Ctx,
    st: &RunStep,
    arguments: serde_json::Value,
) -> Result<Option<Outcome>> {
    let Some(action) = st.action.clone() else {
        return Ok(None);
    };
    let def = rt.tools().def(&action.tool).cloned();
    let requires = def.as_ref().is_some_and(|d| d.requires_approval);
    let proposed = serde_json::json!({ "tool": action.tool, "arguments": arguments });
    match rt.autonomy_for(&ctx.job.agent, &action.tool) {
        Autonomy::Manual => {
            rt.request_approval(
                ctx,
                &st.id,
                ApprovalKind::Suggestion,
                format!("{} suggests running {}", ctx.job.agent.name, action.tool),
                proposed,
                None,
            )
            .await?;
            observe(
                rt,
                ctx,
                &st.id,
                "Not executed: you work in manual mode, so this was recorded as a suggestion for a human to carry out. Continue without its result.",
            )
            .await?;
            Ok(None)
        }
        Autonomy::Copilot if requires => {
            let (run_id, step_id, tool, args, k, idem) = (
                ctx.job.run.id.clone(),
                st.id.clone(),
                action.tool.clone(),
                arguments.clone(),
                key(ctx, st),
                def.as_ref().is_some_and(|d| d.idempotent),
            );
            let call = rt
                .core()
                .call(move |c| {
                    c.write(|tx| {
                        runs::journal_intend(
                            tx,
                            Some(&run_id),
                            Some(&step_id),
                            &tool,
                            &args,
                            &k,
                            idem,
                        )
                    })
                })
                .await?;
            rt.request_approval(
                ctx,
                &st.id,
                ApprovalKind::ToolCall,
                format!("{} wants to run {}", ctx.job.agent.name, action.tool),
                proposed,
                Some(call.id),
            )
            .await?;
            parked(TaskStatus::AwaitingApproval)
        }
        autonomy => {
            let out = execute(rt, ctx, st, arguments).await?;
            if autonomy == Autonomy::Autopilot && requires {
                rt.core().events().notify(Notice {
                    kind: NoticeKind::ActedOnAutopilot,
                    title: format!("{} ran {}", ctx.job.agent.name, action.tool),
                    body: format!("On autopilot, for the task '{}'.", ctx.job.task.title),
                    view: "tasks".into(),
                    item_id: Some(ctx.job.task.id.clone()),
                });
            }
            Ok(out)
        }
    }
}

/// Journals and runs a tool call, then records what it observed.
async fn execute(
    rt: &AgentRuntime,
    ctx: &mut Ctx,
    st: &RunStep,
    arguments: serde_json::Value,
) -> Result<Option<Outcome>> {
    let Some(action) = st.action.clone() else {
        return Ok(None);
    };
    let idempotent = rt.tools().def(&action.tool).is_some_and(|d| d.idempotent);
    let k = key(ctx, st);
    let (run_id, step_id, tool, args, k2) = (
        ctx.job.run.id.clone(),
        st.id.clone(),
        action.tool.clone(),
        arguments.clone(),
        k.clone(),
    );
    let call = rt
        .core()
        .call(move |c| {
            let call = c.write(|tx| {
                runs::journal_intend(
                    tx,
                    Some(&run_id),
                    Some(&step_id),
                    &tool,
                    &args,
                    &k2,
                    idempotent,
                )
            })?;
            // Committed on its own, right before the tool starts.
            c.write(|tx| runs::journal_start(tx, &call.id))?;
            Ok(call)
        })
        .await?;
    let tctx = ToolContext {
        core: rt.core().clone(),
        task_id: Some(ctx.job.task.id.clone()),
        run_id: Some(ctx.job.run.id.clone()),
        agent_id: Some(ctx.job.agent.id.clone()),
        crew_id: ctx.job.task.crew_id.clone(),
        by_human: false,
        call_key: Some(k),
        cancel: ctx.cancel.clone(),
    };
    let result = rt.tools().call(&action.tool, arguments, &tctx).await;
    if ctx.cancel.is_cancelled() {
        // Interrupted mid-call: the journal stays `running`; recovery decides.
        return Ok(Some(Outcome::Cancelled));
    }
    let park = result
        .result
        .as_ref()
        .and_then(|o| o.data.as_ref())
        .and_then(|d| d.get("park"))
        .and_then(|p| p.as_str())
        .map(str::to_string);
    let stored = match &result.result {
        Some(out) => serde_json::to_string(out).unwrap_or_default(),
        None => result.error.clone().unwrap_or_default(),
    };
    let observation = observation_of(
        result.success,
        result.result.as_ref(),
        result.error.as_deref(),
    );
    let (call_id, step_id, ok, ms) = (
        call.id.clone(),
        st.id.clone(),
        result.success,
        result.execution_time_ms,
    );
    let obs = observation.clone();
    let parks = park.is_some();
    rt.core()
        .call(move |c| {
            c.write(|tx| {
                runs::journal_finish(tx, &call_id, ok, &stored, ms)?;
                if !parks {
                    runs::set_observation(tx, &step_id, &obs)?;
                }
                Ok(())
            })
        })
        .await?;
    match park.as_deref() {
        Some("delegated") => parked(TaskStatus::Delegated),
        Some("ask_human") => {
            let question = result
                .result
                .as_ref()
                .and_then(|o| o.data.as_ref())
                .and_then(|d| d.get("question"))
                .and_then(|q| q.as_str())
                .unwrap_or("")
                .to_string();
            rt.request_approval(
                ctx,
                &st.id,
                ApprovalKind::AskHuman,
                format!("{} asks: {}", ctx.job.agent.name, clip(&question, 150)),
                serde_json::json!({ "question": question }),
                Some(call.id),
            )
            .await?;
            parked(TaskStatus::WaitingInput)
        }
        _ => {
            if let Some(last) = ctx.steps.iter_mut().find(|s| s.id == st.id) {
                last.observation = Some(observation);
            }
            Ok(None)
        }
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

fn observation_of(ok: bool, out: Option<&ToolOutput>, error: Option<&str>) -> String {
    if ok {
        out.map(|o| o.content.clone()).unwrap_or_default()
    } else {
        format!("Error: {}", error.unwrap_or("the tool failed"))
    }
}

/// Sets a step's observation, in the store and in the context.
async fn observe(rt: &AgentRuntime, ctx: &mut Ctx, step_id: &str, text: &str) -> Result<()> {
    let (id, t) = (step_id.to_string(), text.to_string());
    rt.core()
        .call(move |c| c.write(|tx| runs::set_observation(tx, &id, &t)))
        .await?;
    if let Some(s) = ctx.steps.iter_mut().find(|s| s.id == step_id) {
        s.observation = Some(text.to_string());
    }
    Ok(())
}

/// A final answer: delivered, or first approved when the agent asks for it.
pub(crate) async fn finish(
    rt: &AgentRuntime,
    ctx: &mut Ctx,
    thought: String,
    answer: String,
    confidence: Option<f64>,
    usage: Usage,
    ms: u64,
) -> Result<Option<Outcome>> {
    if answer.trim().is_empty() {
        return rt
            .repair(ctx, &thought, None, "the final answer is empty", usage, ms)
            .await;
    }
    ctx.repairs = 0;
    let gated = ctx.job.agent.autonomy == Autonomy::Copilot && ctx.job.agent.approve_final_output;
    let st = rt
        .record(
            ctx,
            NewStep {
                thought: thought.clone(),
                is_final: !gated,
                final_answer: Some(answer.clone()),
                tokens_in: usage.input_tokens,
                tokens_cached: usage.cached_input_tokens,
                tokens_out: usage.output_tokens,
                duration_ms: ms,
                ..Default::default()
            },
            Some((DecisionKind::Complete, thought, None, confidence)),
        )
        .await?;
    if gated {
        rt.request_approval(
            ctx,
            &st.id,
            ApprovalKind::FinalOutput,
            format!(
                "{} finished '{}'",
                ctx.job.agent.name,
                clip(&ctx.job.task.title, 80)
            ),
            serde_json::json!({ "answer": answer }),
            None,
        )
        .await?;
        return parked(TaskStatus::AwaitingApproval);
    }
    Ok(Some(Outcome::Completed {
        output: answer,
        confidence,
    }))
}

async fn approval_for(rt: &AgentRuntime, step_id: &str) -> Result<Option<Approval>> {
    let id = step_id.to_string();
    rt.core()
        .call(move |c| c.read(|conn| crate::approvals::approval_for_step(conn, &id)))
        .await
}

fn comment_of(a: &Approval) -> String {
    a.comment
        .clone()
        .filter(|c| !c.trim().is_empty())
        .map(|c| format!(": {c}"))
        .unwrap_or_default()
}

/// Continues a run that stopped on an open step (parked or interrupted).
/// Returns an outcome when the run must stop again (or is done).
pub(crate) async fn resume(rt: &AgentRuntime, ctx: &mut Ctx) -> Result<Option<Outcome>> {
    let Some(last) = ctx.steps.last().cloned() else {
        return Ok(None);
    };
    if last.is_final {
        return Ok(Some(Outcome::Completed {
            output: last.final_answer.unwrap_or_default(),
            confidence: None,
        }));
    }
    if last.observation.is_some() {
        return Ok(None);
    }
    match last.action.clone() {
        None => match last.final_answer.clone() {
            Some(answer) => resume_final(rt, ctx, &last, answer).await,
            None => Ok(None),
        },
        Some(action) => resume_action(rt, ctx, &last, action).await,
    }
}

async fn resume_final(
    rt: &AgentRuntime,
    ctx: &mut Ctx,
    st: &RunStep,
    answer: String,
) -> Result<Option<Outcome>> {
    let Some(a) = approval_for(rt, &st.id).await? else {
        return Ok(Some(Outcome::Completed {
            output: answer,
            confidence: None,
        }));
    };
    match a.status {
        ApprovalStatus::Pending => parked(TaskStatus::AwaitingApproval),
        ApprovalStatus::Approved | ApprovalStatus::Edited => {
            let output = a
                .edited_action
                .as_ref()
                .filter(|_| a.status == ApprovalStatus::Edited)
                .map(|e| {
                    e.get("answer")
                        .and_then(|x| x.as_str())
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string())
                })
                .unwrap_or(answer);
            let id = st.id.clone();
            let out = output.clone();
            rt.core().call(move |c| {
                c.write(|tx| {
                    tx.execute(
                        "UPDATE run_steps SET is_final = 1, final_answer = ?2, observation = 'Approved by the human.' WHERE id = ?1",
                        rusqlite::params![id, out],
                    )?;
                    Ok(())
                })
            })
            .await?;
            Ok(Some(Outcome::Completed {
                output,
                confidence: None,
            }))
        }
        ApprovalStatus::Rejected | ApprovalStatus::Expired => {
            let text = format!(
                "The human rejected this answer{}. Revise it and finish again.",
                comment_of(&a)
            );
            observe(rt, ctx, &st.id, &text).await?;
            Ok(None)
        }
    }
}

async fn resume_action(
    rt: &AgentRuntime,
    ctx: &mut Ctx,
    st: &RunStep,
    action: StepAction,
) -> Result<Option<Outcome>> {
    let k = key(ctx, st);
    let k2 = k.clone();
    let call = rt.core().call(move |c| c.runs().tool_call(&k2)).await?;
    let approval = approval_for(rt, &st.id).await?;
    let idempotent = rt.tools().def(&action.tool).is_some_and(|d| d.idempotent);
    match (call.as_ref().map(|c| c.state), approval) {
        // The manual-mode suggestion was already answered as an observation;
        // an open step with a suggestion only happens after a crash.
        (_, Some(a)) if a.kind == ApprovalKind::Suggestion => {
            observe(
                rt,
                ctx,
                &st.id,
                "Not executed: recorded as a suggestion for a human.",
            )
            .await?;
            Ok(None)
        }
        // Waiting for a decision.
        (_, Some(a)) if a.status == ApprovalStatus::Pending => parked(match a.kind {
            ApprovalKind::AskHuman => TaskStatus::WaitingInput,
            _ => TaskStatus::AwaitingApproval,
        }),
        // A question answered (or not) by the human.
        (Some(ToolCallState::Succeeded), Some(a)) if a.kind == ApprovalKind::AskHuman => {
            let text = match a.status {
                ApprovalStatus::Approved | ApprovalStatus::Edited => {
                    let answer = a
                        .edited_action
                        .as_ref()
                        .and_then(|e| e.get("answer").and_then(|x| x.as_str()).map(str::to_string))
                        .or(a.comment.clone())
                        .unwrap_or_else(|| "yes".into());
                    format!("The human answered: {answer}")
                }
                _ => format!("The human did not answer ({}){}.", a.status, comment_of(&a)),
            };
            observe(rt, ctx, &st.id, &text).await?;
            Ok(None)
        }
        // Subtasks: wait until they are all done, then observe their outputs.
        (Some(ToolCallState::Succeeded), _) if action.tool == "delegate_task" => {
            let (parent, key) = (ctx.job.task.id.clone(), k.clone());
            let subs = rt
                .core()
                .call(move |c| c.subtasks_of_call(&parent, &key))
                .await?;
            if subs.iter().any(|s| !s.status.is_final()) {
                return parked(TaskStatus::Delegated);
            }
            let text = subs
                .iter()
                .map(|s| match s.status {
                    TaskStatus::Completed => format!(
                        "Subtask '{}' is done. Its output:\n{}",
                        s.title,
                        s.output.clone().unwrap_or_default()
                    ),
                    other => format!(
                        "Subtask '{}' ended {other}: {}",
                        s.title,
                        s.error.clone().unwrap_or_default()
                    ),
                })
                .collect::<Vec<_>>()
                .join("\n\n");
            observe(rt, ctx, &st.id, &text).await?;
            Ok(None)
        }
        // Finished before the observation was saved: take it from the journal.
        (Some(ToolCallState::Succeeded | ToolCallState::Failed), _) => {
            let Some(c) = call else { return Ok(None) };
            let text = if c.state == ToolCallState::Succeeded {
                c.result
                    .as_deref()
                    .and_then(|r| serde_json::from_str::<ToolOutput>(r).ok())
                    .map(|o| o.content)
                    .unwrap_or_else(|| c.result.clone().unwrap_or_default())
            } else {
                format!("Error: {}", c.error.clone().unwrap_or_default())
            };
            observe(rt, ctx, &st.id, &text).await?;
            Ok(None)
        }
        // Decided approval of a consequential call (or of an ambiguous one).
        (state, Some(a)) => match a.status {
            ApprovalStatus::Approved | ApprovalStatus::Edited => {
                let args = a
                    .edited_action
                    .as_ref()
                    .filter(|_| a.status == ApprovalStatus::Edited)
                    .and_then(|e| e.get("arguments").cloned())
                    .unwrap_or(action.arguments.clone());
                if a.status == ApprovalStatus::Edited {
                    if let Err(e) = rt.tools().check(&action.tool, &args) {
                        let text = format!("Error: the human's edited arguments are invalid ({e}). Nothing was run.");
                        observe(rt, ctx, &st.id, &text).await?;
                        return Ok(None);
                    }
                }
                if let (Some(ToolCallState::Ambiguous | ToolCallState::Running), Some(c)) =
                    (state, &call)
                {
                    let id = c.id.clone();
                    rt.core()
                        .call(move |co| {
                            co.write(|tx| {
                                tx.execute(
                                    "UPDATE tool_calls SET state = 'intended' WHERE id = ?1",
                                    [&id],
                                )?;
                                Ok(())
                            })
                        })
                        .await?;
                }
                execute(rt, ctx, st, args).await
            }
            _ => {
                if let Some(c) = &call {
                    let id = c.id.clone();
                    let why = format!("not run: the human {} it", a.status);
                    rt.core()
                        .call(move |co| co.write(|tx| runs::journal_abandon(tx, &id, &why)))
                        .await?;
                }
                let text = if a.kind == ApprovalKind::AmbiguousToolCall {
                    format!("This action was interrupted and the human chose not to repeat it{}. Continue without it.", comment_of(&a))
                } else {
                    format!(
                        "The human rejected this action{}. Do something else or finish.",
                        comment_of(&a)
                    )
                };
                observe(rt, ctx, &st.id, &text).await?;
                Ok(None)
            }
        },
        // Interrupted while running: repeat only what is safe to repeat.
        (Some(ToolCallState::Running | ToolCallState::Ambiguous), None) => {
            let Some(c) = call else { return Ok(None) };
            if idempotent {
                let id = c.id.clone();
                rt.core()
                    .call(move |co| {
                        co.write(|tx| {
                            tx.execute(
                                "UPDATE tool_calls SET state = 'intended' WHERE id = ?1",
                                [&id],
                            )?;
                            Ok(())
                        })
                    })
                    .await?;
                return execute(rt, ctx, st, action.arguments.clone()).await;
            }
            let id = c.id.clone();
            rt.core()
                .call(move |co| {
                    co.write(|tx| {
                        tx.execute(
                        "UPDATE tool_calls SET state = 'ambiguous', updated_at = ?2 WHERE id = ?1",
                        rusqlite::params![id, crate::time::now_sql()],
                    )?;
                        Ok(())
                    })
                })
                .await?;
            rt.request_approval(
                ctx,
                &st.id,
                ApprovalKind::AmbiguousToolCall,
                format!("Did '{}' happen? It was interrupted", action.tool),
                serde_json::json!({ "tool": action.tool, "arguments": action.arguments, "note": "Ensemble stopped while this ran. Approve to run it again; reject to continue without repeating it." }),
                Some(c.id.clone()),
            )
            .await?;
            parked(TaskStatus::AwaitingApproval)
        }
        // Never started (or journaled only): run it, under the same autonomy rules.
        (None | Some(ToolCallState::Intended), None) => {
            decide(rt, ctx, st, action.arguments.clone()).await
        }
    }
}
