//! `ensemble agents …`

use clap::Subcommand;
use ensemble_core::agents::{AgentFilter, AgentInput, AgentStatus, Autonomy};
use ensemble_core::{validate, Core, Paging};

use super::output::clip;
use super::{CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum AgentsCmd {
    /// List agents
    List {
        /// Only agents whose name, role or description contains this
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one agent
    Show { id: ensemble_core::IdArg },
    /// Add an agent (optionally from a template: researcher, analyst, writer, reviewer, manager, …)
    Add {
        name: String,
        #[arg(long)]
        role: Option<String>,
        /// Comma-separated, e.g. sql_query,data_analysis
        #[arg(long)]
        capabilities: Option<String>,
        /// Comma-separated tool names
        #[arg(long)]
        tools: Option<String>,
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// manual, copilot or autopilot
        #[arg(long)]
        autonomy: Option<String>,
        #[arg(long)]
        template: Option<String>,
        #[arg(long)]
        system_prompt: Option<String>,
    },
    /// Remove an agent
    Rm { id: ensemble_core::IdArg },
    /// Pause an agent: it takes no new work (a running `ensemble run` or the
    /// app notices within a couple of seconds)
    Pause { id: ensemble_core::IdArg },
    /// Resume a paused agent
    Resume { id: ensemble_core::IdArg },
}

pub fn run(core: &Core, out: &Out, cmd: AgentsCmd) -> CliResult {
    match cmd {
        AgentsCmd::List { search, limit } => {
            let page = core.agents().list(
                &AgentFilter {
                    search,
                    ..Default::default()
                },
                Paging {
                    limit: Some(limit),
                    offset: None,
                },
            )?;
            if out.json {
                return out.json(&page.items);
            }
            if page.items.is_empty() {
                out.text(
                    "No agents yet. Add one with: ensemble agents add NAME --template researcher",
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        clip(&a.name, 28),
                        clip(&a.role, 18),
                        a.autonomy.to_string(),
                        a.status.to_string(),
                        clip(&a.capabilities.join(","), 40),
                    ]
                })
                .collect();
            out.table(
                &["ID", "NAME", "ROLE", "AUTONOMY", "STATUS", "CAPABILITIES"],
                &rows,
            );
            Ok(())
        }
        AgentsCmd::Pause { id } => set_paused(core, out, &id, true),
        AgentsCmd::Resume { id } => set_paused(core, out, &id, false),
        AgentsCmd::Show { id } => {
            let a = core.agents().get(&id)?;
            if out.json {
                return out.json(&a);
            }
            out.text(&format!("{} ({})", a.name, a.id));
            out.text(&format!("  role:          {}", a.role));
            out.text(&format!("  autonomy:      {}", a.autonomy));
            out.text(&format!("  status:        {}", a.status));
            out.text(&format!("  capabilities:  {}", a.capabilities.join(", ")));
            out.text(&format!("  tools:         {}", a.allowed_tools.join(", ")));
            out.text(&format!(
                "  provider:      {}",
                a.provider.as_deref().unwrap_or("(app default)")
            ));
            out.text(&format!(
                "  model:         {}",
                a.model.as_deref().unwrap_or("(provider default)")
            ));
            if !a.system_prompt.is_empty() {
                out.text(&format!("  prompt:        {}", clip(&a.system_prompt, 100)));
            }
            Ok(())
        }
        AgentsCmd::Add {
            name,
            role,
            capabilities,
            tools,
            provider,
            model,
            autonomy,
            template,
            system_prompt,
        } => {
            let autonomy = autonomy.map(|a| a.trim().parse::<Autonomy>()).transpose()?;
            let input = AgentInput {
                name: Some(name),
                role,
                capabilities: capabilities.map(|c| validate::split_csv(&c)),
                allowed_tools: tools.map(|c| validate::split_csv(&c)),
                provider,
                model,
                autonomy,
                template,
                system_prompt,
                ..Default::default()
            };
            let a = core.agents().create(input)?;
            if out.json {
                return out.json(&a);
            }
            out.text(&format!("Added agent {} ({})", a.name, a.id));
            Ok(())
        }
        AgentsCmd::Rm { id } => {
            core.agents().delete(&id)?;
            if out.json {
                return out.json(&serde_json::json!({ "deleted": id }));
            }
            out.text(&format!("Removed agent {id}"));
            Ok(())
        }
    }
}

fn set_paused(core: &Core, out: &Out, id: &str, paused: bool) -> CliResult {
    let status = if paused {
        AgentStatus::Paused
    } else {
        AgentStatus::Idle
    };
    core.agents().set_status(id, status)?;
    let a = core.agents().get(id)?;
    if out.json {
        return out.json(&a);
    }
    let what = if paused { "Paused" } else { "Resumed" };
    out.text(&format!("{what} {} ({})", a.name, a.id));
    Ok(())
}
