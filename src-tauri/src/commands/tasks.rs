//! Task board commands: the board, task records, their run traces, retry.

use ensemble_core::runs::RunTrace;
use ensemble_core::tasks::{BoardColumn, NewTask, Task, TaskFilter, TaskPatch, TaskStatus};
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::commands::id::Id;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn tasks_board(
    state: State<'_, AppState>,
    filter: Option<TaskFilter>,
    per_column: Option<u32>,
) -> CmdResult<Vec<BoardColumn>> {
    state
        .call(move |core| {
            core.tasks()
                .board(&filter.unwrap_or_default(), per_column.unwrap_or(50))
        })
        .await
}

#[tauri::command]
pub async fn tasks_list(
    state: State<'_, AppState>,
    filter: Option<TaskFilter>,
    paging: Option<Paging>,
) -> CmdResult<Page<Task>> {
    state
        .call(move |core| {
            core.tasks()
                .list(&filter.unwrap_or_default(), paging.unwrap_or_default())
        })
        .await
}

#[tauri::command]
pub async fn tasks_get(state: State<'_, AppState>, id: Id) -> CmdResult<Task> {
    state.call(move |core| core.tasks().get(&id)).await
}

#[tauri::command]
pub async fn tasks_create(state: State<'_, AppState>, input: NewTask) -> CmdResult<Task> {
    state.call(move |core| core.tasks().create(input)).await
}

#[tauri::command]
pub async fn tasks_update(state: State<'_, AppState>, id: Id, patch: TaskPatch) -> CmdResult<Task> {
    state
        .call(move |core| core.tasks().update(&id, patch))
        .await
}

#[tauri::command]
pub async fn tasks_set_status(
    state: State<'_, AppState>,
    id: Id,
    status: TaskStatus,
) -> CmdResult<Task> {
    state
        .call(move |core| core.tasks().set_status(&id, status))
        .await
}

#[tauri::command]
pub async fn tasks_cancel(state: State<'_, AppState>, id: Id) -> CmdResult<Task> {
    state.call(move |core| core.tasks().cancel(&id)).await
}

#[tauri::command]
pub async fn tasks_delete(state: State<'_, AppState>, id: Id) -> CmdResult<()> {
    state.call(move |core| core.tasks().delete(&id)).await
}

#[tauri::command]
pub async fn tasks_subtasks(state: State<'_, AppState>, id: Id) -> CmdResult<Vec<Task>> {
    state.call(move |core| core.tasks().subtasks(&id)).await
}

/// Every run of a task (newest first), each with its steps, decisions and
/// journaled tool calls.
#[tauri::command]
pub async fn tasks_runs(state: State<'_, AppState>, id: Id) -> CmdResult<Vec<RunTrace>> {
    state.call(move |core| core.runs().of_task(&id)).await
}

/// Puts a failed task back in the queue ([`ensemble_core::tasks::Tasks::retry`]).
#[tauri::command]
pub async fn tasks_retry(state: State<'_, AppState>, id: Id) -> CmdResult<Task> {
    let task = state.call(move |core| core.tasks().retry(&id)).await?;
    if let Some(orch) = state.orchestrator() {
        orch.nudge();
    }
    Ok(task)
}
