//! IPC input fuzzing (issue "Proof of speed and robustness"): every command
//! the app registers (read from `src-tauri/src/commands.rs`, so a new one is
//! covered by itself) is called as the web view calls it, through Tauri's
//! mock runtime with the app's real context and capability, with random and
//! mutated JSON arguments: wrong types, missing and unknown fields, huge
//! strings, negative and huge numbers, unicode, nested junk.
//!
//! For every call: no panic; the answer is a result or an error a person can
//! read (our `{ code, message, details? }`, or Tauri's own "invalid args"
//! refusal before our code runs); a call that fails changes nothing in the
//! database. Afterwards the database passes `PRAGMA integrity_check` and
//! the records that were there before are unchanged.
//!
//! Files: `path` arguments are kept inside the test's temporary folder.
//! Models: the Ollama provider points at a port where nothing listens and
//! the data folder has no model, so calls that reach a model fail fast.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src-tauri/crates/core/tests/common/helpers.rs"]
mod helpers;
#[path = "common/ipc.rs"]
mod ipc;

use std::cell::Cell;
use std::sync::Arc;

use ensemble_core::agents::AgentInput;
use ensemble_core::chat::SessionInput;
use ensemble_core::crews::{CrewInput, MemberInput};
use ensemble_core::tasks::NewTask;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

/// Calls per command (the whole run stays well under a minute).
const CASES_PER_COMMAND: u32 = 24;

/// Every command of the app's invoke handler.
fn commands() -> Vec<String> {
    let source = include_str!("../src-tauri/src/commands/handler.rs");
    let body = source
        .split("generate_handler![")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("the handler list in commands/handler.rs");
    let list: Vec<String> = body
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.rsplit("::").next().unwrap_or(s).to_string())
        .collect();
    assert!(list.len() > 40, "parsed {list:?}");
    list
}

const GHOST: &str = "01990000-0000-7000-8000-000000000000";

/// Arguments a command accepts, well formed, naming records that do not
/// exist: the starting point of the mutations. Commands not listed start
/// from `{}` (random arguments still reach them). `crew_file` is a crew
/// export, for the import.
fn template(cmd: &str, crew_file: &str) -> Value {
    let paging = json!({ "limit": 5, "offset": 0 });
    match cmd {
        "agents_list" => json!({ "filter": { "enabled": true }, "paging": paging }),
        "agents_get"
        | "agents_delete"
        | "agents_pause"
        | "agents_resume"
        | "tasks_get"
        | "tasks_cancel"
        | "tasks_delete"
        | "tasks_subtasks"
        | "tasks_runs"
        | "tasks_retry"
        | "crews_get"
        | "crews_delete"
        | "crews_remove_relationship"
        | "crews_run_get"
        | "crews_run_stop"
        | "chat_session_delete"
        | "workflows_get" => json!({ "id": GHOST }),
        "agents_create" => json!({ "input": {
            "name": "Fuzz", "role": "analyst", "template": "analyst",
            "capabilities": ["sql_query"], "allowed_tools": ["web_fetch"],
            "temperature": 0.4, "max_steps": 6, "autonomy": "copilot" } }),
        "agents_update" => json!({ "id": GHOST, "input": { "name": "Renamed", "max_steps": 3 } }),
        "tasks_board" => json!({ "filter": {}, "perColumn": 5 }),
        "tasks_list" => json!({ "filter": { "status": "queued" }, "paging": paging }),
        "tasks_create" => json!({ "input": {
            "title": "Fuzzed task", "objective": "o", "priority": 5, "max_attempts": 2,
            "required_capabilities": ["writing"], "input": { "k": [1, 2] } } }),
        "tasks_update" => json!({ "id": GHOST, "patch": { "title": "t", "priority": 3 } }),
        "tasks_set_status" => json!({ "id": GHOST, "status": "cancelled" }),
        "crews_list" => json!({ "search": "a", "paging": paging }),
        "crews_create" => {
            json!({ "input": { "name": "Crew", "goal": "g", "process": "sequential" } })
        }
        "crews_update" => json!({ "id": GHOST, "input": { "goal": "new" } }),
        "crews_add_relationship" => json!({ "crewId": GHOST, "input": {
            "from_agent_id": GHOST, "to_agent_id": "01990000-0000-7000-8000-000000000001",
            "kind": "supervises", "trust_level": 0.5 } }),
        "crews_create_from_template" => json!({ "key": "content_team", "options": {} }),
        "crews_export" => json!({ "id": GHOST, "format": "yaml" }),
        "crews_import" => json!({ "text": crew_file }),
        "crews_run_start" => json!({ "crewId": GHOST, "input": "go" }),
        "crews_runs_list" => json!({ "crewId": GHOST, "paging": paging }),
        "crews_run_messages" => json!({ "id": GHOST, "paging": paging }),
        "approvals_list" => json!({ "status": "pending", "paging": paging }),
        "approvals_decide" => {
            json!({ "id": GHOST, "decision": { "verdict": "approve", "comment": "ok" } })
        }
        "approvals_history" | "chat_sessions_list" => json!({ "paging": paging }),
        "messages_list" => json!({ "filter": {}, "paging": paging }),
        "chat_messages_list" => json!({ "sessionId": GHOST, "paging": paging }),
        "chat_session_update" => json!({ "id": GHOST, "input": { "title": "t" } }),
        "chat_send" => {
            json!({ "request": { "text": "hello", "sessionId": null }, "onEvent": "__CHANNEL__:1" })
        }
        "chat_stop" => json!({ "messageId": GHOST }),
        "providers_test" => json!({ "name": "nowhere" }),
        "providers_create" => json!({ "input": {
            "name": "nowhere", "kind": "ollama", "base_url": "http://127.0.0.1:9" } }),
        "providers_update" => json!({ "name": "ghost", "input": { "max_concurrent": 2 } }),
        "providers_set_key" => json!({ "name": "ghost", "key": "sk-fuzz" }),
        "providers_pull" => {
            json!({ "name": "nowhere", "model": "tiny", "onProgress": "__CHANNEL__:2" })
        }
        "workflows_list" => json!({ "templatesOnly": false, "paging": paging }),
        "workflows_create" => json!({ "input": { "name": "wf", "definition": { "steps": [
            { "key": "a", "prompt": "do a", "capabilities": ["writing"] },
            { "key": "b", "prompt": "use {{a.output}}", "depends_on": ["a"] } ],
            "on_failure": "fail" } } }),
        "workflows_run" => json!({ "id": GHOST, "input": { "x": 1 } }),
        "workflows_runs" => json!({ "workflowId": GHOST }),
        "workflows_run_status" => json!({ "runId": GHOST }),
        "settings_update" => json!({ "patch": { "max_concurrent_tasks": 4, "paused": false } }),
        "data_export" | "data_import" => json!({ "path": "/export.json" }),
        _ => json!({}),
    }
}

/// Strings that have broken parsers, validators and SQL before.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(String::new()),
        Just("   ".to_string()),
        Just("x".repeat(150_000)),
        Just("é\u{301}🦀\u{202e}RTL\u{0}NUL".to_string()),
        Just("'; DROP TABLE tasks; --".to_string()),
        Just("../../../../etc/passwd".to_string()),
        Just("__CHANNEL__:1".to_string()),
        Just("{\"a\":".to_string()),
        Just("null".to_string()),
        Just("queued".to_string()),
        Just(GHOST.to_string()),
        prop::collection::vec(prop::char::range('a', 'z'), 1..12)
            .prop_map(|v| v.into_iter().collect()),
    ]
}

fn hostile_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e308)),
        Just(json!(-0.5)),
        Just(json!(4294967296u64)),
        any::<f64>().prop_map(|f| json!(f)),
    ]
}

/// Any JSON, with a bias towards values that break things.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        hostile_number(),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((hostile_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Keys the commands and their inputs use, and some they do not.
fn hostile_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "input",
            "filter",
            "paging",
            "perColumn",
            "status",
            "decision",
            "sessionId",
            "request",
            "onEvent",
            "messageId",
            "name",
            "key",
            "model",
            "onProgress",
            "patch",
            "crewId",
            "text",
            "format",
            "options",
            "search",
            "templatesOnly",
            "workflowId",
            "runId",
            "path",
            "limit",
            "offset",
            "title",
            "priority",
            "capabilities",
            "steps",
            "verdict",
            "kind",
            "process",
            "members",
            "autonomy",
            "template",
            "__proto__",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
}

/// One edit of a JSON value at a position chosen by `at`.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    Add(usize, String, Value),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), junk()).prop_map(|(a, v)| Edit::Replace(a, v)),
            any::<usize>().prop_map(Edit::Remove),
            (any::<usize>(), hostile_key(), junk()).prop_map(|(a, k, v)| Edit::Add(a, k, v)),
        ],
        1..4,
    )
}

/// Paths (JSON pointers) of every value inside `v`, `v` itself first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn apply(mut v: Value, edit: &Edit) -> Value {
    let mut ps = Vec::new();
    pointers(&v, String::new(), &mut ps);
    let pick = |i: usize| ps[i % ps.len()].clone();
    match edit {
        Edit::Replace(i, x) => {
            let p = pick(*i);
            if p.is_empty() {
                return x.clone();
            }
            if let Some(slot) = v.pointer_mut(&p) {
                *slot = x.clone();
            }
        }
        Edit::Remove(i) => {
            let p = pick(*i);
            if let Some((parent, last)) = p.rsplit_once('/') {
                match v.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if i < a.len() {
                                a.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Edit::Add(i, k, x) => {
            let p = pick(*i);
            match v.pointer_mut(&p) {
                Some(Value::Object(m)) => {
                    m.insert(k.clone(), x.clone());
                }
                Some(Value::Array(a)) => a.push(x.clone()),
                _ => {}
            }
        }
    }
    v
}

/// The arguments of one call: a mutated template, or random keys with junk.
fn arguments(cmd: &str, crew_file: &str) -> impl Strategy<Value = Value> {
    let t = template(cmd, crew_file);
    prop_oneof![
        3 => edits().prop_map(move |es| es.iter().fold(t.clone(), apply)),
        1 => prop::collection::vec((hostile_key(), junk()), 0..5)
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        1 => junk(),
    ]
}

/// Keeps file paths inside the test folder: an absolute path is re-rooted
/// there (`..` removed), a relative one is left as it is (refused).
fn confine(v: &mut Value, root: &str) {
    if let Some(Value::String(p)) = v.get_mut("path") {
        if p.starts_with('/') {
            *p = format!("{root}/{}", p.replace("..", "").trim_start_matches('/'));
        }
    }
}

/// Debug dumps that must not reach a person.
const DUMPS: &[&str] = &[
    "Os {",
    "{ code:",
    ", kind: ",
    "Error {",
    "Custom {",
    "SqliteFailure",
    "inner:",
];

/// An error a person can read: our payload with a code and a message, or
/// Tauri's refusal of the arguments.
fn check_error(cmd: &str, args: &Value, err: &Value) -> Result<(), TestCaseError> {
    let message = match err {
        Value::Object(o) => {
            let code = o.get("code").and_then(Value::as_str).unwrap_or_default();
            prop_assert!(
                !code.is_empty()
                    && code
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()),
                "{cmd}: bad code in {err}"
            );
            let message = o
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            // Ours: short, whatever the input was (an id or a name the
            // caller sent is not repeated at full length).
            prop_assert!(
                message.chars().count() <= 1000,
                "{cmd}: a {} character message: {}…",
                message.chars().count(),
                message.chars().take(200).collect::<String>()
            );
            message
        }
        Value::String(s) => s.clone(),
        other => {
            return Err(TestCaseError::fail(format!(
                "{cmd} {args}: odd error {other}"
            )))
        }
    };
    prop_assert!(
        !message.trim().is_empty(),
        "{cmd} {args}: empty error message"
    );

    for d in DUMPS {
        prop_assert!(
            !message.contains(d),
            "{cmd}: a Debug dump in the error: {message}"
        );
    }
    Ok(())
}

/// Rows of the records created before the fuzzing, by table.
fn seeded_rows(core: &ensemble_core::Core, ids: &[(&'static str, String)]) -> Vec<String> {
    core.read(|c| {
        let mut out = Vec::new();
        for (table, id) in ids {
            let mut stmt = c.prepare(&format!("SELECT * FROM \"{table}\" WHERE id = ?1"))?;
            let n = stmt.column_count();
            let mut rows = stmt.query([id])?;
            let mut text = format!("{table} {id}: ");
            match rows.next()? {
                Some(r) => {
                    for i in 0..n {
                        let v: rusqlite::types::Value = r.get(i)?;
                        text.push_str(&format!("{v:?}|"));
                    }
                }
                None => text.push_str("MISSING"),
            }
            out.push(text);
        }
        Ok(out)
    })
    .unwrap()
}

#[test]
fn every_command_survives_random_and_mutated_arguments() {
    let dir = tempfile::tempdir().unwrap();
    // Set before anything reads it: the seeded Ollama provider points here.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = nowhere.local_addr().unwrap().port();
    drop(nowhere);
    std::env::set_var("OLLAMA_HOST", format!("127.0.0.1:{port}"));
    std::env::set_var("ENSEMBLE_NO_KEYRING", "1");

    let data = dir.path().join("data");
    let core = Arc::new(ensemble_core::Core::open(&data).unwrap());
    let agent = core
        .agents()
        .create(AgentInput {
            name: Some("Seeded".into()),
            capabilities: Some(vec!["writing".into()]),
            ..Default::default()
        })
        .unwrap();
    let task = core
        .tasks()
        .create(NewTask {
            title: "Seeded task".into(),
            ..Default::default()
        })
        .unwrap();
    let crew = core
        .crews()
        .create(CrewInput {
            name: Some("Seeded crew".into()),
            members: Some(vec![MemberInput {
                agent_id: agent.id.clone(),
                role: Some("writer".into()),
            }]),
            ..Default::default()
        })
        .unwrap();
    let session = core
        .chat()
        .create_session(SessionInput {
            title: Some("Seeded chat".into()),
            ..Default::default()
        })
        .unwrap();
    let seeded: Vec<(&'static str, String)> = vec![
        ("agents", agent.id.clone()),
        ("tasks", task.id.clone()),
        ("crews", crew.id.clone()),
        ("chat_sessions", session.id.clone()),
    ];
    let before = seeded_rows(&core, &seeded);
    let crew_file = core
        .crews()
        .export(&crew.id, ensemble_core::crews::portable::ExportFormat::Json)
        .unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let root = files.display().to_string();

    let app = ipc::app_on(tempfile::tempdir().unwrap(), core.clone());
    let commands = commands();
    let calls = Cell::new(0usize);
    let refused = Cell::new(0usize);
    for cmd in &commands {
        let mut runner = TestRunner::new(Config {
            cases: CASES_PER_COMMAND,
            failure_persistence: None,
            max_shrink_iters: 64,
            ..Config::default()
        });
        runner
            .run(&arguments(cmd, &crew_file), |mut args| {
                confine(&mut args, &root);
                let print = helpers::fingerprint(&core);
                calls.set(calls.get() + 1);
                match ipc::invoke(&app, cmd, args.clone()) {
                    Ok(_) => {}
                    Err(err) => {
                        refused.set(refused.get() + 1);
                        check_error(cmd, &args, &err)?;
                        prop_assert!(
                            helpers::fingerprint(&core) == print,
                            "{cmd} {args}: failed ({err}) but changed the database"
                        );
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    }
    println!(
        "ipc fuzz: {} commands, {} calls, {} refused",
        commands.len(),
        calls.get(),
        refused.get()
    );
    assert_eq!(core.store().integrity_check().unwrap(), "ok");
    assert_eq!(
        seeded_rows(&core, &seeded),
        before,
        "the records from before the fuzzing changed"
    );
}
