//! `sql_query`: one read-only query on a SQLite file the user registered in
//! Settings.
//!
//! Layers, each enough on its own for the common cases: a statement-kind
//! check on the SQL text (clear refusals for writes, schema changes, ATTACH,
//! VACUUM, writing PRAGMAs, load_extension, several statements); a connection
//! opened read-only with `query_only` on, extension loading off and defensive
//! mode on; and SQLite's own verdict (`sqlite3_stmt_readonly`) on the
//! prepared statement. Output is limited in rows, bytes and time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, InterruptHandle, OpenFlags};
use serde::Deserialize;

use super::{Tool, ToolCategory, ToolContext, ToolError, ToolOutput, TypedTool};

mod statement;

pub use self::statement::check_statement;
use self::statement::refused;

const NAME: &str = "sql_query";

pub const DEFAULT_MAX_ROWS: usize = 200;
pub const DEFAULT_MAX_BYTES: usize = 50 * 1024;
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(5);
/// Longest text cell shown; longer values are cut (the agent can use substr).
const MAX_CELL_CHARS: usize = 2000;

/// The data tools with their default limits.
pub fn all() -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(SqlQuery::new())]
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct QueryArgs {
    /// Name of a database registered in Settings.
    database: String,
    /// One read-only SQL statement (SELECT, WITH … SELECT, VALUES, EXPLAIN, or a
    /// schema PRAGMA such as table_info). Use ?1, ?2 … for parameters.
    query: String,
    /// Values for the ?-parameters, in order: strings, numbers, booleans or null.
    #[serde(default)]
    params: Option<Vec<serde_json::Value>>,
}

/// The `sql_query` tool. Its limits are fields so tests can run fast.
#[derive(Debug, Clone)]
pub struct SqlQuery {
    max_rows: usize,
    max_bytes: usize,
    time_limit: Duration,
}

impl Default for SqlQuery {
    fn default() -> Self {
        Self::new()
    }
}

impl SqlQuery {
    /// 200 rows, 50 KB of output, 5 s per statement.
    pub fn new() -> Self {
        Self {
            max_rows: DEFAULT_MAX_ROWS,
            max_bytes: DEFAULT_MAX_BYTES,
            time_limit: DEFAULT_TIME_LIMIT,
        }
    }

    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = limit;
        self
    }

    /// Most rows, and most bytes of the text table.
    pub fn with_limits(mut self, max_rows: usize, max_bytes: usize) -> Self {
        self.max_rows = max_rows;
        self.max_bytes = max_bytes;
        self
    }
}

#[async_trait]
impl TypedTool for SqlQuery {
    type Args = QueryArgs;
    const NAME: &'static str = NAME;
    const CATEGORY: ToolCategory = ToolCategory::Data;
    const REQUIRES_APPROVAL: bool = true;

    fn description(&self) -> String {
        format!(
            "Run one read-only SQL query (SQLite) on a database the user registered in \
             Settings. Writes, schema changes, ATTACH, VACUUM and writing PRAGMAs are \
             refused. Returns at most {} rows and {} KB; a query is stopped after {} s.",
            self.max_rows,
            self.max_bytes / 1024,
            self.time_limit.as_secs_f32()
        )
    }

    async fn call(&self, a: QueryArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let params = a
            .params
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, v)| to_sql_value(i, v))
            .collect::<Result<Vec<_>, _>>()?;
        check_statement(&a.query)?;

        let databases = ctx
            .core
            .settings()
            .map_err(|e| ToolError::Failed(format!("cannot read the registered databases: {e}")))?
            .sql_databases;
        let Some(db) = databases.iter().find(|d| d.name == a.database) else {
            let names: Vec<&str> = databases.iter().map(|d| d.name.as_str()).collect();
            let detail = if names.is_empty() {
                format!(
                    "unknown database '{}': no databases are registered (the user adds them in Settings)",
                    a.database
                )
            } else {
                format!(
                    "unknown database '{}'; registered databases: {}",
                    a.database,
                    names.join(", ")
                )
            };
            return Err(ToolError::InvalidArguments {
                tool: NAME.into(),
                detail,
            });
        };

        let job = Job {
            name: db.name.clone(),
            path: PathBuf::from(&db.path),
            sql: a.query,
            params,
            max_rows: self.max_rows,
            max_bytes: self.max_bytes,
            time_limit: self.time_limit,
        };
        let (handle_tx, handle_rx) = tokio::sync::oneshot::channel();
        let mut task = tokio::task::spawn_blocking(move || job.run(handle_tx));
        // Interrupts the statement if this call is dropped (cancelled) or
        // runs out of time; harmless once the connection is closed.
        let guard = InterruptOnDrop(handle_rx.await.ok());
        let joined = match tokio::time::timeout(self.time_limit, &mut task).await {
            Ok(joined) => joined,
            Err(_) => {
                guard.interrupt();
                task.await
            }
        };
        drop(guard);
        joined.map_err(|e| ToolError::Failed(format!("the query task failed: {e}")))?
    }
}

struct InterruptOnDrop(Option<InterruptHandle>);

impl InterruptOnDrop {
    fn interrupt(&self) {
        if let Some(h) = &self.0 {
            h.interrupt();
        }
    }
}

impl Drop for InterruptOnDrop {
    fn drop(&mut self) {
        self.interrupt();
    }
}

fn to_sql_value(i: usize, v: serde_json::Value) -> Result<Value, ToolError> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Integer(i64::from(b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Text(s),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            return Err(ToolError::InvalidArguments {
                tool: NAME.into(),
                detail: format!(
                    "params[{i}] must be a string, number, boolean or null, not an array or object"
                ),
            })
        }
    })
}

struct Job {
    name: String,
    path: PathBuf,
    sql: String,
    params: Vec<Value>,
    max_rows: usize,
    max_bytes: usize,
    time_limit: Duration,
}

struct Table {
    columns: Vec<String>,
    lines: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
    more_rows: bool,
    bytes_cut: bool,
}

impl Job {
    fn run(
        self,
        handle_tx: tokio::sync::oneshot::Sender<InterruptHandle>,
    ) -> Result<ToolOutput, ToolError> {
        let conn = self.open()?;
        // The receiver may be gone if the call was cancelled; then the
        // statement simply runs to its end or its time limit.
        let _ = handle_tx.send(conn.get_interrupt_handle());
        let table = self.query(&conn)?;
        Ok(self.output(table))
    }

    fn open(&self) -> Result<Connection, ToolError> {
        // Read-only; no URI filenames (the path is a plain file path), no
        // mutex (the connection stays on this thread), never create.
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| {
            ToolError::Failed(format!(
                "cannot open database '{}' ({}): {e}",
                self.name,
                self.path.display()
            ))
        })?;
        let setup = |conn: &Connection| -> rusqlite::Result<()> {
            conn.pragma_update(None, "query_only", true)?;
            // Views and triggers in an untrusted file may not call functions
            // with side effects; no writes to the schema even by accident.
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
            Ok(())
        };
        setup(&conn).map_err(|e| {
            ToolError::Failed(format!(
                "cannot make the connection to '{}' read-only: {e}",
                self.name
            ))
        })?;
        Ok(conn)
    }

    fn query(&self, conn: &Connection) -> Result<Table, ToolError> {
        let sqlite = |e: rusqlite::Error| self.sqlite_error(e);
        let mut stmt = conn.prepare(&self.sql).map_err(|e| {
            let message = e.to_string();
            let unknown_name =
                message.contains("no such table") || message.contains("no such column");
            match (sqlite(e), unknown_name) {
                // Say what there is: a model that guessed a name can then
                // correct it (a human reading the trace too).
                (ToolError::Failed(m), true) => match tables(conn) {
                    Some(t) if !t.is_empty() => {
                        ToolError::Failed(format!("{m}. The tables of '{}': {t}", self.name))
                    }
                    _ => ToolError::Failed(m),
                },
                (other, _) => other,
            }
        })?;
        if !stmt.readonly() {
            return Err(refused("SQLite reports that the statement would write"));
        }
        let expected = stmt.parameter_count();
        if expected != self.params.len() {
            return Err(ToolError::InvalidArguments {
                tool: NAME.into(),
                detail: format!(
                    "the query has {expected} parameter(s) but {} value(s) were given",
                    self.params.len()
                ),
            });
        }
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let header = format!(
            "| {} |",
            columns
                .iter()
                .map(|c| cell_text(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let rule = format!("|{}", "---|".repeat(columns.len()));
        let mut used = header.len() + rule.len() + 2;
        let mut table = Table {
            columns,
            lines: Vec::new(),
            rows: Vec::new(),
            more_rows: false,
            bytes_cut: false,
        };
        table.lines.push(header);
        table.lines.push(rule);

        let mut rows = stmt
            .query(rusqlite::params_from_iter(self.params.iter()))
            .map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            if table.rows.len() >= self.max_rows {
                table.more_rows = true;
                break;
            }
            let mut values = Vec::with_capacity(table.columns.len());
            let mut cells = Vec::with_capacity(table.columns.len());
            for i in 0..table.columns.len() {
                let (json, text) = cell(row.get_ref(i).map_err(sqlite)?);
                values.push(json);
                cells.push(text);
            }
            let line = format!("| {} |", cells.join(" | "));
            if used + line.len() + 1 > self.max_bytes {
                table.bytes_cut = true;
                break;
            }
            used += line.len() + 1;
            table.lines.push(line);
            table.rows.push(values);
        }
        Ok(table)
    }

    fn sqlite_error(&self, e: rusqlite::Error) -> ToolError {
        match &e {
            rusqlite::Error::MultipleStatement => refused("only one statement per call is allowed"),
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::OperationInterrupted =>
            {
                ToolError::Failed(format!(
                    "the query was stopped after {} s (time limit); narrow it or add a LIMIT",
                    self.time_limit.as_secs_f32()
                ))
            }
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::ReadOnly
                        | rusqlite::ErrorCode::AuthorizationForStatementDenied
                ) =>
            {
                refused(format!("SQLite refused to write ({e})"))
            }
            _ => ToolError::Failed(format!("the query failed on '{}': {e}", self.name)),
        }
    }

    fn output(&self, table: Table) -> ToolOutput {
        let n = table.rows.len();
        let note = if table.bytes_cut && n == 0 {
            format!(
                "(no rows shown: the first row alone is larger than {} KB; select fewer or shorter columns)",
                self.max_bytes / 1024
            )
        } else if table.bytes_cut {
            format!(
                "({n} rows shown; output truncated at {} KB, more rows may exist)",
                self.max_bytes / 1024
            )
        } else if table.more_rows {
            format!(
                "({n} rows shown; truncated at {} rows, more rows exist)",
                self.max_rows
            )
        } else if n == 1 {
            "(1 row)".to_string()
        } else {
            format!("({n} rows)")
        };
        let content = if table.columns.is_empty() {
            "(the statement returned no columns)".to_string()
        } else {
            format!("{}\n{note}", table.lines.join("\n"))
        };
        ToolOutput {
            content,
            data: Some(serde_json::json!({
                "database": self.name,
                "columns": table.columns,
                "rows": table.rows,
                "row_count": n,
                "truncated": table.more_rows || table.bytes_cut,
            })),
        }
    }
}

/// Longest list of tables an error message carries.
const TABLES_SHOWN_BYTES: usize = 1500;

/// A table (or view) of a database and its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<String>,
}

/// The tables and views of the database at `path` with their columns, read
/// without writing anything (the file is opened read-only). What a model
/// needs to write a query for it: the names, not the data.
pub fn schema(path: &std::path::Path) -> Result<Vec<TableSchema>, ToolError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| ToolError::Failed(format!("cannot open {}: {e}", path.display())))?;
    read_schema(&conn)
        .ok_or_else(|| ToolError::Failed(format!("cannot read the tables of {}", path.display())))
}

fn read_schema(conn: &Connection) -> Option<Vec<TableSchema>> {
    let mut names = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .ok()?;
    let names: Vec<String> = names
        .query_map([], |r| r.get(0))
        .ok()?
        .filter_map(std::result::Result::ok)
        .collect();
    let mut columns = conn
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .ok()?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let cols: Vec<String> = columns
            .query_map([&name], |r| r.get(0))
            .ok()?
            .filter_map(std::result::Result::ok)
            .collect();
        out.push(TableSchema {
            name,
            columns: cols,
        });
    }
    Some(out)
}

/// The database's tables and views with their columns, e.g.
/// `products(id, name, price); customers(id, name, city)`, cut at
/// [`TABLES_SHOWN_BYTES`]; None when the schema cannot be read.
fn tables(conn: &Connection) -> Option<String> {
    let mut out = String::new();
    for t in read_schema(conn)? {
        let entry = format!("{}({})", t.name, t.columns.join(", "));
        if out.len() + entry.len() + 2 > TABLES_SHOWN_BYTES {
            out.push_str("; …");
            break;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        out.push_str(&entry);
    }
    Some(out)
}

/// One value as JSON and as a table cell.
fn cell(v: ValueRef<'_>) -> (serde_json::Value, String) {
    match v {
        ValueRef::Null => (serde_json::Value::Null, "NULL".into()),
        ValueRef::Integer(i) => (i.into(), i.to_string()),
        ValueRef::Real(f) => (
            serde_json::Number::from_f64(f).map_or_else(|| f.to_string().into(), Into::into),
            f.to_string(),
        ),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            let total = s.chars().count();
            let s = if total > MAX_CELL_CHARS {
                format!(
                    "{}… ({total} characters)",
                    s.chars().take(MAX_CELL_CHARS).collect::<String>()
                )
            } else {
                s.into_owned()
            };
            let text = cell_text(&s);
            (s.into(), text)
        }
        ValueRef::Blob(b) => {
            let s = format!("<blob, {} bytes>", b.len());
            (s.clone().into(), s)
        }
    }
}

/// A value on one table line: newlines and pipes escaped.
fn cell_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_msg(sql: &str) -> String {
        match check_statement(sql) {
            Err(ToolError::Refused(m)) => m,
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reads_pass_the_statement_check() {
        for sql in [
            "SELECT 1",
            "select * from t where name = 'DROP TABLE t; DELETE'",
            "SELECT replace(name, 'a', 'b') FROM t;",
            "SELECT \"update\" FROM t -- DELETE\n",
            "WITH x AS (SELECT 1) SELECT * FROM x;;  ",
            "VALUES (1), (2)",
            "EXPLAIN QUERY PLAN SELECT * FROM t",
            "PRAGMA table_info(t)",
            "PRAGMA main.index_list('t');",
            "/* a comment */ SELECT created_at, updated FROM t",
        ] {
            assert_eq!(check_statement(sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn writes_and_tricks_are_refused_with_the_reason() {
        for (sql, word) in [
            ("DROP TABLE t", "DROP"),
            ("delete from t", "DELETE"),
            ("UPDATE t SET a = 1 WHERE id = 2", "UPDATE"),
            ("INSERT INTO t VALUES (1)", "INSERT"),
            ("REPLACE INTO t VALUES (1)", "REPLACE"),
            ("CREATE TABLE x(a)", "CREATE"),
            ("ALTER TABLE t ADD b", "ALTER"),
            ("ATTACH 'x.db' AS x", "ATTACH"),
            ("DETACH x", "DETACH"),
            ("VACUUM INTO '/tmp/x.db'", "VACUUM"),
            ("WITH x AS (SELECT 1) DELETE FROM t", "DELETE"),
            ("/* hi */ DROP TABLE t", "DROP"),
            ("SELECT load_extension('x')", "load_extension"),
            ("PRAGMA user_version = 3", "user_version"),
            ("PRAGMA user_version(3)", "user_version"),
            ("PRAGMA journal_mode", "journal_mode"),
            ("PRAGMA table_info = 3", "table_info"),
            ("SELECT 1; SELECT 2", "one statement"),
            ("BEGIN", "BEGIN"),
            ("ANALYZE", "ANALYZE"),
            ("EXPLAIN PRAGMA user_version = 1", "EXPLAIN PRAGMA"),
        ] {
            let m = refused_msg(sql);
            assert!(m.contains(word) && m.starts_with("refused:"), "{sql}: {m}");
        }
    }

    fn job(path: &std::path::Path, sql: &str) -> Job {
        Job {
            name: "t".into(),
            path: path.into(),
            sql: sql.into(),
            params: Vec::new(),
            max_rows: 10,
            max_bytes: 10_000,
            time_limit: Duration::from_secs(5),
        }
    }

    /// The SQLite layers alone (no statement-kind check) refuse writes too.
    #[test]
    fn the_connection_refuses_writes_without_the_statement_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let copy = dir.path().join("copy.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        for sql in [
            "DELETE FROM t".to_string(),
            "INSERT INTO t VALUES (2)".into(),
            "UPDATE t SET x = 3".into(),
            "DROP TABLE t".into(),
            "CREATE TABLE u (y)".into(),
            "CREATE TEMP TABLE u (y)".into(),
            "PRAGMA user_version = 5".into(),
            // (PRAGMA query_only = OFF passes this layer: it only changes the
            // connection, which is read-only anyway and lives for one statement.)
            "VACUUM".into(),
            format!("VACUUM INTO '{}'", copy.display()),
        ] {
            let (tx, _rx) = tokio::sync::oneshot::channel();
            let r = job(&path, &sql).run(tx);
            assert!(matches!(r, Err(ToolError::Refused(_))), "{sql}: {r:?}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert!(!copy.exists());
    }

    /// A query naming a table or column that does not exist is told what
    /// the database holds.
    #[test]
    fn an_unknown_name_is_answered_with_the_tables_there_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL);
             CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT);",
        )
        .unwrap();
        drop(conn);
        for sql in ["SELECT price FROM sales", "SELECT city_name FROM customers"] {
            let (tx, _rx) = tokio::sync::oneshot::channel();
            match job(&path, sql).run(tx) {
                Err(ToolError::Failed(m)) => assert!(
                    m.ends_with(
                        "The tables of 't': customers(id, name, city); products(id, name, price)"
                    ),
                    "{m}"
                ),
                other => panic!("{sql}: {other:?}"),
            }
        }
        // Other errors say only what went wrong.
        let (tx, _rx) = tokio::sync::oneshot::channel();
        match job(&path, "SELEC 1").run(tx) {
            Err(ToolError::Failed(m)) => assert!(!m.contains("The tables"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
