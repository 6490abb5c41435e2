//! Import of a data file: each table's rows checked against the schema and
//! upserted, the app's settings checked like an edit, work in progress put
//! back in the queue, the board's totals recomputed, and every record read
//! back before the commit (see the parent module for the rules).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use serde_json::Value;

use super::{
    recount_task_board, DataDocument, ImportSummary, Key, Row, TableImport, TableSpec, TABLES,
};
use crate::error::{CoreError, Result};
use crate::events::ChangeOp;
use crate::settings::{self, Settings, SettingsPatch};
use crate::store::row::query_all;
use crate::store::Tx;
use crate::time;

/// A column as `PRAGMA table_info` describes it.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    decl: String,
    not_null: bool,
    has_default: bool,
    pk: bool,
    /// Holds JSON text (its default is `'{}'`, `'[]'` or `'null'`, or it is
    /// one of [`JSON_WITHOUT_DEFAULT`]).
    json: bool,
    /// Holds a timestamp.
    time: bool,
}

/// JSON columns whose default does not say so.
const JSON_WITHOUT_DEFAULT: &[(&str, &str)] = &[
    ("workflows", "definition"),
    ("tool_calls", "arguments"),
    ("settings", "value"),
];

fn is_time_column(name: &str) -> bool {
    name.ends_with("_at") || matches!(name, "deadline" | "response_deadline" | "last_heartbeat")
}

fn columns(conn: &Connection, table: &str) -> Result<Vec<Column>> {
    query_all(conn, &format!("PRAGMA table_info({table})"), [], |r| {
        let name: String = r.get(1)?;
        let default: Option<String> = r.get(4)?;
        let json = matches!(default.as_deref(), Some("'{}'" | "'[]'" | "'null'"))
            || JSON_WITHOUT_DEFAULT.contains(&(table, name.as_str()));
        Ok(Column {
            time: is_time_column(&name),
            json,
            decl: r.get::<_, String>(2)?.to_uppercase(),
            not_null: r.get::<_, i64>(3)? != 0,
            has_default: default.is_some(),
            pk: r.get::<_, i64>(5)? > 0,
            name,
        })
    })
}

/// Where a bad value is, for error messages: `tasks[3].priority`.
fn at(table: &str, index: usize, col: &str) -> String {
    format!("tables.{table}[{index}].{col}")
}

/// Checks a JSON value against the column's declared type and turns it into
/// the value SQLite stores.
fn to_sql(table: &str, index: usize, col: &Column, v: &Value) -> Result<SqlValue> {
    let wrong = |what: &str| {
        CoreError::validation(
            at(table, index, &col.name),
            format!("expected {what}, got {}", short(v)),
        )
    };
    if v.is_null() {
        if col.not_null {
            return Err(CoreError::validation(
                at(table, index, &col.name),
                "must not be null",
            ));
        }
        return Ok(SqlValue::Null);
    }
    match col.decl.as_str() {
        "INTEGER" => v
            .as_i64()
            .map(SqlValue::Integer)
            .ok_or_else(|| wrong("an integer")),
        "REAL" => v
            .as_f64()
            .map(SqlValue::Real)
            .ok_or_else(|| wrong("a number")),
        _ => {
            let s = v.as_str().ok_or_else(|| wrong("text"))?;
            if col.json {
                serde_json::from_str::<Value>(s).map_err(|e| {
                    CoreError::validation(
                        at(table, index, &col.name),
                        format!("expected JSON text, got {} ({e})", short(v)),
                    )
                })?;
            }
            if col.time && time::parse(s).is_none() {
                return Err(CoreError::validation(
                    at(table, index, &col.name),
                    format!(
                        "expected a timestamp such as 2026-01-02T03:04:05.678Z, got {}",
                        short(v)
                    ),
                ));
            }
            Ok(SqlValue::Text(s.to_string()))
        }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

fn constraint_error(table: &str, index: usize, key: &str, e: rusqlite::Error) -> CoreError {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
        _ => None,
    };
    match code {
        Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) => {
            CoreError::Conflict(format!(
                "tables.{table}[{index}] ({key}) clashes with a different record already here ({e}); nothing was imported"
            ))
        }
        Some(c) if c & 0xff == rusqlite::ffi::SQLITE_CONSTRAINT => CoreError::validation(
            format!("tables.{table}[{index}]"),
            format!("({key}) breaks a rule of the table: {e}"),
        ),
        _ => CoreError::Database(e),
    }
}

/// Writes one table's rows; returns what it did.
fn import_table(
    tx: &Tx<'_>,
    spec: &TableSpec,
    rows: &[Row],
    to_check: &mut BTreeSet<(&'static str, String)>,
) -> Result<TableImport> {
    let cols = columns(tx, spec.name)?;
    let key_cols: Vec<&Column> = match spec.key {
        Key::Primary => cols.iter().filter(|c| c.pk).collect(),
        Key::Name => cols.iter().filter(|c| c.name == "name").collect(),
    };
    if key_cols.is_empty() {
        return Err(CoreError::Internal(format!(
            "table {} has no key to import by",
            spec.name
        )));
    }
    let mut done = TableImport::default();
    for (index, row) in rows.iter().enumerate() {
        if let Some(unknown) = row.keys().find(|k| !cols.iter().any(|c| &c.name == *k)) {
            return Err(CoreError::validation(
                at(spec.name, index, unknown),
                format!(
                    "unknown column '{unknown}' of {} (is the file from a newer Ensemble?)",
                    spec.name
                ),
            ));
        }
        let mut names = Vec::new();
        let mut values = Vec::new();
        for col in &cols {
            match row.get(&col.name) {
                Some(v) => {
                    names.push(col.name.as_str());
                    values.push(to_sql(spec.name, index, col, v)?);
                }
                None if col.pk || key_cols.iter().any(|k| k.name == col.name) => {
                    return Err(CoreError::validation(
                        at(spec.name, index, &col.name),
                        "is missing (it identifies the record)",
                    ))
                }
                None if col.not_null && !col.has_default => {
                    return Err(CoreError::validation(
                        at(spec.name, index, &col.name),
                        "is missing",
                    ))
                }
                // Older files: the column's default, as the migration that
                // added it gave existing rows.
                None => {}
            }
        }
        let key_text = key_cols
            .iter()
            .map(|k| match row.get(&k.name) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let key_where = key_cols
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{} = ?{}", k.name, i + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        let key_values: Vec<SqlValue> = key_cols
            .iter()
            .map(|k| {
                let i = names.iter().position(|n| *n == k.name).unwrap_or(0);
                values.get(i).cloned().unwrap_or(SqlValue::Null)
            })
            .collect();
        let exists: bool = tx.query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE {key_where})",
                spec.name
            ),
            rusqlite::params_from_iter(key_values.iter()),
            |r| r.get(0),
        )?;
        let updates: Vec<String> = names
            .iter()
            .filter(|n| !key_cols.iter().any(|k| k.name == **n))
            // A config matched by name keeps the id it has here.
            .filter(|n| !(spec.key == Key::Name && **n == "id"))
            .map(|n| format!("{n} = excluded.{n}"))
            .collect();
        let on_conflict = if updates.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        let sql = format!(
            "INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({keys}) {on_conflict}",
            table = spec.name,
            cols = names.join(", "),
            marks = (1..=names.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", "),
            keys = key_cols
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        tx.execute(&sql, rusqlite::params_from_iter(values.iter()))
            .map_err(|e| constraint_error(spec.name, index, &key_text, e))?;
        if exists {
            done.updated += 1;
        } else {
            done.added += 1;
        }
        if let Some(target) = check_target(spec.name, row) {
            to_check.insert(target);
        }
    }
    Ok(done)
}

/// The record a row is read back through: itself where a loader reads its
/// table, else its parent (whose loader reads it with the parent).
fn check_target(table: &'static str, row: &Row) -> Option<(&'static str, String)> {
    let (loader, col) = match table {
        "provider_configs" => ("provider_configs", "name"),
        "agent_skills" => ("agents", "agent_id"),
        "crew_members" | "relationships" => ("crews", "crew_id"),
        "task_dependencies" => ("tasks", "task_id"),
        "workflow_run_steps" => ("workflow_runs", "run_id"),
        "run_steps" | "decisions" | "tool_calls" => ("runs", "run_id"),
        "agents" | "crews" | "crew_runs" | "workflows" | "workflow_runs" | "tasks" | "runs"
        | "approvals" | "messages" | "chat_sessions" | "chat_messages" => (table, "id"),
        _ => return None,
    };
    row.get(col)
        .and_then(Value::as_str)
        .map(|id| (loader, id.to_string()))
}

/// Reads every imported record back through its domain loader, so a file
/// that SQLite accepts but the app could not read (a bad status, broken
/// JSON in a JSON column) is refused before the commit.
fn check_readable(tx: &Tx<'_>, table: &str, key: &str) -> Result<()> {
    let c: &Connection = tx;
    match table {
        "provider_configs" => crate::providers::load_provider(c, key).map(drop),
        "agents" => crate::agents::load_agent(c, key).map(drop),
        "crews" => crate::crews::load_crew(c, key).map(drop),
        "crew_runs" => crate::crews::run::load_run(c, key).map(drop),
        "workflows" => crate::workflows::load_workflow(c, key).map(drop),
        "workflow_runs" => crate::workflows::runs::load_run(c, key).map(drop),
        "tasks" => crate::tasks::load_task(c, key).map(drop),
        "runs" => {
            crate::runs::load_run(c, key)?;
            crate::runs::run_steps(c, key)?;
            crate::runs::run_decisions(c, key)?;
            crate::runs::run_tool_calls(c, key).map(drop)
        }
        "approvals" => crate::approvals::load_approval(c, key).map(drop),
        "messages" => crate::messages::load_message(c, key).map(drop),
        "chat_sessions" => crate::chat::load_session(c, key).map(drop),
        "chat_messages" => crate::chat::load_chat_message(c, key).map(drop),
        _ => Ok(()),
    }
    .map_err(|e| {
        let why = match e {
            CoreError::Corrupt { detail, .. } => detail,
            other => other.to_string(),
        };
        CoreError::validation(
            format!("tables.{table}"),
            format!("the record '{key}' would not be readable ({why}); nothing was imported"),
        )
    })
}

fn check_foreign_keys(tx: &Tx<'_>) -> Result<()> {
    let broken: Vec<(String, i64, String)> = query_all(tx, "PRAGMA foreign_key_check", [], |r| {
        Ok((
            r.get(0)?,
            r.get::<_, Option<i64>>(1)?.unwrap_or(0),
            r.get(2)?,
        ))
    })?;
    if let Some((table, rowid, parent)) = broken.first() {
        let id: String = tx
            .query_row(
                &format!("SELECT coalesce(CAST(id AS TEXT), '?') FROM {table} WHERE rowid = ?1"),
                [rowid],
                |r| r.get(0),
            )
            .unwrap_or_else(|_| format!("row {rowid}"));
        return Err(CoreError::validation(
            format!("tables.{table}"),
            format!(
                "the record '{id}' refers to a record of {parent} that is neither in the file nor here{}; nothing was imported",
                if broken.len() > 1 {
                    format!(" ({} such references in all)", broken.len())
                } else {
                    String::new()
                }
            ),
        ));
    }
    Ok(())
}

pub(super) fn import_in(tx: &mut Tx<'_>, doc: &DataDocument) -> Result<ImportSummary> {
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    let empty = Vec::new();
    let rows_of = |name: &str| doc.tables.get(name).unwrap_or(&empty);

    // A task this process is working on cannot be replaced under it.
    let file_tasks: BTreeSet<&str> = rows_of("tasks")
        .iter()
        .filter_map(|r| r.get("id").and_then(Value::as_str))
        .collect();
    let busy: Vec<(String, String)> = query_all(
        tx,
        "SELECT id, title FROM tasks WHERE status IN ('planning', 'running')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if let Some((id, title)) = busy.iter().find(|(id, _)| file_tasks.contains(id.as_str())) {
        return Err(CoreError::Conflict(format!(
            "the task '{title}' ({id}) is running here and the file would replace it; \
             let it finish or cancel it, then import again (nothing was imported)"
        )));
    }

    // The app's settings and the demo registry are merged, not copied.
    let mut settings_rows = Vec::new();
    let mut app_settings = None;
    let mut demo_registry = None;
    for (i, r) in rows_of("settings").iter().enumerate() {
        match r.get("key").and_then(Value::as_str) {
            Some(settings::KEY) => app_settings = Some((i, r)),
            Some(crate::demo::REGISTRY_KEY) => demo_registry = Some((i, r)),
            _ => settings_rows.push(r.clone()),
        }
    }

    let mut tables = BTreeMap::new();
    let mut to_check = BTreeSet::new();
    for spec in TABLES {
        let rows: &[Row] = if spec.name == "settings" {
            &settings_rows
        } else {
            rows_of(spec.name)
        };
        if rows.is_empty() {
            continue;
        }
        let done = import_table(tx, spec, rows, &mut to_check)?;
        tables.insert(spec.name.to_string(), done);
    }

    if let Some((i, row)) = app_settings {
        let text = row.get("value").and_then(Value::as_str).ok_or_else(|| {
            CoreError::validation(
                at("settings", i, "value"),
                "expected the settings as JSON text",
            )
        })?;
        let imported: Settings = serde_json::from_str(text).map_err(|e| {
            CoreError::validation(
                at("settings", i, "value"),
                format!("unreadable settings: {e}"),
            )
        })?;
        let existed = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM settings WHERE key = ?1)",
            [settings::KEY],
            |r| r.get::<_, bool>(0),
        )?;
        let checked = settings::apply_patch(tx, Settings::default(), SettingsPatch::from(imported))
            .map_err(|e| CoreError::validation(at("settings", i, "value"), e.to_string()))?;
        settings::write_settings(tx, &checked)?;
        let entry = tables
            .entry("settings".to_string())
            .or_insert_with(TableImport::default);
        if existed {
            entry.updated += 1;
        } else {
            entry.added += 1;
        }
    }
    if let Some((i, row)) = demo_registry {
        let text = row.get("value").and_then(Value::as_str).ok_or_else(|| {
            CoreError::validation(
                at("settings", i, "value"),
                "expected the demo registry as JSON text",
            )
        })?;
        crate::demo::merge_registry(tx, text)
            .map_err(|e| CoreError::validation(at("settings", i, "value"), e.to_string()))?;
        tables
            .entry("settings".to_string())
            .or_insert_with(TableImport::default)
            .updated += 1;
    }

    // Work in progress in the file: nobody here runs it; back to the queue,
    // as after a restart (its open run is marked interrupted).
    let mut requeued = 0;
    for id in &file_tasks {
        let status: String =
            tx.query_row("SELECT status FROM tasks WHERE id = ?1", [id], |r| r.get(0))?;
        if status == "planning" || status == "running" {
            tx.execute(
                "UPDATE runs SET status = 'interrupted', error = coalesce(error, 'imported while it ran'),
                    finished_at = coalesce(finished_at, ?2), updated_at = ?2
                 WHERE task_id = ?1 AND status IN ('running', 'waiting')",
                rusqlite::params![id, time::now_sql()],
            )?;
            crate::tasks::requeue_imported(tx, id)?;
            requeued += 1;
        }
    }
    // Crew runs coordinated by a process of the exporting machine: no owner
    // here, so the next start stops them as interrupted.
    for r in rows_of("crew_runs") {
        if let Some(id) = r.get("id").and_then(Value::as_str) {
            tx.execute("UPDATE crew_runs SET owner_pid = NULL WHERE id = ?1", [id])?;
        }
    }

    recount_task_board(tx)?;
    check_foreign_keys(tx)?;
    for (table, key) in &to_check {
        check_readable(tx, table, key)?;
    }

    let mut published = BTreeSet::new();
    for spec in TABLES {
        if tables.contains_key(spec.name) {
            if let Some(e) = spec.entity {
                if published.insert(format!("{e:?}")) {
                    tx.changed(e, ChangeOp::Updated, "import");
                }
            }
        }
    }
    let added = tables.values().map(|t| t.added).sum();
    let updated = tables.values().map(|t| t.updated).sum();
    Ok(ImportSummary {
        path: String::new(),
        tables,
        added,
        updated,
        requeued,
    })
}
