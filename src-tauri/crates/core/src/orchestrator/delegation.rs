//! Delegation: an agent creates a subtask for another agent. Inside a crew
//! it must be allowed to (it supervises the target, delegates to it, or the
//! target reports to it); outside a crew any enabled agent may take it.
//! Depth is limited by the delegating agent's `max_delegation_depth` and a
//! global cap of 3, and a cycle along the parent chain (A → B → A) is
//! refused. The parent waits (`delegated`) and receives the outputs.

use rusqlite::{params, OptionalExtension};

use crate::agents::{load_agent, MAX_DELEGATION_DEPTH};
use crate::error::{CoreError, Result};
use crate::tasks::{insert_task, load_task, NewTask, Task, TaskLinks, TaskType};
use crate::{Core, Id};

#[derive(Debug, Clone, Default)]
pub struct DelegationRequest {
    pub title: String,
    pub objective: String,
    /// A specific agent; otherwise routed by `capabilities`.
    pub to_agent_id: Option<Id>,
    pub capabilities: Vec<String>,
    /// The tool call's journal key: a repeated call returns the same subtask.
    pub key: Option<String>,
}

impl Core {
    /// Creates a subtask of `parent_id` for another agent, enforcing the rules above.
    pub fn delegate(
        &self,
        parent_id: &str,
        from_agent_id: &str,
        req: DelegationRequest,
    ) -> Result<Task> {
        self.write(|tx| {
            if let Some(k) = req.key.as_deref() {
                let existing: Option<String> = tx
                    .query_row("SELECT id FROM tasks WHERE idempotency_key = ?1", [k], |r| r.get(0))
                    .optional()?;
                if let Some(id) = existing {
                    return load_task(tx, &id);
                }
            }
            let parent = load_task(tx, parent_id)?;
            if parent.status.is_final() {
                return Err(CoreError::validation("delegation", format!("the task is already {}", parent.status)));
            }
            let from = load_agent(tx, from_agent_id)?;
            let works_on_it = parent.assigned_agent_id.as_deref() == Some(from_agent_id)
                || parent.routed_agent_id.as_deref() == Some(from_agent_id);
            if !works_on_it {
                return Err(CoreError::validation(
                    "delegation",
                    format!("{} does not work on '{}', so it cannot split it", from.name, parent.title),
                ));
            }
            let depth = parent.delegation_depth + 1;
            let limit = from.max_delegation_depth.min(MAX_DELEGATION_DEPTH);
            if depth > limit {
                return Err(CoreError::validation(
                    "delegation",
                    format!(
                        "delegating would reach depth {depth}, beyond the limit of {limit} for {} (global cap {MAX_DELEGATION_DEPTH})",
                        from.name
                    ),
                ));
            }
            let target = match req.to_agent_id.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => load_agent(tx, t)?,
                None => {
                    let caps = crate::validate::labels("capabilities", &req.capabilities)?;
                    best_for(tx, &caps, from_agent_id, parent.crew_id.as_deref())?
                }
            };
            if !target.enabled {
                return Err(CoreError::validation("delegation", format!("{} is disabled", target.name)));
            }
            if target.id == from.id {
                return Err(CoreError::Cycle {
                    path: format!("{} cannot delegate to itself", from.name),
                });
            }
            if let Some(crew) = parent.crew_id.as_deref() {
                if !crate::crews::may_delegate(tx, crew, &from.id, &target.id)? {
                    return Err(CoreError::validation(
                        "delegation",
                        format!("{} may not delegate to {} in this crew", from.name, target.name),
                    ));
                }
            }
            // Walk up the parent chain: the target must not already work on
            // an ancestor, as its assignee or as the agent routing chose.
            let mut chain = vec![from.name.clone()];
            let mut cursor = Some(parent.clone());
            while let Some(t) = cursor {
                if let Some(a) = t.assigned_agent_id.as_deref().or(t.routed_agent_id.as_deref()) {
                    if a == target.id {
                        chain.push(target.name.clone());
                        chain.reverse();
                        return Err(CoreError::Cycle {
                            path: format!("delegation loop {}", chain.join(" → ")),
                        });
                    }
                    if a != from.id {
                        chain.push(load_agent(tx, a).map(|x| x.name).unwrap_or_else(|_| a.to_string()));
                    }
                }
                cursor = match t.parent_task_id.as_deref() {
                    Some(p) => Some(load_task(tx, p)?),
                    None => None,
                };
            }
            let sub = insert_task(
                tx,
                &NewTask {
                    title: req.title.clone(),
                    objective: Some(req.objective.clone()),
                    task_type: Some(TaskType::Execute),
                    priority: Some(i64::from(parent.priority)),
                    crew_id: parent.crew_id.clone(),
                    assigned_agent_id: Some(target.id.clone()),
                    required_capabilities: Some(req.capabilities.clone()),
                    parent_task_id: Some(parent.id.clone()),
                    created_by: Some(from.id.clone()),
                    ..Default::default()
                },
                &TaskLinks {
                    crew_run_id: parent.crew_run_id.clone(),
                    delegated: true,
                    ..Default::default()
                },
            )?;
            if let Some(k) = req.key.as_deref() {
                crate::tasks::set_idempotency_key(tx, &sub.id, k)?;
            }
            Ok(sub)
        })
    }

    /// The subtasks a delegate call created (by its journal key).
    pub fn subtasks_of_call(&self, parent_id: &str, key: &str) -> Result<Vec<Task>> {
        self.read(|c| {
            crate::store::row::query_all(
                c,
                &format!(
                    "SELECT {} FROM tasks WHERE parent_task_id = ?1 AND idempotency_key = ?2",
                    crate::tasks::COLS
                ),
                params![parent_id, key],
                crate::tasks::task_from_row,
            )
        })
    }
}

/// The enabled agent (not `exclude`) with the best capability overlap, in the
/// crew when there is one.
fn best_for(
    tx: &rusqlite::Connection,
    caps: &[String],
    exclude: &str,
    crew: Option<&str>,
) -> Result<crate::agents::Agent> {
    let ids: Vec<String> = match crew {
        Some(c) => crate::store::row::query_all(
            tx,
            "SELECT agent_id FROM crew_members WHERE crew_id = ?1",
            [c],
            |r| Ok(r.get(0)?),
        )?,
        None => {
            crate::store::row::query_all(tx, "SELECT id FROM agents WHERE enabled = 1", [], |r| {
                Ok(r.get(0)?)
            })?
        }
    };
    let mut best: Option<(f64, crate::agents::Agent)> = None;
    for id in ids.iter().filter(|i| i.as_str() != exclude) {
        let a = load_agent(tx, id)?;
        if !a.enabled {
            continue;
        }
        let score = super::routing::capability_score(&a, caps);
        if score > 0.0 && best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, a));
        }
    }
    best.map(|(_, a)| a).ok_or_else(|| {
        CoreError::validation(
            "delegation",
            format!("no other agent has the capabilities {}", caps.join(", ")),
        )
    })
}
