//! The task runner through IPC on Tauri's mock runtime: the app runs the
//! orchestrator when it gets the data folder's runner lock (a viewer
//! otherwise, taking over when the lock frees), pause all stops scheduling,
//! quitting drains and releases the lock; and the board commands: run traces,
//! retry, agent pause / resume, workflows — with their bad arguments.
//!
//! No model is installed in these data folders, so a task that gets an agent
//! fails for real (the embedded engine has no model): that is what proves the
//! runner picked it up.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/ipc.rs"]
mod ipc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::orchestrator::RunnerLock;
use ipc::{invoke, ok, App};
use serde_json::{json, Value};

fn app_in(dir: tempfile::TempDir) -> App {
    let core = Arc::new(ensemble_core::Core::open(dir.path()).unwrap());
    let app = ipc::app_on(dir, core);
    // The mock app never reaches its event loop, where `setup` would start it.
    ensemble_app::state::start_runner(app.app.handle());
    app
}

fn app() -> App {
    app_in(tempfile::tempdir().unwrap())
}

/// Polls `f` until it returns `Some`, or fails after `secs`.
fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn task_status(app: &App, id: &str) -> String {
    ok(app, "tasks_get", json!({ "id": id }))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A bad-argument rejection: Tauri's before our code runs, or our validation.
fn assert_refused(app: &App, cmd: &str, args: Value, code: Option<&str>) {
    let err = invoke(app, cmd, args.clone()).unwrap_err();
    match code {
        Some(code) => assert_eq!(err["code"], code, "{cmd} {args}: {err}"),
        None => {
            let text = err
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| err.to_string());
            assert!(
                text.contains("invalid args")
                    || text.contains("invalid type")
                    || text.contains("missing"),
                "{cmd} {args}: {text}"
            );
        }
    }
}

#[test]
fn the_app_runs_the_queue_pause_all_holds_it_and_retry_requeues() {
    let app = app();
    let status = ok(&app, "orchestrator_status", json!({}));
    assert_eq!(status["runner"], "here", "{status}");
    assert_eq!(status["paused"], false);
    assert_eq!(status["running"], 0);
    assert_eq!(status["message"], "Working: 0 tasks running");

    // Pause all: a task that could run stays queued.
    ok(
        &app,
        "settings_update",
        json!({ "patch": { "paused": true } }),
    );
    let status = ok(&app, "orchestrator_status", json!({}));
    assert_eq!(status["paused"], true);
    assert_eq!(
        status["message"],
        "Paused: no new task starts until you resume"
    );
    ok(
        &app,
        "agents_create",
        json!({ "input": { "name": "Wren", "capabilities": ["writing"], "autonomy": "autopilot" } }),
    );
    let task = ok(
        &app,
        "tasks_create",
        json!({ "input": { "title": "Write a haiku", "required_capabilities": ["writing"], "max_attempts": 1 } }),
    );
    let id = task["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(task_status(&app, &id), "queued", "paused: nothing starts");
    assert_eq!(ok(&app, "tasks_runs", json!({ "id": id })), json!([]));

    // Resume: the runner takes it (and, without a model, it fails for good).
    ok(
        &app,
        "settings_update",
        json!({ "patch": { "paused": false } }),
    );
    wait_for("the task to fail", 30, || {
        (task_status(&app, &id) == "failed").then_some(())
    });
    let runs = ok(&app, "tasks_runs", json!({ "id": id }));
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["run"]["status"], "failed");
    assert_eq!(runs[0]["run"]["attempt"], 1);
    assert!(runs[0]["steps"].is_array() && runs[0]["decisions"].is_array());
    let failed = ok(&app, "tasks_get", json!({ "id": id }));
    assert_eq!(
        (failed["attempts"].clone(), failed["max_attempts"].clone()),
        (json!(1), json!(1))
    );
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()));

    // Retry: back in the queue with one more attempt; the runner runs it again.
    ok(
        &app,
        "settings_update",
        json!({ "patch": { "paused": true } }),
    );
    let retried = ok(&app, "tasks_retry", json!({ "id": id }));
    assert_eq!(retried["status"], "queued");
    assert_eq!(retried["attempts"], 1, "the count is kept");
    assert_eq!(retried["max_attempts"], 2, "one more attempt");
    assert_refused(&app, "tasks_retry", json!({ "id": id }), Some("VALIDATION"));
    ok(
        &app,
        "settings_update",
        json!({ "patch": { "paused": false } }),
    );
    wait_for("the retried task to fail again", 30, || {
        (task_status(&app, &id) == "failed").then_some(())
    });
    let runs = ok(&app, "tasks_runs", json!({ "id": id }));
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["run"]["attempt"], 2, "newest first");

    // Cancelled is final.
    let other = ok(
        &app,
        "tasks_create",
        json!({ "input": { "title": "Nobody can do this", "required_capabilities": ["juggling"] } }),
    );
    let other = other["id"].as_str().unwrap();
    ok(&app, "tasks_cancel", json!({ "id": other }));
    let err = invoke(&app, "tasks_retry", json!({ "id": other })).unwrap_err();
    assert_eq!(err["code"], "VALIDATION");
    assert_eq!(
        err["message"],
        "status: only failed tasks can be retried; this one is cancelled"
    );

    // Quitting drains the runner and frees the lock for `ensemble run`.
    let started = Instant::now();
    app.state().shutdown();
    assert!(started.elapsed() < Duration::from_secs(11));
    assert!(RunnerLock::acquire(app.dir.path()).is_ok());
    assert_eq!(
        ok(&app, "orchestrator_status", json!({}))["runner"],
        "stopped"
    );
}

#[test]
fn a_viewer_while_another_runner_holds_the_lock_then_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let lock = RunnerLock::acquire(dir.path()).unwrap();
    let app = app_in(dir);
    let status = ok(&app, "orchestrator_status", json!({}));
    assert_eq!(status["runner"], "other_process", "{status}");
    assert_eq!(
        status["message"],
        "Another runner (ensemble run) is working on this data folder (0 tasks running)"
    );

    // Pausing an agent is stored for the runner that owns the queue.
    let agent = ok(&app, "agents_create", json!({ "input": { "name": "Ada" } }));
    let id = agent["id"].as_str().unwrap();
    assert_eq!(
        ok(&app, "agents_pause", json!({ "id": id }))["status"],
        "paused"
    );
    assert_eq!(
        ok(&app, "agents_get", json!({ "id": id }))["status"],
        "paused"
    );
    assert_eq!(
        ok(&app, "agents_resume", json!({ "id": id }))["status"],
        "idle"
    );

    // `ensemble run` exits: the app takes the queue over.
    drop(lock);
    wait_for("the app to take over", 10, || {
        (ok(&app, "orchestrator_status", json!({}))["runner"] == "here").then_some(())
    });
    app.state().shutdown();
}

#[test]
fn agents_pause_and_resume_through_the_runner() {
    let app = app();
    let agent = ok(
        &app,
        "agents_create",
        json!({ "input": { "name": "Wren", "capabilities": ["writing"] } }),
    );
    let id = agent["id"].as_str().unwrap();
    // Let the runner take the new agent in first: a pause landing while it
    // re-reads its agents is lost until the next agent change (a race in the
    // core's `Orchestrator::refresh_agents`, reported).
    std::thread::sleep(Duration::from_millis(800));
    let paused = ok(&app, "agents_pause", json!({ "id": id }));
    assert_eq!(paused["status"], "paused");
    // Idempotent, and a paused agent takes no task.
    assert_eq!(
        ok(&app, "agents_pause", json!({ "id": id }))["status"],
        "paused"
    );
    let task = ok(
        &app,
        "tasks_create",
        json!({ "input": { "title": "Write", "assigned_agent_id": id } }),
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(task_status(&app, task["id"].as_str().unwrap()), "queued");
    // The heartbeat keeps a paused agent paused.
    assert_eq!(
        ok(&app, "agents_get", json!({ "id": id }))["status"],
        "paused"
    );

    ok(&app, "agents_resume", json!({ "id": id }));
    wait_for("the resumed agent to take the task", 30, || {
        (task_status(&app, task["id"].as_str().unwrap()) != "queued").then_some(())
    });

    assert_refused(
        &app,
        "agents_pause",
        json!({ "id": "ghost" }),
        Some("NOT_FOUND"),
    );
    assert_refused(
        &app,
        "agents_resume",
        json!({ "id": " " }),
        Some("VALIDATION"),
    );
    assert_refused(&app, "agents_pause", json!({}), None);
    assert_refused(&app, "agents_pause", json!({ "id": 7 }), None);
    app.state().shutdown();
}

#[test]
fn task_commands_refuse_bad_arguments() {
    let app = app();
    assert_refused(
        &app,
        "tasks_runs",
        json!({ "id": "ghost" }),
        Some("NOT_FOUND"),
    );
    assert_refused(&app, "tasks_runs", json!({ "id": "" }), Some("VALIDATION"));
    assert_refused(&app, "tasks_runs", json!({}), None);
    assert_refused(
        &app,
        "tasks_retry",
        json!({ "id": "ghost" }),
        Some("NOT_FOUND"),
    );
    assert_refused(&app, "tasks_retry", json!({ "id": ["x"] }), None);
    // A queued task is not failed: nothing to retry.
    let t = ok(
        &app,
        "tasks_create",
        json!({ "input": { "title": "Queued" } }),
    );
    let err = invoke(&app, "tasks_retry", json!({ "id": t["id"] })).unwrap_err();
    assert_eq!(err["code"], "VALIDATION");
    assert_eq!(
        err["message"],
        "status: only failed tasks can be retried; this one is queued"
    );
    assert_eq!(
        ok(&app, "tasks_subtasks", json!({ "id": t["id"] })),
        json!([])
    );
    app.state().shutdown();
}

#[test]
fn workflows_are_created_run_and_followed_step_by_step() {
    let app = app();
    // Pause all so the step tasks stay where the runner put them.
    ok(
        &app,
        "settings_update",
        json!({ "patch": { "paused": true } }),
    );
    let definition = json!({
        "steps": [
            { "key": "research", "title": "Research", "prompt": "Find facts about {{input}}", "capabilities": ["research"] },
            { "key": "write", "title": "Write", "prompt": "Write about {{research.output}}", "depends_on": ["research"] }
        ]
    });
    let wf = ok(
        &app,
        "workflows_create",
        json!({ "input": { "name": "Brief", "definition": definition } }),
    );
    let wf_id = wf["id"].as_str().unwrap();
    assert_eq!(
        ok(&app, "workflows_get", json!({ "id": wf_id }))["name"],
        "Brief"
    );
    assert_eq!(ok(&app, "workflows_list", json!({}))["total"], 1);

    let run = ok(
        &app,
        "workflows_run",
        json!({ "id": wf_id, "input": "tides" }),
    );
    let run_id = run["id"].as_str().unwrap();
    assert_eq!(run["status"], "running");
    let steps: Vec<(String, String)> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().into(),
                s["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(steps[0].0, "research");
    assert_ne!(
        steps[0].1, "pending",
        "the first step became a task: {steps:?}"
    );
    assert_eq!(steps[1], ("write".into(), "pending".into()));
    let task_id = run["steps"][0]["task_id"].as_str().unwrap();
    assert_eq!(task_status(&app, task_id), "queued");

    let runs = ok(&app, "workflows_runs", json!({ "workflowId": wf_id }));
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let again = ok(&app, "workflows_run_status", json!({ "runId": run_id }));
    assert_eq!(again["id"], run_id);
    assert_eq!(
        again["definition"]["steps"][1]["depends_on"],
        json!(["research"])
    );

    // Bad definitions and arguments.
    let cycle = json!({ "steps": [
        { "key": "a", "prompt": "x", "depends_on": ["b"] },
        { "key": "b", "prompt": "y", "depends_on": ["a"] }
    ] });
    let err = invoke(
        &app,
        "workflows_create",
        json!({ "input": { "name": "Loop", "definition": cycle } }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "CYCLE", "{err}");
    let unknown = json!({ "steps": [ { "key": "a", "prompt": "x", "depends_on": ["nope"] } ] });
    assert_refused(
        &app,
        "workflows_create",
        json!({ "input": { "name": "Bad", "definition": unknown } }),
        Some("VALIDATION"),
    );
    assert_refused(
        &app,
        "workflows_create",
        json!({ "input": { "name": "No steps" } }),
        Some("VALIDATION"),
    );
    assert_refused(
        &app,
        "workflows_create",
        json!({ "input": { "name": "x", "definition": { "steps": "a,b" } } }),
        None,
    );
    assert_refused(
        &app,
        "workflows_run",
        json!({ "id": "ghost" }),
        Some("NOT_FOUND"),
    );
    assert_refused(
        &app,
        "workflows_run",
        json!({ "id": wf_id, "input": "x".repeat(70_000) }),
        Some("TOO_LARGE"),
    );
    assert_refused(
        &app,
        "workflows_runs",
        json!({ "workflowId": "ghost" }),
        Some("NOT_FOUND"),
    );
    assert_refused(
        &app,
        "workflows_run_status",
        json!({ "runId": "ghost" }),
        Some("NOT_FOUND"),
    );
    assert_refused(&app, "workflows_run_status", json!({}), None);
    assert_eq!(
        ok(&app, "workflows_runs", json!({ "workflowId": wf_id }))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.state().shutdown();
}
