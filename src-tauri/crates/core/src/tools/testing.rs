//! Tools for the crash and fault tests, registered only with
//! `ENSEMBLE_TEST_TOOLS=1`: a side-effecting append (not idempotent) whose
//! every execution is visible in a file, and an idempotent sleep that widens
//! the window in which a test can kill the process mid-call.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Tool, ToolCategory, ToolContext, ToolError, ToolOutput, TypedTool};

/// The test tools, writing into `ENSEMBLE_TEST_TOOLS_DIR`.
pub fn all() -> Vec<Arc<dyn Tool>> {
    with_dir(std::env::var_os("ENSEMBLE_TEST_TOOLS_DIR").map(PathBuf::from))
}

/// The test tools, writing into `dir`.
pub fn with_dir(dir: Option<PathBuf>) -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(Append { dir }), Arc::new(Sleep)]
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct AppendArgs {
    /// File name inside the test folder.
    file: String,
    /// The line to append.
    line: String,
    /// Milliseconds to wait after writing (to test interruption after the effect).
    #[serde(default)]
    hold_ms: Option<u64>,
}

struct Append {
    dir: Option<PathBuf>,
}

#[async_trait]
impl TypedTool for Append {
    type Args = AppendArgs;
    const NAME: &'static str = "test_append";
    const CATEGORY: ToolCategory = ToolCategory::Testing;
    const REQUIRES_APPROVAL: bool = true;
    const IDEMPOTENT: bool = false;

    fn description(&self) -> String {
        "Append a line to a file in the test folder (a side effect that must never happen twice)."
            .to_string()
    }

    async fn call(&self, a: AppendArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if a.file.contains('/') || a.file.contains("..") || a.file.is_empty() {
            return Err(ToolError::Refused("file must be a plain name".into()));
        }
        let dir = self
            .dir
            .clone()
            .ok_or_else(|| ToolError::Unavailable("ENSEMBLE_TEST_TOOLS_DIR is not set".into()))?;
        let path = dir.join(&a.file);
        let line = format!("{}\n", a.line.replace('\n', " "));
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            // One write: `writeln!` writes the text and the newline apart,
            // and two tasks appending at once then interleaved
            // ("crash-8crash-1", "") — the crash test read that as a
            // repeated side effect.
            f.write_all(line.as_bytes())?;
            f.sync_all()
        })
        .await
        .map_err(|e| ToolError::Failed(e.to_string()))?
        .map_err(|e| ToolError::Failed(e.to_string()))?;
        if let Some(ms) = a.hold_ms {
            tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
        }
        Ok(ToolOutput::text("appended"))
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SleepArgs {
    /// Milliseconds to sleep (at most 10000).
    ms: u64,
}

struct Sleep;

#[async_trait]
impl TypedTool for Sleep {
    type Args = SleepArgs;
    const NAME: &'static str = "test_sleep";
    const CATEGORY: ToolCategory = ToolCategory::Testing;

    fn description(&self) -> String {
        "Wait a while (no side effect).".to_string()
    }

    async fn call(&self, a: SleepArgs, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        tokio::time::sleep(Duration::from_millis(a.ms.min(10_000))).await;
        Ok(ToolOutput::text(format!("slept {} ms", a.ms.min(10_000))))
    }
}
