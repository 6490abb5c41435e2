//! Settings and workflows commands.

use ensemble_core::settings::{Settings, SettingsPatch};
use ensemble_core::workflows::Workflow;
use ensemble_core::{Page, Paging};
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

#[tauri::command]
pub async fn workflows_list(
    state: State<'_, AppState>,
    templates_only: Option<bool>,
    paging: Option<Paging>,
) -> CmdResult<Page<Workflow>> {
    state
        .call(move |core| {
            core.list_workflows(templates_only.unwrap_or(false), paging.unwrap_or_default())
        })
        .await
}
