//! Soak benchmark (not a test; prints numbers, never fails): continuous task
//! traffic and chat streaming for a while, watching for leaks. Resident
//! memory (VmRSS) and open file descriptors (/proc/self/fd) are sampled
//! every few seconds; at the end it prints start, end and peak of both,
//! and how much work was done.
//!
//! The orchestrator, the agent runtime and the chat engine run as in the
//! app, on a temporary data folder, against an in-process HTTP server that
//! speaks Ollama's documented wire format (`/api/tags`, NDJSON `/api/chat`,
//! keep-alive connections) and answers at once: a task first asks for the
//! `test_sleep` tool (0 ms, journaled like any tool call), then answers;
//! a chat message gets a streamed greeting. A feeder keeps ~40 tasks queued;
//! one chat conversation after another streams without pause (a new session
//! every 10 messages).
//!
//! Run: `cargo bench -p ensemble-core --bench soak`. Duration:
//! `ENSEMBLE_SOAK_SECS` (default 600), sampling: `ENSEMBLE_SOAK_SAMPLE_SECS`
//! (default 5). Output lines: `soak-sample key=value …` every sample and one
//! `soak-result key=value …` at the end (scripts/bench/report.py reads them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::chat::engine::{ChatEngine, ChatSendRequest};
use ensemble_core::chat::ChatStatus;
use ensemble_core::orchestrator::{Orchestrator, OrchestratorConfig};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::runtime::AgentRuntime;
use ensemble_core::secrets::SecretStore;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{NewTask, TaskFilter, TaskStatus};
use ensemble_core::tools::ToolRegistry;
use ensemble_core::{Core, Paging};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const MODEL: &str = "soak";
const QUEUE_TARGET: u64 = 40;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

// ------------------------------------------------------------ the model

fn line(v: serde_json::Value) -> String {
    format!("{v}\n")
}

fn content(text: &str) -> String {
    line(
        serde_json::json!({"model": MODEL, "created_at": "2026-11-21T10:00:00Z",
        "message": {"role": "assistant", "content": text}, "done": false}),
    )
}

fn done() -> String {
    line(
        serde_json::json!({"model": MODEL, "created_at": "2026-11-21T10:00:01Z",
        "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
        "total_duration": 1000, "load_duration": 1, "prompt_eval_count": 120,
        "prompt_eval_duration": 1, "eval_count": 6, "eval_duration": 1}),
    )
}

/// The NDJSON lines answering one `/api/chat` body.
fn answer(body: &serde_json::Value) -> Vec<String> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let is_task = messages.iter().any(|m| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("Task: "))
    });
    if !is_task {
        return vec![
            content("Hello"),
            content(", this is"),
            content(" a streamed"),
            content(" answer."),
            done(),
        ];
    }
    if messages.iter().any(|m| m["role"] == "tool") {
        return vec![content("Done: the task is complete."), done()];
    }
    vec![
        line(
            serde_json::json!({"model": MODEL, "created_at": "2026-11-21T10:00:00Z",
            "message": {"role": "assistant", "content": "",
                "tool_calls": [{"function": {"name": "test_sleep", "arguments": {"ms": 0}}}]},
            "done": false}),
        ),
        done(),
    ]
}

/// One keep-alive connection: requests in, chunked NDJSON or JSON out.
async fn serve(sock: TcpStream, chats: Arc<AtomicU64>) -> std::io::Result<()> {
    let (read, mut write) = sock.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut len = 0usize;
        let mut close = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim(), v.trim());
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close") {
                    close = true;
                }
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await?;
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        if path.starts_with("/api/chat") {
            chats.fetch_add(1, Ordering::Relaxed);
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let mut out = String::from(
                "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n",
            );
            for l in answer(&body) {
                out.push_str(&format!("{:x}\r\n{l}\r\n", l.len()));
            }
            out.push_str("0\r\n\r\n");
            write.write_all(out.as_bytes()).await?;
        } else {
            let json = if path.starts_with("/api/show") {
                // A model that takes tools, as Ollama describes it.
                serde_json::json!({"capabilities": ["completion", "tools"],
                    "model_info": {"general.architecture": "soak", "soak.context_length": 8192}})
                .to_string()
            } else {
                serde_json::json!({"models": [{"name": MODEL, "model": MODEL,
                    "modified_at": "2026-11-21T10:00:00Z", "size": 1, "digest": "0"}]})
                .to_string()
            };
            let out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
                json.len()
            );
            write.write_all(out.as_bytes()).await?;
        }
        write.flush().await?;
        if close {
            return Ok(());
        }
    }
}

async fn start_model(chats: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, chats.clone()));
        }
    });
    url
}

// ------------------------------------------------------------ measuring

/// Resident memory now, in MB.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Tasks in these statuses.
fn count(core: &Core, statuses: &[TaskStatus]) -> u64 {
    core.tasks()
        .list(
            &TaskFilter {
                statuses: Some(statuses.to_vec()),
                ..Default::default()
            },
            Paging {
                limit: Some(1),
                offset: None,
            },
        )
        .map(|p| p.total)
        .unwrap_or(0)
}

struct Sample {
    t: f64,
    rss: f64,
    fds: usize,
}

// ------------------------------------------------------------ traffic

/// Keeps about [`QUEUE_TARGET`] tasks waiting or running.
async fn feed(core: Arc<Core>, stop: Arc<AtomicBool>, created: Arc<AtomicU64>) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let c = core.clone();
        let open = tokio::task::spawn_blocking(move || {
            count(
                &c,
                &[
                    TaskStatus::Queued,
                    TaskStatus::Planning,
                    TaskStatus::Running,
                ],
            )
        })
        .await
        .unwrap_or(0);
        let missing = QUEUE_TARGET.saturating_sub(open);
        if missing > 0 {
            let c = core.clone();
            let from = n;
            n += missing;
            let made = tokio::task::spawn_blocking(move || {
                let mut made = 0u64;
                for i in from..from + missing {
                    let task = NewTask {
                        title: format!("soak task {i}"),
                        objective: Some("Check the queue and report.".into()),
                        required_capabilities: Some(vec!["soak".into()]),
                        ..Default::default()
                    };
                    if c.tasks().create(task).is_ok() {
                        made += 1;
                    }
                }
                made
            })
            .await
            .unwrap_or(0);
            created.fetch_add(made, Ordering::Relaxed);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One chat message after another, a new conversation every 10.
async fn chat_loop(
    chat: Arc<ChatEngine>,
    agent: String,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) {
    let mut session: Option<String> = None;
    let mut in_session = 0;
    while !stop.load(Ordering::Relaxed) {
        if in_session == 10 {
            session = None;
            in_session = 0;
        }
        let sent = chat
            .send(
                ChatSendRequest {
                    session_id: session.clone(),
                    text: format!("Message {in_session}: how is the queue?"),
                    agent_id: Some(agent.clone()),
                    auto_route: None,
                },
                CancellationToken::new(),
                &mut |_| true,
            )
            .await;
        match sent {
            Ok(m) if m.status == ChatStatus::Complete => {
                session = Some(m.session_id);
                in_session += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                failed.fetch_add(1, Ordering::Relaxed);
                session = None;
                in_session = 0;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let secs = env_u64("ENSEMBLE_SOAK_SECS", 600).max(1);
    let every = env_u64("ENSEMBLE_SOAK_SAMPLE_SECS", 5).max(1);
    println!(
        "soak: {secs} s of task traffic and chat streaming, sampled every {every} s (ENSEMBLE_SOAK_SECS, ENSEMBLE_SOAK_SAMPLE_SECS); load average {}",
        load_average()
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let model_calls = Arc::new(AtomicU64::new(0));
    let url = start_model(model_calls.clone()).await;
    let core = Arc::new(Core::open(dir.path()).expect("core"));
    core.providers()
        .create(ProviderInput {
            name: Some(MODEL.into()),
            kind: Some(ProviderKind::Ollama),
            base_url: Some(url),
            default_model: Some(MODEL.into()),
            max_concurrent: Some(16),
            ..Default::default()
        })
        .expect("provider");
    core.update_settings(SettingsPatch {
        default_provider: Some(MODEL.into()),
        ..Default::default()
    })
    .expect("settings");
    let mut agents = Vec::new();
    for i in 0..4 {
        let a = core
            .agents()
            .create(AgentInput {
                name: Some(format!("Soaker {i}")),
                capabilities: Some(vec!["soak".into()]),
                allowed_tools: Some(vec!["test_sleep".into()]),
                provider: Some(MODEL.into()),
                model: Some(MODEL.into()),
                autonomy: Some(Autonomy::Autopilot),
                max_concurrent_tasks: Some(4),
                ..Default::default()
            })
            .expect("agent");
        agents.push(a.id);
    }
    let hub = Arc::new(
        ProviderHub::with_secrets(core.clone(), SecretStore::file_only(dir.path()))
            .with_connector(Arc::new(ensemble_llm::HttpConnector)),
    );
    let mut tools = ToolRegistry::builtin();
    for t in ensemble_core::tools::testing::with_dir(None) {
        tools.register(t);
    }
    let runtime = Arc::new(AgentRuntime::new(
        core.clone(),
        hub.clone(),
        Arc::new(tools),
    ));
    let orch = Orchestrator::new(
        core.clone(),
        hub.clone(),
        runtime,
        OrchestratorConfig::default(),
    );
    let chat = Arc::new(ChatEngine::new(core.clone(), hub.clone()));

    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicU64::new(0));
    let (chats, chat_failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let start = Instant::now();
    let first = Sample {
        t: 0.0,
        rss: rss_mb(),
        fds: open_fds(),
    };
    let o = orch.clone();
    let runner = tokio::spawn(async move { o.run().await });
    let feeder = tokio::spawn(feed(core.clone(), stop.clone(), created.clone()));
    let chatter = tokio::spawn(chat_loop(
        chat.clone(),
        agents[0].clone(),
        stop.clone(),
        chats.clone(),
        chat_failures.clone(),
    ));

    let mut samples = vec![first];
    let print = |s: &Sample, tasks: u64, chats: u64| {
        println!(
            "soak-sample t_s={:.0} rss_mb={:.1} fds={} tasks_done={tasks} chats_done={chats}",
            s.t, s.rss, s.fds
        );
    };
    print(&samples[0], 0, 0);
    let end = start + Duration::from_secs(secs);
    while Instant::now() < end {
        let next = (start + Duration::from_secs(every * samples.len() as u64)).min(end);
        tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
        let s = Sample {
            t: start.elapsed().as_secs_f64(),
            rss: rss_mb(),
            fds: open_fds(),
        };
        print(
            &s,
            orch.stats.finished.load(Ordering::Relaxed),
            chats.load(Ordering::Relaxed),
        );
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = feeder.await;
    let _ = chatter.await;
    orch.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(15), runner).await;
    let wall = start.elapsed().as_secs_f64();

    let tasks_done = count(&core, &[TaskStatus::Completed]);
    let failed_tasks = count(&core, &[TaskStatus::Failed]);
    let db_mb = ["ensemble.db", "ensemble.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len() as f64 / 1e6)
        .sum::<f64>();
    // Past the first minute (or the first third of a short run) the caches
    // are warm: growth after that point is what a leak would show.
    let warm_at = (wall / 3.0).min(60.0);
    let warm = samples
        .iter()
        .find(|s| s.t >= warm_at)
        .unwrap_or(&samples[0]);
    let last = samples.last().unwrap_or(&samples[0]);
    let max_rss = samples.iter().map(|s| s.rss).fold(f64::MIN, f64::max);
    let max_fds = samples.iter().map(|s| s.fds).max().unwrap_or(0);
    println!(
        "soak-result duration_s={wall:.0} samples={} tasks_created={} tasks_completed={tasks_done} tasks_failed={failed_tasks} tasks_per_s={:.1} chats_completed={} chats_failed={} chats_per_s={:.1} model_calls={} rss_start_mb={:.1} rss_warm_mb={:.1} rss_end_mb={:.1} rss_max_mb={:.1} warm_at_s={:.0} fds_start={} fds_warm={} fds_end={} fds_max={max_fds} db_mb={db_mb:.1} load_end=\"{}\"",
        samples.len(),
        created.load(Ordering::Relaxed),
        tasks_done as f64 / wall,
        chats.load(Ordering::Relaxed),
        chat_failures.load(Ordering::Relaxed),
        chats.load(Ordering::Relaxed) as f64 / wall,
        model_calls.load(Ordering::Relaxed),
        samples[0].rss,
        warm.rss,
        last.rss,
        max_rss,
        warm.t,
        samples[0].fds,
        warm.fds,
        last.fds,
        load_average(),
    );
}
