//! Approval inbox and inter-agent message commands.

use ensemble_core::approvals::{Approval, ApprovalStatus, Decision};
use ensemble_core::messages::{Message, MessageFilter};
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::commands::id::Id;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn approvals_list(
    state: State<'_, AppState>,
    status: Option<ApprovalStatus>,
    paging: Option<Paging>,
) -> CmdResult<Page<Approval>> {
    state
        .call(move |core| core.approvals().list(status, paging.unwrap_or_default()))
        .await
}

#[tauri::command]
pub async fn approvals_decide(
    state: State<'_, AppState>,
    id: Id,
    decision: Decision,
) -> CmdResult<Approval> {
    state
        .call(move |core| core.approvals().decide(&id, decision))
        .await
}

/// The decided requests, most recently decided first (the inbox's history).
#[tauri::command]
pub async fn approvals_history(
    state: State<'_, AppState>,
    paging: Option<Paging>,
) -> CmdResult<Page<Approval>> {
    state
        .call(move |core| core.approvals().list_decided(paging.unwrap_or_default()))
        .await
}

#[tauri::command]
pub async fn approvals_pending_count(state: State<'_, AppState>) -> CmdResult<u64> {
    state.call(|core| core.approvals().pending_count()).await
}

#[tauri::command]
pub async fn messages_list(
    state: State<'_, AppState>,
    filter: Option<MessageFilter>,
    paging: Option<Paging>,
) -> CmdResult<Page<Message>> {
    state
        .call(move |core| {
            core.messages()
                .list(&filter.unwrap_or_default(), paging.unwrap_or_default())
        })
        .await
}
