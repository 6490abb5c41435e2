//! Reading rows into domain types. A value that cannot be read (bad JSON, an
//! unknown enum text, a malformed timestamp) becomes [`CoreError::Corrupt`]
//! naming the record, never a panic; the row itself is left untouched.

use rusqlite::types::FromSql;
use rusqlite::{Connection, Params, Row};
use serde::de::DeserializeOwned;

use crate::error::{CoreError, Result};
use crate::time::{self, Timestamp};

/// A row of a known entity, with its id for error messages.
pub struct RowCtx<'r, 's> {
    row: &'r Row<'s>,
    entity: &'static str,
    id: String,
    /// The statement's column names, in order, when it is known to select
    /// exactly these: columns are then read by position (see [`Self::with_columns`]).
    columns: Option<&'static [&'static str]>,
}

impl<'r, 's> RowCtx<'r, 's> {
    /// Reads the `id` column first so that every later error can name the record.
    pub fn new(row: &'r Row<'s>, entity: &'static str) -> Result<Self> {
        let id: String = row.get("id").unwrap_or_else(|_| "?".to_string());
        Ok(Self {
            row,
            entity,
            id,
            columns: None,
        })
    }

    /// For tables keyed by something other than `id`.
    pub fn keyed(row: &'r Row<'s>, entity: &'static str, id: String) -> Self {
        Self {
            row,
            entity,
            id,
            columns: None,
        }
    }

    /// Like [`Self::new`], for a hot read whose statement usually selects
    /// exactly `columns` (in order, `id` first): a column is then read by its
    /// position, since rusqlite's by-name lookup asks SQLite for every
    /// column's name on each read (which made reading a task cost more than
    /// the query that found it). Other statements are read by name.
    pub fn with_columns(
        row: &'r Row<'s>,
        entity: &'static str,
        columns: &'static [&'static str],
    ) -> Result<Self> {
        let stmt: &rusqlite::Statement<'_> = row.as_ref();
        // The count and both ends tell such a select from any other;
        // checking every name would cost a call per column and row.
        let last = columns.len().saturating_sub(1);
        let matches = !columns.is_empty()
            && stmt.column_count() == columns.len()
            && stmt.column_name(0).is_ok_and(|c| c == columns[0])
            && stmt.column_name(last).is_ok_and(|c| c == columns[last]);
        let mut ctx = Self::new(row, entity)?;
        if matches {
            ctx.columns = Some(columns);
        }
        Ok(ctx)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn corrupt(&self, col: &str, detail: impl std::fmt::Display) -> CoreError {
        CoreError::Corrupt {
            entity: self.entity,
            id: self.id.clone(),
            detail: format!("column {col}: {detail}"),
        }
    }

    pub fn get<T: FromSql>(&self, col: &str) -> Result<T> {
        match self
            .columns
            .and_then(|names| names.iter().position(|n| *n == col))
        {
            Some(at) => self.row.get(at),
            None => self.row.get(col),
        }
        .map_err(|e| self.corrupt(col, e))
    }

    pub fn json<T: DeserializeOwned>(&self, col: &str) -> Result<T> {
        let text: String = self.get(col)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(col, e))
    }

    /// A JSON column read through `read`, a parser with its own rules; a
    /// value it refuses makes the row corrupt, naming the column.
    pub fn json_via<T>(
        &self,
        col: &str,
        read: impl FnOnce(&serde_json::Value) -> Result<T>,
    ) -> Result<T> {
        let v: serde_json::Value = self.json(col)?;
        read(&v).map_err(|e| self.corrupt(col, e))
    }

    pub fn json_opt<T: DeserializeOwned>(&self, col: &str) -> Result<Option<T>> {
        let text: Option<String> = self.get(col)?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| self.corrupt(col, e)))
            .transpose()
    }

    pub fn parse<T: std::str::FromStr>(&self, col: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let text: String = self.get(col)?;
        text.parse().map_err(|e| self.corrupt(col, e))
    }

    pub fn parse_opt<T: std::str::FromStr>(&self, col: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        let text: Option<String> = self.get(col)?;
        text.map(|t| t.parse().map_err(|e| self.corrupt(col, e)))
            .transpose()
    }

    pub fn ts(&self, col: &str) -> Result<Timestamp> {
        let text: String = self.get(col)?;
        time::parse(&text).ok_or_else(|| self.corrupt(col, format!("bad timestamp '{text}'")))
    }

    pub fn ts_opt(&self, col: &str) -> Result<Option<Timestamp>> {
        let text: Option<String> = self.get(col)?;
        text.map(|t| {
            time::parse(&t).ok_or_else(|| self.corrupt(col, format!("bad timestamp '{t}'")))
        })
        .transpose()
    }

    pub fn bool(&self, col: &str) -> Result<bool> {
        Ok(self.get::<i64>(col)? != 0)
    }

    pub fn u32(&self, col: &str) -> Result<u32> {
        let v: i64 = self.get(col)?;
        u32::try_from(v).map_err(|_| self.corrupt(col, format!("{v} is out of range")))
    }

    pub fn u64(&self, col: &str) -> Result<u64> {
        let v: i64 = self.get(col)?;
        u64::try_from(v).map_err(|_| self.corrupt(col, format!("{v} is out of range")))
    }
}

/// Runs a query and maps every row with `f`.
pub fn query_all<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(f(r)?);
    }
    Ok(out)
}

/// Runs a query and maps the first row, if any.
pub fn query_one<T, P: Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(r) => Ok(Some(f(r)?)),
        None => Ok(None),
    }
}

/// JSON text for a JSON column.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| CoreError::Internal(format!("serialize: {e}")))
}

/// A value as a JSON tree (a typed field inside a JSON document).
pub fn to_value<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| CoreError::Internal(format!("serialize: {e}")))
}

/// Whether a row with this id exists in `table` (a trusted, constant table name).
pub fn exists(conn: &Connection, table: &str, id: &str) -> Result<bool> {
    let sql = format!("SELECT 1 FROM {table} WHERE id = ?1");
    Ok(query_one(conn, &sql, [id], |_| Ok(()))?.is_some())
}

/// Defines a closed set of values stored as text: serde/TS names, `as_str`,
/// `FromStr` with a clear error, and `ToSql`.
#[macro_export]
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($label:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, ts_rs::TS)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The accepted spellings, for error messages and help text.
            pub fn choices() -> String {
                [$($text),+].join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::CoreError;
            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::error::CoreError::validation(
                        $label,
                        format!("unknown {} '{}'; expected one of: {}", $label, other, $name::choices()),
                    )),
                }
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }
    };
}
