//! `ensemble tasks …`

use clap::Subcommand;
use ensemble_core::tasks::{priority_from_name, NewTask, TaskFilter, TaskStatus};
use ensemble_core::{validate, Core, CoreError, Paging};

use super::output::clip;
use super::{CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum TasksCmd {
    /// List tasks, highest priority first
    List {
        /// queued, planning, running, waiting_input, awaiting_approval, delegated, reviewing, completed, failed or cancelled
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one task
    Show { id: ensemble_core::IdArg },
    /// Add a task to the queue
    Add {
        title: String,
        #[arg(long)]
        objective: Option<String>,
        /// 1–10 (10 highest) or critical, high, normal, low, background
        #[arg(long)]
        priority: Option<String>,
        /// Assign to this agent id
        #[arg(long)]
        agent: Option<String>,
        /// Capabilities the routing needs, comma-separated
        #[arg(long)]
        capabilities: Option<String>,
        /// Task ids this one waits for, comma-separated
        #[arg(long, value_name = "ID,...")]
        depends_on: Option<String>,
        /// Parent task id (makes this a subtask)
        #[arg(long)]
        parent: Option<String>,
    },
    /// Cancel a task (and its open subtasks)
    Cancel { id: ensemble_core::IdArg },
    /// Put a failed task back in the queue (a failed workflow step reopens its run)
    Retry { id: ensemble_core::IdArg },
    /// Make a task wait for another one
    Depend {
        id: ensemble_core::IdArg,
        /// The task it waits for
        #[arg(long)]
        on: String,
    },
}

fn parse_priority(raw: &str) -> Result<i64, CoreError> {
    let t = raw.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    priority_from_name(t).map(i64::from).ok_or_else(|| {
        CoreError::validation(
            "priority",
            format!("'{t}' is not a number from 1 to 10 or one of critical, high, normal, low, background"),
        )
    })
}

pub fn run(core: &Core, out: &Out, cmd: TasksCmd) -> CliResult {
    match cmd {
        TasksCmd::List { status, limit } => {
            let statuses = status
                .map(|s| s.trim().parse::<TaskStatus>().map(|s| vec![s]))
                .transpose()?;
            let page = core.tasks().list(
                &TaskFilter {
                    statuses,
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
                out.text("No tasks.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|t| {
                    vec![
                        t.id.clone(),
                        t.priority.to_string(),
                        t.status.to_string(),
                        t.assigned_agent_id.clone().unwrap_or_else(|| "-".into()),
                        clip(&t.title, 50),
                    ]
                })
                .collect();
            out.table(&["ID", "PRI", "STATUS", "AGENT", "TITLE"], &rows);
            if page.total > page.items.len() as u64 {
                out.text(&format!(
                    "({} of {} shown; use --limit)",
                    page.items.len(),
                    page.total
                ));
            }
            Ok(())
        }
        TasksCmd::Show { id } => {
            let t = core.tasks().get(&id)?;
            if out.json {
                return out.json(&t);
            }
            out.text(&format!("{} ({})", t.title, t.id));
            out.text(&format!("  status:    {}", t.status));
            out.text(&format!("  priority:  {}", t.priority));
            out.text(&format!("  type:      {}", t.task_type));
            out.text(&format!(
                "  agent:     {}",
                t.assigned_agent_id.as_deref().unwrap_or("(routed)")
            ));
            out.text(&format!("  attempts:  {}/{}", t.attempts, t.max_attempts));
            if !t.objective.is_empty() {
                out.text(&format!("  objective: {}", clip(&t.objective, 100)));
            }
            if !t.depends_on.is_empty() {
                out.text(&format!("  waits for: {}", t.depends_on.join(", ")));
            }
            if let Some(o) = &t.output {
                out.text(&format!("  output:    {}", clip(o, 200)));
            }
            if let Some(e) = &t.error {
                out.text(&format!("  error:     {e}"));
            }
            Ok(())
        }
        TasksCmd::Add {
            title,
            objective,
            priority,
            agent,
            capabilities,
            depends_on,
            parent,
        } => {
            let input = NewTask {
                title,
                objective,
                priority: priority.as_deref().map(parse_priority).transpose()?,
                assigned_agent_id: agent,
                required_capabilities: capabilities.map(|c| validate::split_csv(&c)),
                depends_on: depends_on.map(|d| validate::split_csv(&d)),
                parent_task_id: parent,
                ..Default::default()
            };
            let t = core.tasks().create(input)?;
            if out.json {
                return out.json(&t);
            }
            out.text(&format!(
                "Queued task {} ({}) at priority {}",
                t.title, t.id, t.priority
            ));
            Ok(())
        }
        TasksCmd::Depend { id, on } => {
            let t = core.tasks().add_dependency(&id, &on)?;
            if out.json {
                return out.json(&t);
            }
            out.text(&format!(
                "{} now waits for {}",
                t.title,
                t.depends_on.join(", ")
            ));
            Ok(())
        }
        TasksCmd::Cancel { id } => {
            let t = core.tasks().cancel(&id)?;
            if out.json {
                return out.json(&t);
            }
            out.text(&format!("Cancelled task {} ({})", t.title, t.id));
            Ok(())
        }
        TasksCmd::Retry { id } => {
            let t = core.tasks().retry(&id)?;
            if out.json {
                return out.json(&t);
            }
            out.text(&format!(
                "Queued task {} again ({}), attempt {} of {}",
                t.title,
                t.id,
                t.attempts + 1,
                t.max_attempts
            ));
            Ok(())
        }
    }
}
