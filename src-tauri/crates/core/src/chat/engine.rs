//! Streaming chat: stores the user's message, streams the answer from the
//! agent's provider and model (or the default), and stores the assistant
//! message as it grows. Stopping keeps the partial text with status
//! `stopped`; a provider failure keeps it with status `error`. Every event
//! goes to a sink (a Tauri channel, the terminal); a sink that refuses an
//! event means its reader is gone, which stops the generation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use super::{ChatMessage, ChatRole, ChatSession, ChatStatus, SessionInput};
use crate::agents::Agent;
use crate::error::{CoreError, ErrorPayload, Result};
use crate::providers::hub::ProviderHub;
use crate::providers::{
    ChatRequest, ModelMessage, ProviderError, ProviderKind, StreamEvent, ToolCall, Usage,
};
use crate::{Core, Id, Paging};

/// What a chat stream reports, in order: `started`, then `delta`s (and
/// `tool_call`s), then exactly one `finish` or `error`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ChatEvent {
    Started {
        session_id: Id,
        user_message: ChatMessage,
        message_id: Id,
        agent_id: Option<Id>,
        agent_name: Option<String>,
        provider: String,
        model: String,
    },
    Delta {
        text: String,
    },
    ToolCall {
        call: ToolCall,
    },
    /// The stored answer: status `complete` or `stopped`.
    Finish {
        message: ChatMessage,
    },
    /// The stream failed; the partial answer (if any) is stored with status `error`.
    Error {
        error: ErrorPayload,
        message: Option<ChatMessage>,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct ChatSendRequest {
    /// Continue this session; a new one is created when absent.
    #[ts(optional)]
    pub session_id: Option<Id>,
    pub text: String,
    /// Answer as this agent (its prompt, provider and model); else the session's agent.
    #[ts(optional)]
    pub agent_id: Option<Id>,
    /// Let the expert gate pick the agent that answers each message of the
    /// session (see [`route_by_gate`]); `false` turns it off for the session.
    /// An explicit `agent_id` still answers that message.
    #[ts(optional)]
    #[serde(default)]
    pub auto_route: Option<bool>,
}

/// The agent the expert gate ranks best for this message among the enabled,
/// unpaused agents (TOP_1 with the default threshold; when nobody reaches
/// it the best one still answers). `None` when there are no agents.
pub fn route_by_gate(c: &crate::Core, text: &str) -> Result<Option<Agent>> {
    use crate::crews::gate;
    let agents = c
        .agents()
        .list(
            &crate::agents::AgentFilter {
                enabled: Some(true),
                ..Default::default()
            },
            crate::Paging {
                limit: Some(crate::Paging::MAX_LIMIT),
                offset: None,
            },
        )?
        .items;
    let agents: Vec<Agent> = agents
        .into_iter()
        .filter(|a| a.status != crate::agents::AgentStatus::Paused)
        .collect();
    let candidates: Vec<gate::Candidate<'_>> = agents
        .iter()
        .map(|agent| gate::Candidate { agent, load: 0 })
        .collect();
    let ranking = gate::score_all(text, &[], &candidates);
    let chosen = gate::select(&ranking, &gate::RoutingConfig::default());
    Ok(chosen
        .chosen
        .first()
        .and_then(|id| agents.iter().find(|a| &a.id == id).cloned()))
}

/// How much earlier conversation is sent, in characters (small local models
/// have small context windows).
fn history_budget(kind: ProviderKind) -> usize {
    match kind {
        ProviderKind::Embedded => 6_000,
        _ => 48_000,
    }
}

/// Partial answers are written to the database this often while streaming,
/// so a crash loses at most this much.
const PERSIST_EVERY: Duration = Duration::from_millis(750);

pub struct ChatEngine {
    core: Arc<Core>,
    hub: Arc<ProviderHub>,
    running: Mutex<HashMap<Id, CancellationToken>>,
}

fn title_from(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(7).collect();
    let mut t = words.join(" ");
    if text.split_whitespace().count() > 7 {
        t.push('…');
    }
    if t.chars().count() > 80 {
        t = t.chars().take(79).collect::<String>() + "…";
    }
    if t.is_empty() {
        "New chat".into()
    } else {
        t
    }
}

fn system_prompt(agent: &Agent) -> String {
    let mut s = agent.system_prompt.trim().to_string();
    if s.is_empty() {
        let role = if agent.role.is_empty() {
            "assistant"
        } else {
            &agent.role
        };
        s = format!("You are {}, a helpful {role}.", agent.name);
    }
    s.push_str(&agent.style_line());
    s
}

impl ChatEngine {
    pub fn new(core: Arc<Core>, hub: Arc<ProviderHub>) -> Self {
        Self {
            core,
            hub,
            running: Mutex::new(HashMap::new()),
        }
    }

    pub fn hub(&self) -> &Arc<ProviderHub> {
        &self.hub
    }

    /// Stops the generation of this assistant message; false when none is running.
    pub fn stop(&self, message_id: &str) -> bool {
        match self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(message_id)
        {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Sends a message and streams the answer into `sink`. Returns the stored
    /// assistant message (status `complete`, `stopped` or `error`); fails
    /// only for bad input (empty text, unknown session or agent).
    pub async fn send(
        &self,
        req: ChatSendRequest,
        cancel: CancellationToken,
        sink: &mut (dyn FnMut(ChatEvent) -> bool + Send),
    ) -> Result<ChatMessage> {
        let text = req.text.clone();
        if text.trim().is_empty() {
            return Err(CoreError::validation("text", "the message is empty"));
        }
        crate::validate::text("text", &text)?;
        let (session, agent) = self.session_and_agent(&req).await?;
        let sid = session.id.clone();
        let user_message = self
            .core
            .call(move |c| {
                c.chat()
                    .add_message(&sid, ChatRole::User, &text, None, ChatStatus::Complete)
            })
            .await?;

        let agent_id = agent.as_ref().map(|a| a.id.clone());
        let resolved = self
            .hub
            .resolve(
                agent.as_ref().and_then(|a| a.provider.as_deref()),
                agent.as_ref().and_then(|a| a.model.as_deref()),
            )
            .await;
        let (sid, aid) = (session.id.clone(), agent_id.clone());
        let reply = self
            .core
            .call(move |c| {
                c.chat().add_message(
                    &sid,
                    ChatRole::Assistant,
                    "",
                    aid.as_deref(),
                    ChatStatus::Streaming,
                )
            })
            .await?;
        let (provider_name, model) = match &resolved {
            Ok(r) => (r.provider_name.clone(), r.model.clone()),
            Err(_) => (String::new(), String::new()),
        };
        let alive = sink(ChatEvent::Started {
            session_id: session.id.clone(),
            user_message,
            message_id: reply.id.clone(),
            agent_id: agent_id.clone(),
            agent_name: agent.as_ref().map(|a| a.name.clone()),
            provider: provider_name.clone(),
            model: model.clone(),
        });
        let resolved = match resolved {
            Ok(r) => r,
            Err(e) => {
                return self
                    .fail(&reply.id, String::new(), e, serde_json::json!({}), sink)
                    .await
            }
        };

        let token = cancel.child_token();
        if !alive {
            token.cancel();
        }
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reply.id.clone(), token.clone());
        let outcome = self
            .stream(
                &session,
                agent.as_ref(),
                &resolved,
                &reply.id,
                token.clone(),
                sink,
            )
            .await;
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&reply.id);
        outcome
    }

    async fn session_and_agent(
        &self,
        req: &ChatSendRequest,
    ) -> Result<(ChatSession, Option<Agent>)> {
        let req = req.clone();
        self.core
            .call(move |c| {
                let session = match &req.session_id {
                    Some(id) => {
                        let mut s = c.chat().get_session(id)?;
                        if let Some(on) = req.auto_route.filter(|on| *on != s.auto_route) {
                            s = c.chat().update_session(
                                id,
                                SessionInput {
                                    auto_route: Some(on),
                                    ..Default::default()
                                },
                            )?;
                        }
                        match &req.agent_id {
                            Some(a) if s.agent_id.as_deref() != Some(a.as_str()) => {
                                c.chat().update_session(
                                    id,
                                    SessionInput {
                                        agent_id: Some(a.clone()),
                                        ..Default::default()
                                    },
                                )?
                            }
                            _ => s,
                        }
                    }
                    None => c.chat().create_session(SessionInput {
                        title: Some(title_from(&req.text)),
                        agent_id: req.agent_id.clone(),
                        auto_route: req.auto_route.filter(|_| req.agent_id.is_none()),
                    })?,
                };
                let agent = if session.auto_route && req.agent_id.is_none() {
                    route_by_gate(c, &req.text)?
                } else {
                    match session.agent_id.as_deref() {
                        Some(a) => Some(c.agents().get(a)?),
                        None => None,
                    }
                };
                Ok((session, agent))
            })
            .await
    }

    /// The conversation sent to the model: the agent's system prompt, as much
    /// recent history as fits, and the new message (the last user message).
    async fn messages(
        &self,
        session_id: &str,
        agent: Option<&Agent>,
        kind: ProviderKind,
        reply_id: &str,
    ) -> Result<Vec<ModelMessage>> {
        let sid = session_id.to_string();
        let page = self
            .core
            .call(move |c| {
                let total = c
                    .chat()
                    .messages(
                        &sid,
                        Paging {
                            limit: Some(1),
                            offset: None,
                        },
                    )?
                    .total;
                let offset = total.saturating_sub(60) as u32;
                c.chat().messages(
                    &sid,
                    Paging {
                        limit: Some(60),
                        offset: Some(offset),
                    },
                )
            })
            .await?;
        let mut budget = history_budget(kind);
        let mut picked: Vec<ModelMessage> = Vec::new();
        for m in page.items.iter().rev() {
            if m.id == reply_id || m.content.trim().is_empty() {
                continue;
            }
            if !matches!(m.status, ChatStatus::Complete | ChatStatus::Stopped) {
                continue;
            }
            let msg = match m.role {
                ChatRole::User => ModelMessage::user(m.content.clone()),
                ChatRole::Assistant => ModelMessage::assistant(m.content.clone()),
                _ => continue,
            };
            let len = m.content.chars().count();
            // Always keep the newest message, even if it alone exceeds the budget.
            if !picked.is_empty() && len > budget {
                break;
            }
            budget = budget.saturating_sub(len);
            picked.push(msg);
        }
        picked.reverse();
        let mut out = Vec::with_capacity(picked.len() + 1);
        if let Some(a) = agent {
            out.push(ModelMessage::system(system_prompt(a)));
        }
        out.extend(picked);
        Ok(out)
    }

    async fn stream(
        &self,
        session: &ChatSession,
        agent: Option<&Agent>,
        resolved: &crate::providers::hub::Resolved,
        reply_id: &str,
        token: CancellationToken,
        sink: &mut (dyn FnMut(ChatEvent) -> bool + Send),
    ) -> Result<ChatMessage> {
        let started = Instant::now();
        let mut meta =
            serde_json::json!({ "provider": resolved.provider_name, "model": resolved.model });
        let messages = self
            .messages(&session.id, agent, resolved.provider.kind(), reply_id)
            .await?;
        // A base model on a server that would wrap it in a chat template it
        // was never trained on (llama-server gives it ChatML) reads the
        // conversation as a framed transcript instead; the embedded engine
        // frames it itself.
        let raw_prompt = (resolved.provider.kind() != ProviderKind::Embedded
            && self.hub.is_base_model(resolved).await)
            .then(|| {
                let turns: Vec<(&str, &str)> = messages
                    .iter()
                    .map(|m| {
                        let role = match m.role {
                            crate::providers::Role::System => "system",
                            crate::providers::Role::Assistant => "assistant",
                            _ => "user",
                        };
                        (role, m.content.as_str())
                    })
                    .collect();
                crate::runtime::guided::frames::framed_chat(&turns)
            });
        let stop = if raw_prompt.is_some() {
            crate::runtime::guided::frames::CHAT_STOPS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            Vec::new()
        };
        let request = ChatRequest {
            model: resolved.model.clone(),
            messages,
            // A base model is best greedy (measured on the embedded one;
            // see its sampler); an agent's own setting still wins.
            temperature: agent
                .map(|a| a.temperature as f32)
                .or(raw_prompt.as_ref().map(|_| 0.0)),
            raw_prompt,
            stop,
            ..Default::default()
        };
        let mut stream = match resolved.provider.chat(request, token.clone()).await {
            Ok(s) => s,
            Err(ProviderError::Cancelled) => {
                return self
                    .finish(reply_id, String::new(), ChatStatus::Stopped, meta, sink)
                    .await;
            }
            Err(e) => {
                return self
                    .fail(reply_id, String::new(), e.into(), meta, sink)
                    .await
            }
        };
        let mut text = String::new();
        let mut calls: Vec<ToolCall> = Vec::new();
        let mut usage: Option<Usage> = None;
        let mut last_persist = Instant::now();
        let mut first_token: Option<Duration> = None;
        let status = loop {
            let next = tokio::select! {
                _ = token.cancelled() => break ChatStatus::Stopped,
                n = stream.next() => n,
            };
            match next {
                Some(Ok(StreamEvent::Delta(d))) => {
                    first_token.get_or_insert_with(|| started.elapsed());
                    text.push_str(&d);
                    if !sink(ChatEvent::Delta { text: d }) {
                        token.cancel();
                    }
                    if last_persist.elapsed() >= PERSIST_EVERY {
                        last_persist = Instant::now();
                        let (id, t) = (reply_id.to_string(), text.clone());
                        self.core
                            .call(move |c| {
                                c.chat().finish_message(
                                    &id,
                                    &t,
                                    ChatStatus::Streaming,
                                    serde_json::json!({}),
                                )
                            })
                            .await?;
                    }
                }
                Some(Ok(StreamEvent::ToolCall(call))) => {
                    calls.push(call.clone());
                    if !sink(ChatEvent::ToolCall { call }) {
                        token.cancel();
                    }
                }
                Some(Ok(StreamEvent::ToolCallDelta { .. })) => {}
                Some(Ok(StreamEvent::Usage(u))) => usage = Some(u),
                Some(Ok(StreamEvent::Finish(reason))) => {
                    meta["finish_reason"] = serde_json::to_value(&reason).unwrap_or_default();
                    break ChatStatus::Complete;
                }
                Some(Err(ProviderError::Cancelled)) => break ChatStatus::Stopped,
                Some(Err(e)) => {
                    fill_meta(&mut meta, started, first_token, usage, &calls);
                    return self.fail(reply_id, text, e.into(), meta, sink).await;
                }
                // A well-behaved provider ends with Finish; an abrupt end is a failure.
                None => {
                    fill_meta(&mut meta, started, first_token, usage, &calls);
                    let e = ProviderError::Interrupted {
                        detail: "the provider ended the stream without finishing".into(),
                    };
                    return self.fail(reply_id, text, e.into(), meta, sink).await;
                }
            }
        };
        fill_meta(&mut meta, started, first_token, usage, &calls);
        self.finish(reply_id, text, status, meta, sink).await
    }

    async fn finish(
        &self,
        id: &str,
        text: String,
        status: ChatStatus,
        meta: serde_json::Value,
        sink: &mut (dyn FnMut(ChatEvent) -> bool + Send),
    ) -> Result<ChatMessage> {
        let id = id.to_string();
        let message = self
            .core
            .call(move |c| c.chat().finish_message(&id, &text, status, meta))
            .await?;
        sink(ChatEvent::Finish {
            message: message.clone(),
        });
        Ok(message)
    }

    async fn fail(
        &self,
        id: &str,
        text: String,
        error: CoreError,
        mut meta: serde_json::Value,
        sink: &mut (dyn FnMut(ChatEvent) -> bool + Send),
    ) -> Result<ChatMessage> {
        let payload = error.to_payload();
        meta["error"] = serde_json::to_value(&payload).unwrap_or_default();
        tracing::warn!(message = %id, code = %payload.code, error = %payload.message, "chat answer failed");
        let id = id.to_string();
        let message = self
            .core
            .call(move |c| c.chat().finish_message(&id, &text, ChatStatus::Error, meta))
            .await?;
        sink(ChatEvent::Error {
            error: payload,
            message: Some(message.clone()),
        });
        Ok(message)
    }
}

fn fill_meta(
    meta: &mut serde_json::Value,
    started: Instant,
    first_token: Option<Duration>,
    usage: Option<Usage>,
    calls: &[ToolCall],
) {
    let total = started.elapsed();
    meta["duration_ms"] = (total.as_millis() as u64).into();
    if let Some(ft) = first_token {
        meta["first_token_ms"] = (ft.as_millis() as u64).into();
    }
    if let Some(u) = usage {
        meta["tokens"] = serde_json::json!({ "input": u.input_tokens, "output": u.output_tokens });
        let gen = total
            .saturating_sub(first_token.unwrap_or_default())
            .as_secs_f64();
        if gen > 0.0 && u.output_tokens > 0 {
            meta["tokens_per_sec"] = ((u.output_tokens as f64 / gen * 10.0).round() / 10.0).into();
        }
    }
    if !calls.is_empty() {
        meta["tool_calls"] = serde_json::to_value(calls).unwrap_or_default();
    }
}

impl Core {
    /// Marks answers that were streaming when the app stopped as failed,
    /// keeping their text. Called once when the desktop app starts.
    pub fn recover_interrupted_chats(&self) -> Result<usize> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE chat_messages SET status = 'error', updated_at = ?1,
                    metadata = json_set(metadata, '$.error', json_object('code', 'INTERRUPTED', 'message', 'the app stopped while this answer was being written'))
                 WHERE status = 'streaming'",
                [crate::time::now_sql()],
            )?;
            Ok(n)
        })
    }
}
