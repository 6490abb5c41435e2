//! All-data export and import, and the demo data reset.

use std::path::PathBuf;

use ensemble_core::demo::DemoSummary;
use ensemble_core::portable_data::{default_export_path, ExportSummary, ImportSummary};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

/// A suggested file for an export: `<data folder>/exports/ensemble-<date>-<time>.json`.
#[tauri::command]
pub fn data_export_path(state: State<'_, AppState>) -> String {
    default_export_path(state.core().data_dir())
        .display()
        .to_string()
}

/// Writes every user table to one JSON file at `path` (absolute).
#[tauri::command]
pub async fn data_export(state: State<'_, AppState>, path: String) -> CmdResult<ExportSummary> {
    state
        .call(move |core| core.export_data(&PathBuf::from(path.trim())))
        .await
}

/// Imports an export file in one transaction: all of it or nothing.
#[tauri::command]
pub async fn data_import(state: State<'_, AppState>, path: String) -> CmdResult<ImportSummary> {
    state
        .call(move |core| core.import_data(&PathBuf::from(path.trim())))
        .await
}

/// Replaces the demo records with a fresh demo set; the user's records stay.
#[tauri::command]
pub async fn data_reset_demo(state: State<'_, AppState>) -> CmdResult<DemoSummary> {
    state.call(|core| core.reset_demo_data()).await
}
