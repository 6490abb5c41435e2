//! IPC commands through Tauri's mock runtime, with the app's real context and
//! capability: results come back as JSON, failures as `{ code, message,
//! details }`, malformed arguments are rejected before our code runs, and
//! commands of plugins the capability does not grant are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/ipc.rs"]
mod ipc;

use ipc::{app, invoke};
use serde_json::json;

#[test]
fn commands_return_json_and_errors_carry_code_and_message() {
    let app = app();
    let created = invoke(
        &app,
        "agents_create",
        json!({ "input": { "name": "Ada", "template": "analyst" } }),
    )
    .unwrap();
    assert_eq!(created["name"], "Ada");
    let id = created["id"].as_str().unwrap();
    let listed = invoke(&app, "agents_list", json!({})).unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(
        invoke(&app, "agents_get", json!({ "id": id })).unwrap()["role"],
        "analyst"
    );

    let err = invoke(
        &app,
        "tasks_create",
        json!({ "input": { "title": "t", "priority": 42 } }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "VALIDATION");
    assert_eq!(
        err["message"],
        "priority: must be between 1 and 10 (10 is highest), got 42"
    );
    assert_eq!(err["details"]["field"], "priority");

    let err = invoke(&app, "agents_get", json!({ "id": "ghost" })).unwrap_err();
    assert_eq!(err["code"], "NOT_FOUND");
    assert_eq!(err["details"], json!({ "entity": "agent", "id": "ghost" }));

    let board = invoke(&app, "tasks_board", json!({ "perColumn": 5 })).unwrap();
    assert_eq!(board.as_array().unwrap().len(), 10);
}

#[test]
fn malformed_arguments_are_refused_without_touching_the_store() {
    let app = app();
    for (cmd, args) in [
        ("agents_create", json!({})),
        ("agents_create", json!({ "input": { "name": 7 } })),
        (
            "agents_create",
            json!({ "input": { "name": "x", "autonomy": "yolo" } }),
        ),
        ("tasks_set_status", json!({ "id": "x", "status": "done" })),
        ("tasks_board", json!({ "perColumn": -1 })),
    ] {
        let err = invoke(&app, cmd, args.clone()).unwrap_err();
        let text = err
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| err.to_string());
        assert!(
            text.contains("invalid args")
                || text.contains("invalid type")
                || text.contains("unknown variant"),
            "{cmd} {args}: {text}"
        );
    }
    assert_eq!(invoke(&app, "agents_list", json!({})).unwrap()["total"], 0);
}

#[test]
fn commands_outside_the_capability_are_refused() {
    let app = app();
    for cmd in [
        "plugin:fs|read_text_file",
        "plugin:shell|execute",
        "not_a_command",
    ] {
        let err = invoke(&app, cmd, json!({ "path": "/etc/passwd" })).unwrap_err();
        assert!(!err.is_null(), "{cmd} must be refused");
    }
}
