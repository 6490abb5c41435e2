//! Crew budgets, stopping and escalation with a scripted model: the token,
//! cost and wall-time caps each stop a run cleanly with their own reason; a
//! stop request ends a run and its work; failed work goes to the member's
//! supervisor and then to a human in the approval inbox, whose decision
//! the run follows.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/orch.rs"]
mod orch;

#[path = "common/crew.rs"]
mod crew;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crew::{agent, engine, json, messages, purpose};
use ensemble_core::approvals::{ApprovalKind, Decision, Verdict};
use ensemble_core::crews::run::{CrewRunStatus, StopReason};
use ensemble_core::crews::{Budget, CrewInput, Process, RelationKind, RelationshipInput};
use ensemble_core::messages::MessageKind;
use ensemble_core::providers::{ModelCost, ProviderError, ProviderInput};
use ensemble_core::tasks::{TaskFilter, TaskStatus};
use ensemble_core::Paging;
use ensemble_llm::scripted::{Reply, ScriptedProvider};
use orch::{agent_name, Env};
use serde_json::json;

const LONG: Duration = Duration::from_secs(30);

/// Three members in a pipeline; every answer is 5 words (10 + 5 tokens).
fn pipeline(env: &Env, budget: Budget) -> (ensemble_core::crews::Crew, Vec<String>) {
    let core = &env.core;
    let ids: Vec<String> = ["A1", "B2", "C3"]
        .iter()
        .map(|n| agent(core, n, "worker", &[]))
        .collect();
    let c = crew::crew(
        core,
        "Capped",
        Process::Sequential,
        &[(&ids[0], "first"), (&ids[1], "second"), (&ids[2], "third")],
        CrewInput {
            budget: Some(budget),
            goal: Some("Do the thing".into()),
            ..Default::default()
        },
    );
    (c, ids)
}

fn crew_tasks(env: &Env, crew: &str) -> Vec<ensemble_core::tasks::Task> {
    env.core
        .tasks()
        .list(
            &TaskFilter {
                crew_id: Some(crew.into()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_cap_stops_the_run_and_says_so() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::text("one two three four five")
    }));
    env.start();
    let (c, _) = pipeline(
        &env,
        Budget {
            max_tokens: Some(25),
            ..Default::default()
        },
    );
    let run = tokio::time::timeout(LONG, engine(&env).run(&c.id, "go"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Stopped);
    assert_eq!(run.stop_reason, Some(StopReason::TokenCap));
    // Two answers (30 tokens) went over 25; the third member never started.
    assert_eq!(run.tokens(), 30);
    assert_eq!(
        run.error.as_deref(),
        Some("the run's token cap (25) was reached: 30 tokens used")
    );
    assert_eq!(crew_tasks(&env, &c.id).len(), 2);
    // The second task ran under the budget left (25 − 15).
    let second = crew_tasks(&env, &c.id)
        .into_iter()
        .find(|t| t.title.contains("step 2/3"))
        .unwrap();
    assert_eq!(second.max_tokens, Some(10));
    // The partial result is kept as the report.
    assert_eq!(run.report.as_deref(), Some("one two three four five"));
    let last = messages(&env.core, &run).pop().unwrap();
    assert!(
        last.content.starts_with("Run stopped (token_cap)"),
        "{}",
        last.content
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_cap_stops_the_run_and_says_so() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::text("one two three four five")
    }));
    // $0.01 per token: each answer (15 tokens) costs $0.15.
    env.core
        .providers()
        .update(
            "scripted",
            ProviderInput {
                cost_table: Some(BTreeMap::from([(
                    "script".to_string(),
                    ModelCost {
                        input_per_mtok: 10_000.0,
                        output_per_mtok: 10_000.0,
                    },
                )])),
                ..Default::default()
            },
        )
        .unwrap();
    env.start();
    let (c, _) = pipeline(
        &env,
        Budget {
            max_cost: Some(0.2),
            ..Default::default()
        },
    );
    let run = tokio::time::timeout(LONG, engine(&env).run(&c.id, "go"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Stopped);
    assert_eq!(run.stop_reason, Some(StopReason::CostCap));
    assert!((run.cost - 0.30).abs() < 1e-9, "{}", run.cost);
    assert_eq!(
        run.error.as_deref(),
        Some("the run's cost cap ($0.2000) was reached: $0.3000 spent")
    );
    assert_eq!(crew_tasks(&env, &c.id).len(), 2);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wall_time_cap_stops_work_under_way() {
    let slow = "a b c d e f g h i j k l m n o p q r s t";
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", move |_, _| {
        Reply::slow_text(slow, Duration::from_millis(200))
    }));
    env.start();
    let (c, _) = pipeline(
        &env,
        Budget {
            max_wall_secs: Some(1),
            ..Default::default()
        },
    );
    let started = Instant::now();
    let run = tokio::time::timeout(LONG, engine(&env).run(&c.id, "go"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.status, CrewRunStatus::Stopped);
    assert_eq!(run.stop_reason, Some(StopReason::WallTimeCap));
    assert_eq!(
        run.error.as_deref(),
        Some("the run's wall-time cap (1 s) was reached")
    );
    // The first member's task (4 s of words) was cancelled, not left running.
    let tasks = crew_tasks(&env, &c.id);
    assert_eq!(tasks.len(), 1);
    let t = env
        .wait_final(&[tasks[0].id.clone()], Duration::from_secs(5))
        .await;
    assert_eq!(t[0].status, TaskStatus::Cancelled);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_request_ends_the_run_and_its_work() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::slow_text("x y z w", Duration::from_secs(2))
    }));
    env.start();
    let (c, _) = pipeline(&env, Budget::default());
    let eng = engine(&env);
    let run = eng.start(&c.id, "go").await.unwrap();
    // A second run of the same crew is refused while this one runs.
    let e = eng.start(&c.id, "again").await.unwrap_err();
    assert!(e.to_string().contains("already running"), "{e}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    eng.stop(&run.id).await.unwrap();
    let run = tokio::time::timeout(LONG, eng.wait(&run.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Stopped);
    assert_eq!(run.stop_reason, Some(StopReason::StoppedByUser));
    assert!(run.stop_requested);
    let ids: Vec<String> = crew_tasks(&env, &c.id).into_iter().map(|t| t.id).collect();
    let t = env.wait_final(&ids, Duration::from_secs(5)).await;
    assert!(t.iter().all(|t| t.status == TaskStatus::Cancelled));
    assert!(env
        .core
        .crews()
        .request_stop(&run.id)
        .unwrap_err()
        .to_string()
        .contains("already ended"));
    env.stop().await;
}

/// A lead who supervises a worker whose work always fails (a non-retryable
/// provider error); the lead decides on the escalation with `lead_says`.
fn escalation_env(
    lead_says: serde_json::Value,
) -> (Env, ensemble_core::crews::Crew, String, String) {
    let model = ScriptedProvider::from_fn("scripted", move |req, _| {
        match (agent_name(req).as_str(), purpose(req).as_str()) {
            ("Lead", "[escalation]") => json(lead_says.clone()),
            ("Lead", _) => Reply::text("Outline: three points"),
            ("Worker", _) => Reply::Refuse(ProviderError::Auth {
                detail: "bad key".into(),
            }),
            (a, p) => panic!("unexpected {a}: {p}"),
        }
    });
    let mut env = Env::new(model);
    env.start();
    let core = &env.core;
    let lead = agent(core, "Lead", "lead", &[]);
    let worker = agent(core, "Worker", "writer", &[]);
    let c = crew::crew(
        core,
        "Escalating",
        Process::Sequential,
        &[(&lead, "outliner"), (&worker, "writer")],
        CrewInput::default(),
    );
    core.crews()
        .add_relationship(
            &c.id,
            RelationshipInput {
                from_agent_id: lead.clone(),
                to_agent_id: worker.clone(),
                kind: Some(RelationKind::Supervises),
                ..Default::default()
            },
        )
        .unwrap();
    (env, c, lead, worker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_work_goes_to_the_supervisor_then_to_a_human_whose_answer_is_used() {
    let (mut env, c, lead, worker) = escalation_env(
        json!({ "decision": "escalate", "answer": "", "reason": "I cannot write this either" }),
    );
    let eng = engine(&env);
    let run = eng.start(&c.id, "Write a memo").await.unwrap();
    let a = env.pending_approval(LONG).await;
    assert_eq!(a.kind, ApprovalKind::Escalation);
    assert_eq!(a.crew_run_id.as_deref(), Some(run.id.as_str()));
    assert_eq!(a.agent_id.as_deref(), Some(worker.as_str()));
    assert!(a.title.contains("Worker needs a human"), "{}", a.title);
    assert!(a.proposed_action["problem"]
        .as_str()
        .unwrap()
        .contains("bad key"));
    // The run waits for the human (its status says so).
    let end = Instant::now() + LONG;
    while env.core.crews().get_run(&run.id).unwrap().status != CrewRunStatus::Waiting {
        assert!(Instant::now() < end, "the run does not show that it waits");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    env.core
        .approvals()
        .decide(
            &a.id,
            Decision {
                verdict: Some(Verdict::Edit),
                edited_action: Some(json!({ "answer": "The memo, written by a human" })),
                ..Default::default()
            },
        )
        .unwrap();
    let run = tokio::time::timeout(LONG, eng.wait(&run.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.report.as_deref(), Some("The memo, written by a human"));

    // The path: worker → lead (escalation), lead → team (escalating), → human, human → worker.
    let msgs = messages(&env.core, &run);
    let esc: Vec<(Option<String>, Option<String>, String)> = msgs
        .iter()
        .filter(|m| m.kind == MessageKind::Escalation)
        .map(|m| {
            (
                m.from_agent_id.clone(),
                m.to_agent_id.clone(),
                m.content.clone(),
            )
        })
        .collect();
    assert_eq!(esc.len(), 3, "{esc:?}");
    assert_eq!(
        (esc[0].0.as_deref(), esc[0].1.as_deref()),
        (Some(worker.as_str()), Some(lead.as_str()))
    );
    assert!(esc[0].2.starts_with("I could not finish my part"));
    assert_eq!(
        esc[1].2,
        "Escalating to a human: I cannot write this either"
    );
    assert!(esc[2]
        .2
        .starts_with("Escalated to a human (approval inbox)"));
    let human = msgs
        .iter()
        .find(|m| m.content.starts_with("A human supplied the answer"))
        .unwrap();
    assert_eq!(human.channel, format!("direct:human:{worker}"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_can_resolve_an_escalation_without_a_human() {
    let (mut env, c, lead, _) =
        escalation_env(json!({ "decision": "resolve", "answer": "Lead's memo", "reason": "easy" }));
    let run = tokio::time::timeout(LONG, engine(&env).run(&c.id, "Write a memo"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.report.as_deref(), Some("Lead's memo"));
    assert_eq!(
        env.core
            .approvals()
            .list(None, Paging::default())
            .unwrap()
            .total,
        0
    );
    let resolution = run
        .outputs
        .iter()
        .find(|o| o.label == "resolution for Worker")
        .unwrap();
    assert_eq!(resolution.agent_id, lead);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_human_rejecting_the_escalation_stops_the_run() {
    let (mut env, c, _, _) =
        escalation_env(json!({ "decision": "escalate", "answer": "", "reason": "no" }));
    let eng = engine(&env);
    let run = eng.start(&c.id, "Write a memo").await.unwrap();
    let a = env.pending_approval(LONG).await;
    env.core
        .approvals()
        .decide(
            &a.id,
            Decision {
                verdict: Some(Verdict::Reject),
                comment: Some("not needed".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let run = tokio::time::timeout(LONG, eng.wait(&run.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Stopped);
    assert_eq!(run.stop_reason, Some(StopReason::RejectedByHuman));
    assert_eq!(
        run.error.as_deref(),
        Some("the escalation about Worker was rejected: not needed")
    );
    env.stop().await;
}
