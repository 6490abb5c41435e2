//! Workflows: reusable DAGs of steps. This module stores them and validates a
//! definition (unique keys, known dependencies, no cycle, references and
//! conditions only to upstream steps); running them is the orchestrator's job.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, query_one, to_json, RowCtx};
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};

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

/// The `{{key.output}}` references in a prompt (`{{input}}` is not a step).
pub fn references(prompt: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim();
        if let Some(key) = inner.strip_suffix(".output") {
            out.push(key.trim().to_string());
        } else if inner != "input" {
            out.push(inner.to_string());
        }
        rest = &after[end + 2..];
    }
    out
}

/// Validates a definition; returns the steps in a topological order.
pub fn validate_definition(def: &WorkflowDefinition) -> Result<Vec<String>> {
    if def.steps.is_empty() {
        return Err(CoreError::validation(
            "steps",
            "a workflow needs at least one step",
        ));
    }
    if def.steps.len() > 200 {
        return Err(CoreError::validation("steps", "at most 200 steps"));
    }
    let mut by_key: BTreeMap<&str, &WorkflowStep> = BTreeMap::new();
    for s in &def.steps {
        let key = s.key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            || key.len() > 64
        {
            return Err(CoreError::validation(
                "steps.key",
                format!(
                    "'{}' is not a valid step key (letters, digits, '_' or '-', at most 64)",
                    s.key
                ),
            ));
        }
        if by_key.insert(key, s).is_some() {
            return Err(CoreError::validation(
                "steps.key",
                format!("step '{key}' appears twice"),
            ));
        }
        validate::text("steps.prompt", &s.prompt)?;
        if s.prompt.trim().is_empty() {
            return Err(CoreError::validation(
                "steps.prompt",
                format!("step '{key}' has an empty prompt"),
            ));
        }
        validate::labels("steps.capabilities", &s.capabilities)?;
        if let Some(p) = s.priority {
            validate::priority(p)?;
        }
    }
    for s in &def.steps {
        for d in &s.depends_on {
            if !by_key.contains_key(d.as_str()) {
                return Err(CoreError::validation(
                    "steps.depends_on",
                    format!("step '{}' depends on unknown step '{d}'", s.key),
                ));
            }
        }
    }
    let order = topo_order(def, &by_key)?;
    // References and conditions must point at ancestors, whose output exists by then.
    for s in &def.steps {
        let ancestors = ancestors_of(&s.key, &by_key);
        for r in references(&s.prompt) {
            if !by_key.contains_key(r.as_str()) {
                return Err(CoreError::validation(
                    "steps.prompt",
                    format!(
                        "step '{}' refers to unknown step '{{{{{r}.output}}}}'",
                        s.key
                    ),
                ));
            }
            if !ancestors.contains(r.as_str()) {
                return Err(CoreError::validation(
                    "steps.prompt",
                    format!(
                        "step '{}' uses {{{{{r}.output}}}} but does not depend on '{r}' (add it to depends_on)",
                        s.key
                    ),
                ));
            }
        }
        if let Some(c) = &s.condition {
            if !ancestors.contains(c.step.as_str()) {
                return Err(CoreError::validation(
                    "steps.condition",
                    format!(
                        "step '{}' has a condition on '{}', which is not upstream of it",
                        s.key, c.step
                    ),
                ));
            }
        }
    }
    Ok(order)
}

fn ancestors_of<'a>(key: &str, by_key: &BTreeMap<&'a str, &'a WorkflowStep>) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<&str> = by_key
        .get(key)
        .map(|s| s.depends_on.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(k) = stack.pop() {
        if let Some((&kk, s)) = by_key.get_key_value(k) {
            if out.insert(kk) {
                stack.extend(s.depends_on.iter().map(String::as_str));
            }
        }
    }
    out
}

/// Kahn's algorithm; on a cycle, names the steps on it.
fn topo_order(
    def: &WorkflowDefinition,
    by_key: &BTreeMap<&str, &WorkflowStep>,
) -> Result<Vec<String>> {
    let mut indegree: BTreeMap<&str, usize> = by_key.keys().map(|k| (*k, 0)).collect();
    for s in &def.steps {
        if let Some(d) = indegree.get_mut(s.key.trim()) {
            *d = s.depends_on.len();
        }
    }
    let mut ready: Vec<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::new();
    while let Some(k) = ready.pop() {
        order.push(k.to_string());
        for s in &def.steps {
            if s.depends_on.iter().any(|d| d == k) {
                if let Some(d) = indegree.get_mut(s.key.trim()) {
                    *d -= 1;
                    if *d == 0 {
                        ready.push(s.key.trim());
                    }
                }
            }
        }
    }
    if order.len() < by_key.len() {
        return Err(CoreError::Cycle {
            path: find_cycle(by_key),
        });
    }
    Ok(order)
}

fn find_cycle(by_key: &BTreeMap<&str, &WorkflowStep>) -> String {
    // Depth-first search with colours; a grey node reached again closes a cycle.
    fn dfs<'a>(
        key: &'a str,
        by_key: &BTreeMap<&'a str, &'a WorkflowStep>,
        grey: &mut BTreeSet<&'a str>,
        black: &mut BTreeSet<&'a str>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        grey.insert(key);
        stack.push(key);
        let deps = by_key
            .get(key)
            .map(|s| s.depends_on.as_slice())
            .unwrap_or(&[]);
        for d in deps {
            let Some((&d, _)) = by_key.get_key_value(d.as_str()) else {
                continue;
            };
            if grey.contains(d) {
                let pos = stack.iter().position(|k| *k == d).unwrap_or(0);
                let mut cycle = stack[pos..].to_vec();
                cycle.push(d);
                return Some(cycle);
            }
            if !black.contains(d) {
                if let Some(c) = dfs(d, by_key, grey, black, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        grey.remove(key);
        black.insert(key);
        None
    }
    let (mut grey, mut black) = (BTreeSet::new(), BTreeSet::new());
    for start in by_key.keys() {
        if black.contains(start) {
            continue;
        }
        if let Some(mut cycle) = dfs(start, by_key, &mut grey, &mut black, &mut Vec::new()) {
            // Dependencies point backwards in time; show the cycle in run order.
            cycle.reverse();
            return format!("steps {}", cycle.join(" → "));
        }
    }
    "steps depend on each other in a loop".to_string()
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

impl Core {
    pub fn create_workflow(&self, input: WorkflowInput) -> Result<Workflow> {
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
        self.write(|tx| {
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

    pub fn get_workflow(&self, id: &str) -> Result<Workflow> {
        crate::validate::id("id", id)?;
        self.read(|c| load_workflow(c, id))
    }

    pub fn update_workflow(&self, id: &str, input: WorkflowInput) -> Result<Workflow> {
        if let Some(def) = &input.definition {
            validate_definition(def)?;
        }
        self.write(|tx| {
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

    pub fn delete_workflow(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            if tx.execute("DELETE FROM workflows WHERE id = ?1", [id])? == 0 {
                return Err(CoreError::not_found("workflow", id));
            }
            tx.changed(Entity::Workflow, ChangeOp::Deleted, id);
            Ok(())
        })
    }

    pub fn list_workflows(&self, templates_only: bool, paging: Paging) -> Result<Page<Workflow>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        self.store().read_tx(|c| {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn step(key: &str, deps: &[&str], prompt: &str) -> WorkflowStep {
        WorkflowStep {
            key: key.into(),
            title: String::new(),
            agent_id: None,
            capabilities: vec![],
            prompt: prompt.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            condition: None,
            priority: None,
        }
    }

    fn def(steps: Vec<WorkflowStep>) -> WorkflowDefinition {
        WorkflowDefinition {
            steps,
            on_failure: FailurePolicy::Fail,
        }
    }

    #[test]
    fn diamond_is_valid() {
        let d = def(vec![
            step("a", &[], "start"),
            step("b", &["a"], "use {{a.output}}"),
            step("c", &["a"], "use {{a.output}}"),
            step("d", &["b", "c"], "{{b.output}} and {{c.output}}"),
        ]);
        let order = validate_definition(&d).unwrap_or_default();
        assert_eq!(order.first().map(String::as_str), Some("a"));
        assert_eq!(order.last().map(String::as_str), Some("d"));
    }

    #[test]
    fn cycle_is_named() {
        let d = def(vec![
            step("a", &["c"], "x"),
            step("b", &["a"], "x"),
            step("c", &["b"], "x"),
        ]);
        let err = validate_definition(&d).err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("cycle"), "{msg}");
        for k in ["a", "b", "c"] {
            assert!(msg.contains(k), "{msg}");
        }
    }

    #[test]
    fn bad_references_are_refused() {
        let unknown = def(vec![step("a", &[], "{{zzz.output}}")]);
        assert!(validate_definition(&unknown).is_err());
        let not_upstream = def(vec![step("a", &[], "x"), step("b", &[], "{{a.output}}")]);
        let msg = validate_definition(&not_upstream)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("does not depend on 'a'"), "{msg}");
        let unknown_dep = def(vec![step("a", &["nope"], "x")]);
        assert!(validate_definition(&unknown_dep).is_err());
    }
}
