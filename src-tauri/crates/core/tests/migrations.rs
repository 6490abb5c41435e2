//! Migration tests: an empty database migrates to the latest schema,
//! re-running is a no-op, the previous version's database upgrades, and a
//! database whose earlier migration was edited (or that is newer) is refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ensemble_core::store::migrations::{
    self, current_version, latest_version, migrate, migrate_with, Migration, MIGRATIONS,
};
use ensemble_core::Store;
use rusqlite::Connection;

const DOMAIN_TABLES: &[&str] = &[
    "agents",
    "agent_skills",
    "crews",
    "crew_members",
    "relationships",
    "crew_runs",
    "tasks",
    "task_dependencies",
    "runs",
    "run_steps",
    "decisions",
    "tool_calls",
    "approvals",
    "messages",
    "team_memory",
    "chat_sessions",
    "chat_messages",
    "workflows",
    "workflow_runs",
    "workflow_run_steps",
    "provider_configs",
    "mcp_servers",
    "sql_sources",
    "settings",
];

fn schema(conn: &Connection) -> String {
    let mut stmt = conn
        .prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY type, name")
        .unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows.join("\n")
}

#[test]
fn empty_database_migrates_to_latest() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db")).unwrap();
    assert_eq!(current_version(&conn).unwrap(), 0);
    let applied = migrate(&mut conn).unwrap();
    assert_eq!(applied, MIGRATIONS.len());
    assert_eq!(current_version(&conn).unwrap(), latest_version());
    let s = schema(&conn);
    for t in DOMAIN_TABLES {
        assert!(s.contains(&format!("table {t}:")), "missing table {t}");
    }
    // Every table has created_at/updated_at (SPEC §2).
    for t in DOMAIN_TABLES {
        let cols: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(
            cols.contains(&"created_at".to_string()) && cols.contains(&"updated_at".to_string()),
            "{t}: {cols:?}"
        );
    }
}

#[test]
fn rerunning_migrations_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db")).unwrap();
    migrate(&mut conn).unwrap();
    let before = schema(&conn);
    let rows_before: i64 = conn
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(migrate(&mut conn).unwrap(), 0);
    assert_eq!(schema(&conn), before);
    let rows_after: i64 = conn
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows_before, rows_after);
    // Opening the store again (as every CLI call does) applies nothing either.
    drop(conn);
    Store::open(&dir.path().join("db")).unwrap();
    let conn = Connection::open(dir.path().join("db")).unwrap();
    assert_eq!(schema(&conn), before);
}

#[test]
fn previous_version_database_upgrades_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db")).unwrap();
    migrate(&mut conn).unwrap();
    conn.execute(
        "INSERT INTO settings (key, value, created_at, updated_at) VALUES ('app', '{}', 'x', 'x')",
        [],
    )
    .unwrap();
    let next = Migration {
        version: latest_version() + 1,
        name: "test_next",
        sql: "ALTER TABLE settings ADD COLUMN note TEXT NOT NULL DEFAULT 'kept';",
    };
    let mut all: Vec<Migration> = MIGRATIONS.to_vec();
    all.push(next);
    assert_eq!(migrate_with(&mut conn, &all).unwrap(), 1);
    let note: String = conn
        .query_row("SELECT note FROM settings WHERE key = 'app'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(note, "kept");
    assert_eq!(current_version(&conn).unwrap(), latest_version() + 1);
}

#[test]
fn changed_earlier_migration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db")).unwrap();
    migrate(&mut conn).unwrap();
    let before = schema(&conn);
    let mut edited: Vec<Migration> = MIGRATIONS.to_vec();
    edited[0].sql = "CREATE TABLE sneaky (id TEXT);";
    let err = migrate_with(&mut conn, &edited).unwrap_err();
    assert_eq!(err.code(), "MIGRATION");
    let msg = err.to_string();
    assert!(
        msg.contains("migration 1 (init) was changed after it was applied"),
        "{msg}"
    );
    assert_eq!(schema(&conn), before, "nothing was applied");
}

#[test]
fn database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db")).unwrap();
    let mut future: Vec<Migration> = MIGRATIONS.to_vec();
    future.push(Migration {
        version: 999,
        name: "future",
        sql: "SELECT 1;",
    });
    migrate_with(&mut conn, &future).unwrap();
    let err = migrations::migrate(&mut conn).unwrap_err();
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

#[test]
fn a_failing_migration_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("db")).unwrap();
    let broken = [
        Migration {
            version: 1,
            name: "ok",
            sql: "CREATE TABLE a (id TEXT);",
        },
        Migration {
            version: 2,
            name: "broken",
            sql: "CREATE TABLE b (id TEXT); THIS IS NOT SQL;",
        },
    ];
    let err = migrate_with(&mut conn, &broken).unwrap_err();
    assert!(
        err.to_string().contains("migration 2 (broken) failed"),
        "{err}"
    );
    assert_eq!(current_version(&conn).unwrap(), 0);
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('a', 'b')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "the whole batch rolled back");
}

#[test]
fn store_uses_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let (mode, fk): (String, i64) = store
        .read(|c| {
            Ok((
                c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
                c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
            ))
        })
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(fk, 1);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}
