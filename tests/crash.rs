//! Crash safety of the headless runner (issue 4): `ensemble run` is started on
//! a data folder with tasks in flight, killed with SIGKILL at random moments,
//! and restarted, again and again. After every kill the data folder must show:
//! no task lost, no completed task executed again, no side-effecting tool call
//! executed twice, and `PRAGMA integrity_check` = ok.
//!
//! The model is an in-process HTTP server speaking Ollama's documented wire
//! format (`/api/tags`, `/api/show`, NDJSON `/api/chat` with native tool calls): Ollama
//! cannot run on these machines. For each task it first asks for the
//! side-effecting `test_append` tool (not idempotent: every execution appends
//! a line to a file, then holds for a random while so kills land between the
//! effect and its journal entry), and answers once it sees the tool's result.
//! The test tools are switched on with `ENSEMBLE_TEST_TOOLS=1`.
//!
//! A call interrupted after it started becomes `ambiguous` and waits in the
//! approval inbox; the harness rejects those (the human says "don't repeat
//! it"), which is what keeps the effect at most once.
//!
//! Trials: `ENSEMBLE_CRASH_TRIALS` (default 20; the bench option is 200),
//! seed: `ENSEMBLE_CRASH_SEED` (printed on failure).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src-tauri/crates/llm/tests/common/fixture_server.rs"]
mod fixture_server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::approvals::{ApprovalKind, ApprovalStatus, Decision, Verdict};
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::tasks::{NewTask, Task, TaskFilter, TaskStatus};
use ensemble_core::{Core, Paging};
use fixture_server::{FixtureServer, Recorded, Reply};
use serde_json::json;

const NDJSON: &str = "application/x-ndjson";
const FIRST_TASKS: usize = 30;
const TASKS_PER_TRIAL: usize = 6;
const EFFECTS: &str = "effects.log";

/// A small deterministic generator (xorshift), so a failing run can be replayed.
struct Rng(u64);

/// Every task, page by page (a page holds at most 1,000: `make crash-bench`
/// adds more than that).
fn all_tasks(core: &Core) -> Vec<Task> {
    let mut all = Vec::new();
    loop {
        let page = core
            .tasks()
            .list(
                &TaskFilter::default(),
                Paging {
                    limit: Some(1000),
                    offset: Some(all.len() as u32),
                },
            )
            .expect("list tasks");
        let done = page.items.is_empty() || all.len() + page.items.len() >= page.total as usize;
        all.extend(page.items);
        if done {
            return all;
        }
    }
}

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

/// The task title a model request is about (`Task: crash-N` in its prompt).
fn task_of(req: &Recorded) -> Option<String> {
    let body = req.json();
    body["messages"]
        .as_array()?
        .iter()
        .filter_map(|m| m["content"].as_str())
        .find_map(|c| {
            let at = c.find("Task: crash-")?;
            let rest = &c[at + "Task: ".len()..];
            Some(rest.lines().next()?.trim().to_string())
        })
}

fn ndjson(lines: &[serde_json::Value]) -> Reply {
    let pieces: Vec<String> = lines.iter().map(|l| format!("{l}\n")).collect();
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    match Reply::stream_pieces(NDJSON, &refs) {
        Reply::Stream {
            status,
            content_type,
            chunks,
            drop_after,
            ..
        } => Reply::Stream {
            status,
            content_type,
            chunks,
            delay: Duration::from_millis(15),
            drop_after,
        },
        other => other,
    }
}

fn done_line() -> serde_json::Value {
    json!({"model": "fixture", "created_at": "2026-11-21T10:00:01Z",
        "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": "stop", "total_duration": 5, "load_duration": 1,
        "prompt_eval_count": 20, "prompt_eval_duration": 1, "eval_count": 5, "eval_duration": 2})
}

/// The scripted model: tool call first, final answer after a tool result.
fn model(req: &Recorded, n: usize) -> Reply {
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
    let Some(title) = task_of(req) else {
        return Reply::json(400, json!({"error": "no task in the prompt"}));
    };
    let has_result = req.json()["messages"]
        .as_array()
        .is_some_and(|ms| ms.iter().any(|m| m["role"] == "tool"));
    if has_result {
        return ndjson(&[
            json!({"model": "fixture", "created_at": "2026-11-21T10:00:00Z",
                "message": {"role": "assistant", "content": format!("done {title}")}, "done": false}),
            done_line(),
        ]);
    }
    let hold = (n as u64 * 37) % 500;
    ndjson(&[
        json!({"model": "fixture", "created_at": "2026-11-21T10:00:00Z",
            "message": {"role": "assistant", "content": "",
                "tool_calls": [{"function": {"name": "test_append",
                    "arguments": {"file": EFFECTS, "line": title, "hold_ms": hold}}}]},
            "done": false}),
        done_line(),
    ])
}

struct Harness {
    data: PathBuf,
    effects_dir: PathBuf,
    log: PathBuf,
    next_task: usize,
    /// Completed tasks at the last check: title → (runs, completed_at).
    completed: BTreeMap<String, (usize, Option<String>)>,
    /// How many model requests had been recorded at the last check.
    seen_requests: usize,
    rejected_ambiguous: usize,
}

impl Harness {
    fn core(&self) -> Core {
        Core::open(&self.data).expect("open the data folder")
    }

    fn add_tasks(&mut self, core: &Core, n: usize) {
        for _ in 0..n {
            let title = format!("crash-{}", self.next_task);
            self.next_task += 1;
            core.tasks()
                .create(NewTask {
                    title,
                    objective: Some("Record this task in the effects log exactly once.".into()),
                    required_capabilities: Some(vec!["recording".into()]),
                    priority: Some(5),
                    ..Default::default()
                })
                .expect("create task");
        }
    }

    fn spawn_runner(&self, args: &[&str]) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("runner log");
        Command::new(env!("CARGO_BIN_EXE_ensemble"))
            .arg("--data-dir")
            .arg(&self.data)
            .arg("run")
            .args(args)
            .env("ENSEMBLE_TEST_TOOLS", "1")
            .env("ENSEMBLE_TEST_TOOLS_DIR", &self.effects_dir)
            .env("ENSEMBLE_NO_KEYRING", "1")
            .env("OLLAMA_HOST", "http://127.0.0.1:9")
            .env("ENSEMBLE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start ensemble run")
    }

    fn effects(&self) -> Vec<String> {
        std::fs::read_to_string(self.effects_dir.join(EFFECTS))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Every invariant, after a kill (or at the end). Returns the pending
    /// ambiguous approvals it rejected.
    fn check(&mut self, server: &FixtureServer, when: &str) {
        let core = self.core();
        let integrity: String = core
            .read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
            .expect("integrity_check");
        assert_eq!(integrity, "ok", "{when}: database integrity");

        let tasks = all_tasks(&core);
        let titles: BTreeSet<String> = tasks.iter().map(|t| t.title.clone()).collect();
        let expected: BTreeSet<String> =
            (0..self.next_task).map(|i| format!("crash-{i}")).collect();
        assert_eq!(titles, expected, "{when}: a task was lost or invented");

        let effects = self.effects();
        let unique: BTreeSet<&String> = effects.iter().collect();
        assert_eq!(
            unique.len(),
            effects.len(),
            "{when}: a side-effecting call ran twice: {effects:?}"
        );

        // Completed tasks stay completed, with the same run and time, and the
        // model is never asked about them again.
        let requests = server.recorded();
        for req in &requests[self.seen_requests.min(requests.len())..] {
            if let Some(title) = task_of(req) {
                assert!(
                    !self.completed.contains_key(&title),
                    "{when}: {title} was completed, yet executed again"
                );
            }
        }
        self.seen_requests = requests.len();
        for t in &tasks {
            let runs = core.runs().of_task(&t.id).expect("runs").len();
            if let Some((before_runs, before_at)) = self.completed.get(&t.title) {
                assert_eq!(
                    t.status,
                    TaskStatus::Completed,
                    "{when}: {} left completed",
                    t.title
                );
                assert_eq!(
                    (runs, t.completed_at.as_ref().map(ToString::to_string)),
                    (*before_runs, before_at.clone()),
                    "{when}: {} was run again",
                    t.title
                );
            } else if t.status == TaskStatus::Completed {
                self.completed.insert(
                    t.title.clone(),
                    (runs, t.completed_at.as_ref().map(ToString::to_string)),
                );
            }
        }

        // A crash between a call's start and its journal entry leaves it
        // ambiguous: the human (here, the harness) says not to repeat it.
        let pending = core
            .approvals()
            .list(Some(ApprovalStatus::Pending), Paging::default())
            .expect("approvals")
            .items;
        for a in pending {
            assert_eq!(
                a.kind,
                ApprovalKind::AmbiguousToolCall,
                "{when}: unexpected approval {}",
                a.title
            );
            core.approvals()
                .decide(
                    &a.id,
                    Decision {
                        verdict: Some(Verdict::Reject),
                        comment: Some("it may have happened: do not repeat it".into()),
                        ..Default::default()
                    },
                )
                .expect("reject the ambiguous call");
            self.rejected_ambiguous += 1;
        }
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_repeats_no_side_effect() {
    let trials: usize = std::env::var("ENSEMBLE_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("ENSEMBLE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
                | 1
        });
    println!("crash test: {trials} trials, ENSEMBLE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);

    let server = FixtureServer::start(model).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut h = Harness {
        data: tmp.path().join("data"),
        effects_dir: tmp.path().join("effects"),
        log: tmp.path().join("runner.log"),
        next_task: 0,
        completed: BTreeMap::new(),
        seen_requests: 0,
        rejected_ambiguous: 0,
    };
    std::fs::create_dir_all(&h.effects_dir).expect("effects dir");
    {
        let core = h.core();
        core.providers()
            .create(ProviderInput {
                name: Some("fixture".into()),
                kind: Some(ProviderKind::Ollama),
                base_url: Some(server.url()),
                default_model: Some("fixture".into()),
                max_concurrent: Some(16),
                ..Default::default()
            })
            .expect("provider");
        for i in 0..4 {
            core.agents()
                .create(AgentInput {
                    name: Some(format!("Recorder {i}")),
                    role: Some("recorder".into()),
                    capabilities: Some(vec!["recording".into()]),
                    allowed_tools: Some(vec!["test_append".into()]),
                    provider: Some("fixture".into()),
                    model: Some("fixture".into()),
                    autonomy: Some(Autonomy::Autopilot),
                    max_concurrent_tasks: Some(3),
                    ..Default::default()
                })
                .expect("agent");
        }
        h.add_tasks(&core, FIRST_TASKS);
    }

    let mut kills_mid_work = 0;
    for trial in 0..trials {
        let when = format!("trial {trial} (seed {seed})");
        let mut child = h.spawn_runner(&[]);
        let wait = rng.between(150, 1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if child.try_wait().expect("runner status").is_some() {
            panic!("{when}: the runner exited by itself:\n{}", tail(&h.log));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let before = h.completed.len();
        h.check(&server, &when);
        if h.completed.len() < h.next_task {
            kills_mid_work += 1;
        }
        println!(
            "{when}: killed after {wait} ms; {} of {} tasks completed (+{}), {} effects, {} ambiguous calls rejected so far",
            h.completed.len(),
            h.next_task,
            h.completed.len() - before,
            h.effects().len(),
            h.rejected_ambiguous
        );
        let core = h.core();
        h.add_tasks(&core, TASKS_PER_TRIAL);
    }
    assert!(
        kills_mid_work >= trials / 2,
        "most kills should land while work is in flight ({kills_mid_work} of {trials})"
    );

    // Finally let it finish; ambiguous calls from the last kill are rejected
    // between rounds.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let mut child = h.spawn_runner(&["--until-idle"]);
        loop {
            if let Some(status) = child.try_wait().expect("runner status") {
                assert!(status.success(), "runner failed:\n{}", tail(&h.log));
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the runner did not finish in time:\n{}", tail(&h.log));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pending_before = h.rejected_ambiguous;
        h.check(&server, "final");
        if h.rejected_ambiguous == pending_before && h.completed.len() == h.next_task {
            break;
        }
        if h.rejected_ambiguous == pending_before {
            let core = h.core();
            let left: Vec<_> = all_tasks(&core)
                .into_iter()
                .filter(|t| t.status != TaskStatus::Completed)
                .map(|t| format!("{} {:?} {:?}", t.title, t.status, t.error))
                .collect();
            panic!("idle with unfinished tasks: {left:?}\n{}", tail(&h.log));
        }
    }

    // Every task's effect happened at most once, and exactly once unless its
    // call was interrupted and (rightly) not repeated.
    let effects = h.effects();
    let missing = h.next_task - effects.len();
    assert!(
        missing <= h.rejected_ambiguous,
        "{missing} tasks have no effect, but only {} calls were ambiguous",
        h.rejected_ambiguous
    );
    println!(
        "crash test: {trials} kills, {} tasks completed, {} effects, {} ambiguous calls rejected",
        h.completed.len(),
        effects.len(),
        h.rejected_ambiguous
    );
}
