//! Agent commands.

use ensemble_core::agents::{Agent, AgentFilter, AgentInput};
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn agents_list(
    state: State<'_, AppState>,
    filter: Option<AgentFilter>,
    paging: Option<Paging>,
) -> CmdResult<Page<Agent>> {
    state
        .call(move |core| core.list_agents(&filter.unwrap_or_default(), paging.unwrap_or_default()))
        .await
}

#[tauri::command]
pub async fn agents_get(state: State<'_, AppState>, id: String) -> CmdResult<Agent> {
    state.call(move |core| core.get_agent(&id)).await
}

#[tauri::command]
pub async fn agents_create(state: State<'_, AppState>, input: AgentInput) -> CmdResult<Agent> {
    state.call(move |core| core.create_agent(input)).await
}

#[tauri::command]
pub async fn agents_update(
    state: State<'_, AppState>,
    id: String,
    input: AgentInput,
) -> CmdResult<Agent> {
    state.call(move |core| core.update_agent(&id, input)).await
}

#[tauri::command]
pub async fn agents_delete(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.call(move |core| core.delete_agent(&id)).await
}
