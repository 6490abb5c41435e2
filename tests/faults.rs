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

#[path = "../src-tauri/crates/core/tests/common/fixture_server.rs"]
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
        core.create_provider(ProviderInput {
            name: Some("fixture".into()),
            kind: Some(ProviderKind::Ollama),
            base_url: Some(server.url()),
            default_model: Some("fixture".into()),
            max_concurrent: Some(8),
            ..Default::default()
        })
        .unwrap();
        core.create_agent(AgentInput {
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
            .create_task(NewTask {
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
        self.core.get_task(id).unwrap()
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
                .get_task(id)
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
    let mut runs = core.task_runs(id).unwrap();
    runs.reverse();
    runs.into_iter().filter_map(|r| r.run.error).collect()
}

/// What happened to a task, for the test's output: its runs (oldest first)
/// with their status and error, and the approvals it asked for.
fn describe(core: &Core, id: &str) -> String {
    let t = core.get_task(id).unwrap();
    let mut runs = core.task_runs(id).unwrap();
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
        .list_decided_approvals(Paging::default())
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
        .list_approvals(Some(ApprovalStatus::Pending), Paging::default())
        .unwrap()
        .items;
    for a in &pending {
        assert_eq!(a.kind, ApprovalKind::AmbiguousToolCall, "{}", a.title);
        core.decide_approval(
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

// ------------------------------------------------------------ provider faults

/// In-process server speaking Ollama's wire format, behind a URL where
/// nothing listens: connections are refused. The task fails (after its
/// attempts) with the URL in a readable error and a notice; once the
/// provider is pointed at a server that answers, its retry completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_refuses_connections() {
    let mut rig = Rig::new(None).await;
    let refused = fixture_server::refused_url().await;
    let cfg = rig.core.get_provider("fixture").unwrap();
    rig.core
        .update_provider(
            &cfg.id,
            ProviderInput {
                base_url: Some(refused.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    let mut notices = rig.core.events().subscribe_notices();
    let id = rig.task("refused", 2);
    rig.start();
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_eq!(t.attempts, 2);
    assert_readable(
        t.error.as_deref().unwrap(),
        &format!("cannot reach the provider at {refused}"),
    );
    let notice = tokio::time::timeout(LONG, async {
        loop {
            if let Ok(n) = notices.recv().await {
                if n.kind == NoticeKind::TaskFailed {
                    return n;
                }
            }
        }
    })
    .await
    .expect("a notice that the task failed");
    assert_eq!(notice.item_id.as_deref(), Some(id.as_str()));
    assert_readable(&notice.body, "cannot reach the provider");
    assert!(rig.server.recorded().is_empty());
    assert_eq!(rig.effect_count("refused"), 0);

    // The provider comes back (here: its URL is corrected).
    rig.core
        .update_provider(
            &cfg.id,
            ProviderInput {
                base_url: Some(rig.server.url()),
                ..Default::default()
            },
        )
        .unwrap();
    rig.core.retry_task(&id).unwrap();
    rig.orch.nudge();
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("refused"), 1);
    println!("refused: {}", describe(&rig.core, &id));
    rig.still_works("refused").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that reads the request
/// and never answers (first the request that asks for the tool, then the
/// one after it, mid-stream). Each silent call times out with a readable
/// error and is retried; the task completes with its tool run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_times_out() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::Stall, Phase::Tool, 2);
    let id = rig.task("silent", 4);
    rig.start();
    rig.completed(&id).await;
    let errors = run_errors(&rig.core, &id);
    assert!(!errors.is_empty(), "the timeout is in the run trace");
    assert_readable(&errors[0], "no answer from the provider within 0.4 s");
    assert_eq!(rig.effect_count("silent"), 1);
    println!("stall: {}", describe(&rig.core, &id));

    rig.fault(Fault::StallMidStream, Phase::Answer, 1);
    let id = rig.task("stalls after its tool", 4);
    rig.completed(&id).await;
    let errors = run_errors(&rig.core, &id);
    assert_readable(
        errors.first().expect("the stall is in the run trace"),
        "the stream broke off: the provider sent nothing for 0.4 s",
    );
    assert_eq!(
        rig.effect_count("stalls after its tool"),
        1,
        "the retry must not run the tool again"
    );
    println!("stall mid-stream: {}", describe(&rig.core, &id));
    rig.still_works("timeout").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that answers HTTP 500
/// (Ollama's `{"error": …}` body) several times: before the tool call, and
/// after it (when retrying must not repeat the call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_returns_http_500() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::Http500, Phase::Tool, 3);
    let id = rig.task("five hundred", 4);
    rig.start();
    rig.completed(&id).await;
    let errors = run_errors(&rig.core, &id);
    assert_readable(
        errors.first().expect("the failure is in the run trace"),
        "the provider failed (HTTP 500): llama runner process has terminated: signal: killed",
    );
    assert_eq!(rig.effect_count("five hundred"), 1);
    println!("http 500: {}", describe(&rig.core, &id));

    rig.fault(Fault::Http500, Phase::Answer, 3);
    let id = rig.task("500 after its tool", 4);
    rig.completed(&id).await;
    assert_eq!(
        rig.effect_count("500 after its tool"),
        1,
        "the retry must not run the tool again"
    );
    println!("http 500 after the tool: {}", describe(&rig.core, &id));
    rig.still_works("http 500").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that sends a few tokens
/// and closes the connection before the stream's last line, right after
/// the tool ran: the run fails with a readable error, the retry continues
/// from the tool's result instead of running it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_drops_the_connection_mid_stream() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::DropMidStream, Phase::Answer, 2);
    let id = rig.task("dropped", 4);
    rig.start();
    let t = rig.completed(&id).await;
    assert_eq!(t.output.as_deref(), Some("done dropped"));
    let errors = run_errors(&rig.core, &id);
    assert_readable(
        errors.first().expect("the break is in the run trace"),
        "the stream broke off",
    );
    assert_eq!(
        rig.effect_count("dropped"),
        1,
        "the retry must not run the tool again"
    );
    println!("drop: {}", describe(&rig.core, &id));
    rig.still_works("drop").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that puts a line which
/// is not JSON in the NDJSON stream. Ensemble cannot use such an answer:
/// the task fails at once (before its tool, or after it — the tool then
/// ran once), with the offending line quoted in a readable error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_sends_malformed_ndjson() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::Malformed, Phase::Tool, 1);
    let id = rig.task("garbled", 3);
    rig.start();
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_readable(
        t.error.as_deref().unwrap(),
        "the provider sent a response Ensemble cannot use: Ollama sent a line that is not JSON",
    );
    assert!(t
        .error
        .as_deref()
        .unwrap()
        .contains("this line is not json at all"));
    assert_eq!(rig.effect_count("garbled"), 0);
    // Retried by hand once the provider behaves: it completes.
    rig.core.retry_task(&id).unwrap();
    rig.orch.nudge();
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("garbled"), 1);

    rig.fault(Fault::Malformed, Phase::Answer, 1);
    let id = rig.task("garbled after its tool", 3);
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_readable(t.error.as_deref().unwrap(), "not JSON");
    assert_eq!(rig.effect_count("garbled after its tool"), 1);
    println!("malformed after the tool: {}", describe(&rig.core, &id));
    rig.still_works("malformed").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format whose model calls
/// `test_append` with arguments of the wrong types, then a tool that does
/// not exist: nothing runs, the model is told what was wrong (a readable
/// observation in the run trace) and its corrected call runs once. A model
/// that never corrects itself fails the task with the last problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_calls_tools_with_bad_arguments() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::WrongTypes, Phase::Tool, 1);
    let id = rig.task("wrong types", 3);
    rig.start();
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("wrong types"), 1);
    let runs = rig.core.task_runs(&id).unwrap();
    assert_eq!(runs.len(), 1);
    let first = &runs[0].steps[0];
    let obs = first.observation.as_deref().unwrap();
    assert!(
        obs.starts_with("Error: invalid arguments for test_append"),
        "{obs}"
    );
    assert!(obs.contains("Nothing was run"), "{obs}");
    assert_eq!(
        runs[0].tool_calls.len(),
        1,
        "only the corrected call is journaled: {:?}",
        runs[0].tool_calls
    );

    rig.fault(Fault::UnknownTool, Phase::Tool, 1);
    let id = rig.task("unknown tool", 3);
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("unknown tool"), 1);
    let runs = rig.core.task_runs(&id).unwrap();
    let obs = runs[0].steps[0].observation.as_deref().unwrap();
    assert_readable(
        obs,
        "Error: unknown tool 'delete_everything'; you may use: test_append",
    );

    // A model that keeps calling a tool that does not exist.
    rig.fault(Fault::UnknownTool, Phase::Tool, usize::MAX);
    let id = rig.task("never corrects itself", 1);
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_readable(
        t.error.as_deref().unwrap(),
        "the model did not produce a valid step after 3 corrections (last problem: unknown tool 'delete_everything'",
    );
    assert_eq!(rig.effect_count("never corrects itself"), 0);
    rig.still_works("bad tool arguments").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format, for the chat engine: a
/// stream that breaks off keeps the partial answer with status `error` and a
/// readable error (sent to the window as an `error` event); the next message
/// of the same conversation is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_stream_that_breaks_off() {
    let rig = Rig::new(None).await;
    let chat = ChatEngine::new(rig.core.clone(), rig.hub.clone());
    let agent = rig
        .core
        .list_agents(&Default::default(), Paging::default())
        .unwrap()
        .items
        .remove(0);
    rig.fault(Fault::DropMidStream, Phase::Answer, 1);
    let mut events = Vec::new();
    let broken = chat
        .send(
            ChatSendRequest {
                text: "Say hello".into(),
                agent_id: Some(agent.id.clone()),
                ..Default::default()
            },
            CancellationToken::new(),
            &mut |e| {
                events.push(e);
                true
            },
        )
        .await
        .unwrap();
    assert_eq!(broken.status, ChatStatus::Error);
    assert_eq!(broken.content, "Half an ans");
    let Some(ChatEvent::Error { error, .. }) = events.last() else {
        panic!("the stream must end with an error event: {events:?}");
    };
    assert_eq!(error.code, "STREAM_INTERRUPTED");
    assert_readable(&error.message, "the stream broke off");

    let answer = chat
        .send(
            ChatSendRequest {
                session_id: Some(broken.session_id.clone()),
                text: "Say hello again".into(),
                ..Default::default()
            },
            CancellationToken::new(),
            &mut |_| true,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, ChatStatus::Complete);
    assert_eq!(answer.content, "Hello there.");
}

// ------------------------------------------------------------ storage faults

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
                rig.core.retry_task(id).unwrap();
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
                .task_runs(id)
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

/// In-process server speaking Ollama's wire format; the store fails: another
/// connection holds a write transaction (`BEGIN IMMEDIATE`). First a write
/// from outside the runner (as an IPC command makes) waits the store's busy
/// timeout (5 s) and fails with a readable "database is locked". Then the
/// lock is taken while the task's tool runs and held for 7 s: recording the
/// tool's result fails the same way. The run is kept, not failed for good:
/// once the lock is gone its call, which may or may not have happened as far
/// as the journal knows, goes to the inbox as ambiguous (the person says not
/// to repeat it) and the task completes with its tool run once.
///
/// The runner is set up so that nothing else writes meanwhile (one task at a
/// time, no heartbeat), so it is the run's own write that meets the lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_locked_by_another_connection() {
    let mut rig = Rig::with_config(
        None,
        OrchestratorConfig {
            heartbeat: Duration::from_secs(3600),
            ..orch::fast_config()
        },
    )
    .await;
    rig.core
        .update_settings(ensemble_core::settings::SettingsPatch {
            max_concurrent_tasks: Some(1),
            ..Default::default()
        })
        .unwrap();
    let path = rig.core.store().path().to_path_buf();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.busy_timeout(Duration::from_secs(10)).unwrap();

    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let core = rig.core.clone();
    let refused = tokio::task::spawn_blocking(move || {
        core.create_task(NewTask {
            title: "while locked".into(),
            ..Default::default()
        })
    })
    .await
    .unwrap()
    .expect_err("a write while another connection holds the lock fails");
    assert_eq!(refused.code(), "DATABASE_BUSY");
    assert_readable(&refused.to_string(), "database error: database is locked");
    other.execute_batch("ROLLBACK").unwrap();

    let id = rig.task("locked out", 3);
    rig.start();
    wait_effect(&rig, "locked out").await;
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let locked_at = Instant::now();
    while locked_at.elapsed() < Duration::from_secs(7) {
        assert_not_lost(&rig.get(&id), "database is locked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);

    finish_after_storage_fault(&rig, &id, "locked out").await;
    println!("locked: {}", describe(&rig.core, &id));
    let runs = rig.core.task_runs(&id).unwrap();
    assert_eq!(runs.len(), 1, "the run went on rather than starting over");
    assert_readable(
        runs[0].run.error.as_deref().unwrap_or_default(),
        "database error: database is locked",
    );
    let asked = rig
        .core
        .list_decided_approvals(Paging::default())
        .unwrap()
        .items;
    assert!(
        asked
            .iter()
            .any(|a| a.kind == ApprovalKind::AmbiguousToolCall
                && a.task_id.as_deref() == Some(id.as_str())),
        "the interrupted call went to the inbox: {asked:?}"
    );
    rig.still_works("locked").await;
    rig.stop().await;
}

/// How the disk is made full.
trait Filler {
    fn fill(&self, core: &Core);
    fn free(&self, core: &Core);
}

/// SQLite's `max_page_count`: the database file may not grow beyond its
/// current size, so every write that needs a new page fails with SQLITE_FULL.
struct PageLimit;

impl Filler for PageLimit {
    fn fill(&self, core: &Core) {
        core.write(|tx| {
            let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let set: i64 = tx.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })?;
            assert_eq!(set, pages);
            Ok(())
        })
        .unwrap();
    }

    fn free(&self, core: &Core) {
        // Retried: the runner may hold the writer for a moment.
        core.write(|tx| {
            tx.query_row("PRAGMA max_page_count = 1073741823", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(())
        })
        .unwrap();
    }
}

/// A real full disk: the data folder is on a small tmpfs and a file takes
/// up all the space left.
struct FullTmpfs {
    mount: PathBuf,
}

impl FullTmpfs {
    /// Mounts a 2 MB tmpfs at `mount` (needs root; `None` otherwise).
    fn mount(mount: &Path) -> Option<Self> {
        std::fs::create_dir_all(mount).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(mount)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self {
            mount: mount.to_path_buf(),
        })
    }
}

impl Drop for FullTmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.mount)
            .status();
    }
}

impl Filler for FullTmpfs {
    fn fill(&self, _core: &Core) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.mount.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }

    fn free(&self, _core: &Core) {
        std::fs::remove_file(self.mount.join("filler")).unwrap();
    }
}

/// The disk fills while the task's tool runs: recording what follows fails
/// with SQLITE_FULL. Writes meanwhile fail with a readable "database or disk
/// is full"; once space is freed, the task goes on without running its tool
/// again.
async fn disk_full(rig: &mut Rig, filler: &dyn Filler, case: &str) {
    // A long answer: recording it needs new pages.
    rig.plan.lock().unwrap().pad = 64 * 1024;
    let title = format!("{case}: disk full");
    let id = rig.task(&title, 3);
    rig.start();
    wait_effect(rig, &title).await;
    filler.fill(&rig.core);

    let core = rig.core.clone();
    let refused = tokio::task::spawn_blocking(move || {
        core.create_task(NewTask {
            title: "while full".into(),
            objective: Some("x".repeat(64 * 1024)),
            ..Default::default()
        })
    })
    .await
    .unwrap()
    .expect_err("a write that needs space fails while the disk is full");
    assert_eq!(refused.code(), "DATABASE");
    assert_readable(&refused.to_string(), "database or disk is full");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_not_lost(&rig.get(&id), "database or disk is full");
    filler.free(&rig.core);
    rig.plan.lock().unwrap().pad = 0;

    finish_after_storage_fault(rig, &id, &title).await;
    println!("{case}: {}", describe(&rig.core, &id));
    rig.still_works(case).await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format; the disk fills, made
/// with SQLite's `PRAGMA max_page_count` (works anywhere, no root needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_fills_up_sqlite_page_limit() {
    let mut rig = Rig::new(None).await;
    disk_full(&mut rig, &PageLimit, "page limit").await;
}

/// In-process server speaking Ollama's wire format; the disk fills for real:
/// the data folder is on a 2 MB tmpfs that a file then fills up. Needs root
/// to mount it; elsewhere it says so and checks nothing (the page-limit
/// case above covers SQLITE_FULL there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_fills_up_tmpfs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tmpfs) = FullTmpfs::mount(&dir.path().join("mnt")) else {
        println!("cannot mount a tmpfs here (not root): covered by the page-limit case only");
        return;
    };
    let mut rig = Rig::new(Some(&tmpfs.mount.join("data"))).await;
    disk_full(&mut rig, &tmpfs, "tmpfs").await;
    drop(rig);
    drop(tmpfs);
}

/// The run traces keep what happened: a failed attempt's run says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_keeps_its_error_in_the_trace() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::Http500, Phase::Tool, 2);
    let id = rig.task("traced", 3);
    rig.start();
    rig.completed(&id).await;
    let runs = rig.core.task_runs(&id).unwrap();
    assert!(runs.len() >= 2, "a failed attempt and the one that worked");
    let failed = runs.last().unwrap();
    assert_eq!(failed.run.status, RunStatus::Failed);
    assert_readable(failed.run.error.as_deref().unwrap(), "HTTP 500");
    assert_eq!(runs[0].run.status, RunStatus::Completed);
    rig.still_works("trace").await;
    rig.stop().await;
}

/// Holds each run until told to go, then completes it with a long answer.
struct HeldExecutor {
    started: Arc<tokio::sync::Notify>,
    go: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl Executor for HeldExecutor {
    async fn execute(&self, _job: Job, _cancel: CancellationToken) -> Outcome {
        self.started.notify_one();
        self.go.notified().await;
        Outcome::Completed {
            output: "x".repeat(64 * 1024),
            confidence: None,
        }
    }
}

/// The store refuses to record the end of a run (the disk is full when the
/// agent finishes; made with SQLite's `max_page_count`, the answer needs new
/// pages): the runner keeps the task and tries again, instead of leaving it
/// `running` with nobody working on it, and records it once there is room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_a_run_waits_for_room_on_the_disk() {
    let (core, hub, _dir) = orch::core_with_model(
        Arc::new(
            ensemble_core::providers::scripted::ScriptedProvider::from_fn("scripted", |_, _| {
                ensemble_core::providers::scripted::Reply::text("unused")
            }),
        ),
        BreakerConfig::default(),
    );
    core.create_agent(AgentInput {
        name: Some("Writer".into()),
        autonomy: Some(Autonomy::Autopilot),
        ..Default::default()
    })
    .unwrap();
    let id = core
        .create_task(NewTask {
            title: "long answer".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let (started, go) = (
        Arc::new(tokio::sync::Notify::new()),
        Arc::new(tokio::sync::Notify::new()),
    );
    let executor = Arc::new(HeldExecutor {
        started: started.clone(),
        go: go.clone(),
    });
    let orch = Orchestrator::new(core.clone(), hub, executor, orch::fast_config());
    let o = orch.clone();
    let handle = tokio::spawn(async move { o.run().await });
    tokio::time::timeout(LONG, started.notified())
        .await
        .unwrap();
    PageLimit.fill(&core);
    go.notify_one();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let t = core.get_task(&id).unwrap();
    assert_eq!(t.status, TaskStatus::Running, "{:?}", t.error);
    assert_eq!(orch.running_count(), 1, "the runner still holds the task");
    PageLimit.free(&core);
    let end = Instant::now() + LONG;
    loop {
        let t = core.get_task(&id).unwrap();
        if t.status == TaskStatus::Completed {
            assert_eq!(t.output.map(|o| o.len()), Some(64 * 1024));
            break;
        }
        assert!(
            Instant::now() < end,
            "never recorded: {} {:?}",
            t.status,
            t.error
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    orch.shutdown();
    let _ = tokio::time::timeout(LONG, handle).await;
}
