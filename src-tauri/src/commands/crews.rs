//! Crew commands.

use ensemble_core::crews::{Crew, CrewInput, Relationship, RelationshipInput};
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn crews_list(
    state: State<'_, AppState>,
    search: Option<String>,
    paging: Option<Paging>,
) -> CmdResult<Page<Crew>> {
    state
        .call(move |core| core.list_crews(search.as_deref(), paging.unwrap_or_default()))
        .await
}

#[tauri::command]
pub async fn crews_get(state: State<'_, AppState>, id: String) -> CmdResult<Crew> {
    state.call(move |core| core.get_crew(&id)).await
}

#[tauri::command]
pub async fn crews_create(state: State<'_, AppState>, input: CrewInput) -> CmdResult<Crew> {
    state.call(move |core| core.create_crew(input)).await
}

#[tauri::command]
pub async fn crews_update(
    state: State<'_, AppState>,
    id: String,
    input: CrewInput,
) -> CmdResult<Crew> {
    state.call(move |core| core.update_crew(&id, input)).await
}

#[tauri::command]
pub async fn crews_delete(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.call(move |core| core.delete_crew(&id)).await
}

#[tauri::command]
pub async fn crews_add_relationship(
    state: State<'_, AppState>,
    crew_id: String,
    input: RelationshipInput,
) -> CmdResult<Relationship> {
    state
        .call(move |core| core.add_relationship(&crew_id, input))
        .await
}

#[tauri::command]
pub async fn crews_remove_relationship(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.call(move |core| core.remove_relationship(&id)).await
}
