//! Workflows: reusable DAGs of steps, in one room: their definitions (this
//! file stores them; `definition.rs` validates one), their runs (`runs.rs`:
//! a run turns ready steps into tasks and follows them to the end) and
//! templates (`templates.rs`). The tasks room knows nothing of workflows:
//! the task lifecycle tells a run when one of its step tasks ends or is
//! retried.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, query_one, to_json, RowCtx};
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};

mod definition;
pub mod runs;
mod templates;

pub use definition::{references, validate_definition};
pub use runs::{StepState, StepStatus, WorkflowRun, WorkflowRunStatus, MAX_RUN_INPUT};

text_enum! {
    pub enum ConditionOp ("condition operator") {
        Contains = "contains",
        NotContains = "not_contains",
        Equals = "equals",
        NotEquals = "not_equals",
    }
}

text_enum! {
    /// What a run does when a step fails.
    pub enum FailurePolicy ("failure policy") {
        Fail = "fail",
        Continue = "continue",
    }
}

/// Run a step only when an upstream step's output satisfies this test
/// (case-insensitive, surrounding whitespace ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct StepCondition {
    pub step: String,
    pub op: ConditionOp,
    pub value: String,
}

impl StepCondition {
    pub fn holds(&self, output: &str) -> bool {
        let out = output.trim().to_lowercase();
        let v = self.value.trim().to_lowercase();
        match self.op {
            ConditionOp::Contains => out.contains(&v),
            ConditionOp::NotContains => !out.contains(&v),
            ConditionOp::Equals => out == v,
            ConditionOp::NotEquals => out != v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WorkflowStep {
    /// Unique within the workflow; referenced as `{{key.output}}`.
    pub key: String,
    #[serde(default)]
    pub title: String,
    /// A fixed agent, or else the capabilities the routing needs.
    #[serde(default)]
    pub agent_id: Option<Id>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Prompt with `{{step.output}}` references to upstream steps and `{{input}}`.
    pub prompt: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub condition: Option<StepCondition>,
    #[serde(default)]
    pub priority: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct WorkflowDefinition {
    pub steps: Vec<WorkflowStep>,
    #[serde(default = "default_policy")]
    pub on_failure: FailurePolicy,
}

fn default_policy() -> FailurePolicy {
    FailurePolicy::Fail
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Workflow {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub is_template: bool,
    pub definition: WorkflowDefinition,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct WorkflowInput {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub description: Option<String>,
    #[ts(optional)]
    pub is_template: Option<bool>,
    #[ts(optional)]
    pub definition: Option<WorkflowDefinition>,
}

fn workflow_from_row(r: &rusqlite::Row<'_>) -> Result<Workflow> {
    let c = RowCtx::new(r, "workflow")?;
    Ok(Workflow {
        id: c.get("id")?,
        name: c.get("name")?,
        description: c.get("description")?,
        is_template: c.bool("is_template")?,
        definition: c.json("definition")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_workflow(conn: &Connection, id: &str) -> Result<Workflow> {
    query_one(
        conn,
        "SELECT * FROM workflows WHERE id = ?1",
        [id],
        workflow_from_row,
    )?
    .ok_or_else(|| CoreError::not_found("workflow", id))
}

/// The workflows room: definitions, runs and templates: `core.workflows()`.
#[derive(Clone, Copy)]
pub struct Workflows<'a> {
    pub(crate) core: &'a Core,
}

impl Workflows<'_> {
    pub fn create(&self, input: WorkflowInput) -> Result<Workflow> {
        let name = validate::name("name", input.name.as_deref().unwrap_or(""))?;
        let description =
            validate::short_text("description", input.description.as_deref().unwrap_or(""))?;
        let Some(def) = input.definition else {
            return Err(CoreError::validation(
                "definition",
                "a workflow needs its steps",
            ));
        };
        validate_definition(&def)?;
        let id = new_id();
        self.core.write(|tx| {
            for s in &def.steps {
                if let Some(a) = &s.agent_id {
                    crate::agents::ensure_agent(tx, a)?;
                }
            }
            let now = time::now_sql();
            tx.execute(
                "INSERT INTO workflows (id, name, description, is_template, definition, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![id, name, description, input.is_template.unwrap_or(false), to_json(&def)?, now],
            )?;
            tx.changed(Entity::Workflow, ChangeOp::Created, &id);
            load_workflow(tx, &id)
        })
    }

    pub fn get(&self, id: &str) -> Result<Workflow> {
        crate::validate::id("id", id)?;
        self.core.read(|c| load_workflow(c, id))
    }

    pub fn update(&self, id: &str, input: WorkflowInput) -> Result<Workflow> {
        if let Some(def) = &input.definition {
            validate_definition(def)?;
        }
        self.core.write(|tx| {
            let cur = load_workflow(tx, id)?;
            let name = match &input.name {
                Some(n) => validate::name("name", n)?,
                None => cur.name,
            };
            let description = match &input.description {
                Some(d) => validate::short_text("description", d)?,
                None => cur.description,
            };
            let def = input.definition.clone().unwrap_or(cur.definition);
            tx.execute(
                "UPDATE workflows SET name = ?2, description = ?3, is_template = ?4, definition = ?5, updated_at = ?6 WHERE id = ?1",
                params![id, name, description, input.is_template.unwrap_or(cur.is_template), to_json(&def)?, time::now_sql()],
            )?;
            tx.changed(Entity::Workflow, ChangeOp::Updated, id);
            load_workflow(tx, id)
        })
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        self.core.write(|tx| {
            if tx.execute("DELETE FROM workflows WHERE id = ?1", [id])? == 0 {
                return Err(CoreError::not_found("workflow", id));
            }
            tx.changed(Entity::Workflow, ChangeOp::Deleted, id);
            Ok(())
        })
    }

    pub fn list(&self, templates_only: bool, paging: Paging) -> Result<Page<Workflow>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            let total: u64 = c.query_row(
                "SELECT count(*) FROM workflows WHERE (?1 = 0 OR is_template = 1)",
                [templates_only],
                |r| r.get(0),
            )?;
            let sql = format!(
                "SELECT * FROM workflows WHERE (?1 = 0 OR is_template = 1) ORDER BY lower(name), id LIMIT {limit} OFFSET {offset}"
            );
            let items = query_all(c, &sql, [templates_only], workflow_from_row)?;
            Ok(Page { items, total, limit, offset })
        })
    }
}
