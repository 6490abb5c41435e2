//! The approval inbox, the tools list and the MCP statuses through IPC on
//! Tauri's mock runtime, and where a clicked notification takes the window:
//! the history lists decided requests only, most recent decision first; an
//! edit needs its edited action and a decided request cannot be decided
//! again; the agent editor's tools come with their approval needs; Settings
//! sees each MCP server (a real stdio fixture server, one whose command does
//! not exist, one turned off); a failed task's notification opens its task.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/ipc.rs"]
mod ipc;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ensemble_app::notifications::{self, Route};
use ensemble_core::approvals::NewApproval;
use ensemble_core::settings::{McpServerConfig, SettingsPatch};
use ipc::{invoke, ok, App};
use serde_json::{json, Value};
use tauri::Listener;

const MCP_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src-tauri/crates/core/tests/fixtures/mcp_server.py"
);

/// An app on a fresh data folder; `prepare` writes to it before the app
/// starts (settings such as MCP servers are read at start).
fn app_with(prepare: impl FnOnce(&ensemble_core::Core)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(ensemble_core::Core::open(dir.path()).unwrap());
    prepare(&core);
    ipc::app_on(dir, core)
}

fn request(app: &App, title: &str) -> String {
    app.core()
        .approvals().create(NewApproval {
            title: title.into(),
            proposed_action: json!({ "tool": "code_run", "arguments": { "language": "python", "code": "print(1)" } }),
            ..Default::default()
        })
        .unwrap()
        .id
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn history_lists_decided_requests_latest_decision_first() {
    let app = app_with(|_| {});
    let first = request(&app, "Run the first program");
    let second = request(&app, "Run the second program");
    let waiting = request(&app, "Still waiting");
    assert_eq!(ok(&app, "approvals_pending_count", json!({})), 3);
    assert_eq!(ok(&app, "approvals_history", json!({}))["total"], 0);

    // Decided in the opposite order of creation: the history follows the decisions.
    let rejected = ok(
        &app,
        "approvals_decide",
        json!({ "id": second, "decision": { "verdict": "reject", "comment": "not today" } }),
    );
    assert_eq!(rejected["status"], "rejected");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let edited = ok(
        &app,
        "approvals_decide",
        json!({ "id": first, "decision": {
            "verdict": "edit",
            "edited_action": { "tool": "code_run", "arguments": { "language": "python", "code": "print(2)" } },
            "comment": "print 2 instead"
        } }),
    );
    assert_eq!(edited["status"], "edited");
    assert_eq!(edited["edited_action"]["arguments"]["code"], "print(2)");

    let history = ok(&app, "approvals_history", json!({}));
    assert_eq!(history["total"], 2);
    assert_eq!(
        titles(&history),
        ["Run the first program", "Run the second program"]
    );
    let items = history["items"].as_array().unwrap();
    assert_eq!(items[0]["decided_by"], "human");
    assert!(items[0]["decided_at"].is_string());
    assert_eq!(items[1]["comment"], "not today");
    // Paging.
    let page = ok(
        &app,
        "approvals_history",
        json!({ "paging": { "limit": 1, "offset": 1 } }),
    );
    assert_eq!(titles(&page), ["Run the second program"]);
    assert_eq!(page["total"], 2);

    // The pending list and count no longer hold them.
    let pending = ok(&app, "approvals_list", json!({ "status": "pending" }));
    assert_eq!(titles(&pending), ["Still waiting"]);
    assert_eq!(ok(&app, "approvals_pending_count", json!({})), 1);

    // Deciding again is a conflict; an edit without its action is refused
    // and leaves the request pending.
    let err = invoke(
        &app,
        "approvals_decide",
        json!({ "id": second, "decision": { "verdict": "approve" } }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "CONFLICT", "{err}");
    let err = invoke(
        &app,
        "approvals_decide",
        json!({ "id": waiting, "decision": { "verdict": "edit" } }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "VALIDATION", "{err}");
    assert_eq!(err["details"]["field"], "edited_action");
    assert_eq!(ok(&app, "approvals_pending_count", json!({})), 1);
    let err = invoke(
        &app,
        "approvals_history",
        json!({ "paging": { "limit": -1 } }),
    )
    .unwrap_err();
    assert!(err.to_string().contains("invalid"), "{err}");

    // Expired requests are history too, rejected by default.
    app.core()
        .approvals()
        .create(NewApproval {
            title: "Too late".into(),
            proposed_action: json!({}),
            expires_in_secs: Some(0),
            ..Default::default()
        })
        .unwrap();
    app.core().approvals().expire().unwrap();
    let history = ok(&app, "approvals_history", json!({}));
    assert_eq!(history["total"], 3);
    assert_eq!(history["items"][0]["title"], "Too late");
    assert_eq!(history["items"][0]["status"], "expired");
    assert_eq!(history["items"][0]["decided_by"], "expiry");
}

#[test]
fn the_tools_list_says_which_tools_need_approval() {
    let app = app_with(|_| {});
    let tools = ok(&app, "tools_list", json!({}));
    let tools = tools.as_array().unwrap();
    let by_name = |n: &str| {
        tools
            .iter()
            .find(|t| t["name"] == n)
            .unwrap_or_else(|| panic!("no {n} in {tools:?}"))
    };
    assert_eq!(by_name("code_run")["requires_approval"], true);
    assert_eq!(by_name("web_fetch")["requires_approval"], false);
    assert_eq!(by_name("sql_query")["requires_approval"], true);
    assert_eq!(by_name("delegate_task")["category"], "collaboration");
    assert!(by_name("code_run")["parameters"]["properties"]["code"].is_object());
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "tools come in name order");
}

#[test]
fn settings_sees_each_mcp_server_with_its_state_tools_and_error() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let server = |name: &str, command: &str, enabled: bool| McpServerConfig {
        name: name.into(),
        command: command.into(),
        args: vec![MCP_FIXTURE.into()],
        env: BTreeMap::from([(
            "MCP_FIXTURE_LOG".to_string(),
            log.path().display().to_string(),
        )]),
        enabled,
    };
    let app = app_with(|core| {
        core.update_settings(SettingsPatch {
            mcp_servers: Some(vec![
                server("calc", "python3", true),
                server("ghost", "ensemble-no-such-mcp-server", true),
                server("off", "python3", false),
            ]),
            ..Default::default()
        })
        .unwrap();
    });
    let statuses = ok(&app, "mcp_statuses", json!({}));
    let list = statuses.as_array().unwrap();
    assert_eq!(list.len(), 3, "{statuses}");
    assert_eq!(list[0]["server"], "calc");
    assert_eq!(list[0]["state"], "running", "{statuses}");
    assert!(list[0]["last_error"].is_null());
    let calc_tools: Vec<&str> = list[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(calc_tools.contains(&"calc__add"), "{calc_tools:?}");
    assert_eq!(list[1]["server"], "ghost");
    assert_eq!(list[1]["state"], "failed");
    assert!(
        list[1]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{statuses}"
    );
    assert_eq!(list[1]["tools"], json!([]));
    assert_eq!(list[2]["state"], "disabled");

    // Its tools are offered to agents like the built-in ones.
    let tools = ok(&app, "tools_list", json!({}));
    assert!(tools
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "calc__add"));

    // Quitting stops the servers it started.
    app.state().shutdown();
    let after = ok(&app, "mcp_statuses", json!({}));
    assert_ne!(after[0]["state"], "running", "{after}");
}

#[test]
fn a_clicked_notification_opens_where_it_leads() {
    let app = app_with(|_| {});
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    app.app.listen_any(notifications::NAVIGATE, move |e| {
        s.lock()
            .unwrap()
            .push(serde_json::from_str(e.payload()).unwrap());
    });
    let handle = app.app.handle();
    // What the notification plugin hands over for a click on a task failure.
    let route = Route {
        view: "tasks".into(),
        task_id: Some("task-42".into()),
    };
    let clicked = |extra: Value| {
        serde_json::from_value(json!({
            "actionId": "tap",
            "notification": { "id": 3, "title": "Task failed: x", "extra": extra },
        }))
        .unwrap()
    };
    notifications::activated(handle, &clicked(json!({ "route": route })));
    notifications::activated(handle, &clicked(json!({ "route": Route::view("crews") })));
    notifications::activated(handle, &clicked(json!({})));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            json!({ "view": "tasks", "task_id": "task-42" }),
            json!({ "view": "crews" }),
            json!({ "view": "approvals" }),
        ]
    );
}
