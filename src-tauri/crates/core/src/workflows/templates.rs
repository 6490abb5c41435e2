//! Workflow templates: a copy saved for reuse, and a runnable workflow made
//! from one.

use super::Workflows;
use crate::error::{CoreError, Result};

use super::{Workflow, WorkflowInput};

impl Workflows<'_> {
    /// Saves a copy of a workflow as a reusable template.
    pub fn save_as_template(&self, workflow_id: &str, name: Option<&str>) -> Result<Workflow> {
        let wf = self.core.workflows().get(workflow_id)?;
        self.core.workflows().create(WorkflowInput {
            name: Some(
                name.map(str::to_string)
                    .unwrap_or_else(|| format!("{} (template)", wf.name)),
            ),
            description: Some(wf.description),
            is_template: Some(true),
            definition: Some(wf.definition),
        })
    }

    /// A new, runnable workflow from a template.
    pub fn instantiate(&self, template_id: &str, name: Option<&str>) -> Result<Workflow> {
        let t = self.core.workflows().get(template_id)?;
        if !t.is_template {
            return Err(CoreError::validation(
                "workflow",
                format!("'{}' is not a template", t.name),
            ));
        }
        self.core.workflows().create(WorkflowInput {
            name: Some(
                name.map(str::to_string)
                    .unwrap_or_else(|| t.name.trim_end_matches(" (template)").to_string()),
            ),
            description: Some(t.description),
            is_template: Some(false),
            definition: Some(t.definition),
        })
    }
}
