//! `ensemble data …`: export and import all data, reset the demo data.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use ensemble_core::Core;

use super::{CliError, CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum DataCmd {
    /// Write every agent, crew, task, run, approval, chat, memory, workflow
    /// and setting to one JSON file (API keys are not included)
    Export {
        /// The file to write (replaced if it exists)
        path: PathBuf,
    },
    /// Import a file written by `ensemble data export`: records with the same
    /// id are replaced, others added; all or nothing
    Import {
        /// The file to read
        path: PathBuf,
    },
    /// Replace the demo agents, crew and tasks with a fresh set (your own records stay)
    ResetDemo,
}

/// Paths on the command line are relative to the working folder.
fn absolute(path: &Path) -> CliResult<PathBuf> {
    std::path::absolute(path).map_err(|e| CliError {
        message: format!("cannot resolve {}: {e}", path.display()),
        code: 1,
    })
}

pub fn run(core: &Core, out: &Out, cmd: DataCmd) -> CliResult {
    match cmd {
        DataCmd::Export { path } => {
            let s = core.export_data(&absolute(&path)?)?;
            if out.json {
                return out.json(&s);
            }
            out.text(&format!(
                "Exported {} records from {} tables to {} ({} KB)",
                s.rows,
                s.tables.values().filter(|n| **n > 0).count(),
                s.path,
                s.bytes.div_ceil(1024)
            ));
            Ok(())
        }
        DataCmd::Import { path } => {
            let s = core.import_data(&absolute(&path)?)?;
            if out.json {
                return out.json(&s);
            }
            out.text(&format!(
                "Imported {}: {} records added, {} replaced",
                s.path, s.added, s.updated
            ));
            if s.requeued > 0 {
                out.text(&format!(
                    "{} tasks that were running in the file are back in the queue",
                    s.requeued
                ));
            }
            Ok(())
        }
        DataCmd::ResetDemo => {
            let s = core.reset_demo_data()?;
            if out.json {
                return out.json(&s);
            }
            out.text(&format!(
                "Demo data: {} agents, {} crew and {} tasks created; {} agents, {} crews and {} tasks of the previous demo removed",
                s.created.agents, s.created.crews, s.created.tasks,
                s.removed.agents, s.removed.crews, s.removed.tasks
            ));
            let kept = s.kept.agents + s.kept.crews + s.kept.tasks;
            if kept > 0 {
                out.text(&format!(
                    "{kept} demo records were kept because your own data uses them; they are yours now"
                ));
            }
            Ok(())
        }
    }
}
