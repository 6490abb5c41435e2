//! App information and built-in templates.

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
