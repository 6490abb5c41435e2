//! `ensemble crews …`: crews, crew templates, import/export, and crew runs.

mod run;

use clap::Subcommand;
use ensemble_core::crews::portable::ExportFormat;
use ensemble_core::crews::templates::{crew_templates, FromTemplate};
use ensemble_core::crews::{CrewInput, MemberInput, Process, RelationKind, RelationshipInput};
use ensemble_core::{validate, Core, Paging};

use super::output::clip;
use super::{CliError, CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum CrewsCmd {
    /// List crews
    List,
    /// Show one crew
    Show { id: ensemble_core::IdArg },
    /// Add a crew
    Add {
        name: String,
        #[arg(long)]
        goal: Option<String>,
        /// sequential, hierarchical, peer_review, consensus or routed
        #[arg(long)]
        process: Option<String>,
        /// Member agent ids in order, comma-separated
        #[arg(long, value_name = "ID,...")]
        members: Option<String>,
        /// Manager agent id (hierarchical)
        #[arg(long)]
        manager: Option<String>,
    },
    /// Relate two members of a crew (e.g. FROM supervises TO)
    Relate {
        crew: String,
        from: String,
        to: String,
        /// supervises, delegates_to, collaborates_with, reports_to or consults
        #[arg(long = "type", default_value = "collaborates_with")]
        kind: String,
        /// 0 to 1
        #[arg(long)]
        trust: Option<f64>,
    },
    /// List the built-in crew templates
    Templates,
    /// Create a crew and its agents from a template
    Create {
        /// Template key (see `ensemble crews templates`)
        #[arg(long)]
        template: String,
        /// Crew name (default: the template's)
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        goal: Option<String>,
        /// Provider for every member (default: the app's)
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        model: Option<String>,
    },
    /// Run a crew and wait for the result (the run lives as long as this command)
    Run(run::RunArgs),
    /// List crew runs, newest first
    Runs {
        /// Only the runs of this crew
        crew: Option<String>,
    },
    /// Show a crew run and its timeline
    Timeline { run: String },
    /// Ask a running crew run to stop
    Stop { run: String },
    /// Write a crew (agents, relationships, settings) as JSON or YAML
    Export {
        id: ensemble_core::IdArg,
        /// json or yaml
        #[arg(long, default_value = "yaml")]
        format: String,
        /// Write to this file instead of stdout
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Import a crew file (JSON or YAML; "-" reads stdin); all or nothing
    Import { file: String },
}

pub fn run(core: &std::sync::Arc<Core>, out: &Out, cmd: CrewsCmd) -> CliResult {
    match cmd {
        CrewsCmd::Templates => {
            let all = crew_templates();
            if out.json {
                return out.json(&all);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|t| {
                    vec![
                        t.key.clone(),
                        t.process.to_string(),
                        t.members
                            .iter()
                            .map(|m| m.name.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                        clip(&t.description, 70),
                    ]
                })
                .collect();
            out.table(&["KEY", "PROCESS", "MEMBERS", "DESCRIPTION"], &rows);
            Ok(())
        }
        CrewsCmd::Create {
            template,
            name,
            goal,
            provider,
            model,
        } => {
            let c = core.crews().create_from_template(
                &template,
                FromTemplate {
                    name,
                    goal,
                    provider,
                    model,
                    budget: None,
                },
            )?;
            if out.json {
                return out.json(&c);
            }
            out.text(&format!(
                "Created crew {} ({}) with {} agents",
                c.name,
                c.id,
                c.members.len()
            ));
            Ok(())
        }
        CrewsCmd::Run(args) => run::run(core, out, args),
        CrewsCmd::Runs { crew } => run::list(core, out, crew.as_deref()),
        CrewsCmd::Timeline { run: id } => run::timeline(core, out, &id),
        CrewsCmd::Stop { run: id } => {
            let r = core.crews().request_stop(&id)?;
            if out.json {
                return out.json(&r);
            }
            out.text(&format!("Asked run {} to stop (now {})", r.id, r.status));
            Ok(())
        }
        CrewsCmd::Export { id, format, output } => {
            let format = format.trim().to_lowercase().parse::<ExportFormat>()?;
            let text = core.crews().export(&id, format)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, &text).map_err(|e| CliError {
                        message: format!("cannot write {}: {e}", path.display()),
                        code: 1,
                    })?;
                    out.text(&format!("Wrote {}", path.display()));
                }
                None => out.text(text.trim_end()),
            }
            Ok(())
        }
        CrewsCmd::Import { file } => {
            let text = if file == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| {
                    CliError {
                        message: format!("cannot read stdin: {e}"),
                        code: 1,
                    }
                })?;
                s
            } else {
                std::fs::read_to_string(&file).map_err(|e| CliError {
                    message: format!("cannot read {file}: {e}"),
                    code: 1,
                })?
            };
            let c = core.crews().import(&text)?;
            if out.json {
                return out.json(&c);
            }
            out.text(&format!(
                "Imported crew {} ({}) with {} agents",
                c.name,
                c.id,
                c.members.len()
            ));
            Ok(())
        }
        CrewsCmd::List => {
            let page = core.crews().list(None, Paging::default())?;
            if out.json {
                return out.json(&page.items);
            }
            if page.items.is_empty() {
                out.text("No crews yet. Add one with: ensemble crews add NAME --members ID,ID");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|c| {
                    vec![
                        c.id.clone(),
                        clip(&c.name, 30),
                        c.process.to_string(),
                        c.members.len().to_string(),
                        c.status.to_string(),
                    ]
                })
                .collect();
            out.table(&["ID", "NAME", "PROCESS", "MEMBERS", "STATUS"], &rows);
            Ok(())
        }
        CrewsCmd::Show { id } => {
            let c = core.crews().get(&id)?;
            if out.json {
                return out.json(&c);
            }
            out.text(&format!("{} ({})", c.name, c.id));
            out.text(&format!("  process: {}", c.process));
            out.text(&format!("  goal:    {}", clip(&c.goal, 100)));
            for m in &c.members {
                out.text(&format!(
                    "  {}. {} {}",
                    m.position + 1,
                    m.agent_name,
                    m.role
                ));
            }
            Ok(())
        }
        CrewsCmd::Relate {
            crew,
            from,
            to,
            kind,
            trust,
        } => {
            let kind = kind.trim().parse::<RelationKind>()?;
            let r = core.crews().add_relationship(
                &crew,
                RelationshipInput {
                    from_agent_id: from,
                    to_agent_id: to,
                    kind: Some(kind),
                    trust_level: trust,
                    ..Default::default()
                },
            )?;
            if out.json {
                return out.json(&r);
            }
            out.text(&format!("{} {} {}", r.from_agent_id, r.kind, r.to_agent_id));
            Ok(())
        }
        CrewsCmd::Add {
            name,
            goal,
            process,
            members,
            manager,
        } => {
            let process = process.map(|p| p.trim().parse::<Process>()).transpose()?;
            let members = members.map(|m| {
                validate::split_csv(&m)
                    .into_iter()
                    .map(|agent_id| MemberInput {
                        agent_id,
                        role: None,
                    })
                    .collect()
            });
            let c = core.crews().create(CrewInput {
                name: Some(name),
                goal,
                process,
                members,
                manager_agent_id: manager,
                ..Default::default()
            })?;
            if out.json {
                return out.json(&c);
            }
            out.text(&format!("Added crew {} ({})", c.name, c.id));
            Ok(())
        }
    }
}
