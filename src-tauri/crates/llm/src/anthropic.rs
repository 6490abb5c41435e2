//! Anthropic Messages API: SSE streaming, tool use; off unless a key is configured.
//!
//! The API has no JSON-schema output mode, so a schema is enforced with a
//! forced tool named `respond` whose input is streamed back as text.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::framing::SseEvent;
use super::http;
use super::openai::{
    decode_sse, expect_event_stream, model_list, not_json, parse_arguments, SseDecoder,
};
use super::types::{
    ChatRequest, EventStream, FinishReason, ModelInfo, ModelMessage, Provider, ProviderError, Role,
    StreamEvent, ToolCall, Usage,
};
use super::ProviderKind;

pub const DEFAULT_ANTHROPIC_URL: &str = "https://api.anthropic.com";
const API_VERSION: &str = "2023-06-01";
const DEFAULT_MAX_TOKENS: u32 = 1024;
/// The forced tool that carries a schema-constrained answer.
const RESPOND_TOOL: &str = "respond";
const NO_KEY: &str = "Anthropic is off until an API key is added in Settings";

pub struct AnthropicProvider {
    name: String,
    base_url: String,
    api_key: Option<String>,
    client: reqwest::Client,
}

/// Redacted: the key must never reach a log line.
impl std::fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl AnthropicProvider {
    /// `base_url` is the host root (default [`DEFAULT_ANTHROPIC_URL`]); a
    /// trailing `/v1` is tolerated because users copy it from the docs.
    pub fn new(name: impl Into<String>, base_url: &str, api_key: Option<String>) -> Self {
        let trimmed = base_url.trim().trim_end_matches('/');
        let base = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        let base_url = if base.is_empty() {
            DEFAULT_ANTHROPIC_URL
        } else {
            base
        }
        .to_string();
        Self {
            name: name.into(),
            client: http::client(&base_url),
            base_url,
            api_key: api_key
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty()),
        }
    }

    fn headers(&self) -> Result<HeaderMap, ProviderError> {
        let key = self
            .api_key
            .as_deref()
            .ok_or_else(|| ProviderError::Unavailable {
                detail: NO_KEY.into(),
            })?;
        let mut key = HeaderValue::from_str(key).map_err(|_| ProviderError::Auth {
            detail: "the API key contains characters that cannot be sent in a header".into(),
        })?;
        key.set_sensitive(true);
        let mut h = HeaderMap::new();
        h.insert("x-api-key", key);
        h.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        Ok(h)
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let headers = self.headers()?;
        // The default page holds 20 models; ask for all of them at once.
        let url = format!("{}/v1/models?limit=1000", self.base_url);
        let list: ModelList =
            model_list(self.client.get(&url).headers(headers), &url, "Anthropic").await?;
        Ok(list
            .data
            .into_iter()
            .map(|m| ModelInfo {
                name: m.id,
                size_bytes: None,
                details: m.display_name,
            })
            .collect())
    }

    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let headers = self.headers()?;
        let url = format!("{}/v1/messages", self.base_url);
        let body = request_body(&request);
        tracing::debug!(provider = %self.name, model = %request.model, %url, "starting chat stream");
        let req = self.client.post(&url).headers(headers).json(&body);
        let res = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(ProviderError::Cancelled),
            res = http::send(req, &url, &request.model) => res?,
        };
        expect_event_stream(&res)?;
        let decoder = AnthropicDecoder::new(&request.model, request.json_schema.is_some());
        Ok(decode_sse(res, cancel, decoder))
    }
}

#[derive(Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
    display_name: Option<String>,
}

fn request_body(request: &ChatRequest) -> Value {
    let system: Vec<&str> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System && !m.content.is_empty())
        .map(|m| m.content.as_str())
        .collect();
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages_json(&request.messages),
        "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    let mut tools: Vec<Value> = request
        .tools
        .iter()
        .map(
            |t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}),
        )
        .collect();
    if let Some(schema) = &request.json_schema {
        tools.push(json!({
            "name": RESPOND_TOOL,
            "description": "Give your answer as this tool's input. It must match the input schema exactly.",
            "input_schema": schema,
        }));
        body["tool_choice"] = json!({"type": "tool", "name": RESPOND_TOOL});
    }
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    // The API refuses stop sequences that are only whitespace.
    let stops: Vec<&String> = request
        .stop
        .iter()
        .filter(|s| !s.trim().is_empty())
        .collect();
    if !stops.is_empty() {
        body["stop_sequences"] = json!(stops);
    }
    body
}

/// Maps the conversation to Anthropic turns: tool results travel as
/// `tool_result` blocks in a user turn, and consecutive turns of one role
/// are merged because the API expects user and assistant to alternate.
fn messages_json(messages: &[ModelMessage]) -> Vec<Value> {
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", text_block(&m.content).into_iter().collect()),
            Role::Assistant => {
                let mut blocks: Vec<Value> = text_block(&m.content).into_iter().collect();
                blocks.extend(m.tool_calls.iter().map(|c| {
                    // The API accepts only an object; arguments that did not
                    // parse were already answered with an error tool result.
                    let input = if c.arguments.is_object() {
                        c.arguments.clone()
                    } else {
                        json!({})
                    };
                    json!({"type": "tool_use", "id": c.id, "name": c.name, "input": input})
                }));
                ("assistant", blocks)
            }
            Role::Tool => {
                let mut block = json!({
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                });
                // An empty text block is rejected; an absent content is not.
                if !m.content.is_empty() {
                    block["content"] = json!(m.content);
                }
                ("user", vec![block])
            }
        };
        // Empty turns are rejected by the API and carry nothing.
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, acc)) if *last == role => acc.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    turns
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect()
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

enum Block {
    Text,
    Tool {
        ordinal: usize,
        id: String,
        name: String,
        json: String,
    },
    /// The forced `respond` tool: its input is the answer, streamed as text.
    Respond,
    /// Thinking and block types this adapter does not use.
    Other,
}

struct AnthropicDecoder {
    model: String,
    json_mode: bool,
    /// Open content blocks by the API's block index.
    blocks: HashMap<u64, Block>,
    tool_calls: usize,
    usage: Usage,
    stop: Option<FinishReason>,
}

impl AnthropicDecoder {
    fn new(model: &str, json_mode: bool) -> Self {
        Self {
            model: model.to_string(),
            json_mode,
            blocks: HashMap::new(),
            tool_calls: 0,
            usage: Usage::default(),
            stop: None,
        }
    }

    fn block_start(&mut self, index: u64, block: &Value, out: &mut Vec<StreamEvent>) {
        let s = |k: &str| {
            block
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let b = match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = s("text");
                if !text.is_empty() {
                    out.push(StreamEvent::Delta(text));
                }
                Block::Text
            }
            Some("tool_use") if self.json_mode && s("name") == RESPOND_TOOL => Block::Respond,
            Some("tool_use") => {
                let ordinal = self.tool_calls;
                self.tool_calls += 1;
                let (id, name) = (s("id"), s("name"));
                out.push(StreamEvent::ToolCallDelta {
                    index: ordinal,
                    id: Some(id.clone()),
                    name: Some(name.clone()),
                    arguments: String::new(),
                });
                Block::Tool {
                    ordinal,
                    id,
                    name,
                    json: String::new(),
                }
            }
            _ => Block::Other,
        };
        self.blocks.insert(index, b);
    }

    fn block_delta(&mut self, index: u64, delta: &Value, out: &mut Vec<StreamEvent>) {
        let field = |k: &str| {
            delta
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match (
            self.blocks.get_mut(&index),
            delta.get("type").and_then(Value::as_str),
        ) {
            (Some(Block::Text), Some("text_delta")) => {
                let text = field("text");
                if !text.is_empty() {
                    out.push(StreamEvent::Delta(text));
                }
            }
            (Some(Block::Respond), Some("input_json_delta")) => {
                let part = field("partial_json");
                if !part.is_empty() {
                    out.push(StreamEvent::Delta(part));
                }
            }
            (Some(Block::Tool { ordinal, json, .. }), Some("input_json_delta")) => {
                let part = field("partial_json");
                json.push_str(&part);
                out.push(StreamEvent::ToolCallDelta {
                    index: *ordinal,
                    id: None,
                    name: None,
                    arguments: part,
                });
            }
            _ => {}
        }
    }

    fn block_stop(&mut self, index: u64, out: &mut Vec<StreamEvent>) {
        if let Some(Block::Tool { id, name, json, .. }) = self.blocks.remove(&index) {
            out.push(StreamEvent::ToolCall(ToolCall {
                arguments: parse_arguments(&name, json),
                id,
                name,
            }));
        }
    }

    fn stop_reason(&self, reason: &str) -> FinishReason {
        match reason {
            "end_turn" | "stop_sequence" => FinishReason::Stop,
            "max_tokens" => FinishReason::Length,
            // The forced `respond` call is the answer, not a request to run tools.
            "tool_use" if self.json_mode && self.tool_calls == 0 => FinishReason::Stop,
            "tool_use" => FinishReason::ToolCalls,
            "refusal" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_string()),
        }
    }

    fn read_usage(&mut self, usage: Option<&Value>) {
        let Some(u) = usage else { return };
        if let Some(n) = u.get("input_tokens").and_then(Value::as_u64) {
            self.usage.input_tokens = n;
        }
        if let Some(n) = u.get("output_tokens").and_then(Value::as_u64) {
            self.usage.output_tokens = n;
        }
    }
}

impl SseDecoder for AnthropicDecoder {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool, ProviderError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(data).map_err(|e| not_json(data, &e))?;
        // The `type` field repeats the event name; prefer it for proxies that drop `event:`.
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(ev.event.as_str());
        let index = v.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind {
            "message_start" => self.read_usage(v.get("message").and_then(|m| m.get("usage"))),
            "content_block_start" => {
                self.block_start(index, v.get("content_block").unwrap_or(&Value::Null), out)
            }
            "content_block_delta" => {
                self.block_delta(index, v.get("delta").unwrap_or(&Value::Null), out)
            }
            "content_block_stop" => self.block_stop(index, out),
            "message_delta" => {
                if let Some(r) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.stop = Some(self.stop_reason(r));
                }
                self.read_usage(v.get("usage"));
            }
            "message_stop" => {
                out.push(StreamEvent::Usage(self.usage));
                out.push(StreamEvent::Finish(
                    self.stop.take().unwrap_or(FinishReason::Stop),
                ));
                return Ok(true);
            }
            "error" => {
                return Err(stream_error(
                    v.get("error").unwrap_or(&Value::Null),
                    &self.model,
                ))
            }
            // `ping` keeps the connection alive; new event types may appear at any time.
            _ => {}
        }
        Ok(false)
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        Err(ProviderError::Interrupted {
            detail: "the stream ended before message_stop".into(),
        })
    }
}

/// An `error` event sent after the 200 status (e.g. overloaded mid-answer).
fn stream_error(err: &Value, model: &str) -> ProviderError {
    let detail = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("the provider reported an error")
        .to_string();
    match err.get("type").and_then(Value::as_str).unwrap_or_default() {
        "rate_limit_error" => ProviderError::RateLimited { retry_after: None },
        "overloaded_error" => ProviderError::Server {
            status: 529,
            detail,
        },
        "api_error" => ProviderError::Server {
            status: 500,
            detail,
        },
        "not_found_error" => ProviderError::ModelNotFound {
            model: model.to_string(),
        },
        "authentication_error" | "permission_error" => ProviderError::Auth { detail },
        other => ProviderError::bad(if other.is_empty() {
            detail
        } else {
            format!("{other}: {detail}")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_results_merge_into_one_user_turn() {
        let mut call = ModelMessage::assistant("Let me look.");
        call.tool_calls = vec![
            ToolCall {
                id: "t1".into(),
                name: "read".into(),
                arguments: json!({"path": "a"}),
            },
            ToolCall {
                id: "t2".into(),
                name: "read".into(),
                arguments: Value::String("{broken".into()),
            },
        ];
        let msgs = vec![
            ModelMessage::system("Be brief."),
            ModelMessage::user("Read a and b"),
            call,
            ModelMessage::tool_result("t1", "read", "A"),
            ModelMessage::tool_result("t2", "read", ""),
            ModelMessage::user("Thanks"),
        ];
        let v = messages_json(&msgs);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!(v[1]["content"][1]["type"], "tool_use");
        assert_eq!(v[1]["content"][2]["input"], json!({}));
        assert_eq!(v[2]["role"], "user");
        assert_eq!(v[2]["content"][0]["tool_use_id"], "t1");
        assert_eq!(v[2]["content"][0]["content"], "A");
        assert_eq!(v[2]["content"][1]["tool_use_id"], "t2");
        assert!(v[2]["content"][1].get("content").is_none());
        assert_eq!(
            v[2]["content"][2],
            json!({"type": "text", "text": "Thanks"})
        );
    }

    #[test]
    fn stream_errors_map_by_type() {
        let e = |t: &str| stream_error(&json!({"type": t, "message": "x"}), "claude");
        assert_eq!(
            e("rate_limit_error"),
            ProviderError::RateLimited { retry_after: None }
        );
        assert!(matches!(
            e("overloaded_error"),
            ProviderError::Server { status: 529, .. }
        ));
        assert!(matches!(
            e("api_error"),
            ProviderError::Server { status: 500, .. }
        ));
        assert_eq!(
            e("not_found_error"),
            ProviderError::ModelNotFound {
                model: "claude".into()
            }
        );
        assert!(matches!(
            e("authentication_error"),
            ProviderError::Auth { .. }
        ));
        assert!(matches!(
            e("invalid_request_error"),
            ProviderError::BadResponse { .. }
        ));
    }

    #[test]
    fn base_url_defaults_and_tolerates_v1() {
        let p = AnthropicProvider::new("a", "", None);
        assert_eq!(p.base_url, DEFAULT_ANTHROPIC_URL);
        let p = AnthropicProvider::new(
            "a",
            "https://example.test/v1/",
            Some("sk-ant-secret-123".into()),
        );
        assert_eq!(p.base_url, "https://example.test");
        assert!(!format!("{p:?}").contains("sk-ant-secret-123"));
    }
}
