//! The SQLite store: one writer connection (every write is a `BEGIN IMMEDIATE`
//! transaction), a small pool of read connections, WAL, foreign keys on, and
//! the embedded migrations applied when the store opens. Calls block: async
//! callers use `spawn_blocking`.

pub mod migrations;
pub mod row;

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{CoreError, Result};
use crate::events::{Change, ChangeOp, Entity};

/// Read connections kept open between reads. The scheduler, the running
/// agents and the UI read at once; a reader beyond these is opened for the
/// read and closed after it, which costs more than most reads.
const MAX_IDLE_READERS: usize = 8;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 256;

pub struct Store {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// A write transaction that also collects the changes it makes, so they are
/// published only once it commits.
pub struct Tx<'c> {
    inner: rusqlite::Transaction<'c>,
    changes: Vec<Change>,
}

impl<'c> Tx<'c> {
    pub fn changed(&mut self, entity: Entity, op: ChangeOp, id: impl Into<String>) {
        self.changes.push(Change::new(entity, op, id));
    }
}

// Shadow `Connection::execute` / `query_row` (reached through `Deref`) so
// that every write goes through the connection's statement cache instead of
// parsing its SQL again each time.
impl Tx<'_> {
    /// [`rusqlite::Connection::execute`], with a cached statement.
    pub fn execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.inner.prepare_cached(sql)?.execute(params)
    }

    /// [`rusqlite::Connection::query_row`], with a cached statement.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.inner.prepare_cached(sql)?.query_row(params, f)
    }
}

impl<'c> Deref for Tx<'c> {
    type Target = rusqlite::Transaction<'c>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the connection usable: an open
    // transaction was rolled back when it was dropped during unwinding.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // rusqlite keeps 16 prepared statements by default; one task's way
    // through the scheduler uses more distinct statements than that, so
    // each was evicted before its next use and parsed again every time.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(())
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
        }
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrations::migrate(&mut writer)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Opens the store in a data folder (`<dir>/ensemble.db`).
    pub fn open_in_dir(data_dir: &Path) -> Result<Self> {
        Self::open(&crate::paths::db_path(data_dir))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction; commits when it returns
    /// `Ok`, rolls back otherwise. Returns the value and the changes made.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<(T, Vec<Change>)> {
        let mut conn = lock(&self.writer);
        let inner = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut tx = Tx {
            inner,
            changes: Vec::new(),
        };
        let value = f(&mut tx)?;
        let Tx { inner, changes } = tx;
        inner.commit()?;
        Ok((value, changes))
    }

    /// Runs `f` on a read connection (snapshot isolation per statement;
    /// use [`Store::read_tx`] for a consistent multi-statement read).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = match lock(&self.readers).pop() {
            Some(c) => c,
            None => self.open_reader()?,
        };
        let out = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// A consistent read across several statements.
    pub fn read_tx<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.read(|conn| {
            conn.execute_batch("BEGIN DEFERRED")?;
            let out = f(conn);
            conn.execute_batch("COMMIT")?;
            out
        })
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        configure(&conn)?;
        conn.execute_batch("PRAGMA query_only = ON;")?;
        Ok(conn)
    }

    /// Counter that changes when another connection (another process: the CLI,
    /// a headless runner) commits to the database. Used to notice external writes.
    pub fn external_data_version(&self) -> Result<i64> {
        let conn = lock(&self.writer);
        Ok(conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// `PRAGMA integrity_check`: "ok" for a healthy database.
    pub fn integrity_check(&self) -> Result<String> {
        self.read(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
    }

    /// Flushes the WAL into the main file (used at shutdown).
    pub fn checkpoint(&self) -> Result<()> {
        let conn = lock(&self.writer);
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}
