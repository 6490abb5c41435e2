//! `ensemble crews …`

use clap::Subcommand;
use ensemble_core::crews::{CrewInput, MemberInput, Process, RelationKind, RelationshipInput};
use ensemble_core::{validate, Core, Paging};

use super::output::clip;
use super::{CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum CrewsCmd {
    /// List crews
    List,
    /// Show one crew
    Show { id: String },
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
}

pub fn run(core: &Core, out: &Out, cmd: CrewsCmd) -> CliResult {
    match cmd {
        CrewsCmd::List => {
            let page = core.list_crews(None, Paging::default())?;
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
            let c = core.get_crew(&id)?;
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
            let r = core.add_relationship(
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
            let c = core.create_crew(CrewInput {
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
