//! App information, built-in templates, and the UI's first-paint signal.

use ensemble_core::core::AppInfo;
use ensemble_core::templates::{agent_templates as templates, AgentTemplate};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn app_info(state: State<'_, AppState>) -> CmdResult<AppInfo> {
    state.call(|core| core.info()).await
}

#[tauri::command]
pub fn agent_templates() -> Vec<AgentTemplate> {
    templates()
}

/// What the tray shows now (its menu labels), so the UI and tests can see it.
#[tauri::command]
pub fn tray_status<R: tauri::Runtime>(app: tauri::AppHandle<R>) -> Option<crate::tray::TrayStatus> {
    crate::tray::status(&app)
}

/// The UI calls this once its first frame is on screen. With
/// `ENSEMBLE_BENCH_READY` set, the first call prints
/// `ensemble-ui-painted unix_us=<microseconds since the epoch>` on stdout, a
/// machine-readable line the start-up benchmark (`benches/app_window.rs`)
/// waits for; otherwise it does nothing.
#[tauri::command]
pub fn ui_painted() {
    static REPORTED: std::sync::Once = std::sync::Once::new();
    if std::env::var_os("ENSEMBLE_BENCH_READY").is_none() {
        return;
    }
    REPORTED.call_once(|| {
        use std::io::Write;
        let unix_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        // A closed stdout only loses the benchmark's line.
        let _ = writeln!(out, "ensemble-ui-painted unix_us={unix_us}");
        let _ = out.flush();
    });
}
