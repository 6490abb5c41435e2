//! Fault injection (issue "Proof of speed and robustness"): the task runner
//! and the chat engine against a misbehaving model provider and a failing
//! store. After every fault: no task is lost (it is retried, waiting, or
//! failed with a readable error), no side effect happens twice, the error
//! is surfaced (task, run trace, notice), and once the fault is gone the
//! system works again (a following task completes).
//!
//! The provider is an in-process HTTP server speaking Ollama's documented
//! wire format (`/api/tags`, `/api/show`, NDJSON `/api/chat` with native tool calls);
//! Ollama cannot run on these machines. For each task it first asks for the
//! side-effecting `test_append` tool (not idempotent: every execution
//! appends a line to a file), and answers once it sees the tool's result.
//! Faults are switched on for a given number of requests of a given phase
//! (the request that asks for the tool, or the one that carries its result).
//!
//! Storage faults: a database locked by another connection's write
//! transaction, and a full disk — a real one (a 2 MB tmpfs, when this
//! process may mount one, i.e. runs as root) and SQLite's `max_page_count`
//! (the database file may not grow: the same SQLITE_FULL, anywhere).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src-tauri/crates/llm/tests/common/fixture_server.rs"]
mod fixture_server;
#[path = "../src-tauri/crates/core/tests/common/orch.rs"]
mod orch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::approvals::{ApprovalKind, ApprovalStatus, Decision, Verdict};
use ensemble_core::chat::engine::{ChatEngine, ChatEvent, ChatSendRequest};
use ensemble_core::chat::ChatStatus;
use ensemble_core::events::NoticeKind;
use ensemble_core::orchestrator::{Orchestrator, OrchestratorConfig};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::providers::resilience::{BreakerConfig, RetryPolicy};
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::runs::RunStatus;
use ensemble_core::runtime::{AgentRuntime, Executor, Job, Outcome};
use ensemble_core::secrets::SecretStore;
use ensemble_core::tasks::{NewTask, Task, TaskStatus};
use ensemble_core::{Core, Paging};
use fixture_server::{FixtureServer, Recorded, Reply};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const NDJSON: &str = "application/x-ndjson";
const EFFECTS: &str = "effects.log";
/// How long the provider may stay silent before a call fails (the app's
/// default is minutes; the stall cases would take that long otherwise).
const STALL: Duration = Duration::from_millis(400);
const LONG: Duration = Duration::from_secs(30);

// ------------------------------------------------------------ the model

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// HTTP 500 with Ollama's `{"error": …}` body.
    Http500,
    /// Some tokens, then the connection closes before the stream ends.
    DropMidStream,
    /// A line of the NDJSON stream that is not JSON.
    Malformed,
    /// The request is read and never answered.
    Stall,
    /// Some tokens, then silence.
    StallMidStream,
    /// A call of `test_append` with arguments of the wrong types.
    WrongTypes,
    /// A call of a tool that does not exist.
    UnknownTool,
}

/// Which request of a task a fault hits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// The request that (normally) asks for the tool.
    Tool,
    /// The request that carries the tool's result (normally answered).
    Answer,
}

#[derive(Debug, Default)]
struct Plan {
    fault: Option<(Fault, Phase)>,
    /// Requests still to fault.
    left: usize,
    /// Characters of padding in final answers (to make the database grow).
    pad: usize,
}

fn line(v: Value) -> String {
    format!("{v}\n")
}

fn content_line(text: &str) -> String {
    line(
        json!({"model": "fixture", "created_at": "2026-11-21T10:00:00Z",
        "message": {"role": "assistant", "content": text}, "done": false}),
    )
}

fn done_line() -> String {
    line(
        json!({"model": "fixture", "created_at": "2026-11-21T10:00:01Z",
        "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": "stop", "total_duration": 5, "load_duration": 1,
        "prompt_eval_count": 20, "prompt_eval_duration": 1, "eval_count": 5, "eval_duration": 2}),
    )
}

fn tool_line(name: &str, arguments: Value) -> String {
    line(
        json!({"model": "fixture", "created_at": "2026-11-21T10:00:00Z",
        "message": {"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": name, "arguments": arguments}}]},
        "done": false}),
    )
}

fn stream(pieces: &[String]) -> Reply {
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    Reply::stream_pieces(NDJSON, &refs)
}

/// The task a request is about (`Task: …` opens the first user message).
fn title_of(body: &Value) -> Option<String> {
    body["messages"].as_array()?.iter().find_map(|m| {
        let c = m["content"].as_str()?;
        Some(c.strip_prefix("Task: ")?.lines().next()?.trim().to_string())
    })
}

/// The result of the last tool call in the conversation, if any.
fn last_tool_result(body: &Value) -> Option<String> {
    body["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "tool")
        .and_then(|m| m["content"].as_str())
        .map(str::to_string)
}

fn faulty(fault: Fault, title: &str) -> Reply {
    match fault {
        Fault::Http500 => Reply::json(
            500,
            json!({"error": "llama runner process has terminated: signal: killed"}),
        ),
        Fault::DropMidStream => stream(&[content_line("Half an ans")]).dropping(),
        Fault::Malformed => stream(&[
            content_line("Here"),
            "this line is not json at all\n".into(),
            done_line(),
        ]),
        Fault::Stall => Reply::Stall(Duration::from_secs(5)),
        Fault::StallMidStream => match stream(&[content_line("Half"), done_line()]) {
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
                delay: Duration::from_secs(5),
                drop_after,
            },
            other => other,
        },
        Fault::WrongTypes => stream(&[
            tool_line(
                "test_append",
                json!({"file": 7, "line": ["not", "a", "string"], "hold_ms": "soon"}),
            ),
            done_line(),
        ]),
        Fault::UnknownTool => stream(&[
            tool_line("delete_everything", json!({"path": "/", "title": title})),
            done_line(),
        ]),
    }
}

fn tags() -> Reply {
    Reply::json(
        200,
        json!({"models": [{"name": "fixture", "model": "fixture", "modified_at": "2026-11-21T10:00:00Z",
            "size": 1, "digest": "d", "details": {"format": "gguf", "family": "test",
            "parameter_size": "1M", "quantization_level": "Q4"}}]}),
    )
}

/// The scripted model: `test_append` first (again after an error), the
/// final answer once the tool said "appended" (or the human said not to
/// repeat an interrupted call); chat messages get a greeting.
fn model(req: &Recorded, plan: &Mutex<Plan>) -> Reply {
    if req.path == "/api/show" {
        // What Ollama says of a model that takes tools.
        return Reply::json(
            200,
            json!({"capabilities": ["completion", "tools"], "template": "{{ .Prompt }}",
                "model_info": {"general.architecture": "test", "test.context_length": 8192}}),
        );
    }
    if req.path == "/api/tags" {
        return tags();
    }
    let body = req.json();
    let Some(title) = title_of(&body) else {
        // A chat message: answer it (faults apply as to a final answer).
        let fault = {
            let mut p = plan.lock().unwrap();
            match p.fault {
                Some((f, Phase::Answer)) if p.left > 0 => {
                    p.left -= 1;
                    Some(f)
                }
                _ => None,
            }
        };
        return match fault {
            Some(f) => faulty(f, "chat"),
            None => stream(&[content_line("Hello"), content_line(" there."), done_line()]),
        };
    };
    // Done once the tool appended, or once the human said an interrupted
    // call must not be repeated; asked again after an error.
    let phase = match last_tool_result(&body) {
        Some(r) if r.starts_with("appended") || r.contains("chose not to repeat it") => {
            Phase::Answer
        }
        _ => Phase::Tool,
    };
    let (fault, pad) = {
        let mut p = plan.lock().unwrap();
        let fault = match p.fault {
            Some((f, at)) if at == phase && p.left > 0 => {
                p.left -= 1;
                Some(f)
            }
            _ => None,
        };
        (fault, p.pad)
    };
    if let Some(f) = fault {
        return faulty(f, &title);
    }
    match phase {
        Phase::Tool => stream(&[
            tool_line(
                "test_append",
                json!({"file": EFFECTS, "line": title, "hold_ms": 300}),
            ),
            done_line(),
        ]),
        Phase::Answer => stream(&[
            content_line(&format!("done {title}")),
            content_line(&".".repeat(pad)),
            done_line(),
        ]),
    }
}

// ------------------------------------------------------------ the rig

struct Rig {
    core: Arc<Core>,
    hub: Arc<ProviderHub>,
    orch: Arc<Orchestrator>,
    handle: Option<tokio::task::JoinHandle<()>>,
    server: FixtureServer,
    plan: Arc<Mutex<Plan>>,
    effects: PathBuf,
    created: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// A runner on a data folder at `data` (a fresh temporary one when
    /// `None`), with one recording agent on the fixture provider.
    async fn new(data: Option<&Path>) -> Self {
        Self::with_config(data, orch::fast_config()).await
    }

    async fn with_config(data: Option<&Path>, config: OrchestratorConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = data
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.path().join("data"));
        let effects = dir.path().join("effects");
        std::fs::create_dir_all(&effects).unwrap();
        let plan: Arc<Mutex<Plan>> = Arc::default();
        let p = plan.clone();
        let server = FixtureServer::start(move |req, _| model(req, &p)).await;
        let core = Arc::new(Core::open(&data).unwrap());
        core.providers()
            .create(ProviderInput {
                name: Some("fixture".into()),
                kind: Some(ProviderKind::Ollama),
                base_url: Some(server.url()),
                default_model: Some("fixture".into()),
                max_concurrent: Some(8),
                ..Default::default()
            })
            .unwrap();
        core.agents()
            .create(AgentInput {
                name: Some("Recorder".into()),
                role: Some("recorder".into()),
                capabilities: Some(vec!["recording".into()]),
                allowed_tools: Some(vec!["test_append".into()]),
                provider: Some("fixture".into()),
                model: Some("fixture".into()),
                autonomy: Some(Autonomy::Autopilot),
                max_concurrent_tasks: Some(4),
                ..Default::default()
            })
            .unwrap();
        let hub = Arc::new(
            ProviderHub::with_secrets(core.clone(), SecretStore::file_only(dir.path()))
                .with_connector(Arc::new(ensemble_llm::HttpConnector))
                .with_policy(
                    RetryPolicy {
                        max_attempts: 2,
                        base_delay: Duration::from_millis(10),
                        max_delay: Duration::from_millis(20),
                        max_retry_after: Duration::from_secs(1),
                    },
                    BreakerConfig {
                        threshold: 4,
                        cool_down: Duration::from_millis(300),
                    },
                )
                .with_stall_timeout(STALL),
        );
        let mut tools = ensemble_core::tools::ToolRegistry::builtin();
        for t in ensemble_core::tools::testing::with_dir(Some(effects.clone())) {
            tools.register(t);
        }
        let runtime = Arc::new(AgentRuntime::new(
            core.clone(),
            hub.clone(),
            Arc::new(tools),
        ));
        let orch = Orchestrator::new(core.clone(), hub.clone(), runtime, config);
        Self {
            core,
            hub,
            orch,
            handle: None,
            server,
            plan,
            effects,
            created: Vec::new(),
            _dir: dir,
        }
    }

    fn fault(&self, fault: Fault, phase: Phase, times: usize) {
        let mut p = self.plan.lock().unwrap();
        p.fault = Some((fault, phase));
        p.left = times;
    }

    fn heal(&self) {
        let mut p = self.plan.lock().unwrap();
        p.fault = None;
        p.left = 0;
    }

    fn start(&mut self) {
        let o = self.orch.clone();
        self.handle = Some(tokio::spawn(async move {
            o.run().await.expect("orchestrator run");
        }));
    }

    async fn stop(&mut self) {
        self.orch.shutdown();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }

    fn task(&mut self, title: &str, max_attempts: i64) -> String {
        let id = self
            .core
            .tasks()
            .create(NewTask {
                title: title.into(),
                objective: Some("Record this task in the effects log exactly once.".into()),
                required_capabilities: Some(vec!["recording".into()]),
                max_attempts: Some(max_attempts),
                ..Default::default()
            })
            .unwrap()
            .id;
        self.created.push(id.clone());
        id
    }

    fn get(&self, id: &str) -> Task {
        self.core.tasks().get(id).unwrap()
    }

    fn effects(&self) -> Vec<String> {
        std::fs::read_to_string(self.effects.join(EFFECTS))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn effect_count(&self, title: &str) -> usize {
        self.effects().iter().filter(|l| *l == title).count()
    }

    /// Waits until `pred` holds for the task; fails with its state otherwise.
    async fn wait(&self, id: &str, what: &str, pred: impl Fn(&Task) -> bool) -> Task {
        let end = Instant::now() + LONG;
        loop {
            let t = self.get(id);
            if pred(&t) {
                return t;
            }
            assert!(
                Instant::now() < end,
                "'{}' never {what}: it is {} (error {:?}, attempts {}); effects {:?}",
                t.title,
                t.status,
                t.error,
                t.attempts,
                self.effects()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn completed(&self, id: &str) -> Task {
        self.wait(id, "completed", |t| t.status == TaskStatus::Completed)
            .await
    }

    /// The invariants every fault must leave intact: every task created is
    /// still there, no side effect happened twice, the database is sound;
    /// then, with the fault gone, a new task completes.
    async fn still_works(&mut self, case: &str) {
        self.heal();
        let after = format!("{case}: after");
        let id = self.task(&after, 3);
        let t = self.completed(&id).await;
        assert_eq!(t.output.as_deref(), Some(format!("done {after}").as_str()));
        for id in &self.created {
            self.core
                .tasks()
                .get(id)
                .unwrap_or_else(|e| panic!("{case}: task {id} was lost: {e}"));
        }
        let effects = self.effects();
        for e in &effects {
            assert_eq!(
                effects.iter().filter(|x| *x == e).count(),
                1,
                "{case}: the side effect for '{e}' happened more than once: {effects:?}"
            );
        }
        assert_eq!(self.core.store().integrity_check().unwrap(), "ok");
    }
}

/// An error a person can read: says what happened, no Debug dump of
/// internal structures, one short line.
fn assert_readable(text: &str, expected: &str) {
    assert!(
        text.contains(expected),
        "expected '{expected}' in the error, got: {text}"
    );
    for dump in [
        "Os {",
        "kind:",
        "Kind(",
        "Error {",
        "Custom {",
        "source:",
        "Some(",
        "inner:",
        "SqliteFailure",
        "ErrorCode",
        "reqwest::",
        "hyper::",
        "Unreachable {",
        "BadResponse {",
    ] {
        assert!(!text.contains(dump), "a Debug dump in the error: {text}");
    }
    assert!(
        text.len() < 400 && !text.contains('\n'),
        "not one short line: {text}"
    );
}

/// The errors of a task's runs, oldest first.
fn run_errors(core: &Core, id: &str) -> Vec<String> {
    let mut runs = core.runs().of_task(id).unwrap();
    runs.reverse();
    runs.into_iter().filter_map(|r| r.run.error).collect()
}

/// What happened to a task, for the test's output: its runs (oldest first)
/// with their status and error, and the approvals it asked for.
fn describe(core: &Core, id: &str) -> String {
    let t = core.tasks().get(id).unwrap();
    let mut runs = core.runs().of_task(id).unwrap();
    runs.reverse();
    let runs: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{}{}",
                r.run.status,
                r.run
                    .error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let approvals: Vec<String> = core
        .approvals()
        .list_decided(Paging::default())
        .unwrap()
        .items
        .into_iter()
        .filter(|a| a.task_id.as_deref() == Some(id))
        .map(|a| format!("{} {}", a.kind, a.status))
        .collect();
    format!(
        "task {} after {} attempt(s); runs: [{}]; approvals: [{}]",
        t.status,
        t.attempts,
        runs.join(", "),
        approvals.join(", ")
    )
}

/// Rejects the ambiguous calls in the inbox ("it may have happened: do not
/// repeat it"), as a person would; returns how many there were.
fn reject_ambiguous(core: &Core) -> usize {
    let pending = core
        .approvals()
        .list(Some(ApprovalStatus::Pending), Paging::default())
        .unwrap()
        .items;
    for a in &pending {
        assert_eq!(a.kind, ApprovalKind::AmbiguousToolCall, "{}", a.title);
        core.approvals()
            .decide(
                &a.id,
                Decision {
                    verdict: Some(Verdict::Reject),
                    comment: Some("it may have happened: do not repeat it".into()),
                    ..Default::default()
                },
            )
            .unwrap();
    }
    pending.len()
}

// Shared by both rooms: waits and checks after a fault.

/// Waits until the tool of `title` has run (its line is in the effects log).
async fn wait_effect(rig: &Rig, title: &str) {
    let end = Instant::now() + LONG;
    while rig.effect_count(title) == 0 {
        assert!(Instant::now() < end, "the tool of '{title}' never ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Until the fault is gone the task may be anywhere but lost: still at
/// work, back in the queue, waiting, or failed with a readable error.
fn assert_not_lost(t: &Task, expected: &str) {
    if t.status == TaskStatus::Failed || t.status == TaskStatus::Queued && t.error.is_some() {
        assert_readable(t.error.as_deref().unwrap(), expected);
    }
    assert_ne!(t.status, TaskStatus::Cancelled);
}

/// After a storage fault the task completes (a failed one is retried by
/// hand; an ambiguous call is rejected, as a person would): its tool ran
/// exactly once.
async fn finish_after_storage_fault(rig: &Rig, id: &str, title: &str) {
    let end = Instant::now() + LONG;
    loop {
        let t = rig.get(id);
        match t.status {
            TaskStatus::Completed => break,
            TaskStatus::Failed => {
                rig.core.tasks().retry(id).unwrap();
                rig.orch.nudge();
            }
            TaskStatus::AwaitingApproval => {
                reject_ambiguous(&rig.core);
            }
            _ => {}
        }
        assert!(
            Instant::now() < end,
            "'{title}' did not recover: {} {:?}; runs {:?}",
            t.status,
            t.error,
            rig.core
                .runs()
                .of_task(id)
                .unwrap()
                .iter()
                .map(|r| (r.run.status, r.run.error.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        rig.effect_count(title),
        1,
        "{:?}: {}",
        rig.effects(),
        describe(&rig.core, id)
    );
}

#[path = "faults/provider.rs"]
mod provider;
#[path = "faults/storage.rs"]
mod storage;
