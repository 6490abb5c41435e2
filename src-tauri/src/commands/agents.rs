//! Agent commands.

use ensemble_core::agents::{Agent, AgentFilter, AgentInput, AgentStatus};
use ensemble_core::{Page, Paging};
use tauri::State;

use super::require_id;
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

/// A paused agent takes no new task (what it runs now finishes).
#[tauri::command]
pub async fn agents_pause(state: State<'_, AppState>, id: String) -> CmdResult<Agent> {
    set_paused(&state, id, true).await
}

#[tauri::command]
pub async fn agents_resume(state: State<'_, AppState>, id: String) -> CmdResult<Agent> {
    set_paused(&state, id, false).await
}

/// Through the orchestrator when this app runs it (it re-reads its agents and
/// looks at the queue again); otherwise the status is written to the store,
/// where the runner that owns the queue reads it.
async fn set_paused(state: &AppState, id: String, paused: bool) -> CmdResult<Agent> {
    require_id("id", &id)?;
    let orch = state.orchestrator();
    state
        .call(move |core| {
            let agent = core.get_agent(&id)?;
            // Resuming an agent that is not paused (busy, idle) changes nothing.
            if (agent.status == AgentStatus::Paused) == paused {
                return Ok(agent);
            }
            match orch {
                Some(o) => o.set_agent_paused(&id, paused)?,
                None => core.set_agent_status(
                    &id,
                    if paused {
                        AgentStatus::Paused
                    } else {
                        AgentStatus::Idle
                    },
                )?,
            }
            core.get_agent(&id)
        })
        .await
}
