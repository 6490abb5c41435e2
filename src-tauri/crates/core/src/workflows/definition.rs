//! A workflow definition checked before it is stored or run: unique keys,
//! known dependencies, no cycle, references and conditions only to upstream
//! steps.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{CoreError, Result};
use crate::validate;

use super::{WorkflowDefinition, WorkflowStep};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::FailurePolicy;

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
