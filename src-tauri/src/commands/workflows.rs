//! Workflow commands: reusable DAGs of steps, their runs and each run's step
//! states (the UI draws them as a graph).

use ensemble_core::workflows::WorkflowRun;
use ensemble_core::workflows::{Workflow, WorkflowInput};
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::commands::id::Id;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn workflows_list(
    state: State<'_, AppState>,
    templates_only: Option<bool>,
    paging: Option<Paging>,
) -> CmdResult<Page<Workflow>> {
    state
        .call(move |core| {
            core.workflows()
                .list(templates_only.unwrap_or(false), paging.unwrap_or_default())
        })
        .await
}

#[tauri::command]
pub async fn workflows_get(state: State<'_, AppState>, id: Id) -> CmdResult<Workflow> {
    state.call(move |core| core.workflows().get(&id)).await
}

/// Creates a workflow from its definition (validated: known steps, no cycle).
#[tauri::command]
pub async fn workflows_create(
    state: State<'_, AppState>,
    input: WorkflowInput,
) -> CmdResult<Workflow> {
    state.call(move |core| core.workflows().create(input)).await
}

/// Starts a run: every ready step becomes a task now.
#[tauri::command]
pub async fn workflows_run(
    state: State<'_, AppState>,
    id: Id,
    input: Option<serde_json::Value>,
) -> CmdResult<WorkflowRun> {
    let input = input.unwrap_or(serde_json::Value::Null);
    state
        .call(move |core| core.workflows().start(&id, input))
        .await
}

/// Runs of a workflow, newest first.
#[tauri::command]
pub async fn workflows_runs(
    state: State<'_, AppState>,
    workflow_id: Id,
) -> CmdResult<Vec<WorkflowRun>> {
    state
        .call(move |core| {
            core.workflows().get(&workflow_id)?;
            core.workflows().runs(&workflow_id)
        })
        .await
}

/// One run with the state of each step.
#[tauri::command]
pub async fn workflows_run_status(
    state: State<'_, AppState>,
    run_id: Id,
) -> CmdResult<WorkflowRun> {
    state.call(move |core| core.workflows().run(&run_id)).await
}
