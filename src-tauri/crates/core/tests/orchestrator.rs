//! The orchestrator with a scripted model, deterministically: priority and
//! aging, concurrency limits (observed maximum), routing, retries with
//! backoff, the circuit breaker holding work back, crashed workers, and
//! graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/orch.rs"]
mod orch;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ensemble_core::orchestrator::TaskRetry;
use ensemble_core::providers::resilience::{BreakerConfig, BreakerState};
use ensemble_core::providers::{ProviderError, ProviderInput};
use ensemble_core::runs::RunStatus;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::TaskStatus;
use ensemble_llm::scripted::{Reply, ScriptedProvider};
use orch::{agent_name, fast_config, task_title, Env};

const LONG: Duration = Duration::from_secs(20);

fn titles(env: &Env) -> Vec<String> {
    env.model.requests().iter().map(task_title).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_by_priority_then_age() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::text("done")
    }));
    env.agent("Solo", &[], 1);
    env.set(SettingsPatch {
        paused: Some(true),
        max_concurrent_tasks: Some(1),
        ..Default::default()
    });
    let ids: Vec<String> = [
        ("low", 3),
        ("urgent", 9),
        ("normal-a", 5),
        ("normal-b", 5),
        ("critical", 10),
    ]
    .iter()
    .map(|(t, p)| env.task(t, *p, &[]).id)
    .collect();
    env.start();
    env.set(SettingsPatch {
        paused: Some(false),
        ..Default::default()
    });
    env.wait_final(&ids, LONG).await;
    assert_eq!(
        titles(&env),
        ["critical", "urgent", "normal-a", "normal-b", "low"]
    );
    env.stop().await;
}

/// Makes a task `hours` older, the way a restored backup would: its row goes
/// out through the data export and comes back through the import (the
/// tasks room stays the only writer of `tasks`).
fn backdate(env: &Env, id: &str, hours: i64) {
    let mut doc = env.core.export_document().unwrap();
    doc.tables.retain(|name, _| name == "tasks");
    let rows = doc.tables.get_mut("tasks").unwrap();
    rows.retain(|r| r.get("id").and_then(|v| v.as_str()) == Some(id));
    assert_eq!(rows.len(), 1, "task {id} is exported");
    let then = chrono::Utc::now() - chrono::Duration::hours(hours);
    rows[0].insert(
        "created_at".into(),
        serde_json::json!(then.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
    );
    env.core.import_document(doc).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aging_lifts_old_low_priority_tasks() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::text("done")
    }));
    env.agent("Solo", &[], 1);
    env.set(SettingsPatch {
        paused: Some(true),
        max_concurrent_tasks: Some(1),
        ..Default::default()
    });
    let old = env.task("old background", 1, &[]);
    let fresh = env.task("fresh high", 8, &[]);
    // The background task has waited two hours: with one level per 10 minutes it now outranks priority 8.
    backdate(&env, &old.id, 2);
    env.start();
    env.set(SettingsPatch {
        paused: Some(false),
        ..Default::default()
    });
    env.wait_final(&[old.id.clone(), fresh.id.clone()], LONG)
        .await;
    assert_eq!(titles(&env), ["old background", "fresh high"]);
    env.stop().await;

    // Without aging, priority alone decides.
    let mut env = Env::with(
        ScriptedProvider::from_fn("scripted", |_, _| Reply::text("done")),
        ensemble_core::orchestrator::OrchestratorConfig {
            aging_minutes: 0.0,
            ..fast_config()
        },
        BreakerConfig::default(),
    );
    env.agent("Solo", &[], 1);
    env.set(SettingsPatch {
        paused: Some(true),
        max_concurrent_tasks: Some(1),
        ..Default::default()
    });
    let old = env.task("old background", 1, &[]);
    let fresh = env.task("fresh high", 8, &[]);
    backdate(&env, &old.id, 2);
    env.start();
    env.set(SettingsPatch {
        paused: Some(false),
        ..Default::default()
    });
    env.wait_final(&[old.id, fresh.id], LONG).await;
    assert_eq!(titles(&env), ["fresh high", "old background"]);
    env.stop().await;
}

/// Counts requests in flight, remembering the maximum.
fn counting_model(
    active: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    per_task: Duration,
) -> ScriptedProvider {
    ScriptedProvider::from_fn("scripted", move |_, _| {
        let now = active.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(now, Ordering::SeqCst);
        let a = active.clone();
        // The reply is slow; the counter goes down when its last step is produced.
        let _ = a;
        Reply::slow_text("working on it done", per_task / 4)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limits_are_never_exceeded() {
    let active = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let mut env = Env::new(counting_model(
        active.clone(),
        max.clone(),
        Duration::from_millis(120),
    ));
    let agents: Vec<String> = ["A", "B", "C"]
        .iter()
        .map(|n| env.agent(n, &["work"], 2))
        .collect();
    env.set(SettingsPatch {
        max_concurrent_tasks: Some(3),
        ..Default::default()
    });
    let ids: Vec<String> = (0..12)
        .map(|i| env.task(&format!("t{i}"), 5, &["work"]).id)
        .collect();
    env.start();
    env.wait_final(&ids, LONG).await;
    let observed = env.orch.stats.max_running.load(Ordering::SeqCst);
    assert_eq!(
        observed, 3,
        "the global limit (3) was reached and never exceeded"
    );
    for a in &agents {
        assert!(
            env.orch.max_agent_load(a) <= 2,
            "per-agent limit: {}",
            env.orch.max_agent_load(a)
        );
    }
    env.stop().await;

    // A provider limit (2) caps the work even with more global room.
    let mut env = Env::new(counting_model(
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Duration::from_millis(120),
    ));
    for n in ["A", "B", "C"] {
        env.agent(n, &["work"], 3);
    }
    env.core
        .providers()
        .update(
            "scripted",
            ProviderInput {
                max_concurrent: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    env.set(SettingsPatch {
        max_concurrent_tasks: Some(10),
        ..Default::default()
    });
    let ids: Vec<String> = (0..10)
        .map(|i| env.task(&format!("p{i}"), 5, &["work"]).id)
        .collect();
    env.start();
    env.wait_final(&ids, LONG).await;
    assert_eq!(
        env.orch.stats.max_running.load(Ordering::SeqCst),
        2,
        "the provider's limit of 2"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_follows_capabilities_load_and_failures() {
    // Seed 000's TaskDispatcher scenario.
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::text("ok")
    }));
    let analyst = env.agent("Analyst", &["sql_query", "data_analysis"], 1);
    let writer = env.agent("Writer", &["summarization", "writing"], 1);
    let a = env.task("crunch the numbers", 5, &["data_analysis"]);
    let w = env.task("write the summary", 5, &["writing"]);
    env.start();
    let done = env.wait_final(&[a.id.clone(), w.id.clone()], LONG).await;
    assert_eq!(done[0].routed_agent_id.as_deref(), Some(analyst.as_str()));
    assert_eq!(done[1].routed_agent_id.as_deref(), Some(writer.as_str()));
    // Their skills learned from the outcome.
    let skill = env
        .core
        .agents()
        .get(&analyst)
        .unwrap()
        .skills
        .into_iter()
        .find(|s| s.skill_name == "data_analysis")
        .unwrap();
    assert_eq!((skill.times_used, skill.success_rate), (1, 1.0));
    env.stop().await;

    // Two equal agents share the load.
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::slow_text("slow answer", Duration::from_millis(80))
    }));
    let x = env.agent("Xena", &["writing"], 1);
    let y = env.agent("Yuri", &["writing"], 1);
    let ids: Vec<String> = (0..4)
        .map(|i| env.task(&format!("w{i}"), 5, &["writing"]).id)
        .collect();
    env.start();
    let done = env.wait_final(&ids, LONG).await;
    let by_x = done
        .iter()
        .filter(|t| t.routed_agent_id.as_deref() == Some(x.as_str()))
        .count();
    let by_y = done
        .iter()
        .filter(|t| t.routed_agent_id.as_deref() == Some(y.as_str()))
        .count();
    assert_eq!((by_x, by_y), (2, 2), "balanced");
    env.stop().await;

    // A retry goes to an agent that has not failed the task.
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |req, _| {
        if agent_name(req) == "Flaky" {
            Reply::Refuse(ProviderError::Server {
                status: 500,
                detail: "boom".into(),
            })
        } else {
            Reply::text("steady result")
        }
    }));
    let flaky = env.agent("Flaky", &["writing"], 1);
    let steady = env.agent("Steady", &["writing"], 1);
    env.core
        .store()
        .write(|tx| {
            Ok(tx.execute(
                "UPDATE agents SET created_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
                [&flaky],
            )?)
        })
        .unwrap();
    // Flaky is the older of two equal agents, so it gets the task first; it fails and the retry goes to Steady.
    let t = env.task("draft", 5, &["writing"]);
    env.start();
    let done = env.wait_final(std::slice::from_ref(&t.id), LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed);
    assert_eq!(done[0].failed_agents, vec![flaky.clone()]);
    assert_eq!(done[0].routed_agent_id.as_deref(), Some(steady.as_str()));
    let runs = env.core.runs().of_task(&t.id).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        runs[0].run.agent_id.as_deref(),
        Some(steady.as_str()),
        "the retry ran on Steady"
    );
    assert_eq!(runs[1].run.status, RunStatus::Failed);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_then_fail_after_max_attempts() {
    let times: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let t2 = times.clone();
    let mut env = Env::with(
        ScriptedProvider::from_fn("scripted", move |_, _| {
            t2.lock().unwrap().push(Instant::now());
            Reply::Refuse(ProviderError::Server {
                status: 503,
                detail: "overloaded".into(),
            })
        }),
        ensemble_core::orchestrator::OrchestratorConfig {
            retry: TaskRetry {
                base: Duration::from_millis(200),
                max: Duration::from_millis(400),
            },
            ..fast_config()
        },
        BreakerConfig {
            threshold: 100,
            cool_down: Duration::from_secs(1),
        },
    );
    env.agent("Solo", &[], 1);
    let t = env
        .core
        .tasks()
        .create(ensemble_core::tasks::NewTask {
            title: "doomed".into(),
            max_attempts: Some(4),
            ..Default::default()
        })
        .unwrap();
    env.start();
    let done = env.wait_final(std::slice::from_ref(&t.id), LONG).await;
    assert_eq!(done[0].status, TaskStatus::Failed);
    assert_eq!(done[0].attempts, 4);
    assert!(
        done[0].error.as_deref().unwrap().contains("overloaded"),
        "{:?}",
        done[0].error
    );
    assert_eq!(done[0].next_attempt_at, None);
    let t = times.lock().unwrap().clone();
    assert_eq!(t.len(), 4);
    let gaps: Vec<Duration> = t.windows(2).map(|w| w[1] - w[0]).collect();
    // Delays: 100–200 ms, 200–400 ms, then capped at 200–400 ms (equal jitter).
    assert!(gaps[0] >= Duration::from_millis(95), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(195), "{gaps:?}");
    assert!(
        gaps[2] >= Duration::from_millis(195) && gaps[2] < Duration::from_millis(1500),
        "{gaps:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_holds_tasks_back_until_the_provider_recovers() {
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h = healthy.clone();
    let mut env = Env::with(
        ScriptedProvider::from_fn("scripted", move |_, _| {
            if h.load(Ordering::SeqCst) {
                Reply::text("recovered")
            } else {
                Reply::Refuse(ProviderError::Server {
                    status: 500,
                    detail: "down".into(),
                })
            }
        }),
        fast_config(),
        BreakerConfig {
            threshold: 2,
            cool_down: Duration::from_millis(600),
        },
    );
    env.agent("Solo", &[], 4);
    let ids: Vec<String> = (0..4)
        .map(|i| env.task(&format!("job{i}"), 5, &[]).id)
        .collect();
    env.start();
    // Two failures open the breaker.
    let end = Instant::now() + LONG;
    while env.hub.breaker("scripted").status().state != BreakerState::Open {
        assert!(Instant::now() < end, "the breaker never opened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let requests_when_open = env.model.requests().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.model.requests().len(),
        requests_when_open,
        "no request while the breaker is open"
    );
    for id in &ids {
        let t = env.core.tasks().get(id).unwrap();
        assert_ne!(
            t.status,
            TaskStatus::Failed,
            "tasks wait rather than fail: {} {:?}",
            t.title,
            t.error
        );
    }
    healthy.store(true, Ordering::SeqCst);
    let done = env.wait_final(&ids, LONG).await;
    assert!(done.iter().all(|t| t.status == TaskStatus::Completed));
    assert_eq!(
        env.hub.breaker("scripted").status().state,
        BreakerState::Closed
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_worker_restarts_and_its_task_is_requeued() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", move |_, _| {
        if c2.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("simulated crash inside the agent worker");
        }
        Reply::text("fine now")
    }));
    let agent = env.agent("Crashy", &[], 1);
    let t = env.task("survive", 5, &[]);
    env.start();
    let done = env.wait_final(std::slice::from_ref(&t.id), LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed);
    assert_eq!(done[0].output.as_deref(), Some("fine now"));
    assert_eq!(env.orch.stats.crashes.load(Ordering::SeqCst), 1);
    assert_eq!(
        done[0].attempts, 1,
        "a crash re-queues without using an attempt"
    );
    // The heartbeat keeps the agent's status current.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let a = env.core.agents().get(&agent).unwrap();
    assert!(a.last_heartbeat.is_some());
    assert_eq!(a.status, ensemble_core::agents::AgentStatus::Idle);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_new_work_and_a_paused_agent_is_skipped() {
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::text("ok")
    }));
    let a = env.agent("Ann", &["x"], 1);
    let b = env.agent("Ben", &["x"], 1);
    env.orch.set_agent_paused(&a, true).unwrap();
    env.set(SettingsPatch {
        paused: Some(true),
        ..Default::default()
    });
    let t = env.task("later", 5, &["x"]);
    env.start();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.core.tasks().get(&t.id).unwrap().status,
        TaskStatus::Queued,
        "nothing starts while paused"
    );
    env.set(SettingsPatch {
        paused: Some(false),
        ..Default::default()
    });
    let done = env.wait_final(std::slice::from_ref(&t.id), LONG).await;
    assert_eq!(
        done[0].routed_agent_id.as_deref(),
        Some(b.as_str()),
        "the paused agent takes nothing"
    );
    assert_eq!(
        env.core.agents().get(&a).unwrap().status,
        ensemble_core::agents::AgentStatus::Paused
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_interrupts_work_which_resumes_after_restart() {
    let model = ScriptedProvider::from_fn("scripted", |_, n| {
        if n == 0 {
            Reply::slow_text(
                "a very slow first answer that will not finish",
                Duration::from_millis(400),
            )
        } else {
            Reply::text("finished after the restart")
        }
    });
    let mut env = Env::new(model);
    env.agent("Solo", &[], 1);
    let t = env.task("long job", 5, &[]);
    env.start();
    env.wait_status(&t.id, TaskStatus::Running, LONG).await;
    let stopped_at = Instant::now();
    env.stop().await;
    assert!(
        stopped_at.elapsed() < Duration::from_secs(10),
        "shutdown within 10 s"
    );
    let task = env.core.tasks().get(&t.id).unwrap();
    assert_eq!(
        task.status,
        TaskStatus::Queued,
        "interrupted work goes back to the queue"
    );
    let runs = env.core.runs().of_task(&t.id).unwrap();
    assert_eq!(runs[0].run.status, RunStatus::Interrupted);

    // A new orchestrator on the same store resumes the same run.
    let runtime = Arc::new(ensemble_core::runtime::AgentRuntime::new(
        env.core.clone(),
        env.hub.clone(),
        Arc::new(orch::registry(env.dir.path())),
    ));
    env.orch = ensemble_core::orchestrator::Orchestrator::new(
        env.core.clone(),
        env.hub.clone(),
        runtime,
        fast_config(),
    );
    env.start();
    let done = env.wait_final(std::slice::from_ref(&t.id), LONG).await;
    assert_eq!(
        done[0].output.as_deref(),
        Some("finished after the restart")
    );
    let runs = env.core.runs().of_task(&t.id).unwrap();
    assert_eq!(
        runs.len(),
        1,
        "the interrupted run was resumed, not replaced"
    );
    assert_eq!(runs[0].run.status, RunStatus::Completed);
    env.stop().await;
}
