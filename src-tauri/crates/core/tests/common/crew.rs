//! Helpers for the crew tests: a crew engine over the scripted-model
//! orchestrator of `orch.rs`, and readers of what a scripted request is
//! (whose it is, which decision or which task it asks for).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::crews::engine::{CrewEngine, EngineConfig};
use ensemble_core::crews::run::CrewRun;
use ensemble_core::crews::{Crew, CrewInput, MemberInput, Process};
use ensemble_core::messages::Message;
use ensemble_core::providers::{ChatRequest, Role};
use ensemble_core::{Core, Paging};
use ensemble_llm::scripted::Reply;

use super::orch::Env;

pub fn engine(env: &Env) -> Arc<CrewEngine> {
    CrewEngine::with_config(
        env.core.clone(),
        env.hub.clone(),
        EngineConfig {
            poll: Duration::from_millis(40),
        },
    )
}

/// An agent whose requests say "You are NAME." first.
pub fn agent(core: &Core, name: &str, role: &str, caps: &[&str]) -> String {
    core.agents()
        .create(AgentInput {
            name: Some(name.into()),
            role: Some(role.into()),
            system_prompt: Some(format!("You are {name}.")),
            capabilities: Some(caps.iter().map(|c| c.to_string()).collect()),
            autonomy: Some(Autonomy::Autopilot),
            ..Default::default()
        })
        .expect("agent")
        .id
}

pub fn crew(
    core: &Core,
    name: &str,
    process: Process,
    members: &[(&str, &str)],
    extra: CrewInput,
) -> Crew {
    core.crews()
        .create(CrewInput {
            name: Some(name.into()),
            process: Some(process),
            members: Some(
                members
                    .iter()
                    .map(|(id, role)| MemberInput {
                        agent_id: id.to_string(),
                        role: Some(role.to_string()),
                    })
                    .collect(),
            ),
            ..extra
        })
        .expect("crew")
}

/// The first line of the request's first user message: `[plan]`, `[verdict]`,
/// … for the engine's decisions, `Task: …` for members' work.
pub fn purpose(req: &ChatRequest) -> String {
    user(req).lines().next().unwrap_or("").to_string()
}

pub fn user(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .find(|m| m.role == Role::User)
        .map(|m| m.content.clone())
        .unwrap_or_default()
}

pub fn system(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .find(|m| m.role == Role::System)
        .map(|m| m.content.clone())
        .unwrap_or_default()
}

pub fn is_work(req: &ChatRequest) -> bool {
    purpose(req).starts_with("Task: ")
}

pub fn json(v: serde_json::Value) -> Reply {
    Reply::text(&v.to_string())
}

/// A structured "finish" step (for a provider without native tools).
pub fn finish(answer: &str, confidence: f64) -> Reply {
    json(
        serde_json::json!({ "thought": "done", "action": "finish", "answer": answer, "confidence": confidence }),
    )
}

pub fn messages(core: &Core, run: &CrewRun) -> Vec<Message> {
    core.crews()
        .run_messages(
            &run.id,
            Paging {
                limit: Some(1000),
                offset: None,
            },
        )
        .expect("messages")
        .items
}
