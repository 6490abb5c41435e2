//! Model commands: every provider's models with their verdict as agents and
//! the capability probe; the embedded engine's GGUF files — list, add one
//! the user has (checked first), download one with progress through a
//! `Channel`, cancel a download.

use ensemble_core::model_files::{self, DownloadProgress, DownloadSpec, ModelFile};
use ensemble_core::providers::hub::ModelsOverview;
use ensemble_core::providers::profile::ModelProfile;
use tauri::ipc::Channel;
use tauri::State;
use tokio_util::sync::CancellationToken;

use crate::error::CmdResult;
use crate::state::AppState;

/// Every provider's models with their verdict as agents (Settings → Models).
#[tauri::command]
pub async fn models_list(state: State<'_, AppState>) -> CmdResult<ModelsOverview> {
    Ok(state.hub().models_overview().await?)
}

/// Runs the capability probe on one model and stores its verdict.
#[tauri::command]
pub async fn models_probe(
    state: State<'_, AppState>,
    provider: String,
    model: String,
) -> CmdResult<ModelProfile> {
    Ok(state
        .hub()
        .probe_model(Some(&provider), Some(&model), CancellationToken::new())
        .await?)
}

/// The GGUF files the embedded engine can use.
#[tauri::command]
pub async fn model_files_list(state: State<'_, AppState>) -> CmdResult<Vec<ModelFile>> {
    let dirs = state.embedded().model_dirs().to_vec();
    tauri::async_runtime::spawn_blocking(move || model_files::list(&dirs))
        .await
        .map_err(|e| crate::error::AppError::Shell(format!("background call failed: {e}")))
}

/// Adds a GGUF file the user has elsewhere, once the engine has checked it.
#[tauri::command]
pub async fn model_files_add(state: State<'_, AppState>, path: String) -> CmdResult<ModelFile> {
    Ok(state
        .services()
        .add_model_file(std::path::Path::new(path.trim()))
        .await?)
}

/// Downloads a model into the data folder, streaming progress into
/// `on_progress`; `model_files_cancel` stops it (the part is kept to resume).
#[tauri::command]
pub async fn model_files_download(
    state: State<'_, AppState>,
    spec: DownloadSpec,
    on_progress: Channel<DownloadProgress>,
) -> CmdResult<ModelFile> {
    let (name, cancel) = state.start_download(&spec)?;
    let report = move |p: DownloadProgress| {
        let _ = on_progress.send(p);
    };
    let dir = ensemble_core::paths::models_dir(state.core().data_dir());
    let result = model_files::download(&dir, &spec, &report, &cancel).await;
    state.end_download(&name);
    Ok(result?)
}

/// Stops a running download of `file_name`; false when none runs.
#[tauri::command]
pub async fn model_files_cancel(state: State<'_, AppState>, file_name: String) -> CmdResult<bool> {
    Ok(state.cancel_download(&file_name))
}
