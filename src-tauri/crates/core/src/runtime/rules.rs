//! The run's own rules for a small model's next step, which the JSON-step
//! schema and the guided steps both follow: the tools a task still
//! requires (in the order it names them), the addresses it was given, the
//! failed call to correct before an answer, a call repeated word for word,
//! and the databases `sql_query` may name.

use crate::runs::RunStep;
use crate::tools::ToolDef;

use super::{step, Ctx};

/// Tools the task requires by name (a required capability that is one of the
/// agent's tools) that this run has not used yet, in the order the task
/// mentions them ("fetch … with web_fetch, then … with code_run"). Until they
/// are used, a structured step may not be `finish`, and it must be the next
/// one of them: small models otherwise answer from thin air instead of
/// running the tool the task asks for, or run the steps out of order.
pub(crate) fn tools_still_required(ctx: &Ctx) -> Vec<ToolDef> {
    let t = &ctx.job.task;
    let text = format!("{} {}", t.title, t.objective);
    let mut left: Vec<ToolDef> = ctx
        .tools
        .iter()
        .filter(|tool| {
            t.required_capabilities.contains(&tool.name) || names_tool(&text, &tool.name)
        })
        .filter(|tool| {
            !ctx.steps
                .iter()
                .any(|s| s.action.as_ref().is_some_and(|a| a.tool == tool.name))
        })
        .cloned()
        .collect();
    left.sort_by_key(|tool| text.find(&tool.name).unwrap_or(usize::MAX));
    left
}

/// Whether a task's text asks for a tool by name: a name like `code_run`
/// as a word of its own; a plain word such as `remember` only as "the
/// remember tool" or "with remember" (so "remember to be brief" asks for
/// nothing).
pub(crate) fn names_tool(text: &str, name: &str) -> bool {
    let lower = text.to_lowercase();
    let name = name.to_lowercase();
    if name.contains('_') {
        return lower
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|w| w == name);
    }
    [
        format!("{name} tool"),
        format!("with {name}"),
        format!("using {name}"),
    ]
    .iter()
    .any(|phrase| lower.contains(phrase.as_str()))
}

/// The addresses a run has been given: in its task, the results it depends
/// on, and what its steps have read.
pub(crate) fn known_addresses(ctx: &Ctx) -> Vec<String> {
    let t = &ctx.job.task;
    let mut text = format!("{}\n{}\n{}\n", t.title, t.objective, t.input);
    for (_, output) in &ctx.dependencies {
        text.push_str(output);
        text.push('\n');
    }
    // Not what a failed step echoes back (the model's own bad address).
    for s in ctx.steps.iter().filter(|s| s.action.is_some()) {
        if let Some(o) = s.observation.as_deref().filter(|o| !step::failed(o)) {
            text.push_str(o);
            text.push('\n');
        }
    }
    step::addresses(&text)
}

/// How many failed calls in a row a JSON-step model must correct before it
/// may finish without a result.
const CORRECTIONS_BEFORE_FINISH: usize = 2;

/// The tool whose call failed in the last step, when the model must call it
/// again with corrected arguments rather than finish. Allowed to finish
/// right after a failure, the default 270M model wrote English as code
/// (`144 divided by 12` → SyntaxError) and then answered with a number it
/// made up; made to try again, with the error in view, it can fix the call.
/// After [`CORRECTIONS_BEFORE_FINISH`] failures in a row it may finish.
pub(crate) fn call_to_correct(ctx: &Ctx) -> Option<&ToolDef> {
    let failures = ctx
        .steps
        .iter()
        .rev()
        .take_while(|s| s.action.is_some() && s.observation.as_deref().is_some_and(step::failed))
        .count();
    if failures == 0 || failures > CORRECTIONS_BEFORE_FINISH {
        return None;
    }
    let tool = &ctx.steps.last()?.action.as_ref()?.tool;
    ctx.tools.iter().find(|t| &t.name == tool)
}

/// True when the last step made exactly the same call as an earlier one: a
/// small model that starts repeating itself will not stop by itself, so its
/// next structured step must be `finish` (it has the result already).
pub(crate) fn repeats_itself(steps: &[RunStep]) -> bool {
    let Some((last, earlier)) = steps.split_last() else {
        return false;
    };
    let Some(action) = &last.action else {
        return false;
    };
    earlier.iter().any(|s| {
        s.action
            .as_ref()
            .is_some_and(|a| a.tool == action.tool && a.arguments == action.arguments)
    })
}

/// `sql_query`'s `database` may only be a registered name: the step's
/// grammar (or the provider's tool schema) then keeps a small model from
/// writing a name from the example or the task's wording that does not exist.
pub(crate) fn name_the_databases(tools: &mut [ToolDef], databases: &[String]) {
    if databases.is_empty() {
        return;
    }
    for t in tools.iter_mut().filter(|t| t.name == "sql_query") {
        if let Some(db) = t.parameters.pointer_mut("/properties/database") {
            db["enum"] = serde_json::json!(databases);
        }
    }
}
