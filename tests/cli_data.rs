//! `ensemble data export|import|reset-demo`, run as a user would: the real
//! binary on temporary data folders. An export imports into another folder
//! with the same records; a relative path is relative to the working
//! folder; a bad file exits 1 with a one-line reason and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn ensemble_in(cwd: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .current_dir(cwd)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("ENSEMBLE_NO_KEYRING", "1")
        .output()
        .expect("run ensemble")
}

fn ok_json(cwd: &Path, dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    let out = ensemble_in(cwd, dir, &all);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn db_rows(dir: &Path, sql: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(dir.join("ensemble.db")).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Demo data made with the CLI exports (relative path) and imports into an
/// empty folder: the same agents, tasks and statuses arrive.
#[test]
fn export_and_import_through_the_command_line() {
    let work = tempfile::tempdir().unwrap();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let demo = ok_json(work.path(), a.path(), &["data", "reset-demo"]);
    assert_eq!(demo["created"]["tasks"], 5);
    let exported = ok_json(work.path(), a.path(), &["data", "export", "backup.json"]);
    let file = work.path().join("backup.json");
    assert!(file.is_file(), "written relative to the working folder");
    assert_eq!(exported["path"], file.display().to_string());
    assert_eq!(exported["tables"]["tasks"], 5);

    let imported = ok_json(work.path(), b.path(), &["data", "import", "backup.json"]);
    assert_eq!(imported["tables"]["tasks"]["added"], 5);
    assert_eq!(imported["tables"]["agents"]["added"], 4);
    let q = "SELECT id || ':' || status FROM tasks ORDER BY id";
    assert_eq!(db_rows(a.path(), q), db_rows(b.path(), q));
    let q = "SELECT id || ':' || name FROM agents ORDER BY id";
    assert_eq!(db_rows(a.path(), q), db_rows(b.path(), q));
    let q = "SELECT status || ':' || n || ':' || top_level FROM task_counts WHERE n > 0 ORDER BY status";
    assert_eq!(db_rows(a.path(), q), db_rows(b.path(), q));

    let text = ensemble_in(work.path(), b.path(), &["data", "import", "backup.json"]);
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("0 records added"), "{stdout}");
}

/// A file of another version, a missing file, and no path at all: non-zero
/// exit, one line on stderr, nothing on stdout, the database unchanged.
#[test]
fn bad_files_fail_with_one_line_and_change_nothing() {
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    ok_json(work.path(), dir.path(), &["data", "reset-demo"]);
    let q = "SELECT id || ':' || updated_at FROM tasks ORDER BY id";
    let before = db_rows(dir.path(), q);
    std::fs::write(
        work.path().join("future.json"),
        r#"{"format": "ensemble.data", "version": 2, "tables": {}}"#,
    )
    .unwrap();
    for (args, code, needle) in [
        (
            vec!["data", "import", "future.json"],
            1,
            "unsupported data file version 2",
        ),
        (vec!["data", "import", "missing.json"], 1, "cannot read"),
        (vec!["data", "import"], 2, "required arguments"),
    ] {
        let out = ensemble_in(work.path(), dir.path(), &args);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].starts_with("error: "), "{err}");
        assert!(lines[0].contains(needle), "{args:?}: {err}");
    }
    assert_eq!(db_rows(dir.path(), q), before);
}
