//! IPC commands: thin adapters that read state, call one core method and map
//! the error. One file per domain concept.

pub mod agents;
pub mod approvals;
pub mod chat;
pub mod crews;
pub mod data;
pub mod models;
pub mod orchestrator;
pub mod providers;
pub mod settings;
pub mod system;
pub mod tasks;
pub mod tools;
pub mod workflows;

/// The invoke handler with every command (each must be allowed in
/// `src-tauri/permissions/app.toml`; a test checks).
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        system::app_info,
        system::agent_templates,
        system::tray_status,
        system::ui_painted,
        orchestrator::orchestrator_status,
        agents::agents_list,
        agents::agents_get,
        agents::agents_create,
        agents::agents_update,
        agents::agents_delete,
        agents::agents_pause,
        agents::agents_resume,
        tasks::tasks_board,
        tasks::tasks_list,
        tasks::tasks_get,
        tasks::tasks_create,
        tasks::tasks_update,
        tasks::tasks_set_status,
        tasks::tasks_cancel,
        tasks::tasks_delete,
        tasks::tasks_subtasks,
        tasks::tasks_runs,
        tasks::tasks_retry,
        crews::crews_list,
        crews::crews_get,
        crews::crews_create,
        crews::crews_update,
        crews::crews_delete,
        crews::crews_add_relationship,
        crews::crews_remove_relationship,
        crews::crews_templates,
        crews::crews_create_from_template,
        crews::crews_export,
        crews::crews_import,
        crews::crews_run_start,
        crews::crews_run_get,
        crews::crews_run_stop,
        crews::crews_runs_list,
        crews::crews_run_messages,
        approvals::approvals_list,
        approvals::approvals_decide,
        approvals::approvals_pending_count,
        approvals::approvals_history,
        approvals::messages_list,
        chat::chat_sessions_list,
        chat::chat_messages_list,
        chat::chat_session_update,
        chat::chat_session_delete,
        chat::chat_send,
        chat::chat_stop,
        providers::providers_list,
        providers::providers_overview,
        providers::providers_test,
        providers::providers_create,
        providers::providers_update,
        providers::providers_set_key,
        providers::providers_pull,
        models::models_list,
        models::models_probe,
        models::model_files_list,
        models::model_files_add,
        models::model_files_download,
        models::model_files_cancel,
        workflows::workflows_list,
        workflows::workflows_get,
        workflows::workflows_create,
        workflows::workflows_run,
        workflows::workflows_runs,
        workflows::workflows_run_status,
        settings::settings_get,
        settings::settings_update,
        data::data_export_path,
        data::data_export,
        data::data_import,
        data::data_reset_demo,
        tools::tools_list,
        tools::mcp_statuses,
    ]
}

#[cfg(test)]
mod tests {
    /// The permission the capability grants lists exactly the commands of the
    /// handler, so the UI can reach every command and nothing else.
    #[test]
    fn permission_lists_every_command() {
        let source = include_str!("commands.rs");
        let body = source
            .split("generate_handler![")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .expect("handler list");
        let mut handled: Vec<String> = body
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.rsplit("::").next().unwrap_or(s).to_string())
            .collect();
        let toml = include_str!("../permissions/app.toml");
        let list = toml
            .split("commands.allow = [")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .expect("allow list");
        let mut allowed: Vec<String> = list
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        handled.sort();
        allowed.sort();
        assert!(handled.len() > 20, "parsed {handled:?}");
        assert_eq!(
            handled, allowed,
            "src-tauri/permissions/app.toml must allow each command of the handler"
        );

        let cap: serde_json::Value =
            serde_json::from_str(include_str!("../capabilities/main.json"))
                .expect("capability JSON");
        // Only our commands, events, window basics and the open/save
        // dialogs (they return a path, which only our commands use): no fs,
        // shell, http or other plugins.
        for p in cap["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(|p| p.as_str())
        {
            assert!(
                p == "app-commands"
                    || p.starts_with("core:event:")
                    || p.starts_with("core:window:")
                    || p == "core:app:allow-version"
                    || p == "dialog:allow-open"
                    || p == "dialog:allow-save",
                "unexpected permission {p}"
            );
        }
    }
}
