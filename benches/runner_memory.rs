//! Benchmark (not a test) for issue 4: resident memory of the headless
//! runner (`ensemble run`) with 50 agents and 10,000 queued tasks (goal
//! < 100 MB), and how fast it stops on SIGTERM.
//!
//! A temporary data folder is seeded through ensemble-core: 50 agents on
//! autopilot, 10,000 queued tasks, the "ollama" provider pointed at an
//! in-process HTTP server that speaks Ollama's streaming `/api/chat` (NDJSON)
//! and takes a while to answer (5 chunks, 100 ms apart: ~0.5 s a call), with
//! Settings allowing 50 tasks at once. So the runner works as it would for
//! real — 50 runs in flight, thousands still queued — rather than finishing
//! the queue at once or idling on an open breaker. Its /proc/PID/status
//! VmRSS and VmHWM are sampled every 100 ms for 15 s
//! (`ENSEMBLE_BENCH_SECS`), then it gets SIGTERM and must exit within 10 s.
//!
//! Run: `cargo bench --bench runner_memory` (prints MB and the drain time).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::providers::ProviderInput;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{insert_task, NewTask, TaskLinks};
use ensemble_core::Core;

const AGENTS: usize = 50;
const TASKS: usize = 10_000;
const CHUNKS: usize = 5;
const CHUNK_DELAY: Duration = Duration::from_millis(100);
const MODEL: &str = "bench-model";

/// A minimal Ollama: `/api/tags`, `/api/version`, `/api/show`, and a slow streaming `/api/chat`.
struct FakeOllama {
    url: String,
    chats: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FakeOllama {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        listener.set_nonblocking(true).expect("nonblocking");
        let chats = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (chats.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let c = c.clone();
                        std::thread::spawn(move || {
                            let _ = serve(sock, &c);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { url, chats, stop }
    }
}

impl Drop for FakeOllama {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn chunk(content: &str, done: bool) -> String {
    let mut v = serde_json::json!({
        "model": MODEL,
        "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    });
    if done {
        v["done_reason"] = "stop".into();
        v["total_duration"] = 500_000_000u64.into();
        v["prompt_eval_count"] = 200.into();
        v["eval_count"] = (CHUNKS as u64).into();
    }
    v.to_string() + "\n"
}

fn serve(sock: TcpStream, chats: &AtomicU64) -> std::io::Result<()> {
    sock.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(sock.try_clone()?);
    let mut out = sock;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        let path = request_line.split_whitespace().nth(1).unwrap_or("");
        if path.starts_with("/api/chat") {
            chats.fetch_add(1, Ordering::Relaxed);
            out.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n",
            )?;
            for i in 0..=CHUNKS {
                std::thread::sleep(CHUNK_DELAY / 2);
                let line = if i < CHUNKS {
                    chunk(if i == 0 { "Done" } else { " ." }, false)
                } else {
                    chunk("", true)
                };
                write!(out, "{:x}\r\n{line}\r\n", line.len())?;
                out.flush()?;
                if i < CHUNKS {
                    std::thread::sleep(CHUNK_DELAY / 2);
                }
            }
            out.write_all(b"0\r\n\r\n")?;
            out.flush()?;
        } else {
            let body = if path.starts_with("/api/tags") {
                serde_json::json!({"models": [{"name": MODEL, "model": MODEL, "modified_at": "2026-01-01T00:00:00Z", "size": 1, "digest": "0"}]}).to_string()
            } else if path.starts_with("/api/version") {
                r#"{"version":"0.9.0"}"#.to_string()
            } else if path.starts_with("/api/show") {
                // A model that takes tools, as Ollama describes it.
                r#"{"capabilities":["completion","tools"]}"#.to_string()
            } else {
                "{}".to_string()
            };
            write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )?;
            out.flush()?;
        }
    }
}

fn seed(dir: &Path, ollama_url: &str) {
    let core = Core::open(dir).expect("core");
    core.providers()
        .update(
            "ollama",
            ProviderInput {
                base_url: Some(ollama_url.to_string()),
                default_model: Some(MODEL.into()),
                max_concurrent: Some(AGENTS as i64),
                ..Default::default()
            },
        )
        .expect("provider");
    core.update_settings(SettingsPatch {
        default_provider: Some("ollama".into()),
        max_concurrent_tasks: Some(AGENTS as i64),
        ..Default::default()
    })
    .expect("settings");
    for i in 0..AGENTS {
        core.agents()
            .create(AgentInput {
                name: Some(format!("Agent {i:02}")),
                role: Some("generalist".into()),
                system_prompt: Some(format!("You are agent {i}. Answer briefly.")),
                capabilities: Some(vec![["research", "writing", "analysis"][i % 3].into()]),
                autonomy: Some(Autonomy::Autopilot),
                ..Default::default()
            })
            .expect("agent");
    }
    core.write(|tx| {
        for i in 0..TASKS {
            insert_task(
                tx,
                &NewTask {
                    title: format!("Queued task {i}"),
                    objective: Some(format!("Look into item {i} and write two lines about it.")),
                    priority: Some(1 + (i % 10) as i64),
                    ..Default::default()
                },
                &TaskLinks::default(),
            )?;
        }
        Ok(())
    })
    .expect("tasks");
}

/// A field of /proc/PID/status, in MB.
fn status_mb(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// VmRSS and VmHWM of a process, in MB.
fn memory(pid: u32) -> Option<(f64, f64)> {
    Some((status_mb(pid, "VmRSS:")?, status_mb(pid, "VmHWM:")?))
}

fn counts(dir: &Path) -> String {
    let conn = rusqlite::Connection::open_with_flags(
        ensemble_core::paths::db_path(dir),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open db");
    let mut stmt = conn
        .prepare("SELECT status, count(*) FROM tasks GROUP BY status ORDER BY status")
        .expect("query");
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} {}",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?
            ))
        })
        .expect("rows");
    rows.map(|r| r.expect("row")).collect::<Vec<_>>().join(", ")
}

fn main() {
    let secs: u64 = std::env::var("ENSEMBLE_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let bin = env!("CARGO_BIN_EXE_ensemble");
    let ollama = FakeOllama::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    seed(dir.path(), &ollama.url);
    println!(
        "runner_memory: seeded {AGENTS} agents and {TASKS} queued tasks in {:.1} s; model: fake Ollama at {} ({CHUNKS} chunks, {} ms apart per call), 50 tasks at once",
        t.elapsed().as_secs_f64(),
        ollama.url,
        CHUNK_DELAY.as_millis()
    );

    let log = std::fs::File::create(dir.path().join("runner.log")).expect("log");
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("run")
        .env("OLLAMA_HOST", &ollama.url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start ensemble run");
    let pid = child.id();

    let started = Instant::now();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut hwm = 0.0f64;
    while started.elapsed() < Duration::from_secs(secs) {
        if let Some(status) = child.try_wait().expect("wait") {
            let log = std::fs::read_to_string(dir.path().join("runner.log")).unwrap_or_default();
            panic!("the runner exited early ({status}):\n{log}");
        }
        if let Some((rss, peak)) = memory(pid) {
            samples.push((started.elapsed().as_secs_f64(), rss));
            hwm = hwm.max(peak);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let served = ollama.chats.load(Ordering::Relaxed);
    let split = ["RssAnon:", "RssFile:", "RssShmem:"]
        .iter()
        .map(|k| {
            format!(
                "{} {:.1} MB",
                k.trim_end_matches(':'),
                status_mb(pid, k).unwrap_or(f64::NAN)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");

    // Steady state: the second half of the window.
    let half = secs as f64 / 2.0;
    let mut steady: Vec<f64> = samples
        .iter()
        .filter(|(t, _)| *t >= half)
        .map(|(_, r)| *r)
        .collect();
    steady.sort_by(f64::total_cmp);
    let median = steady.get(steady.len() / 2).copied().unwrap_or(f64::NAN);
    let max_rss = samples.iter().map(|(_, r)| *r).fold(0.0, f64::max);
    println!(
        "runner_memory: {} samples over {secs} s: peak RSS (VmHWM) {hwm:.1} MB, max sampled VmRSS {max_rss:.1} MB, steady VmRSS (median of last {half:.0} s) {median:.1} MB (goal < 100 MB)",
        samples.len()
    );
    println!("runner_memory: at the end: {split} (file = the mapped binary and libraries)");
    println!("runner_memory: model calls served while sampling: {served}");

    let term = Instant::now();
    let killed = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(killed.success(), "SIGTERM delivered");
    let exit = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if term.elapsed() > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    match exit {
        Some(status) => println!(
            "runner_memory: SIGTERM -> exited ({status}) after {:.2} s (limit 10 s)",
            term.elapsed().as_secs_f64()
        ),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            println!("runner_memory: FAILED: still running 10 s after SIGTERM (killed)");
        }
    }
    println!("runner_memory: tasks afterwards: {}", counts(dir.path()));
    if exit.is_none() {
        std::process::exit(1);
    }
}
