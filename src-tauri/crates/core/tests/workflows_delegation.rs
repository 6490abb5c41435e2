//! Workflow runs and delegation with a scripted model: a cycle is refused by
//! name; a diamond runs its middle steps concurrently and joins their
//! outputs; a false condition skips its branch; templates round-trip;
//! delegation respects depth and cycles and the parent receives the output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/orch.rs"]
mod orch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ensemble_core::agents::AgentInput;
use ensemble_core::orchestrator::delegation::DelegationRequest;
use ensemble_core::providers::{FinishReason, ProviderError, Role, StreamEvent};
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{NewTask, TaskStatus};
use ensemble_core::workflows::{
    ConditionOp, FailurePolicy, StepCondition, WorkflowDefinition, WorkflowInput, WorkflowStep,
};
use ensemble_core::workflows::{StepStatus, WorkflowRunStatus};
use ensemble_llm::scripted::{Reply, ScriptedProvider, Step};
use orch::{task_title, Env};

const LONG: Duration = Duration::from_secs(20);

fn step(key: &str, deps: &[&str], prompt: &str) -> WorkflowStep {
    WorkflowStep {
        key: key.into(),
        title: key.into(),
        agent_id: None,
        capabilities: vec![],
        prompt: prompt.into(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        condition: None,
        priority: None,
    }
}

fn objective(req: &ensemble_core::providers::ChatRequest) -> String {
    req.messages
        .iter()
        .find(|m| m.role == Role::User)
        .map(|m| m.content.clone())
        .unwrap_or_default()
}

async fn wait_run(env: &Env, id: &str) -> ensemble_core::workflows::WorkflowRun {
    let end = Instant::now() + LONG;
    loop {
        let r = env.core.workflows().run(id).unwrap();
        if r.status != WorkflowRunStatus::Running {
            return r;
        }
        assert!(
            Instant::now() < end,
            "workflow still running: {:?}",
            r.steps
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_cycle_is_refused_with_its_steps_named() {
    let dir = tempfile::tempdir().unwrap();
    let core = ensemble_core::Core::open(dir.path()).unwrap();
    let e = core
        .workflows()
        .create(WorkflowInput {
            name: Some("loop".into()),
            definition: Some(WorkflowDefinition {
                steps: vec![
                    step("draft", &["review"], "d"),
                    step("review", &["draft"], "r"),
                    step("publish", &["review"], "p"),
                ],
                on_failure: FailurePolicy::Fail,
            }),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code(), "CYCLE");
    let msg = e.to_string();
    assert!(
        msg.contains("draft") && msg.contains("review") && msg.contains("→"),
        "{msg}"
    );
    assert!(
        !msg.contains("publish"),
        "only the steps on the cycle: {msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diamond_runs_its_branches_concurrently_and_joins_their_outputs() {
    let spans: Arc<Mutex<HashMap<String, (Instant, Instant)>>> = Arc::default();
    let s2 = spans.clone();
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", move |req, _| {
        let title = task_title(req);
        let start = Instant::now();
        let dur = if title == "b" || title == "c" {
            Duration::from_millis(300)
        } else {
            Duration::from_millis(20)
        };
        s2.lock()
            .unwrap()
            .insert(title.clone(), (start, start + dur));
        Reply::Steps(vec![
            Step::Sleep(dur),
            Step::Event(StreamEvent::Delta(format!("<{title} done>"))),
            Step::Event(StreamEvent::Finish(FinishReason::Stop)),
        ])
    }));
    env.agent("A1", &[], 2);
    env.agent("A2", &[], 2);
    let wf = env
        .core
        .workflows()
        .create(WorkflowInput {
            name: Some("diamond".into()),
            definition: Some(WorkflowDefinition {
                steps: vec![
                    step("a", &[], "Start with {{input}}"),
                    step("b", &["a"], "Left branch of {{a.output}}"),
                    step("c", &["a"], "Right branch of {{a.output}}"),
                    step("d", &["b", "c"], "Join {{b.output}} and {{c.output}}"),
                ],
                on_failure: FailurePolicy::Fail,
            }),
            ..Default::default()
        })
        .unwrap();
    env.start();
    let run = env
        .core
        .workflows()
        .start(&wf.id, serde_json::json!("the topic"))
        .unwrap();
    let run = wait_run(&env, &run.id).await;
    assert_eq!(run.status, WorkflowRunStatus::Completed);
    assert!(run.steps.iter().all(|s| s.status == StepStatus::Completed));
    let (b, c) = {
        let sp = spans.lock().unwrap();
        (sp["b"], sp["c"])
    };
    assert!(
        b.0 < c.1 && c.0 < b.1,
        "b and c overlapped in time: {b:?} {c:?}"
    );
    let d = env
        .model
        .requests()
        .into_iter()
        .find(|r| task_title(r) == "d")
        .unwrap();
    let prompt = objective(&d);
    assert!(prompt.contains("Join <b done> and <c done>"), "{prompt}");
    let a = env
        .model
        .requests()
        .into_iter()
        .find(|r| task_title(r) == "a")
        .unwrap();
    assert!(objective(&a).contains("Start with the topic"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_condition_skips_its_branch() {
    let mut env = Env::new(ScriptedProvider::from_fn(
        "scripted",
        |req, _| match task_title(req).as_str() {
            "check" => Reply::text("NO, the data is incomplete"),
            t => Reply::text(&format!("{t} output")),
        },
    ));
    env.agent("Solo", &[], 2);
    let mut publish = step("publish", &["check"], "Publish");
    publish.condition = Some(StepCondition {
        step: "check".into(),
        op: ConditionOp::Contains,
        value: "yes".into(),
    });
    let wf = env
        .core
        .workflows()
        .create(WorkflowInput {
            name: Some("gated".into()),
            definition: Some(WorkflowDefinition {
                steps: vec![
                    step("check", &[], "Is it ready?"),
                    publish,
                    step("announce", &["publish"], "Announce {{publish.output}}"),
                    step("fix", &["check"], "Fix what {{check.output}} says"),
                ],
                on_failure: FailurePolicy::Fail,
            }),
            ..Default::default()
        })
        .unwrap();
    env.start();
    let run = env
        .core
        .workflows()
        .start(&wf.id, serde_json::Value::Null)
        .unwrap();
    let run = wait_run(&env, &run.id).await;
    assert_eq!(run.status, WorkflowRunStatus::Completed);
    let st: HashMap<&str, StepStatus> = run
        .steps
        .iter()
        .map(|s| (s.key.as_str(), s.status))
        .collect();
    assert_eq!(st["check"], StepStatus::Completed);
    assert_eq!(st["publish"], StepStatus::Skipped);
    assert_eq!(st["announce"], StepStatus::Skipped, "the whole branch");
    assert_eq!(st["fix"], StepStatus::Completed);
    assert!(run
        .steps
        .iter()
        .find(|s| s.key == "publish")
        .unwrap()
        .error
        .as_deref()
        .unwrap()
        .contains("condition"));
    let ran: Vec<String> = env.model.requests().iter().map(task_title).collect();
    assert!(!ran.contains(&"publish".to_string()) && !ran.contains(&"announce".to_string()));
    env.stop().await;
}

/// A person retries a workflow step that failed for good: the failed run is
/// reopened, the step runs again, the step skipped because of the failure
/// runs after it with its output, and the run completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_failed_step_reopens_its_run() {
    let broken = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let b2 = broken.clone();
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", move |req, _| {
        let title = task_title(req);
        if title == "fetch" && b2.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::Refuse(ProviderError::Server {
                status: 500,
                detail: "upstream down".into(),
            })
        } else {
            Reply::text(&format!("<{title} output>"))
        }
    }));
    env.agent("Solo", &[], 2);
    let wf = env
        .core
        .workflows()
        .create(WorkflowInput {
            name: Some("chain".into()),
            definition: Some(WorkflowDefinition {
                steps: vec![
                    step("plan", &[], "Plan"),
                    step("fetch", &["plan"], "Fetch for {{plan.output}}"),
                    step("report", &["fetch"], "Report on {{fetch.output}}"),
                ],
                on_failure: FailurePolicy::Fail,
            }),
            ..Default::default()
        })
        .unwrap();
    env.start();
    let run = env
        .core
        .workflows()
        .start(&wf.id, serde_json::Value::Null)
        .unwrap();
    let failed = wait_run(&env, &run.id).await;
    assert_eq!(failed.status, WorkflowRunStatus::Failed);
    let st = |r: &ensemble_core::workflows::WorkflowRun, k: &str| {
        r.steps.iter().find(|s| s.key == k).unwrap().clone()
    };
    assert_eq!(st(&failed, "fetch").status, StepStatus::Failed);
    assert_eq!(st(&failed, "report").status, StepStatus::Skipped);
    let fetch_task = st(&failed, "fetch").task_id.unwrap();

    // Retrying a task that has not failed is refused.
    let plan_task = st(&failed, "plan").task_id.unwrap();
    let e = env.core.tasks().retry(&plan_task).unwrap_err();
    assert!(e.to_string().contains("only failed tasks"), "{e}");

    broken.store(false, std::sync::atomic::Ordering::SeqCst);
    let t = env.core.tasks().retry(&fetch_task).unwrap();
    assert_eq!(t.status, TaskStatus::Queued);
    assert!(t.max_attempts > t.attempts, "one more attempt: {t:?}");
    let reopened = env.core.workflows().run(&run.id).unwrap();
    assert_eq!(reopened.status, WorkflowRunStatus::Running);
    assert_eq!(st(&reopened, "report").status, StepStatus::Pending);
    env.orch.nudge();
    let done = wait_run(&env, &run.id).await;
    assert_eq!(
        done.status,
        WorkflowRunStatus::Completed,
        "{:?}",
        done.steps
    );
    assert_eq!(st(&done, "report").status, StepStatus::Completed);
    let report = env
        .model
        .requests()
        .into_iter()
        .find(|r| task_title(r) == "report")
        .unwrap();
    assert!(objective(&report).contains("Report on <fetch output>"));
    env.stop().await;
}

#[test]
fn templates_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let core = ensemble_core::Core::open(dir.path()).unwrap();
    let def = WorkflowDefinition {
        steps: vec![
            step("research", &[], "Research {{input}}"),
            step("write", &["research"], "Write from {{research.output}}"),
        ],
        on_failure: FailurePolicy::Continue,
    };
    let wf = core
        .workflows()
        .create(WorkflowInput {
            name: Some("Blog post".into()),
            definition: Some(def.clone()),
            ..Default::default()
        })
        .unwrap();
    let t = core.workflows().save_as_template(&wf.id, None).unwrap();
    assert!(t.is_template);
    assert_eq!(t.name, "Blog post (template)");
    assert_eq!(t.definition, def);
    assert_eq!(
        core.workflows()
            .start(&t.id, serde_json::Value::Null)
            .unwrap_err()
            .code(),
        "VALIDATION"
    );
    let copy = core
        .workflows()
        .instantiate(&t.id, Some("Blog post #2"))
        .unwrap();
    assert!(!copy.is_template);
    assert_eq!(copy.definition, def);
    assert_eq!(
        core.workflows()
            .list(true, Default::default())
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        core.workflows()
            .instantiate(&wf.id, None)
            .unwrap_err()
            .code(),
        "VALIDATION"
    );
}

#[test]
fn delegation_depth_and_cycles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let core = ensemble_core::Core::open(dir.path()).unwrap();
    let mk = |name: &str, depth: i64| {
        core.agents()
            .create(AgentInput {
                name: Some(name.into()),
                max_delegation_depth: Some(depth),
                capabilities: Some(vec!["work".into()]),
                ..Default::default()
            })
            .unwrap()
            .id
    };
    let (a, b, c) = (mk("Ava", 3), mk("Bo", 3), mk("Cy", 1));
    let root = core
        .tasks()
        .create(NewTask {
            title: "root".into(),
            assigned_agent_id: Some(a.clone()),
            ..Default::default()
        })
        .unwrap();
    let req = |to: &str| DelegationRequest {
        title: "sub".into(),
        objective: "do it".into(),
        to_agent_id: Some(to.into()),
        ..Default::default()
    };
    let s1 = core.delegate(&root.id, &a, req(&b)).unwrap();
    assert_eq!(
        (s1.delegation_depth, s1.parent_task_id.as_deref()),
        (1, Some(root.id.as_str()))
    );
    // Bo → Ava would loop back up the chain.
    let e = core.delegate(&s1.id, &b, req(&a)).unwrap_err();
    assert_eq!(e.code(), "CYCLE");
    assert!(
        e.to_string().contains("Ava") && e.to_string().contains("Bo"),
        "{e}"
    );
    let s2 = core.delegate(&s1.id, &b, req(&c)).unwrap();
    assert_eq!(s2.delegation_depth, 2);
    // Cy may delegate only 1 level deep; this would be level 3.
    let e = core.delegate(&s2.id, &c, req(&a)).unwrap_err();
    assert!(e.to_string().contains("beyond the limit of 1"), "{e}");
    // The global cap is 3 whatever the agent says.
    let s3 = core.delegate(
        &s2.id,
        &c,
        DelegationRequest {
            to_agent_id: None,
            capabilities: vec!["work".into()],
            ..req("")
        },
    );
    assert!(s3.is_err());
    let d = mk("Dee", 3);
    let s3 = core.delegate(&s2.id, &b, req(&d));
    assert!(s3.is_err(), "Bo does not own s2");
    // A repeated call with the same key returns the same subtask.
    let k1 = core
        .delegate(
            &root.id,
            &a,
            DelegationRequest {
                key: Some("run:1".into()),
                ..req(&d)
            },
        )
        .unwrap();
    let k2 = core
        .delegate(
            &root.id,
            &a,
            DelegationRequest {
                key: Some("run:1".into()),
                ..req(&d)
            },
        )
        .unwrap();
    assert_eq!(k1.id, k2.id);
}

/// A → B → A is a loop also when A got the root task by routing (no
/// assignee): the walk up the chain sees who works on each task.
#[test]
fn a_delegation_loop_through_a_routed_root_is_refused() {
    use ensemble_core::orchestrator::Capacity;
    let dir = tempfile::tempdir().unwrap();
    let core = ensemble_core::Core::open(dir.path()).unwrap();
    let mk = |name: &str| {
        core.agents()
            .create(AgentInput {
                name: Some(name.into()),
                capabilities: Some(vec!["work".into()]),
                ..Default::default()
            })
            .unwrap()
    };
    let (ava, bo) = (mk("Ava"), mk("Bo"));
    let root = core
        .tasks()
        .create(NewTask {
            title: "root".into(),
            required_capabilities: Some(vec!["work".into()]),
            ..Default::default()
        })
        .unwrap();
    // Routing gives the root to Ava (the only agent the scheduler offers).
    let mut cap = Capacity {
        agents: vec![ava.clone()],
        ..Default::default()
    };
    let jobs = core.claim(1, &mut cap, 0.0).unwrap();
    assert_eq!(jobs.len(), 1);
    let root = core.tasks().get(&root.id).unwrap();
    assert_eq!(
        (
            root.assigned_agent_id.as_deref(),
            root.routed_agent_id.as_deref()
        ),
        (None, Some(ava.id.as_str()))
    );
    let req = |to: &str| DelegationRequest {
        title: "sub".into(),
        objective: "do it".into(),
        to_agent_id: Some(to.into()),
        ..Default::default()
    };
    let s1 = core.delegate(&root.id, &ava.id, req(&bo.id)).unwrap();
    let e = core.delegate(&s1.id, &bo.id, req(&ava.id)).unwrap_err();
    assert_eq!(e.code(), "CYCLE", "{e}");
    assert!(
        e.to_string().contains("Ava") && e.to_string().contains("Bo"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parent_waits_for_its_subtask_and_receives_its_output() {
    let worker_id: Arc<Mutex<String>> = Arc::default();
    let w2 = worker_id.clone();
    let mut env = Env::new(ScriptedProvider::from_fn("scripted", move |req, _| {
        let sys = req
            .messages
            .first()
            .map(|m| m.content.clone())
            .unwrap_or_default();
        if sys.starts_with("You are Lead") {
            let observed = req
                .messages
                .iter()
                .any(|m| m.role == Role::Tool && m.content.contains("Q3 revenue rose 12%"));
            if observed {
                let obs = req
                    .messages
                    .iter()
                    .find(|m| m.role == Role::Tool)
                    .map(|m| m.content.clone())
                    .unwrap_or_default();
                Reply::text(&format!("Report based on: {obs}"))
            } else {
                Reply::tool_call(
                    "delegate_task",
                    serde_json::json!({"title": "Analyse Q3", "objective": "Find the revenue trend", "to_agent_id": w2.lock().unwrap().clone()}),
                )
            }
        } else {
            Reply::text("Q3 revenue rose 12%")
        }
    }));
    let lead = env
        .core
        .agents()
        .create(AgentInput {
            name: Some("Lead".into()),
            system_prompt: Some("You are Lead.".into()),
            allowed_tools: Some(vec!["delegate_task".into()]),
            autonomy: Some(ensemble_core::agents::Autonomy::Autopilot),
            ..Default::default()
        })
        .unwrap();
    *worker_id.lock().unwrap() = env.agent("Worker", &["analysis"], 1);
    env.set(SettingsPatch {
        max_concurrent_tasks: Some(2),
        ..Default::default()
    });
    let parent = env
        .core
        .tasks()
        .create(NewTask {
            title: "Quarterly report".into(),
            assigned_agent_id: Some(lead.id.clone()),
            ..Default::default()
        })
        .unwrap();
    env.start();
    let done = env.wait_final(std::slice::from_ref(&parent.id), LONG).await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    assert!(
        done[0]
            .output
            .as_deref()
            .unwrap()
            .contains("Q3 revenue rose 12%"),
        "{:?}",
        done[0].output
    );
    let subs = env.core.tasks().subtasks(&parent.id).unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        (subs[0].status, subs[0].delegation_depth),
        (TaskStatus::Completed, 1)
    );
    // The parent's single run parked while the subtask ran, then resumed.
    let runs = env.core.runs().of_task(&parent.id).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].steps.len(), 2);
    assert_eq!(
        runs[0].steps[0].action.as_ref().map(|a| a.tool.as_str()),
        Some("delegate_task")
    );
    assert!(runs[0]
        .decisions
        .iter()
        .any(|d| d.kind == ensemble_core::runs::DecisionKind::Delegate));
    env.stop().await;
}
