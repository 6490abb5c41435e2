//! The agent runtime with a scripted model: a multi-step tool run, invalid
//! arguments repaired, an unknown tool answered with an error observation,
//! max_steps, the three autonomy levels, approve / edit / reject / expire, a
//! pending approval surviving a restart, the tool-call journal deciding
//! what an interrupted call becomes, and token / cost caps stopping a run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/orch.rs"]
mod orch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::approvals::{ApprovalKind, ApprovalStatus, Decision, Verdict};
use ensemble_core::events::NoticeKind;
use ensemble_core::orchestrator::Orchestrator;
use ensemble_core::providers::{ChatRequest, Role};
use ensemble_core::runs::ToolCallState;
use ensemble_core::runtime::AgentRuntime;
use ensemble_core::tasks::{NewTask, TaskStatus};
use ensemble_core::Paging;
use ensemble_llm::scripted::{Reply, ScriptedProvider};
use orch::{fast_config, Env};
use serde_json::json;

const LONG: Duration = Duration::from_secs(20);

/// How many tool results the agent has seen so far in this request.
fn observed(req: &ChatRequest) -> Vec<String> {
    req.messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.clone())
        .collect()
}

fn worker(env: &Env, autonomy: Autonomy, tools: &[&str]) -> String {
    env.core
        .agents()
        .create(AgentInput {
            name: Some("Doer".into()),
            system_prompt: Some("You are Doer.".into()),
            allowed_tools: Some(tools.iter().map(|t| t.to_string()).collect()),
            autonomy: Some(autonomy),
            max_steps: Some(6),
            ..Default::default()
        })
        .unwrap()
        .id
}

fn lines(env: &Env, file: &str) -> Vec<String> {
    std::fs::read_to_string(env.dir.path().join(file))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_step_run_with_a_repair_and_an_unknown_tool() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |req, _| {
        let obs = observed(req);
        match obs.len() {
            0 => Reply::tool_call("test_sleep", json!({"ms": "ten"})),
            1 => Reply::tool_call("teleport", json!({})),
            2 => Reply::tool_call("test_sleep", json!({"ms": 10})),
            3 => Reply::tool_call("test_append", json!({"file": "log.txt", "line": "hello"})),
            _ => Reply::text(&format!("Done after: {}", obs.join(" | "))),
        }
    }));
    let a = worker(&env, Autonomy::Autopilot, &["test_sleep", "test_append"]);
    let t = env.task_for(&a, "steps");
    env.start();
    let done = env.wait_final(std::slice::from_ref(&t), LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    let trace = &env.core.runs().of_task(&t).unwrap()[0];
    let obs: Vec<&str> = trace
        .steps
        .iter()
        .map(|s| s.observation.as_deref().unwrap_or(""))
        .collect();
    assert!(
        obs[0].starts_with("Error: invalid arguments for test_sleep: /ms"),
        "{}",
        obs[0]
    );
    assert!(obs[0].contains("Nothing was run"), "{}", obs[0]);
    assert!(
        obs[1].contains("unknown tool 'teleport'; you may use: test_append, test_sleep"),
        "{}",
        obs[1]
    );
    assert_eq!(obs[2], "slept 10 ms");
    assert_eq!(obs[3], "appended");
    assert!(trace.steps[4].is_final);
    assert_eq!(lines(&env, "log.txt"), ["hello"]);
    // Only valid calls reached the journal, each succeeded.
    let calls: Vec<(&str, ToolCallState)> = trace
        .tool_calls
        .iter()
        .map(|c| (c.tool.as_str(), c.state))
        .collect();
    assert_eq!(
        calls,
        [
            ("test_sleep", ToolCallState::Succeeded),
            ("test_append", ToolCallState::Succeeded)
        ]
    );
    assert!(trace.steps.iter().all(|s| s.duration_ms < 10_000));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_steps_ends_the_run_with_a_reason() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::tool_call("test_sleep", json!({"ms": 1}))
    }));
    let a = worker(&env, Autonomy::Autopilot, &["test_sleep"]);
    let t = env.task_for(&a, "endless");
    env.start();
    let done = env.wait_final(&[t], LONG).await;
    assert_eq!(done[0].status, TaskStatus::Failed);
    assert_eq!(
        done[0].error.as_deref(),
        Some("stopped after 6 steps without a final answer (the agent's max_steps)")
    );
    assert_eq!(
        done[0].attempts, 1,
        "not retried: it would end the same way"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_steps_for_providers_without_native_tools() {
    let mut env = Env::new(
        ScriptedProvider::from_fn("scripted", |req, _| {
            assert!(req.tools.is_empty(), "no native tools");
            let schema = req.json_schema.clone().expect("a step schema");
            assert!(schema.to_string().contains("\"test_sleep\""));
            let seen = req.messages.iter().filter(|m| m.role == Role::User && m.content.starts_with("Observation")).count();
            if seen == 0 {
                Reply::text("{\"thought\": \"wait a bit\", \"action\": \"test_sleep\", \"arguments\": {\"ms\": 5}}")
            } else {
                Reply::text("{\"thought\": \"done\", \"action\": \"finish\", \"answer\": \"waited\", \"confidence\": 0.8}")
            }
        })
        .without_tools(),
    );
    let a = worker(&env, Autonomy::Autopilot, &["test_sleep"]);
    let t = env.task_for(&a, "json");
    env.start();
    let done = env.wait_final(std::slice::from_ref(&t), LONG).await;
    assert_eq!(
        (
            done[0].status,
            done[0].output.as_deref(),
            done[0].confidence
        ),
        (TaskStatus::Completed, Some("waited"), Some(0.8))
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_records_a_suggestion_and_runs_nothing() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |req, _| {
        if observed(req).is_empty() {
            Reply::tool_call("test_append", json!({"file": "m.txt", "line": "posted"}))
        } else {
            Reply::text("I recommend posting it.")
        }
    }));
    let a = worker(&env, Autonomy::Manual, &["test_append"]);
    let t = env.task_for(&a, "suggest");
    env.start();
    let done = env.wait_final(&[t], LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed);
    assert!(lines(&env, "m.txt").is_empty(), "nothing executed");
    let s = env
        .core
        .approvals()
        .list(Some(ApprovalStatus::Pending), Paging::default())
        .unwrap()
        .items;
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].kind, ApprovalKind::Suggestion);
    assert_eq!(s[0].proposed_action["tool"], "test_append");
    env.stop().await;
}

/// A copilot agent that asks to append, then finishes with what it observed.
fn copilot_model() -> ScriptedProvider {
    ScriptedProvider::from_fn("scripted", |req, _| {
        let obs = observed(req);
        if obs.is_empty() {
            Reply::tool_call("test_append", json!({"file": "c.txt", "line": "original"}))
        } else {
            Reply::text(&format!("Result: {}", obs.join(" | ")))
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_waits_and_approve_runs_the_action() {
    let mut env = Env::new(copilot_model());
    let a = worker(&env, Autonomy::Copilot, &["test_append"]);
    let t = env.task_for(&a, "approve me");
    env.start();
    let ap = env.pending_approval(LONG).await;
    assert_eq!(
        (ap.kind, ap.proposed_action["arguments"]["line"].as_str()),
        (ApprovalKind::ToolCall, Some("original"))
    );
    let waiting = env
        .wait_status(&t, TaskStatus::AwaitingApproval, LONG)
        .await;
    assert_eq!(waiting.status, TaskStatus::AwaitingApproval);
    assert!(
        lines(&env, "c.txt").is_empty(),
        "nothing runs before approval"
    );
    env.core
        .approvals()
        .decide(
            &ap.id,
            Decision {
                verdict: Some(Verdict::Approve),
                ..Default::default()
            },
        )
        .unwrap();
    let done = env.wait_final(&[t], LONG).await;
    assert_eq!(done[0].output.as_deref(), Some("Result: appended"));
    assert_eq!(lines(&env, "c.txt"), ["original"]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_runs_the_edited_arguments_and_reject_feeds_the_reason_back() {
    let mut env = Env::new(copilot_model());
    let a = worker(&env, Autonomy::Copilot, &["test_append"]);
    let t1 = env.task_for(&a, "edit me");
    env.start();
    let ap = env.pending_approval(LONG).await;
    env.core
        .approvals().decide(
            &ap.id,
            Decision {
                verdict: Some(Verdict::Edit),
                edited_action: Some(json!({"tool": "test_append", "arguments": {"file": "c.txt", "line": "edited by a human"}})),
                ..Default::default()
            },
        )
        .unwrap();
    env.wait_final(&[t1], LONG).await;
    assert_eq!(lines(&env, "c.txt"), ["edited by a human"]);

    let t2 = env.task_for(&a, "reject me");
    let ap = env.pending_approval(LONG).await;
    env.core
        .approvals()
        .decide(
            &ap.id,
            Decision {
                verdict: Some(Verdict::Reject),
                comment: Some("not today".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let done = env.wait_final(&[t2], LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed);
    assert!(
        done[0]
            .output
            .as_deref()
            .unwrap()
            .contains("The human rejected this action: not today"),
        "{:?}",
        done[0].output
    );
    assert_eq!(
        lines(&env, "c.txt"),
        ["edited by a human"],
        "the rejected call never ran"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_approval_is_a_rejection() {
    let mut env = Env::new(copilot_model());
    let a = worker(&env, Autonomy::Copilot, &["test_append"]);
    let t = env.task_for(&a, "expire me");
    env.start();
    let ap = env.pending_approval(LONG).await;
    env.core
        .store()
        .write(|tx| {
            Ok(tx.execute(
                "UPDATE approvals SET expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
                [&ap.id],
            )?)
        })
        .unwrap();
    assert_eq!(env.core.approvals().expire().unwrap(), vec![ap.id.clone()]);
    let done = env.wait_final(&[t], LONG).await;
    assert!(
        done[0]
            .output
            .as_deref()
            .unwrap()
            .contains("The human rejected this action"),
        "{:?}",
        done[0].output
    );
    assert!(lines(&env, "c.txt").is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autopilot_executes_and_tells_the_human() {
    let mut env = Env::new(copilot_model());
    let a = worker(&env, Autonomy::Autopilot, &["test_append"]);
    let mut notices = env.core.events().subscribe_notices();
    let t = env.task_for(&a, "just do it");
    env.start();
    env.wait_final(&[t], LONG).await;
    assert_eq!(lines(&env, "c.txt"), ["original"]);
    let n = notices.try_recv().unwrap();
    assert_eq!(n.kind, NoticeKind::ActedOnAutopilot);
    assert!(env
        .core
        .approvals()
        .list(None, Paging::default())
        .unwrap()
        .items
        .is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_approval_survives_a_restart_and_the_run_resumes() {
    let mut env = Env::new(copilot_model());
    let a = worker(&env, Autonomy::Copilot, &["test_append"]);
    let t = env.task_for(&a, "across restarts");
    env.start();
    let ap = env.pending_approval(LONG).await;
    env.stop().await;
    // A new runner on the same data folder: the request is still pending.
    let core = Arc::new(ensemble_core::Core::open(env.dir.path()).unwrap());
    assert_eq!(
        core.approvals().get(&ap.id).unwrap().status,
        ApprovalStatus::Pending
    );
    assert_eq!(
        core.tasks().get(&t).unwrap().status,
        TaskStatus::AwaitingApproval
    );
    let runtime = Arc::new(AgentRuntime::new(
        env.core.clone(),
        env.hub.clone(),
        Arc::new(orch::registry(env.dir.path())),
    ));
    env.orch = Orchestrator::new(env.core.clone(), env.hub.clone(), runtime, fast_config());
    env.start();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        env.core.tasks().get(&t).unwrap().status,
        TaskStatus::AwaitingApproval,
        "still waiting after the restart"
    );
    core.approvals()
        .decide(
            &ap.id,
            Decision {
                verdict: Some(Verdict::Approve),
                ..Default::default()
            },
        )
        .unwrap();
    let done = env.wait_final(std::slice::from_ref(&t), LONG).await;
    assert_eq!(done[0].output.as_deref(), Some("Result: appended"));
    assert_eq!(lines(&env, "c.txt"), ["original"]);
    assert_eq!(
        env.core.runs().of_task(&t).unwrap().len(),
        1,
        "the same run resumed"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_side_effect_interrupted_mid_call_is_never_repeated_silently() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |req, _| {
        let obs = observed(req);
        if obs.is_empty() {
            // Writes, then holds long enough for the shutdown to interrupt it.
            Reply::tool_call(
                "test_append",
                json!({"file": "once.txt", "line": "effect", "hold_ms": 5000}),
            )
        } else {
            Reply::text(&format!("Continued after: {}", obs.join(" | ")))
        }
    }));
    let a = worker(&env, Autonomy::Autopilot, &["test_append"]);
    let t = env.task_for(&a, "fragile");
    env.start();
    let end = Instant::now() + LONG;
    while lines(&env, "once.txt").is_empty() {
        assert!(Instant::now() < end);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.stop().await;
    let calls = env
        .core
        .runs()
        .tool_calls_in_state(ToolCallState::Running)
        .unwrap();
    let all: Vec<_> = env
        .core
        .runs()
        .of_task(&t)
        .unwrap()
        .into_iter()
        .flat_map(|r| r.tool_calls)
        .map(|c| (c.tool, c.state, c.error))
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "the journal shows the call was running: {all:?} task {:?}",
        env.core.tasks().get(&t).unwrap().status
    );

    let runtime = Arc::new(AgentRuntime::new(
        env.core.clone(),
        env.hub.clone(),
        Arc::new(orch::registry(env.dir.path())),
    ));
    env.orch = Orchestrator::new(env.core.clone(), env.hub.clone(), runtime, fast_config());
    env.start();
    let ap = env.pending_approval(LONG).await;
    assert_eq!(ap.kind, ApprovalKind::AmbiguousToolCall);
    assert_eq!(
        env.core
            .runs()
            .tool_calls_in_state(ToolCallState::Ambiguous)
            .unwrap()
            .len(),
        1
    );
    env.core
        .approvals()
        .decide(
            &ap.id,
            Decision {
                verdict: Some(Verdict::Reject),
                ..Default::default()
            },
        )
        .unwrap();
    let done = env.wait_final(&[t], LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed);
    assert!(done[0]
        .output
        .as_deref()
        .unwrap()
        .contains("chose not to repeat it"));
    assert_eq!(lines(&env, "once.txt"), ["effect"], "executed exactly once");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_idempotent_call_is_simply_run_again() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |req, _| {
        if observed(req).is_empty() {
            Reply::tool_call("test_sleep", json!({"ms": 3000}))
        } else {
            Reply::text("rested")
        }
    }));
    let a = worker(&env, Autonomy::Autopilot, &["test_sleep"]);
    let t = env.task_for(&a, "nap");
    env.start();
    let end = Instant::now() + LONG;
    while env
        .core
        .runs()
        .tool_calls_in_state(ToolCallState::Running)
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < end);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.stop().await;
    let runtime = Arc::new(AgentRuntime::new(
        env.core.clone(),
        env.hub.clone(),
        Arc::new(orch::registry(env.dir.path())),
    ));
    env.orch = Orchestrator::new(env.core.clone(), env.hub.clone(), runtime, fast_config());
    env.start();
    let done = env.wait_final(&[t], Duration::from_secs(30)).await;
    assert_eq!(done[0].output.as_deref(), Some("rested"));
    assert!(
        env.core
            .approvals()
            .list(None, Paging::default())
            .unwrap()
            .items
            .is_empty(),
        "no human needed"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_answer_can_require_approval() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |req, _| {
        let feedback = req.messages.iter().any(|m| m.content.contains("too long"));
        Reply::text(if feedback {
            "Short answer."
        } else {
            "A very long answer."
        })
    }));
    let a = env
        .core
        .agents()
        .create(AgentInput {
            name: Some("Careful".into()),
            autonomy: Some(Autonomy::Copilot),
            approve_final_output: Some(true),
            ..Default::default()
        })
        .unwrap()
        .id;
    let t = env.task_for(&a, "answer");
    env.start();
    let first = env.pending_approval(LONG).await;
    assert_eq!(
        (first.kind, first.proposed_action["answer"].as_str()),
        (ApprovalKind::FinalOutput, Some("A very long answer."))
    );
    env.core
        .approvals()
        .decide(
            &first.id,
            Decision {
                verdict: Some(Verdict::Reject),
                comment: Some("too long".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let end = Instant::now() + LONG;
    let second = loop {
        let p = env
            .core
            .approvals()
            .list(Some(ApprovalStatus::Pending), Paging::default())
            .unwrap()
            .items;
        if let Some(a) = p.into_iter().find(|a| a.id != first.id) {
            break a;
        }
        assert!(Instant::now() < end);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(second.proposed_action["answer"], "Short answer.");
    env.core
        .approvals()
        .decide(
            &second.id,
            Decision {
                verdict: Some(Verdict::Edit),
                edited_action: Some(json!({"answer": "Short, edited."})),
                ..Default::default()
            },
        )
        .unwrap();
    let done = env.wait_final(&[t], LONG).await;
    assert_eq!(done[0].output.as_deref(), Some("Short, edited."));
    env.stop().await;
}

/// A call of `tool` that reports what it used: 400 tokens in, 100 out.
fn costly_call(tool: &str, arguments: serde_json::Value) -> Reply {
    use ensemble_core::providers::{FinishReason, StreamEvent, ToolCall, Usage};
    use ensemble_llm::scripted::Step;
    Reply::Steps(vec![
        Step::Event(StreamEvent::ToolCall(ToolCall {
            id: format!("call_{tool}"),
            name: tool.into(),
            arguments,
        })),
        Step::Event(StreamEvent::Usage(Usage {
            input_tokens: 400,
            output_tokens: 100,
            ..Default::default()
        })),
        Step::Event(StreamEvent::Finish(FinishReason::ToolCalls)),
    ])
}

/// Per-task caps on tokens and on cost (from the provider's cost table) stop
/// a run that would go on for ever, with a reason naming the cap, and the
/// task is not retried (it would end the same way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_cost_caps_stop_the_run_with_a_reason() {
    use ensemble_core::providers::{ModelCost, ProviderInput};
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        costly_call("test_sleep", json!({"ms": 1}))
    }));
    // $10 per million tokens in and out: each step costs $0.005.
    env.core
        .providers()
        .update(
            "scripted",
            ProviderInput {
                cost_table: Some(
                    [(
                        "script".to_string(),
                        ModelCost {
                            input_per_mtok: 10.0,
                            output_per_mtok: 10.0,
                        },
                    )]
                    .into_iter()
                    .collect(),
                ),
                ..Default::default()
            },
        )
        .unwrap();
    let a = worker(&env, Autonomy::Autopilot, &["test_sleep"]);
    let by_tokens = env
        .core
        .tasks()
        .create(NewTask {
            title: "token-capped".into(),
            assigned_agent_id: Some(a.clone()),
            max_tokens: Some(1200),
            ..Default::default()
        })
        .unwrap()
        .id;
    let by_cost = env
        .core
        .tasks()
        .create(NewTask {
            title: "cost-capped".into(),
            assigned_agent_id: Some(a.clone()),
            max_cost: Some(0.012),
            ..Default::default()
        })
        .unwrap()
        .id;
    env.start();
    let done = env.wait_final(&[by_tokens, by_cost], LONG).await;
    let tokens = &done[0];
    assert_eq!(tokens.status, TaskStatus::Failed);
    let why = tokens.error.as_deref().unwrap_or_default();
    assert!(
        why.starts_with("stopped: the task's token cap (1200) was reached"),
        "{why}"
    );
    assert_eq!(tokens.attempts, 1, "not retried");
    // Three steps of 500 tokens: the cap is checked before each model call.
    assert!(
        (1200..=1500).contains(&(tokens.tokens_in + tokens.tokens_out)),
        "{} + {}",
        tokens.tokens_in,
        tokens.tokens_out
    );
    let cost = &done[1];
    assert_eq!(cost.status, TaskStatus::Failed);
    let why = cost.error.as_deref().unwrap_or_default();
    assert!(
        why.starts_with("stopped: the task's cost cap ($0.0120) was reached"),
        "{why}"
    );
    assert!(
        cost.cost >= 0.012 && cost.cost <= 0.0151,
        "spent {}",
        cost.cost
    );
    assert_eq!(cost.attempts, 1, "not retried");
    env.stop().await;
}

/// A resumed run's earlier tokens count once against the task's cap. The
/// run parks for approval after 500 tokens (the task's total rolls them up,
/// and the run keeps them too: the same spending, not twice); under a cap
/// of 900 it goes on when approved instead of stopping at "1,000 used".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_counts_its_earlier_tokens_once() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |req, _| {
        let obs = observed(req);
        if obs.is_empty() {
            costly_call("test_append", json!({"file": "capped.txt", "line": "once"}))
        } else {
            Reply::text(&format!("Result: {}", obs.join(" | ")))
        }
    }));
    let a = worker(&env, Autonomy::Copilot, &["test_append"]);
    let t = env
        .core
        .tasks()
        .create(NewTask {
            title: "capped".into(),
            assigned_agent_id: Some(a.clone()),
            max_tokens: Some(900),
            ..Default::default()
        })
        .unwrap()
        .id;
    env.start();
    let ap = env.pending_approval(LONG).await;
    let parked = env
        .wait_status(&t, TaskStatus::AwaitingApproval, LONG)
        .await;
    assert_eq!(parked.tokens_in + parked.tokens_out, 500);
    env.core
        .approvals()
        .decide(
            &ap.id,
            Decision {
                verdict: Some(Verdict::Approve),
                ..Default::default()
            },
        )
        .unwrap();
    let done = env.wait_final(&[t], LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    assert_eq!(done[0].output.as_deref(), Some("Result: appended"));
    assert_eq!(lines(&env, "capped.txt"), ["once"]);
    env.stop().await;
}
