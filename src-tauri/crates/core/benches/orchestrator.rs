//! Benchmark (not a test) for the orchestrator, issue 4:
//!
//! 1. Scheduler throughput with an instant model: N queued tasks (default
//!    20,000; `ENSEMBLE_BENCH_TASKS`), a few agents, the default global
//!    concurrency; wall time from the orchestrator's start until every task
//!    completed, printed as tasks/minute (goal ≥ 100,000 on a 2-core machine).
//! 2. Task-board query latency with 10,000 and 100,000 tasks in the database:
//!    the board exactly as the Tasks view asks for it (top-level tasks, 50 per
//!    column), 200 times each, p50/p95/p99 in ms (goal p95 < 5 ms).
//!
//! Run: `cargo bench --bench orchestrator -p ensemble-core`.
//! `ENSEMBLE_BENCH_ONLY=throughput|board` runs one part.
//!
//! The model is a tiny in-bench [`Provider`] that streams the same final
//! answer at once, for every request. (The test suite's `ScriptedProvider`
//! keeps a copy of every request it receives, which over tens of thousands of
//! runs would measure its own bookkeeping and grow memory.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::orchestrator::{Orchestrator, OrchestratorConfig};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::providers::{
    ChatRequest, EventStream, FinishReason, ModelInfo, Provider, ProviderError, ProviderInput,
    ProviderKind, StreamEvent, Usage,
};
use ensemble_core::runtime::AgentRuntime;
use ensemble_core::secrets::SecretStore;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{insert_task, NewTask, TaskFilter, TaskLinks, TaskStatus};
use ensemble_core::tools::ToolRegistry;
use ensemble_core::Core;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

/// Answers every request at once with a final answer.
struct InstantModel;

#[async_trait]
impl Provider for InstantModel {
    fn name(&self) -> &str {
        "bench"
    }
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAiCompatible
    }
    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(vec![ModelInfo {
            name: "instant".into(),
            size_bytes: None,
            details: None,
        }])
    }
    async fn chat(
        &self,
        _request: ChatRequest,
        _cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let events = vec![
            Ok(StreamEvent::Delta("Done: ".into())),
            Ok(StreamEvent::Delta("the task is complete.".into())),
            Ok(StreamEvent::Usage(Usage {
                input_tokens: 120,
                output_tokens: 6,
                ..Default::default()
            })),
            Ok(StreamEvent::Finish(FinishReason::Stop)),
        ];
        Ok(futures::stream::iter(events).boxed())
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU time this process used so far (all threads, user + system), in seconds.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // CLK_TCK is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn throughput(n: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Arc::new(Core::open(dir.path()).expect("core"));
    core.providers()
        .create(ProviderInput {
            name: Some("bench".into()),
            kind: Some(ProviderKind::OpenAiCompatible),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            default_model: Some("instant".into()),
            max_concurrent: Some(64),
            ..Default::default()
        })
        .expect("provider");
    core.update_settings(SettingsPatch {
        default_provider: Some("bench".into()),
        ..Default::default()
    })
    .expect("settings");
    let settings = core.settings().expect("settings");
    let hub = Arc::new(ProviderHub::with_secrets(
        core.clone(),
        SecretStore::file_only(dir.path()),
    ));
    hub.inject("bench", Arc::new(InstantModel));
    let tools = Arc::new(ToolRegistry::builtin());
    let runtime = Arc::new(AgentRuntime::new(core.clone(), hub.clone(), tools));

    const AGENTS: usize = 4;
    for i in 0..AGENTS {
        core.agents()
            .create(AgentInput {
                name: Some(format!("Agent {i}")),
                system_prompt: Some(format!("You are agent {i}. Answer briefly.")),
                autonomy: Some(Autonomy::Autopilot),
                // Enough per agent that the global limit is the one that binds.
                max_concurrent_tasks: Some(
                    settings.max_concurrent_tasks.div_ceil(AGENTS as u32) as i64
                ),
                ..Default::default()
            })
            .expect("agent");
    }

    let seeded = Instant::now();
    core.write(|tx| {
        for i in 0..n {
            insert_task(
                tx,
                &NewTask {
                    title: format!("Bench task {i}"),
                    objective: Some("Say that the task is complete.".into()),
                    priority: Some(1 + (i % 10) as i64),
                    ..Default::default()
                },
                &TaskLinks::default(),
            )?;
        }
        Ok(())
    })
    .expect("seed tasks");
    println!(
        "throughput: {n} queued tasks seeded in {:.2} s; {AGENTS} agents, max_concurrent_tasks = {} (default)",
        seeded.elapsed().as_secs_f64(),
        settings.max_concurrent_tasks
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let orch = Orchestrator::new(
        core.clone(),
        hub.clone(),
        runtime,
        OrchestratorConfig::default(),
    );
    let cpu_before = cpu_seconds();
    let elapsed = rt.block_on(async {
        let started = Instant::now();
        let handle = tokio::spawn(orch.clone().run());
        let mut last_report = Instant::now();
        let deadline = started + Duration::from_secs(600);
        while orch.stats.finished.load(Ordering::SeqCst) < n as u64 {
            if Instant::now() > deadline {
                panic!(
                    "only {} of {n} tasks finished after 10 minutes",
                    orch.stats.finished.load(Ordering::SeqCst)
                );
            }
            if last_report.elapsed() >= Duration::from_secs(5) {
                last_report = Instant::now();
                eprintln!(
                    "  … {} / {n} finished after {:.1} s",
                    orch.stats.finished.load(Ordering::SeqCst),
                    started.elapsed().as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let elapsed = started.elapsed();
        orch.shutdown();
        handle.await.expect("join").expect("orchestrator run");
        elapsed
    });
    let cpu = cpu_seconds() - cpu_before;
    let completed: u64 = core
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM tasks WHERE status = 'completed'",
                [],
                |r| r.get(0),
            )?)
        })
        .expect("count");
    assert_eq!(completed, n as u64, "every task completes");
    let per_min = n as f64 / elapsed.as_secs_f64() * 60.0;
    println!(
        "throughput: {n} tasks completed in {:.2} s = {:.0} tasks/minute (goal >= 100000); peak concurrency {}",
        elapsed.as_secs_f64(),
        per_min,
        orch.stats.max_running.load(Ordering::SeqCst),
    );
    println!(
        "throughput: CPU used {cpu:.2} s = {:.0} µs per task ({:.0} tasks/minute per fully used core); machine load average {}; bench process peak RSS {:.0} MB",
        cpu / n as f64 * 1e6,
        n as f64 / cpu * 60.0,
        load_average(),
        rss_mb().unwrap_or(f64::NAN),
    );
}

/// Statuses of a long-lived board, per 100 tasks: mostly done work, a queue,
/// a few in flight or parked.
const MIX: &[(TaskStatus, usize)] = &[
    (TaskStatus::Completed, 55),
    (TaskStatus::Queued, 20),
    (TaskStatus::Failed, 6),
    (TaskStatus::Cancelled, 5),
    (TaskStatus::Running, 4),
    (TaskStatus::Planning, 2),
    (TaskStatus::AwaitingApproval, 3),
    (TaskStatus::WaitingInput, 2),
    (TaskStatus::Delegated, 2),
    (TaskStatus::Reviewing, 1),
];

/// Adds `count` tasks in one transaction, with the columns the service
/// writes (see `tasks::insert_task`) plus what their status implies. One in
/// ten is a subtask of an earlier task, one in twenty depends on another.
fn seed_board(core: &Core, count: usize) {
    let statuses: Vec<TaskStatus> = MIX
        .iter()
        .flat_map(|(s, k)| std::iter::repeat_n(*s, *k))
        .collect();
    core.write(|tx| {
        let base: i64 = tx.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))?;
        let start = chrono::Utc::now() - chrono::Duration::days(30);
        let mut ids: Vec<String> = Vec::with_capacity(count);
        let mut insert = tx.prepare_cached(
            "INSERT INTO tasks (id, title, objective, task_type, priority, status, assigned_agent_id, required_capabilities,
                created_by, parent_task_id, delegation_depth, input, output, confidence, error, requires_approval,
                attempts, max_attempts, failed_agents, tokens_in, tokens_out, started_at, completed_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'execute', ?4, ?5, NULL, ?6, 'human', ?7, ?8, 'null', ?9, ?10, ?11, 0, ?12, 3, '[]', ?13, ?14, ?15, ?16, ?17, ?17)",
        )?;
        let mut dep = tx.prepare_cached(
            "INSERT INTO task_dependencies (task_id, depends_on_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        )?;
        for i in 0..count {
            let k = base as usize + i;
            let status = statuses[(k * 7919) % statuses.len()];
            let id = ensemble_core::new_id();
            let created = start + chrono::Duration::milliseconds((k as i64) * 1_500);
            let created_sql = ensemble_core::time::to_sql(&created);
            let started = status != TaskStatus::Queued;
            let finished = status.is_final();
            let parent = (i % 10 == 9 && i > 0).then(|| ids[(i * 31) % i].clone());
            let caps = if k.is_multiple_of(3) { r#"["research"]"# } else { "[]" };
            insert.execute(rusqlite::params![
                id,
                format!("Task {k}: look into item {}", k % 977),
                format!("Find out what matters about item {} and write it down.", k % 977),
                1 + (k * 37 % 10) as i64,
                status,
                caps,
                parent,
                i64::from(parent.is_some()),
                (status == TaskStatus::Completed).then(|| format!("Item {} looked into; nothing unusual.", k % 977)),
                (status == TaskStatus::Completed).then_some(0.8),
                (status == TaskStatus::Failed).then_some("the model did not answer"),
                i64::from(started),
                if started { 900 } else { 0 },
                if started { 120 } else { 0 },
                started.then(|| created_sql.clone()),
                finished.then(|| created_sql.clone()),
                created_sql,
            ])?;
            if i % 20 == 19 {
                dep.execute(rusqlite::params![id, ids[i - 1], ensemble_core::time::now_sql()])?;
            }
            ids.push(id);
        }
        Ok(())
    })
    .expect("seed board");
}

fn board(sizes: &[usize], runs: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Core::open(dir.path()).expect("core");
    let filter = TaskFilter {
        top_level: Some(true),
        search: Some(String::new()),
        ..Default::default()
    };
    let mut have = 0;
    for &size in sizes {
        let t = Instant::now();
        seed_board(&core, size - have);
        have = size;
        let seed_s = t.elapsed().as_secs_f64();
        // The bulk insert is one huge transaction; fold it into the database
        // file as a long-running app's periodic checkpoints would have.
        core.store().checkpoint().expect("checkpoint");
        // Warm up (statement cache, page cache), as a long-running app is.
        for _ in 0..5 {
            core.tasks().board(&filter, 50).expect("board");
        }
        let mut ms = Vec::with_capacity(runs);
        let mut shown = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let cols = core.tasks().board(&filter, 50).expect("board");
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            shown = cols.iter().map(|c| c.tasks.len()).sum();
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "board: {size} tasks (seeded in {seed_s:.1} s), {runs} queries of 10 columns x 50 top-level tasks ({shown} shown): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms (goal p95 < 5 ms)",
            percentile(&ms, 0.50),
            percentile(&ms, 0.95),
            percentile(&ms, 0.99),
        );
        println!("board: machine load average {}", load_average());
    }
}

fn main() {
    let only = std::env::var("ENSEMBLE_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "throughput" {
        throughput(env_usize("ENSEMBLE_BENCH_TASKS", 20_000));
    }
    if only.is_empty() || only == "board" {
        board(&[10_000, 100_000], 200);
    }
}
