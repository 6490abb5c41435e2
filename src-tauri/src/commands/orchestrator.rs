//! The task runner's status as the UI shows it (composed by the host: who
//! runs the queue for this data folder, whether all work is paused, how many
//! tasks run now), and the check that its TypeScript types are current.

use ensemble_host::OrchestratorStatus;
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn orchestrator_status(state: State<'_, AppState>) -> CmdResult<OrchestratorStatus> {
    Ok(state.host().status().await?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use ts_rs::TS;

    use super::*;

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
