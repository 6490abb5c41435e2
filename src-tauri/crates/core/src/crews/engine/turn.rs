//! A structured turn: one decision a member makes for the engine (a plan, a
//! verdict, a vote, a synthesis), asked of the member's own provider and
//! model with the answer constrained to a JSON schema (llama.cpp grammar,
//! Ollama `format`, or the schema in the instructions). The reply is still
//! parsed and validated: an invalid one is sent back once with the problem,
//! then the turn fails. Usage and cost count against the run's budget.

use serde_json::Value;

use super::{clip, wall_cap, Flow, Halt, RunCtx, CLIP};
use crate::agents::Agent;
use crate::providers::hub::Resolved;
use crate::providers::{collect, ChatRequest, ModelMessage, ProviderError, ProviderKind, Usage};

/// Replies tried per turn (the first, and one corrected).
const TRIES: usize = 2;
/// Output tokens one turn may use at most.
const MAX_TURN_TOKENS: u64 = 768;

/// The instructions an agent gets for a turn: who it is, its crew, what
/// the team has noted, and the reply format.
fn system(ctx: &RunCtx, agent: &Agent, memory: &[String], schema: &Value) -> String {
    let mut s = agent.identity("capable assistant");
    s.push_str(&agent.style_line());
    s.push_str(&format!(
        "\nYou work as the {} of this crew.\n{}",
        ctx.role_of(agent),
        ctx.brief()
    ));
    if !memory.is_empty() {
        s.push_str("\n\nWhat your team has noted so far:\n");
        for m in memory {
            s.push_str(&format!("- {m}\n"));
        }
    }
    s.push_str(&format!(
        "\n\nReply with ONE JSON object and nothing else, matching this JSON schema: {schema}"
    ));
    s
}

/// Dollars for this usage from the provider's cost table (local models cost nothing).
fn cost(ctx: &RunCtx, r: &Resolved, u: Usage) -> f64 {
    if matches!(
        r.provider.kind(),
        ProviderKind::Embedded | ProviderKind::Ollama
    ) {
        return 0.0;
    }
    ctx.core
        .providers()
        .get(&r.provider_name)
        .ok()
        .and_then(|cfg| cfg.cost_table.get(&r.model).cloned())
        .map(|c| {
            (u.input_tokens as f64 * c.input_per_mtok + u.output_tokens as f64 * c.output_per_mtok)
                / 1_000_000.0
        })
        .unwrap_or(0.0)
}

/// Why a member's reply is not an acceptable answer for its schema (said
/// back to the member, and in the run's error after the last try).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReplyProblem {
    #[error("the reply is not a JSON object")]
    NotJson,
    #[error("bad schema: {0}")]
    BadSchema(String),
    /// What the schema refused, at most three points, joined by `; `.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// The reply's JSON object when it is acceptable for `schema`.
pub(crate) fn check_reply(text: &str, schema: &Value) -> std::result::Result<Value, ReplyProblem> {
    let Some(v) = crate::runtime::step::extract_json(text) else {
        return Err(ReplyProblem::NotJson);
    };
    let validator =
        jsonschema::validator_for(schema).map_err(|e| ReplyProblem::BadSchema(e.to_string()))?;
    let problems: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| e.to_string())
        .take(3)
        .collect();
    if problems.is_empty() {
        Ok(v)
    } else {
        Err(ReplyProblem::Invalid(problems))
    }
}

/// Asks `agent` for a decision. `purpose` names it in the prompt's first
/// line (`[plan]`, `[verdict]`, …) and in errors.
pub(crate) async fn ask(
    ctx: &RunCtx,
    agent: &Agent,
    purpose: &str,
    prompt: &str,
    schema: Value,
) -> Flow<Value> {
    ctx.check().await?;
    let resolved = ctx
        .hub
        .resolve(agent.provider.as_deref(), agent.model.as_deref())
        .await
        .map_err(|e| Halt::Fail(format!("{} cannot {purpose}: {e}", agent.name)))?;
    let crew = ctx.crew.id.clone();
    let memory: Vec<String> = ctx
        .db(move |c| c.memory().team(Some(&crew), 30))
        .await?
        .into_iter()
        .map(|m| m.content)
        .collect();
    let mut messages = vec![
        ModelMessage::system(system(ctx, agent, &memory, &schema)),
        ModelMessage::user(format!("[{purpose}]\n{}", clip(prompt, CLIP * 2))),
    ];
    let mut problem = String::new();
    for _ in 0..TRIES {
        let left = ctx.tokens_left().await?;
        let request = ChatRequest {
            model: resolved.model.clone(),
            messages: messages.clone(),
            tools: Vec::new(),
            // Bounded strings: a looping model cannot fill a plan's field
            // until the token limit.
            json_schema: Some(crate::runtime::step::bounded(&schema)),
            temperature: Some((agent.temperature as f32).min(0.3)),
            max_tokens: Some(left.unwrap_or(MAX_TURN_TOKENS).clamp(16, MAX_TURN_TOKENS) as u32),
            ..Default::default()
        };
        let call = async {
            let stream = resolved.provider.chat(request, ctx.cancel.clone()).await?;
            collect(stream).await.map_err(|(e, _)| e)
        };
        let got = match ctx.wall_left() {
            Some(left) => match tokio::time::timeout(left, call).await {
                Ok(r) => r,
                Err(_) => return Err(wall_cap(ctx.budget.max_wall_secs.unwrap_or(0))),
            },
            None => call.await,
        };
        let got = match got {
            Ok(g) => g,
            Err(ProviderError::Cancelled) => return Err(super::stopped_by_user()),
            Err(e) => {
                return Err(Halt::Fail(format!(
                    "{} could not {purpose}: {e}",
                    agent.name
                )))
            }
        };
        let usage_cost = cost(ctx, &resolved, got.usage);
        let (id, usage) = (ctx.run_id.clone(), got.usage);
        ctx.db(move |c| {
            c.write(|tx| {
                super::store::add_turn_usage(
                    tx,
                    &id,
                    usage.input_tokens,
                    usage.output_tokens,
                    usage_cost,
                )
            })
        })
        .await?;
        match check_reply(&got.text, &schema) {
            Ok(v) => return Ok(v),
            Err(p) => {
                tracing::debug!(agent = %agent.name, purpose, problem = %p, "invalid structured reply");
                messages.push(ModelMessage::assistant(clip(&got.text, 4000)));
                messages.push(ModelMessage::user(format!(
                    "That reply is not valid ({p}). Reply again with only the JSON object."
                )));
                problem = p.to_string();
            }
        }
    }
    Err(Halt::Fail(format!(
        "{} gave no valid {purpose} after {TRIES} tries ({problem})",
        agent.name
    )))
}

/// The string field `key` of a turn's reply ("" when absent).
pub(crate) fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}
