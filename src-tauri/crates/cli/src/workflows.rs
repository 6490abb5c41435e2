//! `ensemble workflows list|add|show|run|runs`: reusable DAGs of steps.
//! `run` queues a workflow run (a runner — the app or `ensemble run` —
//! executes it); with `--wait` it runs here until the workflow is done.

use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use ensemble_core::orchestrator::RunnerLock;
use ensemble_core::workflows::WorkflowRunStatus;
use ensemble_core::workflows::{WorkflowDefinition, WorkflowInput};
use ensemble_core::{Core, CoreError, Paging};
use ensemble_host::{Host, SHUTDOWN_WAIT};

use super::output::clip;
use super::{CliError, CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum WorkflowsCmd {
    /// List workflows (and templates)
    List,
    /// Show a workflow's steps
    Show { id: ensemble_core::IdArg },
    /// Add a workflow from a JSON definition: {"steps": [{"key", "prompt", "depends_on", …}], "on_failure"}
    Add {
        name: String,
        /// The definition as JSON, or @FILE to read it from a file
        #[arg(long)]
        definition: String,
        #[arg(long)]
        description: Option<String>,
        /// Save it as a template
        #[arg(long)]
        template: bool,
    },
    /// Start a run
    Run {
        id: ensemble_core::IdArg,
        /// Text available to prompts as {{input}}
        #[arg(long)]
        input: Option<String>,
        /// Process it here and wait until it is done
        #[arg(long)]
        wait: bool,
    },
    /// Show a run's step states
    Status { run_id: ensemble_core::IdArg },
}

fn definition(raw: &str) -> Result<WorkflowDefinition, CliError> {
    let text = match raw.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| CliError::from(CoreError::io(format!("cannot read {path}"), e)))?,
        None => raw.to_string(),
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::from(CoreError::validation(
            "definition",
            format!("not a workflow definition: {e}"),
        ))
    })
}

fn print_run(out: &Out, run: &ensemble_core::workflows::WorkflowRun) -> CliResult {
    if out.json {
        return out.json(run);
    }
    out.text(&format!("run {} — {}", run.id, run.status));
    let rows: Vec<Vec<String>> = run
        .steps
        .iter()
        .map(|s| {
            vec![
                s.key.clone(),
                s.status.to_string(),
                clip(s.output.as_deref().or(s.error.as_deref()).unwrap_or(""), 60),
            ]
        })
        .collect();
    out.table(&["STEP", "STATUS", "OUTPUT"], &rows);
    Ok(())
}

pub fn run(core: &Arc<Core>, out: &Out, cmd: WorkflowsCmd) -> CliResult {
    match cmd {
        WorkflowsCmd::List => {
            let page = core.workflows().list(false, Paging::default())?;
            if out.json {
                return out.json(&page.items);
            }
            if page.items.is_empty() {
                out.text("No workflows yet. Add one with: ensemble workflows add NAME --definition @steps.json");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|w| {
                    vec![
                        w.id.clone(),
                        clip(&w.name, 30),
                        w.definition.steps.len().to_string(),
                        if w.is_template {
                            "template".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            out.table(&["ID", "NAME", "STEPS", ""], &rows);
            Ok(())
        }
        WorkflowsCmd::Show { id } => {
            let w = core.workflows().get(&id)?;
            if out.json {
                return out.json(&w);
            }
            out.text(&format!("{} ({})", w.name, w.id));
            for s in &w.definition.steps {
                let deps = if s.depends_on.is_empty() {
                    String::new()
                } else {
                    format!(" ← {}", s.depends_on.join(", "))
                };
                out.text(&format!("  {}{}: {}", s.key, deps, clip(&s.prompt, 80)));
            }
            Ok(())
        }
        WorkflowsCmd::Add {
            name,
            definition: raw,
            description,
            template,
        } => {
            let w = core.workflows().create(WorkflowInput {
                name: Some(name),
                description,
                is_template: Some(template),
                definition: Some(definition(&raw)?),
            })?;
            if out.json {
                return out.json(&w);
            }
            out.text(&format!(
                "Added workflow {} ({}) with {} steps",
                w.name,
                w.id,
                w.definition.steps.len()
            ));
            Ok(())
        }
        WorkflowsCmd::Status { run_id } => print_run(out, &core.workflows().run(&run_id)?),
        WorkflowsCmd::Run { id, input, wait } => {
            let input = input
                .map(serde_json::Value::String)
                .unwrap_or(serde_json::Value::Null);
            if !wait {
                let run = core.workflows().start(&id, input)?;
                if !out.json {
                    out.text(&format!(
                        "Queued workflow run {}; a runner (the app or `ensemble run`) executes it.",
                        run.id
                    ));
                }
                return print_run(out, &run);
            }
            let rt = super::run::runtime()?;
            let host_core = core.clone();
            let done = rt.block_on(async move {
                let host = Host::start(host_core).await;
                // The runner first, so that `--wait` fails cleanly, before
                // queuing, when another runner works here.
                let queued = match host.take_runner() {
                    Ok(true) => host
                        .core()
                        .call(move |c| c.workflows().start(&id, input))
                        .await
                        .map_err(CliError::from),
                    Ok(false) => Err(CliError::from(RunnerLock::busy())),
                    Err(e) => Err(CliError::from(e)),
                };
                let result = match queued {
                    Err(e) => Err(e),
                    Ok(run) => loop {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let id = run.id.clone();
                        match host.core().call(move |c| c.workflows().run(&id)).await {
                            Ok(r) if r.status != WorkflowRunStatus::Running => break Ok(r),
                            Err(e) => break Err(CliError::from(e)),
                            _ => {}
                        }
                        if host.orchestrator().is_none() {
                            // Nobody runs the steps any more: say why, rather
                            // than wait for ever.
                            break Err(match host.runner_stopped().await {
                                Err(e) => CliError::from(e),
                                Ok(()) => CliError {
                                    message:
                                        "the task runner stopped before the workflow run finished"
                                            .into(),
                                    code: 1,
                                },
                            });
                        }
                    },
                };
                host.shutdown(SHUTDOWN_WAIT).await;
                result
            })?;
            print_run(out, &done)?;
            if done.status == WorkflowRunStatus::Completed {
                Ok(())
            } else {
                Err(CliError {
                    message: format!(
                        "the workflow run {}: {}",
                        done.status,
                        done.error.clone().unwrap_or_default()
                    ),
                    code: 1,
                })
            }
        }
    }
}
