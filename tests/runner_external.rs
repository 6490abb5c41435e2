//! A headless runner (`ensemble run`) obeys changes made by another process
//! (issue 4): an agent paused with `ensemble agents pause` takes no new work
//! until `ensemble agents resume`; a task cancelled from another process
//! while it runs is stopped; each finished task is reported exactly once on
//! the runner's output.
//!
//! The model is an in-process HTTP server speaking Ollama's documented wire
//! format (`/api/tags`, `/api/show`, NDJSON `/api/chat`): Ollama cannot run on these
//! machines. A task titled `slow…` is answered slowly (its stream takes about 20 s), so it is
//! still running when it is cancelled.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src-tauri/crates/llm/tests/common/fixture_server.rs"]
mod fixture_server;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, AgentStatus, Autonomy};
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::runs::RunStatus;
use ensemble_core::tasks::{Task, TaskStatus};
use ensemble_core::Core;
use fixture_server::{FixtureServer, Recorded, Reply};
use serde_json::json;

const NDJSON: &str = "application/x-ndjson";

fn model(req: &Recorded, _n: usize) -> Reply {
    if req.path == "/api/show" {
        // What Ollama says of a model that takes tools.
        return Reply::json(
            200,
            json!({"capabilities": ["completion", "tools"], "template": "{{ .Prompt }}",
                "model_info": {"general.architecture": "test", "test.context_length": 8192}}),
        );
    }
    if req.path == "/api/tags" {
        return Reply::json(
            200,
            json!({"models": [{"name": "fixture", "model": "fixture", "modified_at": "2026-11-21T10:00:00Z",
                "size": 1, "digest": "d", "details": {"format": "gguf", "family": "test", "parameter_size": "1M",
                "quantization_level": "Q4"}}]}),
        );
    }
    let slow = req.json()["messages"].to_string().contains("slow");
    let lines = [
        json!({"model": "fixture", "created_at": "2026-11-21T10:00:00Z",
            "message": {"role": "assistant", "content": "All done."}, "done": false}),
        json!({"model": "fixture", "created_at": "2026-11-21T10:00:01Z",
            "message": {"role": "assistant", "content": ""},
            "done": true, "done_reason": "stop", "total_duration": 5, "load_duration": 1,
            "prompt_eval_count": 20, "prompt_eval_duration": 1, "eval_count": 3, "eval_duration": 2}),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    match Reply::stream_split(NDJSON, &body, if slow { 10 } else { 64 }) {
        // About 20 s from the first byte to the last.
        Reply::Stream {
            status,
            content_type,
            chunks,
            drop_after,
            ..
        } if slow => Reply::Stream {
            status,
            content_type,
            delay: Duration::from_millis(20_000 / chunks.len().max(1) as u64),
            chunks,
            drop_after,
        },
        reply => reply,
    }
}

/// The runner process, killed if the test fails before stopping it.
struct Runner(std::process::Child);

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("ENSEMBLE_NO_KEYRING", "1")
        .output()
        .expect("run the CLI");
    assert!(
        out.status.success(),
        "ensemble {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn task_id(added: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(added).expect("tasks add --json");
    v["id"].as_str().expect("an id").to_string()
}

fn task(data: &Path, id: &str) -> Task {
    Core::open(data).unwrap().tasks().get(id).unwrap()
}

fn wait_status(data: &Path, id: &str, want: TaskStatus, log: &Path) -> Task {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let t = task(data, id);
        if t.status == want {
            return t;
        }
        assert!(
            Instant::now() < end,
            "{} is {} (wanted {want}); runner output:\n{}",
            t.title,
            t.status,
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_follows_pauses_and_cancels_made_by_another_process() {
    let server = FixtureServer::start(model).await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let agent = {
        let core = Core::open(&data).unwrap();
        core.providers()
            .create(ProviderInput {
                name: Some("fixture".into()),
                kind: Some(ProviderKind::Ollama),
                base_url: Some(server.url()),
                default_model: Some("fixture".into()),
                ..Default::default()
            })
            .unwrap();
        core.agents()
            .create(AgentInput {
                name: Some("Solo".into()),
                provider: Some("fixture".into()),
                model: Some("fixture".into()),
                autonomy: Some(Autonomy::Autopilot),
                max_concurrent_tasks: Some(2),
                ..Default::default()
            })
            .unwrap()
            .id
    };
    let log = tmp.path().join("runner.out");
    let mut runner = Runner(
        Command::new(env!("CARGO_BIN_EXE_ensemble"))
            .arg("--data-dir")
            .arg(&data)
            .arg("run")
            .env("ENSEMBLE_NO_KEYRING", "1")
            .env("OLLAMA_HOST", "http://127.0.0.1:9")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .env("ENSEMBLE_LOG", "debug")
            .stderr(std::fs::File::create(tmp.path().join("runner.err")).unwrap())
            .spawn()
            .expect("start ensemble run"),
    );

    // A first task runs: the runner is up.
    let first = task_id(&cli(&data, &["--json", "tasks", "add", "first"]));
    wait_status(&data, &first, TaskStatus::Completed, &log);

    // Paused from another process: new work waits.
    cli(&data, &["agents", "pause", &agent]);
    std::thread::sleep(Duration::from_millis(2500));
    let held = task_id(&cli(&data, &["--json", "tasks", "add", "held"]));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        task(&data, &held).status,
        TaskStatus::Queued,
        "a paused agent took work; runner log:\n{}",
        std::fs::read_to_string(tmp.path().join("runner.err")).unwrap_or_default()
    );
    let a = Core::open(&data).unwrap().agents().get(&agent).unwrap();
    assert_eq!(a.status, AgentStatus::Paused, "the runner kept the pause");

    // Resumed: the waiting task runs.
    cli(&data, &["agents", "resume", &agent]);
    wait_status(&data, &held, TaskStatus::Completed, &log);

    // Cancelled from another process while it runs: the runner stops it.
    let slow = task_id(&cli(&data, &["--json", "tasks", "add", "slow one"]));
    wait_status(&data, &slow, TaskStatus::Running, &log);
    cli(&data, &["tasks", "cancel", &slow]);
    let started = Instant::now();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let core = Core::open(&data).unwrap();
        let runs = core.runs().of_task(&slow).unwrap();
        if runs.iter().all(|r| r.run.status != RunStatus::Running) {
            break;
        }
        assert!(Instant::now() < end, "the cancelled task's run kept going");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(task(&data, &slow).status, TaskStatus::Cancelled);
    println!("cancel noticed after {} ms", started.elapsed().as_millis());

    // Stop the runner; each finished task was reported once.
    let pid = runner.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = runner.0.wait().unwrap();
    assert!(status.success(), "runner exit: {status}");
    let out = std::fs::read_to_string(&log).unwrap();
    for title in ["first", "held"] {
        let n = out
            .lines()
            .filter(|l| l.starts_with("done") && l.trim_end().ends_with(title))
            .count();
        assert_eq!(n, 1, "'{title}' reported {n} times:\n{out}");
    }
}
