//! `ensemble approvals …`

use clap::Subcommand;
use ensemble_core::approvals::{ApprovalStatus, Decision, Verdict};
use ensemble_core::{Core, Paging};

use super::output::clip;
use super::{CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum ApprovalsCmd {
    /// List approval requests (pending by default)
    List {
        /// pending, approved, edited, rejected, expired or all
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Approve a pending request
    Approve {
        id: ensemble_core::IdArg,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Reject a pending request; the reason goes back to the agent
    Reject {
        id: ensemble_core::IdArg,
        #[arg(long)]
        comment: Option<String>,
    },
}

pub fn run(core: &Core, out: &Out, cmd: ApprovalsCmd) -> CliResult {
    match cmd {
        ApprovalsCmd::List { status } => {
            let status = match status.trim() {
                "all" => None,
                s => Some(s.parse::<ApprovalStatus>()?),
            };
            let page = core.approvals().list(status, Paging::default())?;
            if out.json {
                return out.json(&page.items);
            }
            if page.items.is_empty() {
                out.text("Nothing waiting for you.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .items
                .iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        a.status.to_string(),
                        a.kind.to_string(),
                        a.expires_at.format("%Y-%m-%d %H:%M").to_string(),
                        clip(&a.title, 60),
                    ]
                })
                .collect();
            out.table(&["ID", "STATUS", "KIND", "EXPIRES (UTC)", "TITLE"], &rows);
            Ok(())
        }
        ApprovalsCmd::Approve { id, comment } => decide(core, out, &id, Verdict::Approve, comment),
        ApprovalsCmd::Reject { id, comment } => decide(core, out, &id, Verdict::Reject, comment),
    }
}

fn decide(
    core: &Core,
    out: &Out,
    id: &str,
    verdict: Verdict,
    comment: Option<String>,
) -> CliResult {
    let a = core.approvals().decide(
        id,
        Decision {
            verdict: Some(verdict),
            comment,
            decided_by: Some("cli".into()),
            edited_action: None,
        },
    )?;
    if out.json {
        return out.json(&a);
    }
    out.text(&format!("{} \"{}\" ({})", a.status, a.title, a.id));
    Ok(())
}
