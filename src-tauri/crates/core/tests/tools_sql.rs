//! `sql_query` on a registered SQLite file: every writing or dangerous kind
//! of statement is refused and leaves the file byte-for-byte unchanged;
//! SELECT works with parameters; row, byte and time limits apply; unknown
//! databases and several statements are refused with clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::settings::{SettingsPatch, SqlDatabase};
use ensemble_core::tools::sql::SqlQuery;
use ensemble_core::tools::{Tool, ToolCategory, ToolContext, ToolError, ToolOutput};
use ensemble_core::Core;
use rusqlite::Connection;
use serde_json::{json, Value};

struct Env {
    ctx: ToolContext,
    db: PathBuf,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

/// A core with two registered databases: `crm` (500 people, each with a
/// 1 KB bio) and `other` (empty file with one table).
fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let db = data_dir.join("crm.sqlite");
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER, bio TEXT);
         CREATE INDEX people_age ON people(age);
         CREATE VIEW adults AS SELECT id, name FROM people WHERE age >= 18;",
    )
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for i in 1..=500 {
        let name = format!("{}{i}", ["Ada", "Bob", "Cy"][i % 3]);
        tx.execute(
            "INSERT INTO people (id, name, age, bio) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![i as i64, name, (i % 80) as i64, "b".repeat(1024)],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    let other = data_dir.join("other.sqlite");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x INTEGER)")
        .unwrap();

    let core = Arc::new(Core::open(&dir.path().join("core")).unwrap());
    core.update_settings(SettingsPatch {
        sql_databases: Some(vec![
            SqlDatabase {
                name: "crm".into(),
                path: db.to_string_lossy().into_owned(),
            },
            SqlDatabase {
                name: "other".into(),
                path: other.to_string_lossy().into_owned(),
            },
        ]),
        ..Default::default()
    })
    .unwrap();
    Env {
        ctx: ToolContext::human(core),
        db,
        data_dir,
        _dir: dir,
    }
}

async fn query(env: &Env, sql: &str) -> Result<ToolOutput, ToolError> {
    SqlQuery::new()
        .run(json!({ "database": "crm", "query": sql }), &env.ctx)
        .await
}

/// The file's bytes, the names of the files beside it, and what a fresh
/// connection sees: equal snapshots mean nothing changed.
fn snapshot(env: &Env) -> (Vec<u8>, Vec<String>, String) {
    let bytes = std::fs::read(&env.db).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&env.data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let conn = Connection::open(&env.db).unwrap();
    let summary: String = conn
        .query_row(
            "SELECT (SELECT count(*) FROM people) || ':' || (SELECT sum(age) FROM people) || ':' ||
                    (SELECT group_concat(type || ' ' || name || ' ' || coalesce(sql, ''), ';') FROM sqlite_master) || ':' ||
                    (SELECT user_version FROM pragma_user_version)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (bytes, files, summary)
}

fn rows(out: &ToolOutput) -> Vec<Value> {
    out.data.as_ref().unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn every_writing_or_dangerous_statement_is_refused_and_the_file_is_unchanged() {
    let env = env();
    let before = snapshot(&env);
    let copy = env.data_dir.join("copy.sqlite");
    let attached = env.data_dir.join("attached.sqlite");
    let statements = [
        "DROP TABLE people".to_string(),
        "drop view adults".into(),
        "DROP INDEX people_age".into(),
        "DELETE FROM people".into(),
        "DELETE FROM people WHERE id = 1".into(),
        "UPDATE people SET age = 0".into(),
        "UPDATE people SET age = 0 WHERE id = 1".into(),
        "INSERT INTO people (name) VALUES ('Mallory')".into(),
        "INSERT OR REPLACE INTO people (id, name) VALUES (1, 'Mallory')".into(),
        "REPLACE INTO people (id, name) VALUES (1, 'Mallory')".into(),
        "CREATE TABLE evil (x)".into(),
        "CREATE TEMP TABLE evil (x)".into(),
        "CREATE TRIGGER t AFTER INSERT ON people BEGIN DELETE FROM people; END".into(),
        "ALTER TABLE people ADD COLUMN evil TEXT".into(),
        "ALTER TABLE people RENAME TO folks".into(),
        format!("ATTACH DATABASE '{}' AS a", attached.display()),
        "ATTACH ':memory:' AS m".into(),
        "DETACH DATABASE main".into(),
        "PRAGMA user_version = 7".into(),
        "PRAGMA user_version(7)".into(),
        "PRAGMA journal_mode = WAL".into(),
        "PRAGMA query_only = OFF".into(),
        "PRAGMA writable_schema = ON".into(),
        "PRAGMA main.user_version = 7".into(),
        "VACUUM".into(),
        format!("VACUUM INTO '{}'", copy.display()),
        "REINDEX".into(),
        "ANALYZE".into(),
        "SELECT load_extension('/tmp/evil.so')".into(),
        "BEGIN IMMEDIATE".into(),
        "SAVEPOINT s".into(),
        "WITH doomed AS (SELECT id FROM people) DELETE FROM people WHERE id IN doomed".into(),
        "/* harmless */ DROP TABLE people".into(),
        "-- comment\nDELETE FROM people".into(),
        "SELECT 1; DROP TABLE people".into(),
        "SELECT 1; SELECT 2".into(),
        "EXPLAIN DELETE FROM people".into(),
        "TRUNCATE people".into(),
    ];
    for sql in &statements {
        match query(&env, sql).await {
            Err(ToolError::Refused(m)) => {
                assert!(m.starts_with("refused:"), "{sql}: {m}");
            }
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(snapshot(&env), before, "the registered database changed");
    assert!(!copy.exists(), "VACUUM INTO wrote a copy");
    assert!(!attached.exists(), "ATTACH created a file");
}

#[tokio::test]
async fn refusals_name_what_was_refused() {
    let env = env();
    for (sql, word) in [
        ("DROP TABLE people", "DROP"),
        ("delete from people", "DELETE"),
        ("VACUUM INTO '/tmp/x.sqlite'", "VACUUM"),
        ("ATTACH 'x' AS y", "ATTACH"),
        ("PRAGMA journal_mode = WAL", "PRAGMA journal_mode"),
        ("SELECT load_extension('x')", "load_extension"),
        ("SELECT 1; SELECT 2", "only one statement"),
    ] {
        let Err(ToolError::Refused(m)) = query(&env, sql).await else {
            panic!("{sql} was not refused");
        };
        assert!(m.contains(word), "{sql}: {m}");
    }
}

#[tokio::test]
async fn select_works_with_parameters() {
    let env = env();
    let before = snapshot(&env);
    let out = SqlQuery::new()
        .run(
            json!({
                "database": "crm",
                "query": "SELECT id, name, age FROM people WHERE age > ?1 AND name LIKE ?2 ORDER BY id LIMIT 3;",
                "params": [70, "Ada%"],
            }),
            &env.ctx,
        )
        .await
        .unwrap();
    let data = out.data.as_ref().unwrap();
    assert_eq!(data["columns"], json!(["id", "name", "age"]));
    assert_eq!(
        data["rows"],
        json!([[72, "Ada72", 72], [75, "Ada75", 75], [78, "Ada78", 78]])
    );
    assert_eq!(data["truncated"], false);
    assert_eq!(
        out.content,
        "| id | name | age |\n|---|---|---|\n| 72 | Ada72 | 72 |\n| 75 | Ada75 | 75 |\n| 78 | Ada78 | 78 |\n(3 rows)"
    );

    // Strings, reals, NULL and booleans bind; text that looks like SQL is just text.
    let out = SqlQuery::new()
        .run(
            json!({
                "database": "crm",
                "query": "SELECT ?1, ?2, ?3, ?4, replace('a|b', '|', '-') AS r, 'DROP TABLE people' AS s",
                "params": ["x'; DROP TABLE people; --", 1.5, null, true],
            }),
            &env.ctx,
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&out),
        vec![json!([
            "x'; DROP TABLE people; --",
            1.5,
            null,
            1,
            "a-b",
            "DROP TABLE people"
        ])]
    );

    // Views, schema PRAGMAs and a trailing semicolon are fine.
    let out = query(&env, "SELECT count(*) FROM adults;  \n")
        .await
        .unwrap();
    assert_eq!(rows(&out), vec![json!([375])]);
    let out = query(&env, "PRAGMA table_info(people)").await.unwrap();
    let names: Vec<Value> = rows(&out).iter().map(|r| r[1].clone()).collect();
    assert_eq!(
        names,
        vec![json!("id"), json!("name"), json!("age"), json!("bio")]
    );
    assert_eq!(snapshot(&env), before);
}

#[tokio::test]
async fn parameter_mistakes_are_invalid_arguments() {
    let env = env();
    for args in [
        json!({ "database": "crm", "query": "SELECT ?1, ?2", "params": [1] }),
        json!({ "database": "crm", "query": "SELECT 1", "params": [1] }),
        json!({ "database": "crm", "query": "SELECT ?1", "params": [[1, 2]] }),
        json!({ "database": "crm", "query": "   " }),
    ] {
        let e = SqlQuery::new()
            .run(args.clone(), &env.ctx)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENTS", "{args}: {e}");
    }
}

#[tokio::test]
async fn at_most_200_rows_are_returned() {
    let env = env();
    let out = query(&env, "SELECT id, name FROM people ORDER BY id")
        .await
        .unwrap();
    let r = rows(&out);
    assert_eq!(r.len(), 200);
    assert_eq!(r[199], json!([200, "Cy200"]));
    let data = out.data.as_ref().unwrap();
    assert_eq!(data["truncated"], true);
    assert_eq!(data["row_count"], 200);
    assert!(
        out.content
            .ends_with("(200 rows shown; truncated at 200 rows, more rows exist)"),
        "{}",
        &out.content[out.content.len() - 100..]
    );
    // Exactly 200 rows is not a truncation.
    let out = query(&env, "SELECT id FROM people WHERE id <= 200")
        .await
        .unwrap();
    assert_eq!(out.data.as_ref().unwrap()["truncated"], false);
}

#[tokio::test]
async fn output_is_capped_at_50_kb() {
    let env = env();
    let out = query(&env, "SELECT id, bio FROM people ORDER BY id")
        .await
        .unwrap();
    let r = rows(&out);
    assert!(r.len() > 10 && r.len() < 60, "{} rows", r.len());
    let table_end = out.content.rfind('\n').unwrap();
    assert!(table_end <= 50 * 1024, "table is {table_end} bytes");
    assert!(
        out.content
            .ends_with("output truncated at 50 KB, more rows may exist)"),
        "{}",
        &out.content[table_end..]
    );
    assert_eq!(out.content.lines().count(), r.len() + 3);
    assert_eq!(out.data.as_ref().unwrap()["truncated"], true);

    // One huge value is cut to a readable length.
    let out = query(
        &env,
        "SELECT 'x' || hex(zeroblob(5000)) AS big, zeroblob(9) AS b",
    )
    .await
    .unwrap();
    let big = rows(&out)[0][0].as_str().unwrap().to_string();
    assert!(
        big.ends_with("… (10001 characters)"),
        "{}",
        &big[big.len() - 40..]
    );
    assert_eq!(rows(&out)[0][1], json!("<blob, 9 bytes>"));
}

#[tokio::test]
async fn a_long_query_is_stopped_at_the_time_limit() {
    let env = env();
    let before = snapshot(&env);
    let tool = SqlQuery::new().with_time_limit(Duration::from_millis(300));
    let started = Instant::now();
    let e = tool
        .run(
            json!({
                "database": "crm",
                "query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            }),
            &env.ctx,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ToolError::Failed(m) if m.contains("stopped after 0.3 s")),
        "{e:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(snapshot(&env), before);
}

#[tokio::test]
async fn unknown_databases_are_named_with_the_registered_ones() {
    let env = env();
    let e = SqlQuery::new()
        .run(
            json!({ "database": "sales", "query": "SELECT 1" }),
            &env.ctx,
        )
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ToolError::InvalidArguments {
            tool: "sql_query".into(),
            detail: "unknown database 'sales'; registered databases: crm, other".into(),
        }
    );

    let out = SqlQuery::new()
        .run(
            json!({ "database": "other", "query": "SELECT count(*) AS n FROM t" }),
            &env.ctx,
        )
        .await
        .unwrap();
    assert_eq!(out.content, "| n |\n|---|\n| 0 |\n(1 row)");
}

#[tokio::test]
async fn a_missing_file_is_not_created() {
    let env = env();
    let gone: &Path = &env.data_dir.join("gone.sqlite");
    env.ctx
        .core
        .update_settings(SettingsPatch {
            sql_databases: Some(vec![SqlDatabase {
                name: "gone".into(),
                path: gone.to_string_lossy().into_owned(),
            }]),
            ..Default::default()
        })
        .unwrap();
    let e = SqlQuery::new()
        .run(json!({ "database": "gone", "query": "SELECT 1" }), &env.ctx)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ToolError::Failed(m) if m.starts_with("cannot open database 'gone'")),
        "{e:?}"
    );
    assert!(!gone.exists());
}

#[test]
fn the_definition_asks_for_approval_and_is_idempotent() {
    let def = SqlQuery::new().def();
    assert_eq!(def.name, "sql_query");
    assert_eq!(def.category, ToolCategory::Data);
    assert!(def.requires_approval);
    assert!(def.idempotent);
    assert_eq!(def.parameters["required"], json!(["database", "query"]));
    assert_eq!(ensemble_core::tools::sql::all().len(), 1);
}
