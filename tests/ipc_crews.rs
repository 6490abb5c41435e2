//! The crew IPC commands through Tauri's mock runtime with the app's real
//! context: templates, create from a template, export/import, and a crew
//! run started, followed (status and timeline) and stopped from the UI's side.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/ipc.rs"]
mod ipc;

use std::time::{Duration, Instant};

use ipc::{app, invoke};
use serde_json::json;

#[test]
fn crew_templates_export_and_import_over_ipc() {
    let app = app();
    let templates = invoke(&app, "crews_templates", json!({})).unwrap();
    assert!(templates.as_array().unwrap().len() >= 3);
    let crew = invoke(
        &app,
        "crews_create_from_template",
        json!({ "key": "research_write_review", "options": { "name": "Facts" } }),
    )
    .unwrap();
    assert_eq!(crew["name"], "Facts");
    let id = crew["id"].as_str().unwrap();
    let yaml = invoke(&app, "crews_export", json!({ "id": id, "format": "yaml" })).unwrap();
    let imported = invoke(&app, "crews_import", json!({ "text": yaml })).unwrap();
    assert_ne!(imported["id"], crew["id"]);
    assert_eq!(
        invoke(&app, "crews_export", json!({ "id": imported["id"] })).unwrap(),
        invoke(&app, "crews_export", json!({ "id": id })).unwrap()
    );
    let err = invoke(&app, "crews_import", json!({ "text": "format: nope" })).unwrap_err();
    assert_eq!(err["code"], "VALIDATION");
    let err = invoke(&app, "crews_export", json!({ "id": "" })).unwrap_err();
    assert_eq!(err["message"], "id: must not be empty");
}

#[test]
fn a_crew_run_starts_shows_its_timeline_and_stops_over_ipc() {
    let app = app();
    // A provider that never answers: the run waits on its first member until stopped.
    invoke(
        &app,
        "providers_create",
        json!({ "input": { "name": "dead", "kind": "openai_compatible", "base_url": "http://127.0.0.1:9/v1", "default_model": "m" } }),
    )
    .unwrap();
    let a = invoke(
        &app,
        "agents_create",
        json!({ "input": { "name": "A", "provider": "dead" } }),
    )
    .unwrap();
    let b = invoke(
        &app,
        "agents_create",
        json!({ "input": { "name": "B", "provider": "dead" } }),
    )
    .unwrap();
    let crew = invoke(
        &app,
        "crews_create",
        json!({ "input": { "name": "Pair", "process": "sequential", "members": [{ "agent_id": a["id"] }, { "agent_id": b["id"] }] } }),
    )
    .unwrap();
    let run = invoke(
        &app,
        "crews_run_start",
        json!({ "crewId": crew["id"], "input": "hello" }),
    )
    .unwrap();
    assert_eq!(run["status"], "planning");
    let run_id = run["id"].as_str().unwrap().to_string();
    let again = invoke(
        &app,
        "crews_run_start",
        json!({ "crewId": crew["id"], "input": "again" }),
    )
    .unwrap_err();
    assert_eq!(again["code"], "CONFLICT");

    invoke(&app, "crews_run_stop", json!({ "id": run_id })).unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let r = invoke(&app, "crews_run_get", json!({ "id": run_id })).unwrap();
        if ["completed", "failed", "stopped"].contains(&r["status"].as_str().unwrap()) {
            break r;
        }
        assert!(Instant::now() < end, "the run did not stop: {r}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(done["status"], "stopped");
    assert_eq!(done["stop_reason"], "stopped_by_user");
    let timeline = invoke(&app, "crews_run_messages", json!({ "id": run_id })).unwrap();
    let contents: Vec<&str> = timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents.first().copied(),
        Some("Run started (sequential): hello")
    );
    assert!(
        contents
            .last()
            .unwrap()
            .starts_with("Run stopped (stopped_by_user)"),
        "{contents:?}"
    );
    let runs = invoke(&app, "crews_runs_list", json!({ "crewId": crew["id"] })).unwrap();
    assert_eq!(runs["total"], 1);
    let err = invoke(&app, "crews_run_stop", json!({ "id": run_id })).unwrap_err();
    assert_eq!(err["code"], "CONFLICT");
}
