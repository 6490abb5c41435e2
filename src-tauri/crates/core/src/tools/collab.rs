//! Collaboration tools: `delegate_task` (through the orchestrator's
//! delegation rules), `send_message`, `ask_human` (an inbox item the run
//! waits for) and `remember` (team memory). Tools that write to the store
//! carry the call's journal key so a repeated call changes nothing.
//!
//! `delegate_task` and `ask_human` park the run: their output carries
//! `{"park": …}` and the runtime stops until the subtask finishes or the
//! human answers.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Tool, ToolCategory, ToolContext, ToolError, ToolOutput, TypedTool};
use crate::messages::{MessageKind, NewMessage};
use crate::CoreError;

pub fn all() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(Delegate),
        Arc::new(SendMessage),
        Arc::new(AskHuman),
        Arc::new(Remember),
    ]
}

/// The crew a call is made in: the context's, else its task's (blocking).
fn crew_of(ctx: &ToolContext) -> Option<String> {
    ctx.crew_id.clone().or_else(|| {
        ctx.task_id
            .as_deref()
            .and_then(|t| ctx.core.tasks().get(t).ok())
            .and_then(|t| t.crew_id)
    })
}

fn core_err(e: CoreError) -> ToolError {
    match e {
        CoreError::Validation { .. }
        | CoreError::Cycle { .. }
        | CoreError::NotFound { .. }
        | CoreError::TooLarge { .. } => ToolError::Refused(e.to_string()),
        other => ToolError::Failed(other.to_string()),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DelegateArgs {
    /// Short title of the subtask.
    title: String,
    /// What the subtask must achieve.
    objective: String,
    /// The agent to give it to (id); omit to route by capabilities.
    #[serde(default)]
    to_agent_id: Option<String>,
    /// Capabilities the subtask needs, e.g. ["data_analysis"].
    #[serde(default)]
    capabilities: Vec<String>,
}

struct Delegate;

#[async_trait]
impl TypedTool for Delegate {
    type Args = DelegateArgs;
    const NAME: &'static str = "delegate_task";
    const CATEGORY: ToolCategory = ToolCategory::Collaboration;

    fn description(&self) -> String {
        "Give a subtask to a teammate you may delegate to; you continue when it is done, with its output.".to_string()
    }

    async fn call(&self, a: DelegateArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let (Some(task), Some(agent)) = (ctx.task_id.clone(), ctx.agent_id.clone()) else {
            return Err(ToolError::Refused(
                "delegate_task needs a task and an agent".into(),
            ));
        };
        let core = ctx.core.clone();
        let key = ctx.call_key.clone();
        let sub = ctx
            .core
            .call(move |_| {
                core.delegate(
                    &task,
                    &agent,
                    crate::orchestrator::delegation::DelegationRequest {
                        title: a.title,
                        objective: a.objective,
                        to_agent_id: a.to_agent_id,
                        capabilities: a.capabilities,
                        key,
                    },
                )
            })
            .await
            .map_err(core_err)?;
        Ok(ToolOutput {
            content: format!(
                "Delegated '{}' (task {}) to agent {}. You will continue with its output when it is done.",
                sub.title,
                sub.id,
                sub.assigned_agent_id.as_deref().unwrap_or("?")
            ),
            data: Some(serde_json::json!({ "park": "delegated", "subtask_id": sub.id })),
        })
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SendArgs {
    /// The message.
    content: String,
    /// Recipient agent id; omit to post to the whole team.
    #[serde(default)]
    to_agent_id: Option<String>,
    /// request, response, handoff, escalation, status_update or question.
    #[serde(default)]
    kind: Option<String>,
}

struct SendMessage;

#[async_trait]
impl TypedTool for SendMessage {
    type Args = SendArgs;
    const NAME: &'static str = "send_message";
    const CATEGORY: ToolCategory = ToolCategory::Collaboration;

    fn description(&self) -> String {
        "Send a message to a teammate or to the whole team.".to_string()
    }

    async fn call(&self, a: SendArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let kind = match a.kind.as_deref() {
            None => MessageKind::Request,
            Some(k) => k
                .parse::<MessageKind>()
                .map_err(|e| ToolError::InvalidArguments {
                    tool: "send_message".into(),
                    detail: e.to_string(),
                })?,
        };
        let ctx = ctx.clone();
        let m = ctx
            .core
            .clone()
            .call(move |_| {
                let crew_id = crew_of(&ctx);
                ctx.core.messages().send_once(
                    NewMessage {
                        crew_id,
                        task_id: ctx.task_id.clone(),
                        from_agent_id: ctx.agent_id.clone(),
                        to_agent_id: a.to_agent_id,
                        kind: Some(kind),
                        content: a.content,
                        ..Default::default()
                    },
                    ctx.call_key.as_deref(),
                )
            })
            .await
            .map_err(core_err)?;
        Ok(ToolOutput {
            content: format!("Message sent on {}.", m.channel),
            data: Some(serde_json::json!({ "message_id": m.id })),
        })
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct AskArgs {
    /// The question for the human.
    question: String,
}

struct AskHuman;

#[async_trait]
impl TypedTool for AskHuman {
    type Args = AskArgs;
    const NAME: &'static str = "ask_human";
    const CATEGORY: ToolCategory = ToolCategory::Collaboration;

    fn description(&self) -> String {
        "Ask the human a question; you continue when they answer in the inbox.".to_string()
    }

    async fn call(&self, a: AskArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput {
            content: format!("Asked the human: {}", a.question),
            data: Some(
                serde_json::json!({ "park": "ask_human", "question": a.question, "by_human": ctx.by_human }),
            ),
        })
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RememberArgs {
    /// A fact the team should keep in mind.
    content: String,
}

struct Remember;

#[async_trait]
impl TypedTool for Remember {
    type Args = RememberArgs;
    const NAME: &'static str = "remember";
    const CATEGORY: ToolCategory = ToolCategory::Memory;

    fn description(&self) -> String {
        "Save a fact to the team's shared memory; teammates see it in their instructions."
            .to_string()
    }

    async fn call(&self, a: RememberArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let ctx = ctx.clone();
        ctx.core
            .clone()
            .call(move |_| {
                let crew_id = crew_of(&ctx);
                ctx.core.memory().remember(
                    crew_id.as_deref(),
                    ctx.agent_id.as_deref(),
                    &a.content,
                    "remember",
                    ctx.call_key.as_deref(),
                )
            })
            .await
            .map_err(core_err)?;
        Ok(ToolOutput::text("Remembered."))
    }
}
