//! `ensemble run`: processes the queue without a window until stopped
//! (Ctrl-C / SIGTERM), or with `--until-idle` until nothing is left that can
//! progress (tasks waiting for a human's decision do not keep it running).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use ensemble_core::orchestrator::RunnerLock;
use ensemble_core::tasks::TaskStatus;
use ensemble_core::{Core, Entity};

use super::{CliError, CliResult, Out};
use crate::services::Services;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Exit when no task can make progress any more
    #[arg(long)]
    pub until_idle: bool,
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError {
            message: format!("cannot start the async runtime: {e}"),
            code: 1,
        })
}

/// True when no task can progress without a human: nothing queued (ready
/// now or later), planning or running, and no parked task ready to resume.
pub(super) fn idle(core: &Core) -> ensemble_core::Result<bool> {
    core.read(|c| {
        let busy: bool = c.query_row(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE status IN ('queued', 'planning', 'running'))
                OR EXISTS (SELECT 1 FROM tasks t WHERE t.status = 'delegated' AND NOT EXISTS
                    (SELECT 1 FROM tasks s WHERE s.parent_task_id = t.id AND s.status NOT IN ('completed', 'failed', 'cancelled')))
                OR EXISTS (SELECT 1 FROM tasks t JOIN runs r ON r.task_id = t.id AND r.status = 'waiting'
                    WHERE t.status IN ('awaiting_approval', 'waiting_input') AND NOT EXISTS
                    (SELECT 1 FROM approvals a WHERE a.run_id = r.id AND a.status = 'pending'))",
            [],
            |r| r.get(0),
        )?;
        Ok(!busy)
    })
}

pub fn run(core: &Arc<Core>, out: &Out, args: RunArgs) -> CliResult {
    let _lock = RunnerLock::acquire(core.data_dir())?;
    let rt = runtime()?;
    let json = out.json;
    let core = core.clone();
    rt.block_on(async move {
        let services = Services::start(core).await;
        let orch = services.orchestrator();
        let runner = tokio::spawn(orch.clone().run());
        let stop = orch.clone();
        tokio::spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            stop.shutdown();
        });
        // Pauses, cancellations and settings changed by another process
        // (the app, the CLI) reach the orchestrator through this.
        let watch_stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(services.core.clone().watch_external_writes(Duration::from_secs(1), watch_stop.clone()));
        let _stop_watch = watch_stop.drop_guard();
        // Report tasks as they finish: once per task and status (a finished
        // task can change again, e.g. when its cost is recorded).
        let mut rx = services.core.events().subscribe();
        let reporter_core = services.core.clone();
        tokio::spawn(async move {
            let mut reported: HashMap<String, TaskStatus> = HashMap::new();
            while let Ok(c) = rx.recv().await {
                if c.entity != Entity::Task {
                    continue;
                }
                let core = reporter_core.clone();
                let id = c.id.clone();
                let Ok(Ok(t)) = tokio::task::spawn_blocking(move || core.get_task(&id)).await else { continue };
                if !matches!(t.status, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::AwaitingApproval | TaskStatus::WaitingInput) {
                    reported.remove(&t.id);
                    continue;
                }
                if reported.len() >= 10_000 {
                    // Bounded: at worst a task is reported once more.
                    reported.clear();
                }
                if reported.insert(t.id.clone(), t.status) == Some(t.status) {
                    continue;
                }
                let mut stdout = std::io::stdout().lock();
                let line = if json {
                    serde_json::json!({ "task": t.id, "title": t.title, "status": t.status, "error": t.error }).to_string()
                } else {
                    match t.status {
                        TaskStatus::Completed => format!("done     {}", t.title),
                        TaskStatus::Failed => format!("failed   {} — {}", t.title, t.error.unwrap_or_default()),
                        _ => format!("waiting  {} (see: ensemble approvals list)", t.title),
                    }
                };
                let _ = writeln!(stdout, "{line}");
            }
        });
        if args.until_idle {
            let mut idle_since: Option<Instant> = None;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if runner.is_finished() {
                    break;
                }
                let core = services.core.clone();
                let is_idle = tokio::task::spawn_blocking(move || idle(&core)).await.ok().and_then(|r| r.ok()).unwrap_or(false)
                    && orch.running_count() == 0;
                match (is_idle, idle_since) {
                    (true, None) => idle_since = Some(Instant::now()),
                    (true, Some(t)) if t.elapsed() >= Duration::from_millis(300) => {
                        orch.shutdown();
                        break;
                    }
                    (false, _) => idle_since = None,
                    _ => {}
                }
            }
        }
        match runner.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CliError::from(e)),
            Err(e) => Err(CliError {
                message: format!("the runner stopped unexpectedly: {e}"),
                code: 1,
            }),
        }
    })
}
