//! The task runner's status as the UI shows it: who runs the queue for this
//! data folder (this app, or another process such as `ensemble run`),
//! whether all work is paused, and how many tasks run now.

use ensemble_core::tasks::{TaskFilter, TaskStatus};
use serde::Serialize;
use tauri::State;

use crate::error::CmdResult;
use crate::state::{AppState, RunnerMode};

/// Who runs the queue. Mirrors [`RunnerMode`] on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Runner {
    /// This app runs the orchestrator.
    Here,
    /// Another process holds the data folder's runner lock; this app is a viewer.
    OtherProcess,
    /// Nobody here runs it (it failed to start or stopped).
    Stopped,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct OrchestratorStatus {
    pub runner: Runner,
    /// Pause all (Settings or the tray): no new task starts while set.
    pub paused: bool,
    /// Tasks running now (counted by this runner, or from the store when
    /// another process runs them).
    pub running: u32,
    pub max_concurrent: u32,
    /// One sentence for the UI.
    pub message: String,
}

impl From<RunnerMode> for Runner {
    fn from(m: RunnerMode) -> Self {
        match m {
            RunnerMode::Here => Self::Here,
            RunnerMode::OtherProcess => Self::OtherProcess,
            RunnerMode::Stopped => Self::Stopped,
        }
    }
}

pub const OTHER_RUNNER: &str = "Another runner (ensemble run) is working on this data folder";

fn message(runner: Runner, paused: bool, running: u32, why: Option<&str>) -> String {
    let tasks = match running {
        1 => "1 task".to_string(),
        n => format!("{n} tasks"),
    };
    match (runner, paused) {
        (Runner::Here, false) => format!("Working: {tasks} running"),
        (Runner::Here, true) if running > 0 => {
            format!("Paused: {tasks} finishing, no new task starts until you resume")
        }
        (Runner::Here, true) => "Paused: no new task starts until you resume".into(),
        (Runner::OtherProcess, false) => format!("{OTHER_RUNNER} ({tasks} running)"),
        (Runner::OtherProcess, true) => format!("{OTHER_RUNNER} (paused)"),
        (Runner::Stopped, _) => format!(
            "Tasks are not being run: {}",
            why.unwrap_or("the task runner is not running")
        ),
    }
}

#[tauri::command]
pub async fn orchestrator_status(state: State<'_, AppState>) -> CmdResult<OrchestratorStatus> {
    let (mode, why) = state.runner_mode();
    let settings = state.call(|core| core.settings()).await?;
    let running = match state.orchestrator() {
        Some(o) => o.running_count() as u32,
        None => {
            let filter = TaskFilter {
                statuses: Some(vec![TaskStatus::Planning, TaskStatus::Running]),
                ..Default::default()
            };
            let cols = state.call(move |core| core.task_board(&filter, 1)).await?;
            cols.iter().map(|c| c.total as u32).sum()
        }
    };
    let runner = Runner::from(mode);
    Ok(OrchestratorStatus {
        runner,
        paused: settings.paused,
        running,
        max_concurrent: settings.max_concurrent_tasks,
        message: message(runner, settings.paused, running, why.as_deref()),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use ts_rs::TS;

    use super::*;

    #[test]
    fn messages_say_who_runs_the_queue() {
        assert_eq!(
            message(Runner::Here, false, 2, None),
            "Working: 2 tasks running"
        );
        assert_eq!(
            message(Runner::Here, true, 0, None),
            "Paused: no new task starts until you resume"
        );
        assert!(message(Runner::OtherProcess, false, 1, None).starts_with(OTHER_RUNNER));
        assert_eq!(
            message(Runner::Stopped, false, 0, Some("disk full")),
            "Tasks are not being run: disk full"
        );
    }

    fn read_dir(dir: &Path) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "ts") {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                out.insert(name, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
        out
    }

    /// The app shell's own IPC types are generated into `ui/src/app-bindings/`
    /// (the core's go to `ui/src/bindings/`). Fails when they are stale;
    /// `UPDATE_BINDINGS=1 cargo test --lib app_bindings` rewrites them.
    #[test]
    fn app_bindings_are_current() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = ts_rs::Config::new()
            .with_out_dir(tmp.path())
            .with_large_int("number");
        OrchestratorStatus::export_all(&cfg).unwrap();
        let fresh = read_dir(tmp.path());
        let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/src/app-bindings");
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::create_dir_all(&target).unwrap();
            for old in read_dir(&target).keys() {
                if !fresh.contains_key(old) {
                    std::fs::remove_file(target.join(old)).unwrap();
                }
            }
            for (name, text) in &fresh {
                std::fs::write(target.join(name), text).unwrap();
            }
            return;
        }
        assert_eq!(
            read_dir(&target),
            fresh,
            "ui/src/app-bindings is out of date; regenerate with `UPDATE_BINDINGS=1 cargo test --lib app_bindings`"
        );
    }
}
