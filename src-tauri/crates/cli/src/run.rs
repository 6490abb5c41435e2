//! `ensemble run`: processes the queue without a window until stopped
//! (Ctrl-C / SIGTERM), or with `--until-idle` until nothing is left that can
//! progress (tasks waiting for a human's decision do not keep it running).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ensemble_core::orchestrator::RunnerLock;
use ensemble_core::tasks::TaskStatus;
use ensemble_core::{Core, Entity};
use ensemble_host::{Host, SHUTDOWN_WAIT};

use super::{CliError, CliResult, Out};

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

pub fn run(core: &Arc<Core>, out: &Out, args: RunArgs) -> CliResult {
    let rt = runtime()?;
    let json = out.json;
    let core = core.clone();
    rt.block_on(async move {
        let host = Host::start(core).await;
        if !host.take_runner()? {
            host.shutdown(SHUTDOWN_WAIT).await;
            return Err(CliError::from(RunnerLock::busy()));
        }
        let (stop, orch) = (host.token(), host.orchestrator());
        host.spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
                _ = stop.cancelled() => return,
            }
            if let Some(orch) = orch {
                orch.shutdown();
            }
        });
        // Pauses, cancellations and settings changed by another process
        // (the app, the CLI) reach the orchestrator through this.
        host.spawn(host.core().clone().watch_external_writes(Duration::from_secs(1), host.token()));
        // Report tasks as they finish: once per task and status (a finished
        // task can change again, e.g. when its cost is recorded).
        let mut rx = host.core().events().subscribe();
        let reporter_core = host.core().clone();
        let stop = host.token();
        host.spawn(async move {
            let mut reported: HashMap<String, TaskStatus> = HashMap::new();
            loop {
                let c = tokio::select! {
                    c = rx.recv() => match c { Ok(c) => c, Err(_) => break },
                    _ = stop.cancelled() => break,
                };
                if c.entity != Entity::Task {
                    continue;
                }
                let id = c.id.clone();
                let Ok(t) = reporter_core.call(move |c| c.tasks().get(&id)).await else { continue };
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
        let ended = if args.until_idle {
            host.wait_idle().await
        } else {
            host.runner_stopped().await
        };
        host.shutdown(SHUTDOWN_WAIT).await;
        ended.map_err(CliError::from)
    })
}
