//! The command line, run as a user would: the real binary, headless, on a
//! temporary data folder. Bad input exits non-zero with a one-line reason on
//! stderr and leaves the data untouched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn ensemble(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run ensemble")
}

fn ok_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let out = ensemble(dir, &all);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// Runs a command that must fail; returns (exit code, the single stderr line).
fn fails(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = ensemble(dir, args);
    assert!(!out.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "one line on stderr for {args:?}, got: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout for {args:?}");
    (out.status.code().unwrap_or(-1), lines[0].to_string())
}

/// The rows of every table that the CLI can write.
fn snapshot(dir: &Path) -> String {
    let conn = rusqlite::Connection::open(dir.join("ensemble.db")).unwrap();
    let mut out = String::new();
    for t in [
        "agents",
        "agent_skills",
        "tasks",
        "task_dependencies",
        "crews",
        "crew_members",
        "relationships",
        "approvals",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY rowid"))
            .unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i).unwrap();
                out.push_str(&format!("{v:?}|"));
            }
            out.push('\n');
        }
    }
    out
}

#[test]
fn version_and_help_work_without_a_display() {
    let dir = tempfile::tempdir().unwrap();
    let out = ensemble(dir.path(), &["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ensemble {}", env!("CARGO_PKG_VERSION"))
    );
    let out = ensemble(dir.path(), &["agents", "--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("add"));
}

#[test]
fn agents_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = ok_json(
        d,
        &[
            "agents",
            "add",
            "Ada",
            "--role",
            "analyst",
            "--capabilities",
            "sql_query,data_analysis",
            "--autonomy",
            "autopilot",
        ],
    );
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(
        a["capabilities"],
        serde_json::json!(["sql_query", "data_analysis"])
    );
    assert_eq!(a["autonomy"], "autopilot");
    let t = ok_json(
        d,
        &[
            "agents",
            "add",
            "Rita",
            "--template",
            "researcher",
            "--provider",
            "embedded",
        ],
    );
    assert_eq!(t["template"], "researcher");
    assert_eq!(t["provider"], "embedded");
    let list = ok_json(d, &["agents", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada", "Rita"]);
    assert_eq!(ok_json(d, &["agents", "show", &id])["role"], "analyst");
    let text = ensemble(d, &["agents", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.lines().next().unwrap().starts_with("ID"), "{text}");
    assert!(text.contains("Ada") && text.contains("Rita"));
    ok_json(d, &["agents", "rm", &id]);
    assert_eq!(ok_json(d, &["agents", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn tasks_and_crews_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = ok_json(d, &["agents", "add", "Ada"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = ok_json(d, &["agents", "add", "Bob"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = ok_json(
        d,
        &[
            "tasks",
            "add",
            "Gather data",
            "--priority",
            "critical",
            "--agent",
            &a,
        ],
    );
    assert_eq!(first["priority"], 10);
    let fid = first["id"].as_str().unwrap();
    let second = ok_json(
        d,
        &[
            "tasks",
            "add",
            "Write report",
            "--objective",
            "two pages",
            "--priority",
            "4",
            "--capabilities",
            "writing",
            "--depends-on",
            fid,
        ],
    );
    assert_eq!(second["depends_on"], serde_json::json!([fid]));
    let queued = ok_json(d, &["tasks", "list", "--status", "queued"]);
    assert_eq!(queued.as_array().unwrap().len(), 2);
    let cancelled = ok_json(d, &["tasks", "cancel", second["id"].as_str().unwrap()]);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        ok_json(d, &["tasks", "list", "--status", "cancelled"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let crew = ok_json(
        d,
        &[
            "crews",
            "add",
            "Research team",
            "--process",
            "hierarchical",
            "--members",
            &format!("{a},{b}"),
            "--manager",
            &a,
        ],
    );
    assert_eq!(crew["members"].as_array().unwrap().len(), 2);
    let crew_id = crew["id"].as_str().unwrap();
    let rel = ok_json(
        d,
        &["crews", "relate", crew_id, &a, &b, "--type", "supervises"],
    );
    assert_eq!(rel["kind"], "supervises");
    assert_eq!(ok_json(d, &["crews", "list"]).as_array().unwrap().len(), 1);
    assert_eq!(
        ok_json(d, &["approvals", "list"]).as_array().unwrap().len(),
        0
    );
}

#[test]
fn every_validation_rule_fails_cleanly_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = ok_json(d, &["agents", "add", "Ada"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t1 = ok_json(d, &["tasks", "add", "one"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t2 = ok_json(d, &["tasks", "add", "two", "--depends-on", &t1])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let crew = ok_json(d, &["crews", "add", "c", "--members", &a])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = ok_json(d, &["tasks", "add", "done soon"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(d, &["tasks", "cancel", &done]);
    let before = snapshot(d);
    let huge = "x".repeat(100_001);

    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["agents", "add", ""],
            1,
            "error: name: must not be empty",
        ),
        (
            vec!["agents", "add", "   "],
            1,
            "error: name: must not be empty",
        ),
        (
            vec!["crews", "add", ""],
            1,
            "error: name: must not be empty",
        ),
        (
            vec!["tasks", "add", " "],
            1,
            "error: title: must not be empty",
        ),
        (
            vec!["tasks", "add", "x", "--priority", "0"],
            1,
            "error: priority: must be between 1 and 10 (10 is highest), got 0",
        ),
        (
            vec!["tasks", "add", "x", "--priority", "11"],
            1,
            "error: priority: must be between 1 and 10 (10 is highest), got 11",
        ),
        (
            vec!["tasks", "add", "x", "--priority", "urgent"],
            1,
            "error: priority: 'urgent' is not a number from 1 to 10",
        ),
        (
            vec!["tasks", "add", "x", "--agent", "ghost"],
            1,
            "error: agent ghost does not exist",
        ),
        (
            vec!["tasks", "add", "x", "--depends-on", "ghost"],
            1,
            "error: task ghost does not exist",
        ),
        (
            vec!["agents", "show", "ghost"],
            1,
            "error: agent ghost does not exist",
        ),
        (
            vec!["agents", "rm", "ghost"],
            1,
            "error: agent ghost does not exist",
        ),
        (
            vec!["tasks", "cancel", &done],
            1,
            "error: a task cannot move from cancelled to cancelled",
        ),
        (
            vec!["crews", "relate", &crew, &a, &a, "--type", "supervises"],
            1,
            "error: to_agent_id: an agent cannot be related to itself",
        ),
        (
            vec!["tasks", "depend", &t1, "--on", &t2],
            1,
            "error: that would create a cycle: 'one' → 'two' → 'one'",
        ),
        (
            vec!["tasks", "add", "x", "--objective", &huge],
            1,
            "error: objective is too long: 100001 characters, the limit is 100000",
        ),
        (
            vec!["agents", "add", "x", "--autonomy", "yolo"],
            1,
            "error: autonomy: unknown autonomy 'yolo'; expected one of: manual, copilot, autopilot",
        ),
        (
            vec!["tasks", "list", "--status", "done"],
            1,
            "error: task status: unknown task status 'done'",
        ),
        (
            vec!["crews", "add", "x", "--process", "anarchy"],
            1,
            "error: process: unknown process 'anarchy'",
        ),
        (
            vec!["agents", "frobnicate"],
            2,
            "error: unrecognized subcommand 'frobnicate'",
        ),
        (
            vec!["tasks", "add"],
            2,
            "error: the following required arguments were not provided",
        ),
        (
            vec!["tasks", "add", "x", "--priority"],
            2,
            "error: a value is required for '--priority",
        ),
    ];
    for (args, code, start) in cases {
        let (got_code, line) = fails(d, &args);
        assert_eq!(got_code, code, "{args:?}: {line}");
        assert!(
            line.starts_with(start),
            "{args:?}: expected '{start}…', got '{line}'"
        );
    }
    assert_eq!(snapshot(d), before, "failed commands changed the data");
}

#[test]
fn env_var_chooses_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .args(["agents", "add", "Envy", "--json"])
        .env("ENSEMBLE_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("ensemble.db").exists());
    let list = ok_json(dir.path(), &["agents", "list"]);
    assert_eq!(list[0]["name"], "Envy");
}

#[test]
fn an_unusable_data_folder_is_reported_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (code, line) = fails(&file, &["agents", "list"]);
    assert_eq!(code, 1);
    assert!(
        line.starts_with("error: cannot open the data folder"),
        "{line}"
    );
}
