//! Hierarchical and routed crews with a scripted model: the manager's plan,
//! delegation by capability through the task queue, a subtask sent back and
//! redone, the report; and the expert gate's four strategies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/orch.rs"]
mod orch;

#[path = "common/crew.rs"]
mod crew;

use std::time::Duration;

use crew::{agent, engine, finish, is_work, json, messages, purpose, user};
use ensemble_core::crews::run::{CrewRunStatus, StopReason};
use ensemble_core::crews::{CrewInput, Process};
use ensemble_core::messages::MessageKind;
use ensemble_core::tasks::{TaskFilter, TaskStatus};
use ensemble_core::Paging;
use ensemble_llm::scripted::{Reply, ScriptedProvider};
use orch::{agent_name, Env};
use serde_json::json;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hierarchical_plans_delegates_reviews_sends_back_and_reports() {
    let model = ScriptedProvider::from_fn("scripted", |req, _| {
        let (who, what) = (agent_name(req), purpose(req));
        match (who.as_str(), what.as_str()) {
            ("Mona", "[plan]") => json(json!({ "subtasks": [
                { "title": "Collect facts", "objective": "Find three facts about bees", "capabilities": ["research"] },
                { "title": "Write summary", "objective": "Summarise the facts for children", "capabilities": ["writing"] }
            ]})),
            ("Mona", "[review]") => {
                let u = user(req);
                if u.contains("\"Write summary\"") && u.contains("try 1 of") {
                    json(json!({ "verdict": "revise", "feedback": "Too long: use two sentences" }))
                } else {
                    json(json!({ "verdict": "accept", "feedback": "Good" }))
                }
            }
            ("Mona", "[report]") => {
                let u = user(req);
                assert!(
                    u.contains("Bees dance") && u.contains("Short summary"),
                    "the report sees accepted results: {u}"
                );
                assert!(
                    !u.contains("Long summary"),
                    "a sent-back result is not in the report"
                );
                json(json!({ "report": "REPORT: bees for kids" }))
            }
            ("Rhea", w) if w.starts_with("Task: ") => Reply::text("Bees dance to share directions"),
            ("Wren", w) if w.starts_with("Task: ") && w.contains("(try 2)") => {
                assert!(
                    user(req).contains("Too long: use two sentences")
                        && user(req).contains("Long summary")
                );
                Reply::text("Short summary")
            }
            ("Wren", w) if w.starts_with("Task: ") => {
                Reply::text("Long summary with far too many words")
            }
            (a, p) => panic!("unexpected {a}: {p}"),
        }
    });
    let mut env = Env::new(model);
    env.start();
    let core = env.core.clone();
    let m = agent(&core, "Mona", "manager", &["planning"]);
    let r = agent(&core, "Rhea", "researcher", &["research", "web_search"]);
    let w = agent(&core, "Wren", "writer", &["writing", "editing"]);
    let c = crew::crew(
        &core,
        "Bee team",
        Process::Hierarchical,
        &[(&m, "manager"), (&r, "researcher"), (&w, "writer")],
        CrewInput {
            manager_agent_id: Some(m.clone()),
            max_rounds: Some(3),
            ..Default::default()
        },
    );
    let run = tokio::time::timeout(
        LONG,
        engine(&env).run(&c.id, "A page about bees for children"),
    )
    .await
    .unwrap()
    .unwrap();

    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.stop_reason, Some(StopReason::Completed));
    assert_eq!(run.report.as_deref(), Some("REPORT: bees for kids"));

    // The plan is a schema-constrained turn; the plan and delegation are in the run's state.
    let reqs = env.model.requests();
    let plan = reqs.iter().find(|q| purpose(q) == "[plan]").unwrap();
    assert!(
        plan.json_schema.as_ref().unwrap()["properties"]["subtasks"]["items"]["required"]
            == json!(["title", "objective", "capabilities"])
    );
    assert!(user(plan).contains("- Rhea (researcher): research, web_search"));
    let delegation = &run.state["plan"]["delegation"];
    assert_eq!(delegation[0]["agent"], "Rhea");
    assert_eq!(delegation[1]["agent"], "Wren");

    // Delegated by capability as tasks on the queue; the sent-back one redone as a new task.
    let mut tasks = core
        .tasks()
        .list(
            &TaskFilter {
                crew_id: Some(c.id.clone()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap()
        .items;
    tasks.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let rows: Vec<(String, Option<String>, Vec<String>)> = tasks
        .iter()
        .map(|t| {
            (
                t.title.clone(),
                t.assigned_agent_id.clone(),
                t.required_capabilities.clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "Bee team · Collect facts".to_string(),
                Some(r.clone()),
                vec!["research".to_string()]
            ),
            (
                "Bee team · Write summary".to_string(),
                Some(w.clone()),
                vec!["writing".to_string()]
            ),
            (
                "Bee team · Write summary (try 2)".to_string(),
                Some(w.clone()),
                vec!["writing".to_string()]
            ),
        ]
    );
    assert!(tasks
        .iter()
        .all(|t| t.status == TaskStatus::Completed
            && t.crew_run_id.as_deref() == Some(run.id.as_str())));
    // Three reviews: facts accepted, summary sent back, summary accepted.
    assert_eq!(reqs.iter().filter(|q| purpose(q) == "[review]").count(), 3);

    // The timeline, in order, between the manager and the members.
    let msgs = messages(&core, &run);
    let lines: Vec<String> = msgs
        .iter()
        .filter(|m| m.kind != MessageKind::StatusUpdate || m.from_agent_id.is_some())
        .map(|m| {
            let name = |id: &Option<String>| match id.as_deref() {
                Some(x) => core.agents().get(x).unwrap().name,
                None => "team".to_string(),
            };
            format!(
                "{:?} {}→{}: {}",
                m.kind,
                name(&m.from_agent_id),
                name(&m.to_agent_id),
                m.content.lines().next().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "StatusUpdate Mona→team: Plan:",
            "Request Mona→Rhea: Subtask for you: Collect facts — Find three facts about bees",
            "Request Mona→Wren: Subtask for you: Write summary — Summarise the facts for children",
            "Response Rhea→Mona: Bees dance to share directions",
            "Response Mona→Rhea: Accepted: Good",
            "Response Wren→Mona: Long summary with far too many words",
            "Request Mona→Wren: Sent back: Too long: use two sentences",
            "Response Wren→Mona: Short summary",
            "Response Mona→Wren: Accepted: Good",
            "Response Mona→team: REPORT: bees for kids",
        ]
    );
    // Reviews taught the writer: one sent back, one accepted (feedback on "writing").
    let wren = core.agents().get(&w).unwrap();
    let s = wren
        .skills
        .iter()
        .find(|s| s.skill_name == "writing")
        .unwrap();
    // Two task completions (practice, recorded by the orchestrator) and two reviews (feedback).
    assert_eq!(s.times_used, 4);
    env.stop().await;
}

/// Ana the analyst, Wes the writer, Rex the researcher, and Mo (who only
/// synthesises in the ensemble test). The request matches Ana best, Wes next.
struct Desk {
    env: Env,
    ana: String,
    wes: String,
    rex: String,
    mo: String,
}

const REQUEST: &str = "Query the sales data and write a report";

fn desk(model: ScriptedProvider) -> Desk {
    let mut env = Env::new(model);
    env.start();
    let core = env.core.clone();
    let ana = agent(
        &core,
        "Ana",
        "analyst",
        &["sql_query", "data_analysis", "reporting"],
    );
    let wes = agent(
        &core,
        "Wes",
        "writer",
        &["writing", "summarization", "editing"],
    );
    let rex = agent(&core, "Rex", "researcher", &["research", "web_search"]);
    let mo = agent(&core, "Mo", "moderator", &["facilitation"]);
    Desk {
        env,
        ana,
        wes,
        rex,
        mo,
    }
}

fn routed(d: &Desk, strategy: serde_json::Value, with_mo: bool) -> ensemble_core::crews::Crew {
    let mut members = vec![
        (d.ana.as_str(), "expert"),
        (d.wes.as_str(), "expert"),
        (d.rex.as_str(), "expert"),
    ];
    if with_mo {
        members.push((d.mo.as_str(), "aggregator"));
    }
    crew::crew(
        &d.env.core,
        "Desk",
        Process::Routed,
        &members,
        CrewInput {
            strategy: Some(strategy),
            manager_agent_id: with_mo.then(|| d.mo.clone()),
            ..Default::default()
        },
    )
}

fn answers(reqs: &[ensemble_core::providers::ChatRequest]) -> Vec<String> {
    reqs.iter().filter(|q| is_work(q)).map(agent_name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_top_1_sends_the_request_to_the_best_agent_only() {
    let mut d = desk(ScriptedProvider::from_fn("scripted", |req, _| {
        Reply::text(&format!("{} answers", agent_name(req)))
    }));
    let c = routed(&d, json!({ "strategy": "top_1", "threshold": 0.5 }), false);
    let run = tokio::time::timeout(LONG, engine(&d.env).run(&c.id, REQUEST))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.report.as_deref(), Some("Ana answers"));
    assert_eq!(answers(&d.env.model.requests()), ["Ana"]);
    let scores = run.state["routing"]["scores"].as_array().unwrap();
    let order: Vec<&str> = scores
        .iter()
        .map(|s| s["agent_name"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["Ana", "Wes", "Rex"]);
    assert_eq!(run.state["routing"]["selection"]["chosen"], json!([d.ana]));
    let gate_msg = messages(&d.env.core, &run)
        .into_iter()
        .find(|m| m.content.starts_with("Expert gate"))
        .unwrap();
    assert!(
        gate_msg.content.contains("(top_1, threshold 0.50)") && gate_msg.content.ends_with("→ Ana"),
        "{}",
        gate_msg.content
    );
    d.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_top_k_answers_with_attribution_from_agents_above_the_threshold() {
    let mut d = desk(ScriptedProvider::from_fn("scripted", |req, _| {
        Reply::text(&format!("{} answers", agent_name(req)))
    }));
    // k = 3, but Rex (no matching capability) stays below 0.3.
    let c = routed(
        &d,
        json!({ "strategy": "top_k", "k": 3, "threshold": 0.3 }),
        false,
    );
    let run = tokio::time::timeout(LONG, engine(&d.env).run(&c.id, REQUEST))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    let mut who = answers(&d.env.model.requests());
    who.sort();
    assert_eq!(who, ["Ana", "Wes"]);
    assert_eq!(
        run.report.as_deref(),
        Some("**Ana** (expert):\nAna answers\n\n**Wes** (expert):\nWes answers")
    );
    d.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_ensemble_synthesises_one_answer_with_attribution() {
    let mut d = desk(ScriptedProvider::from_fn("scripted", |req, _| {
        match (agent_name(req).as_str(), purpose(req).as_str()) {
            ("Mo", "[synthesis]") => {
                let u = user(req);
                assert!(
                    u.contains("### Ana (expert)\nSales rose 4%")
                        && u.contains("### Wes (expert)\nA clear report")
                );
                json(
                    json!({ "answer": "Sales rose 4%, told clearly", "sources": ["Ana", "Wes", "Nobody"] }),
                )
            }
            ("Ana", _) => Reply::text("Sales rose 4%"),
            ("Wes", _) => Reply::text("A clear report"),
            (a, p) => panic!("unexpected {a}: {p}"),
        }
    }));
    let c = routed(
        &d,
        json!({ "strategy": "ensemble", "k": 2, "threshold": 0.3 }),
        true,
    );
    let run = tokio::time::timeout(LONG, engine(&d.env).run(&c.id, REQUEST))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    // An unknown source is dropped; the aggregator did not answer as an expert.
    assert_eq!(
        run.report.as_deref(),
        Some("Sales rose 4%, told clearly\n\nSources: Ana, Wes")
    );
    let scored: Vec<&str> = run.state["routing"]["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["agent_name"].as_str().unwrap())
        .collect();
    assert!(!scored.contains(&"Mo"));
    let last = run.outputs.last().unwrap();
    assert_eq!(
        (last.agent_name.as_str(), last.label.as_str()),
        ("Mo", "synthesis")
    );
    d.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_cascade_escalates_while_confidence_is_below_the_threshold() {
    // Structured steps (no native tools), so each answer carries its confidence.
    let model = ScriptedProvider::from_fn("scripted", |req, _| match agent_name(req).as_str() {
        "Ana" => finish("Maybe 4%?", 0.4),
        "Wes" => {
            assert!(user(req).contains("Ana answered before you with confidence 0.40"));
            finish("Sales rose 4.2% in Q3", 0.9)
        }
        other => panic!("Rex is never asked: {other}"),
    })
    .without_tools();
    let mut d = desk(model);
    let c = routed(
        &d,
        json!({ "strategy": "cascade", "threshold": 0.8 }),
        false,
    );
    let run = tokio::time::timeout(LONG, engine(&d.env).run(&c.id, REQUEST))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.stop_reason, Some(StopReason::Completed));
    assert_eq!(run.report.as_deref(), Some("Sales rose 4.2% in Q3"));
    assert_eq!(answers(&d.env.model.requests()), ["Ana", "Wes"]);
    let conf: Vec<Option<f64>> = run.outputs.iter().map(|o| o.confidence).collect();
    assert_eq!(conf, [Some(0.4), Some(0.9)]);
    let esc = messages(&d.env.core, &run)
        .into_iter()
        .find(|m| m.kind == MessageKind::Escalation)
        .unwrap();
    assert_eq!(esc.channel, format!("direct:{}:{}", d.ana, d.wes));
    assert!(esc
        .content
        .contains("My confidence 0.40 is below the threshold 0.80"));
    // The low-confidence answer counted against Ana's skills, the confident one for Wes.
    let ana = d.env.core.agents().get(&d.ana).unwrap();
    assert!(ana.skills.iter().any(|s| s.success_rate < 1.0));
    let wes = d.env.core.agents().get(&d.wes).unwrap();
    assert!(wes.skills.iter().all(|s| s.success_rate == 1.0) && !wes.skills.is_empty());
    d.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_cascade_that_never_gets_confident_returns_the_best_answer() {
    let model = ScriptedProvider::from_fn("scripted", |req, _| match agent_name(req).as_str() {
        "Ana" => finish("Ana's guess", 0.5),
        "Wes" => finish("Wes's guess", 0.6),
        _ => finish("Rex's guess", 0.2),
    })
    .without_tools();
    let mut d = desk(model);
    let c = routed(
        &d,
        json!({ "strategy": "cascade", "threshold": 0.95 }),
        false,
    );
    let run = tokio::time::timeout(LONG, engine(&d.env).run(&c.id, REQUEST))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.stop_reason, Some(StopReason::CascadeExhausted));
    assert_eq!(run.report.as_deref(), Some("Wes's guess"));
    assert_eq!(answers(&d.env.model.requests()), ["Ana", "Wes", "Rex"]);
    let escalations = messages(&d.env.core, &run)
        .iter()
        .filter(|m| m.kind == MessageKind::Escalation)
        .count();
    assert_eq!(escalations, 2);
    d.env.stop().await;
}
