//! Crew runs with a scripted model: the exact flow of the sequential,
//! peer-review and consensus processes — who is asked what, with which
//! context, every message on which channel, outputs, vote log, skills,
//! tokens and the stop reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/orch.rs"]
mod orch;

#[path = "common/crew.rs"]
mod crew;

use std::time::Duration;

use crew::{agent, engine, is_work, json, messages, purpose, system, user};
use ensemble_core::crews::run::{CrewRunStatus, RoundOutcome, StopReason};
use ensemble_core::crews::{CrewInput, CrewStatus, Process};
use ensemble_core::messages::MessageKind;
use ensemble_core::tasks::{TaskFilter, TaskStatus};
use ensemble_core::{Entity, Paging};
use ensemble_llm::scripted::{Reply, ScriptedProvider};
use orch::{agent_name, Env};
use serde_json::json;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_passes_each_output_to_the_next_member() {
    let model = ScriptedProvider::from_fn("scripted", |req, _| {
        assert!(
            is_work(req),
            "sequential asks for work only: {}",
            purpose(req)
        );
        match agent_name(req).as_str() {
            "Rhea" => Reply::text("FACTS: honey never spoils"),
            "Wren" => Reply::text("DRAFT: Honey keeps for ever."),
            "Vale" => Reply::text("FINAL: Honey keeps for ever (checked)."),
            other => panic!("unexpected agent {other}"),
        }
    });
    let mut env = Env::new(model);
    env.start();
    let core = env.core.clone();
    let (r, w, v) = (
        agent(&core, "Rhea", "researcher", &["research"]),
        agent(&core, "Wren", "writer", &["writing"]),
        agent(&core, "Vale", "reviewer", &["review"]),
    );
    let c = crew::crew(
        &core,
        "Pipeline",
        Process::Sequential,
        &[(&r, "researcher"), (&w, "writer"), (&v, "reviewer")],
        CrewInput {
            goal: Some("Explain food facts".into()),
            ..Default::default()
        },
    );
    core.memory()
        .remember(
            Some(&c.id),
            None,
            "The client prefers British spelling",
            "test",
            None,
        )
        .unwrap();
    let mut events = core.events().subscribe();
    let eng = engine(&env);
    let run = tokio::time::timeout(LONG, eng.run(&c.id, "Why does honey not spoil?"))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.stop_reason, Some(StopReason::Completed));
    assert_eq!(
        run.report.as_deref(),
        Some("FINAL: Honey keeps for ever (checked).")
    );
    let labels: Vec<(String, String)> = run
        .outputs
        .iter()
        .map(|o| (o.agent_name.clone(), o.label.clone()))
        .collect();
    assert_eq!(
        labels,
        [("Rhea", "step 1"), ("Wren", "step 2"), ("Vale", "step 3")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(
        core.crews().get(&c.id).unwrap().status,
        CrewStatus::Completed
    );

    // Each member got the request, the team memory, and the previous output (and only that).
    let reqs = env.model.requests();
    let by = |n: &str| reqs.iter().find(|q| agent_name(q) == n).cloned().unwrap();
    for n in ["Rhea", "Wren", "Vale"] {
        assert!(
            system(&by(n)).contains("The client prefers British spelling"),
            "{n} lacks team memory"
        );
        assert!(user(&by(n)).contains("Why does honey not spoil?"));
    }
    assert!(!user(&by("Rhea")).contains("produced this"));
    assert!(user(&by("Wren"))
        .contains("Rhea (researcher), produced this:\n---\nFACTS: honey never spoils"));
    assert!(user(&by("Vale")).contains("DRAFT: Honey keeps for ever."));
    assert!(
        !user(&by("Vale")).contains("FACTS: honey never spoils"),
        "only the previous output is passed"
    );

    // Tasks on the board, linked to the run, one per member in order.
    let tasks = core
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
    assert_eq!(tasks.len(), 3);
    assert!(tasks
        .iter()
        .all(|t| t.crew_run_id.as_deref() == Some(run.id.as_str())
            && t.status == TaskStatus::Completed));
    // Tokens: the tasks' runs (no structured turns in this process).
    let (tin, tout) = tasks
        .iter()
        .fold((0, 0), |(a, b), t| (a + t.tokens_in, b + t.tokens_out));
    assert_eq!((run.tokens_in, run.tokens_out), (tin, tout));
    assert_eq!((tin, tout), (30, 4 + 5 + 6));

    // The timeline: start, then per member its result on the task channel and a handoff (direct) to the next.
    let msgs = messages(&core, &run);
    let shape: Vec<(MessageKind, String)> = msgs
        .iter()
        .map(|m| {
            (
                m.kind,
                m.channel.split(':').next().unwrap_or("").to_string(),
            )
        })
        .collect();
    use MessageKind::*;
    assert_eq!(
        shape,
        [
            (StatusUpdate, "team"),
            (Response, "task"),
            (Handoff, "direct"),
            (Response, "task"),
            (Handoff, "direct"),
            (Response, "task"),
            (StatusUpdate, "team"),
        ]
        .map(|(k, c)| (k, c.to_string()))
    );
    let handoff = &msgs[2];
    assert_eq!(handoff.channel, format!("direct:{r}:{w}"));
    assert_eq!(handoff.context["output"], "FACTS: honey never spoils");
    assert_eq!(msgs[1].content, "FACTS: honey never spoils");
    assert_eq!(msgs[1].task_id.as_deref(), Some(tasks[0].id.as_str()));

    // The run streamed: changes of the run and its messages were published.
    let mut seen_run = 0;
    let mut seen_msg = 0;
    while let Ok(c) = events.try_recv() {
        if c.entity == Entity::CrewRun && c.id == run.id {
            seen_run += 1;
        }
        if c.entity == Entity::Message {
            seen_msg += 1;
        }
    }
    assert!(seen_run >= 5, "crew run changes: {seen_run}");
    assert_eq!(seen_msg, msgs.len());
    env.stop().await;
}

fn draft_count(req: &ensemble_core::providers::ChatRequest) -> usize {
    purpose(req)
        .trim_start_matches("Task: ")
        .rsplit("draft ")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_review_revises_until_the_reviewer_approves() {
    let model = ScriptedProvider::from_fn("scripted", |req, _| {
        match (agent_name(req).as_str(), purpose(req).as_str()) {
            ("Wren", p) if p.starts_with("Task: ") => {
                Reply::text(&format!("Poem v{}", draft_count(req)))
            }
            ("Vale", "[verdict]") => {
                if user(req).contains("Poem v1") {
                    json(
                        json!({ "verdict": "revise", "critique": "Add a closing line about frost" }),
                    )
                } else {
                    json(json!({ "verdict": "approve", "critique": "Good" }))
                }
            }
            (a, p) => panic!("unexpected {a} {p}"),
        }
    });
    let mut env = Env::new(model);
    env.start();
    let core = env.core.clone();
    let (w, v) = (
        agent(&core, "Wren", "writer", &["writing"]),
        agent(&core, "Vale", "reviewer", &["review"]),
    );
    let c = crew::crew(
        &core,
        "Poets",
        Process::PeerReview,
        &[(&w, "author"), (&v, "reviewer")],
        CrewInput::default(),
    );
    core.memory()
        .remember(Some(&c.id), None, "Poems must rhyme", "test", None)
        .unwrap();
    let run = tokio::time::timeout(
        LONG,
        engine(&env).run(&c.id, "Write a short poem about autumn"),
    )
    .await
    .unwrap()
    .unwrap();

    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.stop_reason, Some(StopReason::Approved));
    assert_eq!(run.report.as_deref(), Some("Poem v2"));
    let labels: Vec<&str> = run.outputs.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["draft 1", "review 1", "draft 2", "review 2"]);
    assert_eq!(run.state["reviews"][0]["verdict"], "revise");
    assert_eq!(run.state["reviews"][1]["verdict"], "approve");

    // The second draft was asked for with the first draft and the critique.
    let reqs = env.model.requests();
    let second = reqs
        .iter()
        .find(|q| draft_count(q) == 2 && is_work(q))
        .unwrap();
    assert!(
        user(second).contains("Poem v1") && user(second).contains("Add a closing line about frost")
    );
    // The reviewer's decisions are structured turns constrained by a schema, with the team memory.
    let verdicts: Vec<_> = reqs.iter().filter(|q| purpose(q) == "[verdict]").collect();
    assert_eq!(verdicts.len(), 2);
    assert!(verdicts.iter().all(|q| q
        .json_schema
        .as_ref()
        .is_some_and(|s| s["properties"]["verdict"]["enum"] == json!(["approve", "revise"]))));
    assert!(system(verdicts[0]).contains("Poems must rhyme"));

    // Handoffs author → reviewer with the draft; verdicts reviewer → author.
    let msgs = messages(&core, &run);
    let handoffs: Vec<_> = msgs
        .iter()
        .filter(|m| m.kind == MessageKind::Handoff)
        .collect();
    assert_eq!(handoffs.len(), 2);
    assert_eq!(handoffs[0].channel, format!("direct:{w}:{v}"));
    assert_eq!(handoffs[1].context["draft"], "Poem v2");
    let verdict_msgs: Vec<&str> = msgs
        .iter()
        .filter(|m| {
            m.kind == MessageKind::Response && m.from_agent_id.as_deref() == Some(v.as_str())
        })
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(
        verdict_msgs,
        ["REVISE: Add a closing line about frost", "APPROVED: Good"]
    );

    // Skill "writing" learned from each draft (practice) and each verdict (feedback):
    // 0.5 → 0.55 (done) → 0.44 (revise) → 0.496 (done) → 0.5968 (approve); 3 of 4 good.
    let wren = core.agents().get(&w).unwrap();
    let s = wren
        .skills
        .iter()
        .find(|s| s.skill_name == "writing")
        .unwrap();
    assert_eq!(s.times_used, 4);
    assert!((s.proficiency - 0.5968).abs() < 1e-9, "{}", s.proficiency);
    assert!((s.success_rate - 0.75).abs() < 1e-9, "{}", s.success_rate);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_review_stops_at_max_rounds_without_approval() {
    let model = ScriptedProvider::from_fn("scripted", |req, _| match purpose(req).as_str() {
        "[verdict]" => json(json!({ "verdict": "revise", "critique": "Still not there" })),
        p if p.starts_with("Task: ") => Reply::text(&format!("Essay v{}", draft_count(req))),
        p => panic!("unexpected {p}"),
    });
    let mut env = Env::new(model);
    env.start();
    let core = env.core.clone();
    let (w, v) = (
        agent(&core, "Wren", "writer", &["writing"]),
        agent(&core, "Vale", "reviewer", &["review"]),
    );
    let c = crew::crew(
        &core,
        "Stuck",
        Process::PeerReview,
        &[(&w, "author"), (&v, "reviewer")],
        CrewInput {
            max_rounds: Some(3),
            ..Default::default()
        },
    );
    let run = tokio::time::timeout(LONG, engine(&env).run(&c.id, "Write an essay"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed);
    assert_eq!(run.stop_reason, Some(StopReason::MaxRounds));
    assert_eq!(run.report.as_deref(), Some("Essay v3"));
    let reqs = env.model.requests();
    assert_eq!(reqs.iter().filter(|q| purpose(q) == "[verdict]").count(), 3);
    assert_eq!(
        reqs.iter().filter(|q| is_work(q)).count(),
        3,
        "no fourth draft"
    );
    env.stop().await;
}

fn round_of(req: &ensemble_core::providers::ChatRequest) -> u32 {
    purpose(req)
        .trim_start_matches("[vote round ")
        .trim_end_matches(']')
        .parse()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_converges_and_logs_every_vote() {
    let model = ScriptedProvider::from_fn("scripted", |req, _| {
        let round = round_of(req);
        let (pos, ans) = match (agent_name(req).as_str(), round) {
            ("Ada", _) => ("Rust", "Rust: memory safety without a GC"),
            ("Bo", 1) => ("Go", "Go: simple and fast to learn"),
            ("Bo", _) => ("rust!", "Rust, I agree with Ada"),
            ("Cy", _) => ("rust", "Rust for its tooling"),
            (a, r) => panic!("unexpected {a} round {r}"),
        };
        json(json!({ "position": pos, "answer": ans }))
    });
    let mut env = Env::new(model);
    env.start();
    let core = env.core.clone();
    let ids: Vec<String> = ["Ada", "Bo", "Cy"]
        .iter()
        .map(|n| agent(&core, n, "engineer", &["architecture"]))
        .collect();
    let c = crew::crew(
        &core,
        "Panel",
        Process::Consensus,
        &[
            (&ids[0], "panelist"),
            (&ids[1], "panelist"),
            (&ids[2], "panelist"),
        ],
        CrewInput::default(),
    );
    let run = tokio::time::timeout(
        LONG,
        engine(&env).run(&c.id, "Which language for the new service?"),
    )
    .await
    .unwrap()
    .unwrap();

    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.stop_reason, Some(StopReason::Consensus));
    assert!(
        run.report
            .as_deref()
            .unwrap()
            .starts_with("Consensus after 2 round(s) of 3: Rust"),
        "{:?}",
        run.report
    );
    assert_eq!(run.vote_log.len(), 2);
    let r1 = &run.vote_log[0];
    let positions: Vec<(&str, &str)> = r1
        .votes
        .iter()
        .map(|v| (v.agent_name.as_str(), v.position.as_str()))
        .collect();
    assert_eq!(positions, [("Ada", "Rust"), ("Bo", "Go"), ("Cy", "rust")]);
    assert_eq!(
        r1.tally,
        vec![("rust".to_string(), 2), ("go".to_string(), 1)]
    );
    assert!(!r1.agreed);
    assert_eq!(r1.outcome, RoundOutcome::Continue);
    let r2 = &run.vote_log[1];
    assert_eq!(r2.votes[1].position, "rust!");
    assert_eq!(r2.tally, vec![("rust".to_string(), 3)]);
    assert!(r2.agreed);
    assert_eq!(r2.outcome, RoundOutcome::Consensus);

    // Round 1 is independent; in round 2 each member sees the others' answers.
    let reqs = env.model.requests();
    let bo1 = reqs
        .iter()
        .find(|q| agent_name(q) == "Bo" && round_of(q) == 1)
        .unwrap();
    assert!(!user(bo1).contains("memory safety"));
    let bo2 = reqs
        .iter()
        .find(|q| agent_name(q) == "Bo" && round_of(q) == 2)
        .unwrap();
    assert!(user(bo2).contains("- Ada: [Rust] Rust: memory safety without a GC"));
    assert!(user(bo2).contains("- Bo (you): [Go]"));
    // Every vote is a message on the team channel, plus a tally per round.
    let msgs = messages(&core, &run);
    let votes = msgs
        .iter()
        .filter(|m| m.kind == MessageKind::Response && m.channel == format!("team:{}", c.id))
        .count();
    assert_eq!(votes, 6);
    let tallies: Vec<&str> = msgs
        .iter()
        .filter(|m| m.content.starts_with("Round "))
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(
        tallies,
        [
            "Round 1: rust ×2, go ×1 — continue",
            "Round 2: rust ×3 — consensus"
        ]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consensus_without_agreement_ends_with_the_vote_log_per_round() {
    let model = ScriptedProvider::from_fn("scripted", |req, _| match agent_name(req).as_str() {
        "Ada" => json(json!({ "position": "Yes", "answer": "Ship it" })),
        _ => json(json!({ "position": "No", "answer": "Wait a week" })),
    });
    let mut env = Env::new(model);
    env.start();
    let core = env.core.clone();
    let (a, b) = (
        agent(&core, "Ada", "lead", &[]),
        agent(&core, "Bo", "qa", &[]),
    );
    let c = crew::crew(
        &core,
        "Split",
        Process::Consensus,
        &[(&a, "panelist"), (&b, "panelist")],
        CrewInput {
            max_rounds: Some(2),
            ..Default::default()
        },
    );
    let run = tokio::time::timeout(LONG, engine(&env).run(&c.id, "Ship on Friday?"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed);
    assert_eq!(run.stop_reason, Some(StopReason::NoConsensus));
    let outcomes: Vec<RoundOutcome> = run.vote_log.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [RoundOutcome::Continue, RoundOutcome::NoConsensus]
    );
    for r in &run.vote_log {
        let p: Vec<&str> = r.votes.iter().map(|v| v.position.as_str()).collect();
        assert_eq!(p, ["Yes", "No"]);
        assert!(!r.agreed);
    }
    let report = run.report.unwrap();
    assert!(
        report.starts_with("No consensus after 2 round(s)."),
        "{report}"
    );
    assert!(report.contains("- Ada: [Yes] Ship it") && report.contains("- Bo: [No] Wait a week"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crew_that_cannot_run_its_process_is_refused_clearly() {
    let env = Env::new(ScriptedProvider::new("s", vec![]));
    let core = env.core.clone();
    let a = agent(&core, "Solo", "writer", &[]);
    let c = crew::crew(
        &core,
        "Alone",
        Process::PeerReview,
        &[(&a, "author")],
        CrewInput::default(),
    );
    let e = engine(&env).start(&c.id, "x").await.unwrap_err();
    assert!(
        e.to_string().contains("needs an author and a reviewer"),
        "{e}"
    );
    let h = crew::crew(
        &core,
        "Bossless",
        Process::Hierarchical,
        &[(&a, "worker")],
        CrewInput::default(),
    );
    let e = engine(&env).start(&h.id, "x").await.unwrap_err();
    assert!(e.to_string().contains("needs a manager"), "{e}");
    let empty = crew::crew(
        &core,
        "Goalless",
        Process::Sequential,
        &[(&a, "w")],
        CrewInput::default(),
    );
    let e = engine(&env).start(&empty.id, "  ").await.unwrap_err();
    assert!(e.to_string().contains("give the run an input"), "{e}");
    assert!(engine(&env)
        .start("nope", "x")
        .await
        .unwrap_err()
        .to_string()
        .contains("does not exist"));
    assert_eq!(
        core.crews()
            .list_runs(None, Paging::default())
            .unwrap()
            .total,
        0,
        "nothing recorded"
    );
}
