//! Task board commands: the board, task records, their run traces, retry.

use ensemble_core::runs::RunTrace;
use ensemble_core::tasks::{BoardColumn, NewTask, Task, TaskFilter, TaskPatch, TaskStatus};
use ensemble_core::{Core, CoreError, Page, Paging};
use tauri::State;

use super::require_id;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn tasks_board(
    state: State<'_, AppState>,
    filter: Option<TaskFilter>,
    per_column: Option<u32>,
) -> CmdResult<Vec<BoardColumn>> {
    state
        .call(move |core| core.task_board(&filter.unwrap_or_default(), per_column.unwrap_or(50)))
        .await
}

#[tauri::command]
pub async fn tasks_list(
    state: State<'_, AppState>,
    filter: Option<TaskFilter>,
    paging: Option<Paging>,
) -> CmdResult<Page<Task>> {
    state
        .call(move |core| core.list_tasks(&filter.unwrap_or_default(), paging.unwrap_or_default()))
        .await
}

#[tauri::command]
pub async fn tasks_get(state: State<'_, AppState>, id: String) -> CmdResult<Task> {
    state.call(move |core| core.get_task(&id)).await
}

#[tauri::command]
pub async fn tasks_create(state: State<'_, AppState>, input: NewTask) -> CmdResult<Task> {
    state.call(move |core| core.create_task(input)).await
}

#[tauri::command]
pub async fn tasks_update(
    state: State<'_, AppState>,
    id: String,
    patch: TaskPatch,
) -> CmdResult<Task> {
    state.call(move |core| core.update_task(&id, patch)).await
}

#[tauri::command]
pub async fn tasks_set_status(
    state: State<'_, AppState>,
    id: String,
    status: TaskStatus,
) -> CmdResult<Task> {
    state
        .call(move |core| core.set_task_status(&id, status))
        .await
}

#[tauri::command]
pub async fn tasks_cancel(state: State<'_, AppState>, id: String) -> CmdResult<Task> {
    state.call(move |core| core.cancel_task(&id)).await
}

#[tauri::command]
pub async fn tasks_delete(state: State<'_, AppState>, id: String) -> CmdResult<()> {
    state.call(move |core| core.delete_task(&id)).await
}

#[tauri::command]
pub async fn tasks_subtasks(state: State<'_, AppState>, id: String) -> CmdResult<Vec<Task>> {
    state.call(move |core| core.subtasks(&id)).await
}

/// Every run of a task (newest first), each with its steps, decisions and
/// journaled tool calls.
#[tauri::command]
pub async fn tasks_runs(state: State<'_, AppState>, id: String) -> CmdResult<Vec<RunTrace>> {
    require_id("id", &id)?;
    state.call(move |core| core.task_runs(&id)).await
}

/// Puts a failed task back in the queue (see [`retry`]).
#[tauri::command]
pub async fn tasks_retry(state: State<'_, AppState>, id: String) -> CmdResult<Task> {
    require_id("id", &id)?;
    let task = state.call(move |core| retry(core, &id)).await?;
    if let Some(orch) = state.orchestrator() {
        orch.nudge();
    }
    Ok(task)
}

/// A person's retry of a failed task. The attempt count is kept, so the
/// card tells the truth ("attempt 4/4") and the earlier runs stay in the
/// trace; when the attempts were used up the task gets exactly one more
/// (`max_attempts = attempts + 1`). Only `failed` can go back to the queue:
/// `cancelled` is final in the state machine (create the task again).
// TODO(core): belongs in the core as `Core::retry_task`, in one transaction.
fn retry(core: &Core, id: &str) -> ensemble_core::Result<Task> {
    let t = core.get_task(id)?;
    if t.status != TaskStatus::Failed {
        return Err(CoreError::validation(
            "status",
            format!("only failed tasks can be retried; this one is {}", t.status),
        ));
    }
    let t = core.set_task_status(id, TaskStatus::Queued)?;
    if t.attempts < t.max_attempts || t.attempts >= 20 {
        return Ok(t);
    }
    let patch = TaskPatch {
        max_attempts: Some(i64::from(t.attempts) + 1),
        ..Default::default()
    };
    match core.update_task(id, patch) {
        // The runner claimed and finished it already: it stays as it is.
        Err(CoreError::Validation { .. }) => core.get_task(id),
        other => other,
    }
}
