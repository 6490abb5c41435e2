//! Chat commands: sessions, messages, and the streamed `chat_send` whose
//! events travel through one `Channel` per request.

use ensemble_core::chat::engine::{ChatEvent, ChatSendRequest};
use ensemble_core::chat::{ChatMessage, ChatSession, SessionInput};
use ensemble_core::{Page, Paging};
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::id::Id;
use crate::error::CmdResult;
use crate::state::AppState;

#[tauri::command]
pub async fn chat_sessions_list(
    state: State<'_, AppState>,
    paging: Option<Paging>,
) -> CmdResult<Page<ChatSession>> {
    state
        .call(move |core| core.chat().list_sessions(paging.unwrap_or_default()))
        .await
}

#[tauri::command]
pub async fn chat_messages_list(
    state: State<'_, AppState>,
    session_id: Id,
    paging: Option<Paging>,
) -> CmdResult<Page<ChatMessage>> {
    state
        .call(move |core| {
            core.chat()
                .messages(&session_id, paging.unwrap_or_default())
        })
        .await
}

#[tauri::command]
pub async fn chat_session_update(
    state: State<'_, AppState>,
    id: Id,
    input: SessionInput,
) -> CmdResult<ChatSession> {
    state
        .call(move |core| core.chat().update_session(&id, input))
        .await
}

#[tauri::command]
pub async fn chat_session_delete(state: State<'_, AppState>, id: Id) -> CmdResult<()> {
    state
        .call(move |core| core.chat().delete_session(&id))
        .await
}

/// Streams an answer into `on_event`; resolves with the stored answer. A
/// closed channel (the window went away) stops the generation.
#[tauri::command]
pub async fn chat_send(
    state: State<'_, AppState>,
    request: ChatSendRequest,
    on_event: Channel<ChatEvent>,
) -> CmdResult<ChatMessage> {
    let cancel = state.shutdown_token().child_token();
    let mut sink = move |ev: ChatEvent| on_event.send(ev).is_ok();
    Ok(state.chat().send(request, cancel, &mut sink).await?)
}

/// Stops a streaming answer; it is kept with status `stopped`.
#[tauri::command]
pub fn chat_stop(state: State<'_, AppState>, message_id: Id) -> bool {
    state.chat().stop(&message_id)
}
