//! `ensemble crews run ID [--follow]`: runs a crew in this process and
//! waits for its end, printing the timeline as it happens with `--follow`.
//! The members' work goes through the task queue: this command runs the
//! orchestrator itself when no other runner (the app, `ensemble run`)
//! holds the data folder, else that runner does the work. Ctrl-C stops the
//! run cleanly. Exit code 0 when the run completed, 1 otherwise.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use ensemble_core::crews::run::{CrewRun, CrewRunStatus};
use ensemble_core::messages::Message;
use ensemble_core::{Core, Paging};
use ensemble_host::{Host, SHUTDOWN_WAIT};

use super::super::output::clip;
use super::super::{CliError, CliResult, Out};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Crew id
    pub id: ensemble_core::IdArg,
    /// The request for this run (default: the crew's goal)
    #[arg(long)]
    pub input: Option<String>,
    /// Print the timeline (every message between the members) as it happens
    #[arg(long)]
    pub follow: bool,
}

fn names(core: &Core, crew_id: &str) -> HashMap<String, String> {
    core.crews()
        .get(crew_id)
        .map(|c| {
            c.members
                .into_iter()
                .map(|m| (m.agent_id, m.agent_name))
                .collect()
        })
        .unwrap_or_default()
}

fn line(m: &Message, names: &HashMap<String, String>) -> String {
    let who = |id: &Option<String>, none: &str| match id {
        Some(i) => names.get(i).cloned().unwrap_or_else(|| i.clone()),
        None => none.to_string(),
    };
    let to = match (&m.to_agent_id, m.channel.split(':').next()) {
        (Some(_), _) => who(&m.to_agent_id, ""),
        (None, Some("task")) => "task".into(),
        _ => "team".into(),
    };
    format!(
        "{} {:<13} {} → {}: {}",
        m.created_at.format("%H:%M:%S"),
        m.kind.to_string(),
        who(&m.from_agent_id, "crew"),
        to,
        clip(&m.content, 160)
    )
}

fn print_new(
    core: &Core,
    out: &Out,
    run: &str,
    printed: &mut u32,
    names: &HashMap<String, String>,
) {
    let Ok(page) = core.crews().run_messages(
        run,
        Paging {
            limit: Some(500),
            offset: Some(*printed),
        },
    ) else {
        return;
    };
    let mut stdout = std::io::stdout().lock();
    for m in &page.items {
        let text = if out.json {
            serde_json::to_string(m).unwrap_or_default()
        } else {
            line(m, names)
        };
        let _ = writeln!(stdout, "{text}");
    }
    *printed += page.items.len() as u32;
}

fn summary(run: &CrewRun) -> String {
    format!(
        "{} ({}) — {} tokens, ${:.4}{}",
        run.status,
        run.stop_reason.map(|r| r.to_string()).unwrap_or_default(),
        run.tokens(),
        run.cost,
        run.error
            .as_deref()
            .map(|e| format!(" — {e}"))
            .unwrap_or_default()
    )
}

pub fn run(core: &Arc<Core>, out: &Out, args: RunArgs) -> CliResult {
    // Refused here (not in the background) when the crew cannot run.
    let rt = super::super::run::runtime()?;
    let json = out.json;
    let follow = args.follow;
    let input = args.input.unwrap_or_default();
    let core = core.clone();
    let done: Result<CrewRun, CliError> = rt.block_on(async move {
        // Crew runs of processes that are gone are marked interrupted here.
        let host = Host::start(core.clone()).await;
        let runs_here = match host.take_runner() {
            Ok(here) => here,
            Err(e) => {
                tracing::warn!(error = %e, "cannot run the task queue here");
                false
            }
        };
        if !runs_here && !json {
            eprintln!("note: another runner (the app or `ensemble run`) works on this data folder; it does the members' tasks");
        }
        let engine = host.services().crews.clone();
        let started = engine.start(&args.id, &input).await;
        let result = match started {
            Err(e) => Err(CliError::from(e)),
            Ok(run) => {
                if !json {
                    println!("Run {} of crew {} started", run.id, args.id);
                }
                let names = names(&core, &run.crew_id);
                let mut printed = 0u32;
                let stopper = engine.clone();
                let run_id = run.id.clone();
                let ctrl_c = tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        let _ = stopper.stop(&run_id).await;
                    }
                });
                let finished = loop {
                    if follow {
                        let (c, id) = (core.clone(), run.id.clone());
                        let names = names.clone();
                        let p = printed;
                        printed = tokio::task::spawn_blocking(move || {
                            let mut p = p;
                            print_new(&c, &Out::new(json), &id, &mut p, &names);
                            p
                        })
                        .await
                        .unwrap_or(printed);
                    }
                    match tokio::time::timeout(Duration::from_millis(200), engine.wait(&run.id)).await {
                        Ok(r) => break r,
                        Err(_) => continue,
                    }
                };
                ctrl_c.abort();
                if follow {
                    let (c, id) = (core.clone(), run.id.clone());
                    let _ = tokio::task::spawn_blocking(move || {
                        let mut p = printed;
                        print_new(&c, &Out::new(json), &id, &mut p, &names);
                    })
                    .await;
                }
                finished.map_err(CliError::from)
            }
        };
        host.shutdown(SHUTDOWN_WAIT).await;
        result
    });
    let run = done?;
    if out.json {
        out.json(&run)?;
    } else {
        if let Some(report) = &run.report {
            out.text(&format!("\n{}\n", report.trim()));
        }
        out.text(&summary(&run));
    }
    if run.status == CrewRunStatus::Completed {
        Ok(())
    } else {
        Err(CliError {
            message: format!("the run did not complete: {}", summary(&run)),
            code: 1,
        })
    }
}

pub fn list(core: &Core, out: &Out, crew: Option<&str>) -> CliResult {
    let page = core.crews().list_runs(crew, Paging::default())?;
    if out.json {
        return out.json(&page.items);
    }
    if page.items.is_empty() {
        out.text("No crew runs yet. Start one with: ensemble crews run CREW-ID --follow");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = page
        .items
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.crew_id.clone(),
                r.process.to_string(),
                r.status.to_string(),
                r.stop_reason.map(|s| s.to_string()).unwrap_or_default(),
                r.tokens().to_string(),
            ]
        })
        .collect();
    out.table(
        &["RUN", "CREW", "PROCESS", "STATUS", "REASON", "TOKENS"],
        &rows,
    );
    Ok(())
}

pub fn timeline(core: &Core, out: &Out, run_id: &str) -> CliResult {
    let run = core.crews().get_run(run_id)?;
    let messages = core.crews().run_messages(
        run_id,
        Paging {
            limit: Some(Paging::MAX_LIMIT),
            offset: None,
        },
    )?;
    if out.json {
        return out.json(&serde_json::json!({ "run": run, "messages": messages.items }));
    }
    let names = names(core, &run.crew_id);
    for m in &messages.items {
        out.text(&line(m, &names));
    }
    if let Some(report) = &run.report {
        out.text(&format!("\n{}\n", report.trim()));
    }
    out.text(&summary(&run));
    Ok(())
}
