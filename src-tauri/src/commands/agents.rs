//! Agent commands.

use ensemble_core::agents::{Agent, AgentFilter, AgentInput};
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::commands::id::Id;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn agents_list(
    state: State<'_, AppState>,
    filter: Option<AgentFilter>,
    paging: Option<Paging>,
) -> CmdResult<Page<Agent>> {
    state
        .call(move |core| {
            core.agents()
                .list(&filter.unwrap_or_default(), paging.unwrap_or_default())
        })
        .await
}

#[tauri::command]
pub async fn agents_get(state: State<'_, AppState>, id: Id) -> CmdResult<Agent> {
    state.call(move |core| core.agents().get(&id)).await
}

#[tauri::command]
pub async fn agents_create(state: State<'_, AppState>, input: AgentInput) -> CmdResult<Agent> {
    state.call(move |core| core.agents().create(input)).await
}

#[tauri::command]
pub async fn agents_update(
    state: State<'_, AppState>,
    id: Id,
    input: AgentInput,
) -> CmdResult<Agent> {
    state
        .call(move |core| core.agents().update(&id, input))
        .await
}

#[tauri::command]
pub async fn agents_delete(state: State<'_, AppState>, id: Id) -> CmdResult<()> {
    state.call(move |core| core.agents().delete(&id)).await
}

/// A paused agent takes no new task (what it runs now finishes).
#[tauri::command]
pub async fn agents_pause(state: State<'_, AppState>, id: Id) -> CmdResult<Agent> {
    set_paused(&state, id, true).await
}

#[tauri::command]
pub async fn agents_resume(state: State<'_, AppState>, id: Id) -> CmdResult<Agent> {
    set_paused(&state, id, false).await
}

/// Pauses or resumes an agent through the host (its orchestrator when this
/// process runs the queue, else the store).
async fn set_paused(state: &AppState, id: Id, paused: bool) -> CmdResult<Agent> {
    Ok(state.host().set_agent_paused(&id, paused).await?)
}
