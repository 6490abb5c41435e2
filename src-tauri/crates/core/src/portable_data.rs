//! Export and import of all the user's data as one versioned JSON document
//! (`format: "ensemble.data"`, `version: 1`): every row of every user table,
//! column by column as stored, so a round trip loses nothing.
//!
//! What is left out, on purpose:
//! - secrets: API keys live in the OS keyring or the private `secrets/`
//!   folder, never in SQLite; provider configs travel with the *name* of
//!   their key (`api_key_ref`) only, so keys are entered again after an
//!   import on another machine;
//! - derived tables: `task_counts` (the board's totals, kept by triggers) is
//!   recomputed from the imported tasks; `schema_migrations` describes the
//!   database, not the data.
//!
//! Import is a merge in ONE transaction: a row whose key exists here is
//! replaced by the file's version (upsert by primary key; provider configs,
//! whose references are by name, by name), other rows are added, and rows
//! the file does not mention stay. A row that would clash with a different
//! row here on another unique key (two skills of the same name for one
//! agent, say) refuses the whole import, as does a task the file would
//! overwrite while it runs here. Imported settings go through the same
//! checks as an edit in Settings; every imported record is read back through
//! its domain loader before the commit. An unknown format or version, an
//! unknown table or column, a wrong value type, a dangling reference or an
//! unreadable record refuses the file with the reason, and nothing changes.
//! Work that was in progress in the file is imported as interrupted work is
//! after a restart: its tasks go back to the queue.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::Entity;
use crate::store::Tx;
use crate::{time, Core};

mod import;

pub const FORMAT: &str = "ensemble.data";
pub const VERSION: u32 = 1;
/// The largest file accepted for import.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// How an imported row finds the row it replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// The table's primary key.
    Primary,
    /// The unique `name` (what everything else refers to); the local id stays.
    Name,
}

struct TableSpec {
    name: &'static str,
    /// Which change the import publishes for this table.
    entity: Option<Entity>,
    key: Key,
}

const fn t(name: &'static str, entity: Option<Entity>, key: Key) -> TableSpec {
    TableSpec { name, entity, key }
}

/// Every user table, parents before children (foreign keys are also
/// deferred to the commit, so the order only keeps the import readable).
const TABLES: &[TableSpec] = &[
    t("provider_configs", Some(Entity::Provider), Key::Name),
    t("agents", Some(Entity::Agent), Key::Primary),
    t("agent_skills", Some(Entity::Agent), Key::Primary),
    t("crews", Some(Entity::Crew), Key::Primary),
    t("crew_members", Some(Entity::Crew), Key::Primary),
    t("relationships", Some(Entity::Crew), Key::Primary),
    t("crew_runs", Some(Entity::CrewRun), Key::Primary),
    t("workflows", Some(Entity::Workflow), Key::Primary),
    t("workflow_runs", Some(Entity::WorkflowRun), Key::Primary),
    t("tasks", Some(Entity::Task), Key::Primary),
    t("task_dependencies", Some(Entity::Task), Key::Primary),
    t(
        "workflow_run_steps",
        Some(Entity::WorkflowRun),
        Key::Primary,
    ),
    t("runs", Some(Entity::Run), Key::Primary),
    t("run_steps", Some(Entity::Run), Key::Primary),
    t("decisions", Some(Entity::Run), Key::Primary),
    t("tool_calls", Some(Entity::Run), Key::Primary),
    t("approvals", Some(Entity::Approval), Key::Primary),
    t("messages", Some(Entity::Message), Key::Primary),
    t("team_memory", Some(Entity::Memory), Key::Primary),
    t("chat_sessions", Some(Entity::ChatSession), Key::Primary),
    t("chat_messages", Some(Entity::ChatMessage), Key::Primary),
    t("mcp_servers", Some(Entity::Settings), Key::Name),
    t("sql_sources", Some(Entity::Settings), Key::Name),
    t("settings", Some(Entity::Settings), Key::Primary),
];

/// Tables that are not user data: derived (recomputed after an import),
/// about the database itself, or model profiles (measurements of this
/// machine's providers, probed again where the data goes).
pub const NOT_EXPORTED: &[&str] = &["task_counts", "schema_migrations", "model_profiles"];

/// The names of the exported tables, in import order.
pub fn exported_tables() -> Vec<&'static str> {
    TABLES.iter().map(|t| t.name).collect()
}

/// One row: column name → stored value (text, integer, real or null).
pub type Row = Map<String, Value>;

/// The export file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataDocument {
    pub format: String,
    pub version: u32,
    /// The database schema the rows come from (see `store::migrations`).
    pub schema_version: u32,
    pub app_version: String,
    pub exported_at: String,
    pub tables: BTreeMap<String, Vec<Row>>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExportSummary {
    pub path: String,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Rows per table.
    pub tables: BTreeMap<String, u64>,
    #[ts(type = "number")]
    pub rows: u64,
}

/// What an import did to one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct TableImport {
    /// Rows that were not here before.
    #[ts(type = "number")]
    pub added: u64,
    /// Rows that replaced the row with the same key.
    #[ts(type = "number")]
    pub updated: u64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ImportSummary {
    pub path: String,
    pub tables: BTreeMap<String, TableImport>,
    #[ts(type = "number")]
    pub added: u64,
    #[ts(type = "number")]
    pub updated: u64,
    /// Tasks that were in progress in the file, put back in the queue.
    #[ts(type = "number")]
    pub requeued: u64,
}

fn not_found_table(name: &str) -> CoreError {
    CoreError::validation(
        "tables",
        format!(
            "unknown table '{name}'; an Ensemble data file has: {}",
            exported_tables().join(", ")
        ),
    )
}

/// A stored value as JSON (integers stay integers, reals stay reals).
fn to_value(table: &str, col: &str, v: ValueRef<'_>) -> Result<Value> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| CoreError::Corrupt {
                entity: "row",
                id: format!("{table}.{col}"),
                detail: format!("{f} is not a finite number"),
            })?,
        ValueRef::Text(b) => Value::String(
            std::str::from_utf8(b)
                .map_err(|e| CoreError::Corrupt {
                    entity: "row",
                    id: format!("{table}.{col}"),
                    detail: format!("text is not UTF-8 ({e})"),
                })?
                .to_string(),
        ),
        ValueRef::Blob(_) => {
            return Err(CoreError::Corrupt {
                entity: "row",
                id: format!("{table}.{col}"),
                detail: "holds binary data, which no Ensemble table stores".into(),
            })
        }
    })
}

fn read_table(conn: &Connection, table: &str) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))?;
    let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Map::new();
        for (i, name) in names.iter().enumerate() {
            row.insert(name.clone(), to_value(table, name, r.get_ref(i)?)?);
        }
        out.push(row);
    }
    Ok(out)
}

/// Parses an export file: its identity and version first, so a file of
/// another kind or version gets that reason rather than a field error.
pub fn parse_document(bytes: &[u8]) -> Result<DataDocument> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        CoreError::validation(
            "file",
            format!("not an Ensemble data file: it is not valid JSON ({e})"),
        )
    })?;
    let Some(obj) = value.as_object() else {
        return Err(CoreError::validation(
            "file",
            "not an Ensemble data file: expected a JSON object",
        ));
    };
    match obj.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(CoreError::validation(
                "format",
                format!("not an Ensemble data file: its format is '{other}', expected '{FORMAT}'"),
            ))
        }
        None => {
            return Err(CoreError::validation(
                "format",
                format!("not an Ensemble data file: it has no \"format\": \"{FORMAT}\""),
            ))
        }
    }
    match obj.get("version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(CoreError::validation(
                "version",
                format!(
                    "unsupported data file version {v}; this Ensemble reads version {VERSION}{}",
                    if v > u64::from(VERSION) {
                        " (the file comes from a newer Ensemble)"
                    } else {
                        ""
                    }
                ),
            ))
        }
        None => {
            return Err(CoreError::validation(
                "version",
                "the data file has no version number",
            ))
        }
    }
    serde_json::from_value(value)
        .map_err(|e| CoreError::validation("file", format!("malformed Ensemble data file: {e}")))
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> CoreError {
    CoreError::io(format!("cannot {what} {}", path.display()), e)
}

fn require_absolute(path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(CoreError::validation("path", "a file path is required"));
    }
    if !path.is_absolute() {
        return Err(CoreError::validation(
            "path",
            format!("'{}' is not an absolute file path", path.display()),
        ));
    }
    Ok(())
}

/// The database's own files, which an export must never overwrite.
fn protected_files(data_dir: &Path) -> Vec<PathBuf> {
    let db = crate::paths::db_path(data_dir);
    let with = |suffix: &str| {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    };
    vec![
        db.clone(),
        with("-wal"),
        with("-shm"),
        with("-journal"),
        data_dir.join("runner.lock"),
    ]
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A suggested export file: `<data>/exports/ensemble-<date>-<time>.json`.
pub fn default_export_path(data_dir: &Path) -> PathBuf {
    let stamp = time::now().format("%Y%m%d-%H%M%S");
    data_dir
        .join("exports")
        .join(format!("ensemble-{stamp}.json"))
}

/// Number of rows the `tasks` table holds per status and of those, how many
/// have no parent, recomputed from the tasks (what 0003's triggers keep).
pub(crate) fn recount_task_board(tx: &Tx<'_>) -> Result<()> {
    tx.execute("DELETE FROM task_counts", [])?;
    tx.execute(
        "INSERT INTO task_counts (status, n, top_level)
         SELECT status, count(*), coalesce(sum(parent_task_id IS NULL), 0) FROM tasks GROUP BY status",
        [],
    )?;
    Ok(())
}

impl Core {
    /// Every user table, read in one consistent snapshot.
    pub fn export_document(&self) -> Result<DataDocument> {
        let schema_version = self.read(crate::store::migrations::current_version)?;
        self.store().read_tx(|c| {
            let mut tables = BTreeMap::new();
            for spec in TABLES {
                tables.insert(spec.name.to_string(), read_table(c, spec.name)?);
            }
            Ok(DataDocument {
                format: FORMAT.to_string(),
                version: VERSION,
                schema_version,
                app_version: env!("CARGO_PKG_VERSION").to_string(),
                exported_at: time::now_sql(),
                tables,
            })
        })
    }

    /// Writes all data to `path` (absolute; replaced atomically if it
    /// exists; its folder is created). Never writes over the database.
    pub fn export_data(&self, path: &Path) -> Result<ExportSummary> {
        require_absolute(path)?;
        if path.is_dir() {
            return Err(CoreError::validation(
                "path",
                format!("{} is a folder; give a file name", path.display()),
            ));
        }
        let target = canonical(path);
        let parent_dir = path.parent().map(canonical);
        let data_dir = canonical(self.data_dir());
        let named = parent_dir
            .as_ref()
            .zip(path.file_name())
            .map(|(d, f)| d.join(f));
        for p in protected_files(&data_dir) {
            if target == p || named.as_ref() == Some(&p) {
                return Err(CoreError::validation(
                    "path",
                    format!(
                        "{} is one of the database's own files; choose another name",
                        path.display()
                    ),
                ));
            }
        }
        if parent_dir
            .as_ref()
            .is_some_and(|d| d.starts_with(data_dir.join("secrets")))
        {
            return Err(CoreError::validation(
                "path",
                "the secrets folder is not a place for exports; choose another folder",
            ));
        }
        let doc = self.export_document()?;
        let bytes = serde_json::to_vec_pretty(&doc)
            .map_err(|e| CoreError::Internal(format!("cannot encode the export: {e}")))?;
        let dir = path
            .parent()
            .ok_or_else(|| CoreError::validation("path", "the path has no folder"))?;
        std::fs::create_dir_all(dir).map_err(|e| io_err("create", dir, e))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| io_err("write in", dir, e))?;
        use std::io::Write;
        tmp.write_all(&bytes)
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| io_err("write", path, e))?;
        tmp.persist(path)
            .map_err(|e| io_err("write", path, e.error))?;
        let tables: BTreeMap<String, u64> = doc
            .tables
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect();
        let rows = tables.values().sum();
        tracing::info!(path = %path.display(), rows, "exported all data");
        Ok(ExportSummary {
            path: path.display().to_string(),
            bytes: bytes.len() as u64,
            tables,
            rows,
        })
    }

    /// Imports an export file (see the module docs): all of it or nothing.
    pub fn import_data(&self, path: &Path) -> Result<ImportSummary> {
        require_absolute(path)?;
        let meta = std::fs::metadata(path).map_err(|e| io_err("read", path, e))?;
        if !meta.is_file() {
            return Err(CoreError::validation(
                "path",
                format!("{} is not a file", path.display()),
            ));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(CoreError::validation(
                "path",
                format!(
                    "{} is {} MB; the largest data file accepted is {} MB",
                    path.display(),
                    meta.len() >> 20,
                    MAX_FILE_BYTES >> 20
                ),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| io_err("read", path, e))?;
        let doc = parse_document(&bytes)?;
        let mut summary = self.import_document(doc)?;
        summary.path = path.display().to_string();
        Ok(summary)
    }

    /// Imports a parsed document in one transaction.
    pub fn import_document(&self, doc: DataDocument) -> Result<ImportSummary> {
        let latest = crate::store::migrations::latest_version();
        if doc.schema_version > latest {
            return Err(CoreError::validation(
                "schema_version",
                format!(
                    "the file comes from a newer Ensemble (database schema {}; this one knows up to {latest}); update Ensemble to import it",
                    doc.schema_version
                ),
            ));
        }
        if let Some(unknown) = doc
            .tables
            .keys()
            .find(|k| !TABLES.iter().any(|t| t.name == k.as_str()))
        {
            return Err(not_found_table(unknown));
        }
        let summary = self.write(|tx| import::import_in(tx, &doc))?;
        tracing::info!(
            added = summary.added,
            updated = summary.updated,
            "imported a data file"
        );
        Ok(summary)
    }
}
