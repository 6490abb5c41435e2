//! `ensemble crews …` as a user runs it: templates, a crew created from a
//! template, export to YAML/JSON and import back (equal), a bad file and a
//! run of a crew that cannot run refused with one line on stderr and
//! nothing written.

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
        .env("ENSEMBLE_NO_KEYRING", "1")
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .output()
        .expect("run ensemble")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = ensemble(dir, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = ensemble(dir, args);
    assert!(!out.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "one line on stderr for {args:?}, got: {stderr}"
    );
    lines[0].to_string()
}

fn count(dir: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("ensemble.db")).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn crews_templates_create_export_import_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let list = ok(d, &["crews", "templates"]);
    for key in [
        "research_write_review",
        "draft_and_review",
        "content_team",
        "decision_panel",
        "expert_desk",
    ] {
        assert!(list.contains(key), "{list}");
    }
    let crew: serde_json::Value = serde_json::from_str(&ok(
        d,
        &[
            "crews",
            "create",
            "--template",
            "decision_panel",
            "--name",
            "Board",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(crew["process"], "consensus");
    assert_eq!(crew["members"].as_array().unwrap().len(), 3);
    let id = crew["id"].as_str().unwrap();

    let file = d.join("board.yaml");
    ok(
        d,
        &[
            "crews",
            "export",
            id,
            "--format",
            "yaml",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(
        yaml.starts_with("format: ensemble.crew\nversion: 1\n"),
        "{yaml}"
    );
    let imported: serde_json::Value = serde_json::from_str(&ok(
        d,
        &["crews", "import", file.to_str().unwrap(), "--json"],
    ))
    .unwrap();
    let new_id = imported["id"].as_str().unwrap();
    assert_ne!(new_id, id);
    assert_eq!(
        ok(d, &["crews", "export", new_id]),
        ok(d, &["crews", "export", id]),
        "round trip"
    );
    assert_eq!(count(d, "agents"), 6);

    // A bad file: one line, nothing imported.
    let bad = d.join("bad.json");
    std::fs::write(&bad, r#"{"format": "ensemble.crew", "version": 1, "crew": {"name": "X"}, "agents": [{"key": "a", "name": "A", "temperature": 9}]}"#).unwrap();
    let e = fails(d, &["crews", "import", bad.to_str().unwrap()]);
    assert!(
        e.contains("agents[0] (a).temperature: must be between 0 and 2"),
        "{e}"
    );
    assert_eq!(count(d, "agents"), 6);
    assert_eq!(count(d, "crews"), 2);
    let e = fails(d, &["crews", "create", "--template", "nope"]);
    assert!(e.contains("unknown crew template 'nope'"), "{e}");
    let e = fails(d, &["crews", "export", id, "--format", "xml"]);
    assert!(e.contains("unknown export format 'xml'"), "{e}");

    // A crew that cannot run its process is refused before anything runs.
    let solo = ok(d, &["agents", "add", "Solo", "--json"]);
    let solo: serde_json::Value = serde_json::from_str(&solo).unwrap();
    let c: serde_json::Value = serde_json::from_str(&ok(
        d,
        &[
            "crews",
            "add",
            "Lonely",
            "--process",
            "peer_review",
            "--members",
            solo["id"].as_str().unwrap(),
            "--json",
        ],
    ))
    .unwrap();
    let e = fails(
        d,
        &["crews", "run", c["id"].as_str().unwrap(), "--input", "hi"],
    );
    assert!(e.contains("needs an author and a reviewer"), "{e}");
    assert_eq!(count(d, "crew_runs"), 0);
    assert!(ok(d, &["crews", "runs"]).contains("No crew runs yet"));
}
