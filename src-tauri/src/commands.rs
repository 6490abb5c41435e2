//! IPC commands: thin adapters that read state, call one core method and map
//! the error. One file per domain concept.

pub mod agents;
pub mod approvals;
pub mod chat;
pub mod crews;
pub mod data;
pub mod id;
pub mod models;
pub mod orchestrator;
pub mod providers;
pub mod settings;
pub mod system;
pub mod tasks;
pub mod tools;
pub mod workflows;

/// The invoke handler with every command. `handler.rs` is generated from
/// the `#[tauri::command]` functions of this folder, as are the permission
/// (`src-tauri/permissions/app.toml`) and the UI's wrappers
/// (`ui/src/commands.ts`); `tests/ipc_surface.rs` checks that
/// all three are current.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    include!("commands/handler.rs")
}
