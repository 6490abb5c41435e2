//! `ensemble tools list|run`: the tools agents can use, and running one by
//! hand. A human running a tool needs no approval, but the same argument
//! validation and guards apply (web_fetch's address checks, the code
//! sandbox, sql_query's read-only rules); a refusal exits non-zero with the
//! reason.

use std::sync::Arc;

use clap::Subcommand;
use ensemble_core::tools::ToolContext;
use ensemble_core::Core;

use super::run::runtime;
use super::{CliError, CliResult, Out};
use ensemble_host::Services;

#[derive(Debug, Subcommand)]
pub enum ToolsCmd {
    /// List the tools with their category, approval and availability
    List,
    /// Run a tool now, as yourself: ensemble tools run web_fetch '{"url":"https://example.com"}'
    Run {
        name: String,
        /// The arguments as a JSON object
        #[arg(default_value = "{}")]
        args: String,
    },
}

pub fn run(core: &Arc<Core>, out: &Out, cmd: ToolsCmd) -> CliResult {
    let rt = runtime()?;
    rt.block_on(async move {
        let services = Services::start(core.clone()).await;
        match cmd {
            ToolsCmd::List => list(&services, out),
            ToolsCmd::Run { name, args } => {
                let args: serde_json::Value = serde_json::from_str(&args).map_err(|e| {
                    CliError::usage(format!("the arguments are not valid JSON: {e}"))
                })?;
                if !args.is_object() {
                    return Err(CliError::usage(
                        "the arguments must be a JSON object, e.g. '{\"url\": \"https://example.com\"}'",
                    ));
                }
                let ctx = ToolContext::human(core.clone());
                let result = services.tools.call(&name, args, &ctx).await;
                if out.json {
                    out.json(&result)?;
                } else if let Some(output) = &result.result {
                    out.text(output.content.trim_end());
                }
                match (result.success, result.error) {
                    (true, _) => Ok(()),
                    (false, error) => Err(CliError {
                        message: format!(
                            "{name}: {}",
                            error.unwrap_or_else(|| "failed".to_string())
                        ),
                        code: 1,
                    }),
                }
            }
        }
    })
}

fn list(services: &Services, out: &Out) -> CliResult {
    let defs = services.tools.defs();
    if out.json {
        return out.json(&defs);
    }
    let rows: Vec<Vec<String>> = defs
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                d.category.to_string(),
                if d.requires_approval { "yes" } else { "no" }.to_string(),
                if d.idempotent { "yes" } else { "no" }.to_string(),
                match &d.unavailable {
                    Some(why) => format!("unavailable: {why}"),
                    None => first_sentence(&d.description),
                },
            ]
        })
        .collect();
    out.table(
        &["NAME", "CATEGORY", "APPROVAL", "IDEMPOTENT", "ABOUT"],
        &rows,
    );
    Ok(())
}

fn first_sentence(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    text[..end].to_string()
}
