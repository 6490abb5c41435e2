//! Crew commands: crews and their relationships, crew templates,
//! import/export, and crew runs (start, status, stop, the run's messages
//! as a timeline; the UI follows a run live through `store://changed`).

use ensemble_core::crews::portable::ExportFormat;
use ensemble_core::crews::run::CrewRun;
use ensemble_core::crews::templates::{crew_templates, CrewTemplate, FromTemplate};
use ensemble_core::crews::{Crew, CrewInput, Relationship, RelationshipInput};
use ensemble_core::messages::Message;
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::commands::id::Id;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn crews_list(
    state: State<'_, AppState>,
    search: Option<String>,
    paging: Option<Paging>,
) -> CmdResult<Page<Crew>> {
    state
        .call(move |core| {
            core.crews()
                .list(search.as_deref(), paging.unwrap_or_default())
        })
        .await
}

#[tauri::command]
pub async fn crews_get(state: State<'_, AppState>, id: Id) -> CmdResult<Crew> {
    state.call(move |core| core.crews().get(&id)).await
}

#[tauri::command]
pub async fn crews_create(state: State<'_, AppState>, input: CrewInput) -> CmdResult<Crew> {
    state.call(move |core| core.crews().create(input)).await
}

#[tauri::command]
pub async fn crews_update(state: State<'_, AppState>, id: Id, input: CrewInput) -> CmdResult<Crew> {
    state
        .call(move |core| core.crews().update(&id, input))
        .await
}

#[tauri::command]
pub async fn crews_delete(state: State<'_, AppState>, id: Id) -> CmdResult<()> {
    state.call(move |core| core.crews().delete(&id)).await
}

#[tauri::command]
pub async fn crews_add_relationship(
    state: State<'_, AppState>,
    crew_id: Id,
    input: RelationshipInput,
) -> CmdResult<Relationship> {
    state
        .call(move |core| core.crews().add_relationship(&crew_id, input))
        .await
}

#[tauri::command]
pub async fn crews_remove_relationship(state: State<'_, AppState>, id: Id) -> CmdResult<()> {
    state
        .call(move |core| core.crews().remove_relationship(&id))
        .await
}

#[tauri::command]
pub async fn crews_templates() -> CmdResult<Vec<CrewTemplate>> {
    Ok(crew_templates())
}

/// Creates a crew and its agents from a built-in crew template.
#[tauri::command]
pub async fn crews_create_from_template(
    state: State<'_, AppState>,
    key: String,
    options: Option<FromTemplate>,
) -> CmdResult<Crew> {
    state
        .call(move |core| {
            core.crews()
                .create_from_template(&key, options.unwrap_or_default())
        })
        .await
}

/// The crew as a JSON (default) or YAML document.
#[tauri::command]
pub async fn crews_export(
    state: State<'_, AppState>,
    id: Id,
    format: Option<ExportFormat>,
) -> CmdResult<String> {
    state
        .call(move |core| {
            core.crews()
                .export(&id, format.unwrap_or(ExportFormat::Json))
        })
        .await
}

/// Imports a crew document (JSON or YAML); all or nothing.
#[tauri::command]
pub async fn crews_import(state: State<'_, AppState>, text: String) -> CmdResult<Crew> {
    state.call(move |core| core.crews().import(&text)).await
}

/// Starts a run of the crew in the background; returns it as recorded.
#[tauri::command]
pub async fn crews_run_start(
    state: State<'_, AppState>,
    crew_id: Id,
    input: Option<String>,
) -> CmdResult<CrewRun> {
    Ok(state
        .crews()
        .start(&crew_id, input.as_deref().unwrap_or(""))
        .await?)
}

#[tauri::command]
pub async fn crews_run_get(state: State<'_, AppState>, id: Id) -> CmdResult<CrewRun> {
    state.call(move |core| core.crews().get_run(&id)).await
}

/// Asks a run to stop (whichever process drives it).
#[tauri::command]
pub async fn crews_run_stop(state: State<'_, AppState>, id: Id) -> CmdResult<CrewRun> {
    Ok(state.crews().stop(&id).await?)
}

/// Runs of one crew (or all), newest first.
#[tauri::command]
pub async fn crews_runs_list(
    state: State<'_, AppState>,
    crew_id: Option<String>,
    paging: Option<Paging>,
) -> CmdResult<Page<CrewRun>> {
    state
        .call(move |core| {
            core.crews()
                .list_runs(crew_id.as_deref(), paging.unwrap_or_default())
        })
        .await
}

/// The run's timeline: its messages, oldest first.
#[tauri::command]
pub async fn crews_run_messages(
    state: State<'_, AppState>,
    id: Id,
    paging: Option<Paging>,
) -> CmdResult<Page<Message>> {
    state
        .call(move |core| core.crews().run_messages(&id, paging.unwrap_or_default()))
        .await
}
