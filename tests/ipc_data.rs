//! The data commands through Tauri's mock runtime with the real capability:
//! the suggested export path lies in the data folder, export and import
//! round-trip through files, a bad file comes back as `{ code, message }`
//! and changes nothing, and the demo reset replaces its own records only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/ipc.rs"]
mod ipc;

use ipc::{app, invoke, ok};
use serde_json::json;

/// Export from one app, import into another; errors carry code and message.
#[test]
fn export_import_and_reset_demo_over_ipc() {
    let a = app();
    let suggested = ok(&a, "data_export_path", json!({}));
    let suggested = suggested.as_str().unwrap();
    assert!(
        suggested.starts_with(&a.dir.path().join("exports").display().to_string()),
        "{suggested}"
    );
    assert!(suggested.ends_with(".json"));

    let mine = ok(&a, "agents_create", json!({ "input": { "name": "Mine" } }));
    let demo = ok(&a, "data_reset_demo", json!({}));
    assert_eq!(
        demo["created"],
        json!({ "agents": 4, "crews": 1, "tasks": 5 })
    );
    let again = ok(&a, "data_reset_demo", json!({}));
    assert_eq!(
        again["removed"],
        json!({ "agents": 4, "crews": 1, "tasks": 5 })
    );
    assert_eq!(ok(&a, "agents_list", json!({}))["total"], 5);
    assert_eq!(
        ok(&a, "agents_get", json!({ "id": mine["id"] })),
        mine,
        "the user's agent is untouched"
    );

    let exported = ok(&a, "data_export", json!({ "path": suggested }));
    assert_eq!(exported["path"], suggested);
    assert_eq!(exported["tables"]["agents"], 5);

    let b = app();
    let before = ok(&b, "tasks_board", json!({ "perColumn": 5 }));
    let err = invoke(&b, "data_import", json!({ "path": "relative.json" })).unwrap_err();
    assert_eq!(err["code"], "VALIDATION");
    assert_eq!(err["details"]["field"], "path");
    let bad = b.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"format": "ensemble.crew", "version": 1}"#).unwrap();
    let err = invoke(&b, "data_import", json!({ "path": bad })).unwrap_err();
    assert_eq!(err["code"], "VALIDATION");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("its format is 'ensemble.crew'"),
        "{err}"
    );
    assert_eq!(ok(&b, "tasks_board", json!({ "perColumn": 5 })), before);

    let imported = ok(&b, "data_import", json!({ "path": suggested }));
    assert_eq!(imported["tables"]["agents"]["added"], 5);
    assert_eq!(ok(&b, "agents_list", json!({}))["total"], 5);
    let board = ok(&b, "tasks_board", json!({ "perColumn": 5 }));
    let total = |status: &str| {
        board
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == status)
            .unwrap()["total"]
            .clone()
    };
    assert_eq!(total("queued"), 2);
    assert_eq!(total("completed"), 1);
    assert_eq!(total("failed"), 1);
}
