//! Embedded, numbered, append-only migrations applied at startup in one
//! transaction. Each applied migration's sha256 is recorded; a database whose
//! recorded checksum differs from this build's file is refused (like Zed's
//! sqlez) instead of silently diverging. `rusqlite_migration` tracks only a
//! version number, which cannot detect an edited migration, hence this file.

use rusqlite::{Connection, TransactionBehavior};
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

/// One migration: a version (1, 2, …), a short name and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        let digest = Sha256::digest(self.sql.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The migrations of this build, in order. Append only.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "orchestrator",
        sql: include_str!("../../migrations/0002_orchestrator.sql"),
    },
    Migration {
        version: 3,
        name: "board_counts",
        sql: include_str!("../../migrations/0003_board_counts.sql"),
    },
    Migration {
        version: 4,
        name: "crew_runs",
        sql: include_str!("../../migrations/0004_crew_runs.sql"),
    },
    Migration {
        version: 5,
        name: "model_profiles",
        sql: include_str!("../../migrations/0005_model_profiles.sql"),
    },
];

/// The schema version this build migrates to.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

/// Applies this build's migrations. Returns how many were applied now.
pub fn migrate(conn: &mut Connection) -> Result<usize> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies `migrations` (which must be sorted by version) in one `BEGIN IMMEDIATE`
/// transaction: either all pending ones apply or none does. A database that
/// is already current is only read (no write lock is taken).
pub fn migrate_with(conn: &mut Connection, migrations: &[Migration]) -> Result<usize> {
    if current_version(conn)? > 0 {
        let applied = applied(conn)?;
        check_applied(&applied, migrations)?;
        if migrations
            .iter()
            .all(|m| applied.iter().any(|(v, _, _)| *v == m.version))
        {
            return Ok(0);
        }
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            name       TEXT NOT NULL,
            checksum   TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )?;
    // Another process may have migrated between the check above and the lock.
    let applied = applied(&tx)?;
    check_applied(&applied, migrations)?;

    let mut count = 0;
    for m in migrations {
        if applied.iter().any(|(v, _, _)| *v == m.version) {
            continue;
        }
        tx.execute_batch(m.sql).map_err(|e| {
            CoreError::Migration(format!("migration {} ({}) failed: {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![m.version, m.name, m.checksum(), crate::time::now_sql()],
        )?;
        count += 1;
    }
    tx.commit()?;
    Ok(count)
}

fn applied(conn: &Connection) -> Result<Vec<(u32, String, String)>> {
    let mut stmt =
        conn.prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// Refuses a database that has migrations this build does not know (newer) or
/// whose recorded checksum differs from this build's (edited migration).
fn check_applied(applied: &[(u32, String, String)], migrations: &[Migration]) -> Result<()> {
    for (version, name, checksum) in applied {
        let Some(known) = migrations.iter().find(|m| m.version == *version) else {
            return Err(CoreError::Migration(format!(
                "the database is at schema version {version} ({name}), newer than this build \
                 (which knows up to {}); use a newer Ensemble to open it",
                migrations.last().map(|m| m.version).unwrap_or(0)
            )));
        };
        let expected = known.checksum();
        if &expected != checksum {
            return Err(CoreError::Migration(format!(
                "migration {version} ({name}) was changed after it was applied to this database \
                 (recorded sha256 {}…, this build has {}…); refusing to open it. Migrations are \
                 append-only: restore the original and add a new migration instead",
                &checksum[..checksum.len().min(12)],
                &expected[..12]
            )));
        }
    }
    Ok(())
}

/// The highest applied version, 0 for an empty database.
pub fn current_version(conn: &Connection) -> Result<u32> {
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?)
}
