//! Chat commands.

use ensemble_core::chat::{ChatMessage, ChatSession};
use ensemble_core::{Page, Paging};
use tauri::State;

use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn chat_sessions_list(
    state: State<'_, AppState>,
    paging: Option<Paging>,
) -> CmdResult<Page<ChatSession>> {
    state
        .call(move |core| core.list_chat_sessions(paging.unwrap_or_default()))
        .await
}

#[tauri::command]
pub async fn chat_messages_list(
    state: State<'_, AppState>,
    session_id: String,
    paging: Option<Paging>,
) -> CmdResult<Page<ChatMessage>> {
    state
        .call(move |core| core.chat_messages(&session_id, paging.unwrap_or_default()))
        .await
}
