//! Settings commands.

use ensemble_core::settings::{Settings, SettingsPatch};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn settings_get(state: State<'_, AppState>) -> CmdResult<Settings> {
    state.call(|core| core.settings()).await
}

#[tauri::command]
pub async fn settings_update(
    state: State<'_, AppState>,
    patch: SettingsPatch,
) -> CmdResult<Settings> {
    state.call(move |core| core.update_settings(patch)).await
}
