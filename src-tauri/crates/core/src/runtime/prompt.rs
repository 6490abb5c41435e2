//! The conversation an agent sees for a task: its instructions (role,
//! prompt, personality, team memory, tools), the task and what it depends
//! on, then every recorded step replayed — so a run resumed after a park or
//! a crash continues exactly where it stopped.

use crate::agents::Agent;
use crate::providers::{ModelMessage, Role, ToolCall};
use crate::runs::RunStep;
use crate::tasks::Task;
use crate::tools::ToolDef;

use super::step;

/// Everything the prompt is built from.
pub struct PromptInput<'a> {
    pub agent: &'a Agent,
    pub task: &'a Task,
    pub tools: &'a [ToolDef],
    /// Use the JSON step format instead of native tool calls.
    pub json_steps: bool,
    pub memory: &'a [String],
    /// Outputs of the tasks this one depends on: (title, output).
    pub dependencies: &'a [(String, String)],
    pub steps: &'a [RunStep],
}

pub fn system(input: &PromptInput<'_>) -> String {
    let a = input.agent;
    let mut s = a.identity("capable assistant");
    s.push_str(&a.style_line());
    if !input.memory.is_empty() {
        s.push_str("\n\nWhat your team has noted so far:\n");
        for m in input.memory {
            s.push_str(&format!("- {m}\n"));
        }
    }
    if input.json_steps {
        s.push_str("\n\n");
        s.push_str(&step::instructions(input.tools));
    } else if !input.tools.is_empty() {
        s.push_str("\n\nUse the tools when they help; when you are done, reply with the final answer as plain text.");
    }
    s
}

pub fn task_message(input: &PromptInput<'_>) -> String {
    let t = input.task;
    let mut s = format!("Task: {}\n", t.title);
    if !t.objective.trim().is_empty() {
        s.push_str(&format!("Objective: {}\n", t.objective.trim()));
    }
    if !t.input.is_null() {
        s.push_str(&format!("Input: {}\n", t.input));
    }
    for (title, output) in input.dependencies {
        s.push_str(&format!("\nResult of '{title}':\n{output}\n"));
    }
    s
}

/// How much of a step that had to be sent back is shown to the model again:
/// enough to see what was wrong. Replayed whole, three steps that ran to
/// their token cap overflowed the embedded model's 4,096-token context.
const REPLAYED_BAD_STEP_CHARS: usize = 400;

fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The full conversation, with recorded steps replayed. In JSON steps a
/// few worked exchanges on other tasks come before the task itself.
pub fn messages(input: &PromptInput<'_>) -> Vec<ModelMessage> {
    let mut out = vec![ModelMessage::system(system(input))];
    if input.json_steps {
        out.extend(step::example_messages(
            input.tools,
            &input.task.required_capabilities,
        ));
    }
    out.push(ModelMessage::user(task_message(input)));
    for st in input.steps {
        match (&st.action, input.json_steps) {
            (Some(action), true) => {
                let rendered = step::render(&step::Step::Act {
                    thought: st.thought.clone(),
                    tool: action.tool.clone(),
                    arguments: action.arguments.clone(),
                    call_id: action.call_id.clone(),
                });
                out.push(ModelMessage::assistant(rendered));
                if let Some(obs) = &st.observation {
                    out.push(ModelMessage::user(step::observation_message(
                        &action.tool,
                        obs,
                        input.task.title.trim(),
                    )));
                }
            }
            (Some(action), false) => {
                out.push(ModelMessage {
                    role: Role::Assistant,
                    content: st.thought.clone(),
                    tool_calls: vec![ToolCall {
                        id: action.call_id.clone(),
                        name: action.tool.clone(),
                        arguments: action.arguments.clone(),
                    }],
                    tool_call_id: None,
                    name: None,
                });
                if let Some(obs) = &st.observation {
                    out.push(ModelMessage::tool_result(
                        action.call_id.clone(),
                        action.tool.clone(),
                        obs.clone(),
                    ));
                }
            }
            (None, _) => {
                // A step without an action: a rejected final answer or a bad
                // step, with the feedback as its observation.
                if !st.thought.is_empty() || st.final_answer.is_some() {
                    let said = st.final_answer.as_deref().unwrap_or(&st.thought);
                    out.push(ModelMessage::assistant(clip(said, REPLAYED_BAD_STEP_CHARS)));
                }
                if let Some(obs) = &st.observation {
                    out.push(ModelMessage::user(obs.clone()));
                }
            }
        }
    }
    out
}
