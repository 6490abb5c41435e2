//! The tools agents can use (for the agent editor's allowed tools) and the
//! state of the MCP servers that contribute some of them (for Settings).

use ensemble_core::tools::mcp::McpStatus;
use ensemble_core::tools::ToolDef;
use tauri::State;

use crate::state::AppState;

/// Every tool of this process, in name order, with whether it needs
/// approval and why it cannot run here, if it cannot.
#[tauri::command]
pub fn tools_list(state: State<'_, AppState>) -> Vec<ToolDef> {
    state.tools().defs()
}

/// Each MCP server configured when the app started: state, tools, restarts
/// and the last error.
#[tauri::command]
pub fn mcp_statuses(state: State<'_, AppState>) -> Vec<McpStatus> {
    state.mcp_statuses()
}
