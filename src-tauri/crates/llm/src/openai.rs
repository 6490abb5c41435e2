//! OpenAI-compatible chat completions (llama.cpp server, LM Studio, vLLM,
//! OpenAI): model listing and SSE streaming with tool-call deltas.
//!
//! This module also owns the cancellation-aware driver that turns an SSE
//! response into an [`EventStream`] ([`decode_sse`]); the Anthropic adapter
//! plugs its own decoder into it.

use std::collections::{BTreeMap, VecDeque};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::framing::{self, SseEvent};
use super::http;
use super::types::{
    ChatRequest, EventStream, FinishReason, ModelFacts, ModelInfo, ModelMessage, Provider,
    ProviderError, Role, StreamEvent, ToolCall, Usage,
};
use super::ProviderKind;

pub struct OpenAiProvider {
    name: String,
    base_url: String,
    api_key: Option<String>,
    client: reqwest::Client,
    /// The server answered `/props` as llama.cpp's `llama-server` does: it
    /// takes a GBNF `grammar` in a request.
    llama_cpp: std::sync::atomic::AtomicBool,
}

/// Redacted: the key must never reach a log line.
impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl OpenAiProvider {
    /// `base_url` is the API root including `/v1` (e.g. `http://127.0.0.1:8080/v1`).
    pub fn new(name: impl Into<String>, base_url: &str, api_key: Option<String>) -> Self {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        Self {
            name: name.into(),
            client: http::client(&base_url),
            base_url,
            // Local servers need no key; an empty setting means "none", not an empty bearer.
            api_key: api_key
                .map(|k| k.trim().to_string())
                .filter(|k| !k.is_empty()),
            llama_cpp: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The server root (the base URL without its `/v1`).
    fn root(&self) -> &str {
        self.base_url.strip_suffix("/v1").unwrap_or(&self.base_url)
    }

    /// llama.cpp's `/props`: whether the model brings its own chat template.
    /// llama-server gives a model without one its built-in ChatML template
    /// and reports that as the model's; a base model then reads turn markers
    /// it was never trained on (the default 270M model echoed the question
    /// and wrote `<|im_end|>` into its answers). None when the server is not
    /// llama.cpp or does not say.
    async fn llama_cpp_template(&self) -> Option<bool> {
        let url = format!("{}/props", self.root());
        let res = self
            .authorized(self.client.get(&url))
            .timeout(std::time::Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        if !res.status().is_success() {
            return None;
        }
        let props: Value = res.json().await.ok()?;
        let template = props.get("chat_template")?.as_str()?;
        self.llama_cpp
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Some(!is_llama_cpp_default_template(template))
    }

    fn authorized(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            // bearer_auth marks the header sensitive, so reqwest never prints it.
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }
}

/// llama.cpp's own ChatML template, the one `llama-server` uses for a model
/// that brings none (`CHATML_TEMPLATE_SRC` in its `common/chat.cpp`),
/// compared without whitespace.
fn is_llama_cpp_default_template(template: &str) -> bool {
    const DEFAULT: &str = "{%- for message in messages -%}{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}{%- endfor -%}{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}";
    let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squeeze(template) == squeeze(DEFAULT)
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAiCompatible
    }

    /// The legacy `/completions` endpoint continues a prompt as it is.
    fn supports_raw_prompt(&self) -> bool {
        true
    }

    /// llama.cpp's server takes a GBNF `grammar` (known once `/props` was
    /// read, see [`Self::model_facts`]).
    fn supports_grammar(&self) -> bool {
        self.llama_cpp.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let url = format!("{}/models", self.base_url);
        let list: ModelList =
            model_list(self.authorized(self.client.get(&url)), &url, "OpenAI").await?;
        Ok(list
            .data
            .into_iter()
            .map(|m| ModelInfo {
                name: m.id,
                size_bytes: None,
                details: None,
            })
            .collect())
    }

    /// The context window from `/models` where the server says it (vLLM's
    /// `max_model_len`, llama.cpp's `meta.n_ctx_train`); the OpenAI API has
    /// no word on tool support, so that is left to the probe.
    async fn model_facts(&self, model: &str) -> Result<ModelFacts, ProviderError> {
        let url = format!("{}/models", self.base_url);
        let list: ModelList =
            model_list(self.authorized(self.client.get(&url)), &url, "OpenAI").await?;
        let entry = list.data.into_iter().find(|m| m.id == model);
        Ok(ModelFacts {
            context_length: entry.and_then(|m| {
                m.max_model_len
                    .or_else(|| m.meta.and_then(|meta| meta.n_ctx_train))
            }),
            chat_template: self.llama_cpp_template().await,
            ..ModelFacts::default()
        })
    }

    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let (url, body) = match &request.raw_prompt {
            Some(prompt) => (
                format!("{}/completions", self.base_url),
                completion_body(&request, prompt),
            ),
            None => (
                format!("{}/chat/completions", self.base_url),
                request_body(&request),
            ),
        };
        tracing::debug!(provider = %self.name, model = %request.model, %url, "starting chat stream");
        let req = self.authorized(self.client.post(&url).json(&body));
        let res = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(ProviderError::Cancelled),
            res = http::send(req, &url, &request.model) => res?,
        };
        expect_event_stream(&res)?;
        Ok(decode_sse(res, cancel, OpenAiDecoder::new(&request.model)))
    }
}

/// `send` reads a 404 as "model not found", but listing names no model: a
/// 404 here means the base URL does not point at the API root.
/// A server's list of models (`GET …/models`), read as `T`; `api` names the
/// API whose format it should have, for the error.
pub(crate) async fn model_list<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
    url: &str,
    api: &str,
) -> Result<T, ProviderError> {
    let res = http::send(request, url, "")
        .await
        .map_err(|e| no_models_endpoint(e, url))?;
    let body = res
        .text()
        .await
        .map_err(|e| http::transport_error(url, &e))?;
    serde_json::from_str(&body).map_err(|e| {
        ProviderError::bad(format!(
            "the model list from {url} is not what the {api} API sends: {e}"
        ))
    })
}

pub(crate) fn no_models_endpoint(e: ProviderError, url: &str) -> ProviderError {
    match e {
        ProviderError::ModelNotFound { .. } => ProviderError::Unavailable {
            detail: format!("{url} does not exist (HTTP 404); check the provider's base URL"),
        },
        other => other,
    }
}

/// A server that ignores `stream: true` (or answers an error with 200)
/// would otherwise look like a stream that broke off.
pub(crate) fn expect_event_stream(res: &reqwest::Response) -> Result<(), ProviderError> {
    let ct = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("application/json") {
        return Err(ProviderError::bad(format!(
            "expected a stream of server-sent events, got {ct}"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
struct ModelList {
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
    /// vLLM: the context window it serves the model with.
    #[serde(default)]
    max_model_len: Option<u64>,
    /// llama.cpp's server: facts from the GGUF.
    #[serde(default)]
    meta: Option<ModelMeta>,
}

#[derive(Deserialize)]
struct ModelMeta {
    #[serde(default)]
    n_ctx_train: Option<u64>,
}

fn request_body(request: &ChatRequest) -> Value {
    let mut body = json!({
        "model": request.model,
        "messages": request.messages.iter().map(message_json).collect::<Vec<_>>(),
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                })
            })
            .collect();
    }
    if let Some(schema) = &request.json_schema {
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema, "strict": true},
        });
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = request.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if !request.stop.is_empty() {
        // The OpenAI API takes at most four.
        body["stop"] = json!(request.stop.iter().take(4).collect::<Vec<_>>());
    }
    body
}

/// A raw prompt for the legacy completions endpoint (`/v1/completions`),
/// with llama.cpp's `grammar` when there is one.
fn completion_body(request: &ChatRequest, prompt: &str) -> Value {
    let mut body = json!({
        "model": request.model,
        "prompt": prompt,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if let Some(grammar) = &request.grammar {
        body["grammar"] = json!(grammar);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(m) = request.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if let Some(seed) = request.seed {
        body["seed"] = json!(seed);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop.iter().take(4).collect::<Vec<_>>());
    }
    body
}

fn message_json(m: &ModelMessage) -> Value {
    match m.role {
        Role::System => json!({"role": "system", "content": m.content}),
        Role::User => json!({"role": "user", "content": m.content}),
        Role::Assistant if m.tool_calls.is_empty() => {
            json!({"role": "assistant", "content": m.content})
        }
        Role::Assistant => {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": arguments_string(&c.arguments)},
                    })
                })
                .collect();
            // The API wants null, not "", for an assistant turn that only calls tools.
            let content = if m.content.is_empty() {
                Value::Null
            } else {
                json!(m.content)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": m.tool_call_id.clone().unwrap_or_default(),
            "content": m.content,
        }),
    }
}

/// Arguments that did not parse were kept as the raw string; sending them
/// back verbatim shows the model exactly what it wrote.
fn arguments_string(args: &Value) -> String {
    match args {
        Value::String(raw) => raw.clone(),
        other => other.to_string(),
    }
}

/// Parses streamed tool arguments. Invalid JSON is kept as a string so the
/// caller's schema validation reports it to the model instead of the call
/// vanishing; no arguments at all means an empty object.
pub(crate) fn parse_arguments(tool: &str, raw: String) -> Value {
    if raw.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str(&raw) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(tool, error = %e, "tool arguments are not valid JSON; passing them on as text");
            Value::String(raw)
        }
    }
}

/// Decodes one protocol's server-sent events into stream events.
pub(crate) trait SseDecoder: Send + 'static {
    /// Handles one event; `Ok(true)` when the response is complete.
    fn event(&mut self, ev: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool, ProviderError>;

    /// The body ended without the protocol's end marker.
    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError>;
}

struct Driver<D> {
    events: BoxStream<'static, Result<SseEvent, ProviderError>>,
    cancel: CancellationToken,
    decoder: D,
    queue: VecDeque<Result<StreamEvent, ProviderError>>,
    done: bool,
}

/// Streams a response through `decoder`. The first error ends the stream;
/// cancelling `cancel` yields one `Cancelled` and ends it (dropping the
/// response closes the connection, which stops generation server-side).
pub(crate) fn decode_sse<D: SseDecoder>(
    res: reqwest::Response,
    cancel: CancellationToken,
    decoder: D,
) -> EventStream {
    let driver = Driver {
        events: framing::sse_events(framing::lines(framing::body_stream(res))),
        cancel,
        decoder,
        queue: VecDeque::new(),
        done: false,
    };
    futures::stream::unfold(driver, |mut d| async move {
        loop {
            if !d.done && d.cancel.is_cancelled() {
                return Some((Err(ProviderError::Cancelled), d.cancelled()));
            }
            if let Some(item) = d.queue.pop_front() {
                return Some((item, d));
            }
            if d.done {
                return None;
            }
            let next = tokio::select! {
                biased;
                () = d.cancel.cancelled() => return Some((Err(ProviderError::Cancelled), d.cancelled())),
                next = d.events.next() => next,
            };
            let mut out = Vec::new();
            let result = match next {
                Some(Ok(ev)) => d.decoder.event(ev, &mut out),
                Some(Err(e)) => Err(e),
                None => d.decoder.end(&mut out).map(|()| true),
            };
            d.queue.extend(out.into_iter().map(Ok));
            match result {
                Ok(finished) => d.done = finished,
                Err(e) => {
                    d.queue.push_back(Err(e));
                    d.done = true;
                }
            }
        }
    })
    .boxed()
}

impl<D> Driver<D> {
    fn cancelled(mut self) -> Self {
        tracing::debug!("chat stream cancelled");
        self.queue.clear();
        self.done = true;
        self
    }
}

#[derive(Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

struct OpenAiDecoder {
    model: String,
    /// Tool calls being streamed, by the provider's `index`.
    calls: BTreeMap<usize, PartialCall>,
    finish: Option<FinishReason>,
    emitted_calls: bool,
}

impl OpenAiDecoder {
    fn new(model: &str) -> Self {
        Self {
            model: model.to_string(),
            calls: BTreeMap::new(),
            finish: None,
            emitted_calls: false,
        }
    }

    fn flush_calls(&mut self, out: &mut Vec<StreamEvent>) {
        for (index, c) in std::mem::take(&mut self.calls) {
            self.emitted_calls = true;
            out.push(StreamEvent::ToolCall(ToolCall {
                id: c.id.unwrap_or_else(|| format!("call_{index}")),
                arguments: parse_arguments(&c.name, c.arguments),
                name: c.name,
            }));
        }
    }

    fn finish(&mut self, out: &mut Vec<StreamEvent>) {
        self.flush_calls(out);
        let reason = self.finish.take().unwrap_or(if self.emitted_calls {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        });
        out.push(StreamEvent::Finish(reason));
    }

    fn chunk(&mut self, chunk: Chunk, out: &mut Vec<StreamEvent>) {
        let choice = chunk.choices.and_then(|c| c.into_iter().next());
        if let Some(choice) = choice {
            // A completion (`/completions`) streams `text`; a chat, `delta`.
            if let Some(text) = choice.text.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::Delta(text));
            }
            let delta = choice.delta.unwrap_or_default();
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::Delta(text));
            }
            for (pos, tc) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                // Some servers omit `index` when they send one call per chunk.
                let index = tc.index.unwrap_or(pos);
                let (name, arguments) = match tc.function {
                    Some(f) => (f.name, f.arguments.unwrap_or_default()),
                    None => (None, String::new()),
                };
                let acc = self.calls.entry(index).or_default();
                if let Some(id) = tc.id.as_ref().filter(|s| !s.is_empty()) {
                    acc.id = Some(id.clone());
                }
                if let Some(n) = &name {
                    acc.name.push_str(n);
                }
                acc.arguments.push_str(&arguments);
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    id: tc.id,
                    name,
                    arguments,
                });
            }
            if let Some(reason) = choice.finish_reason {
                self.flush_calls(out);
                self.finish = Some(finish_reason(&reason));
            }
        }
        if let Some(u) = chunk.usage {
            let cached = u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .or_else(|| chunk.timings.and_then(|t| t.cache_n))
                .unwrap_or(0);
            out.push(StreamEvent::Usage(Usage {
                input_tokens: u.prompt_tokens.unwrap_or(0),
                output_tokens: u.completion_tokens.unwrap_or(0),
                cached_input_tokens: cached,
            }));
        }
    }
}

impl SseDecoder for OpenAiDecoder {
    fn event(&mut self, ev: SseEvent, out: &mut Vec<StreamEvent>) -> Result<bool, ProviderError> {
        let data = ev.data.trim();
        if data.is_empty() {
            return Ok(false);
        }
        if data == "[DONE]" {
            self.finish(out);
            return Ok(true);
        }
        let value: Value = serde_json::from_str(data).map_err(|e| not_json(data, &e))?;
        if let Some(err) = value.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(err, &self.model));
        }
        let chunk: Chunk = serde_json::from_value(value).map_err(|e| {
            ProviderError::bad(format!(
                "a stream chunk does not have the OpenAI shape: {e}"
            ))
        })?;
        self.chunk(chunk, out);
        Ok(false)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), ProviderError> {
        // Some servers close after the final chunk without `[DONE]`; that is
        // a complete answer only if the model said it had finished.
        if self.finish.is_some() {
            self.finish(out);
            return Ok(());
        }
        Err(ProviderError::Interrupted {
            detail: "the stream ended before the model finished".into(),
        })
    }
}

pub(crate) fn not_json(data: &str, e: &serde_json::Error) -> ProviderError {
    let clipped: String = data.chars().take(200).collect();
    ProviderError::bad(format!("a stream frame is not valid JSON ({e}): {clipped}"))
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}

/// An `error` object sent inside the stream (after the 200 status).
/// llama.cpp puts the HTTP status in `code`; OpenAI puts a word there.
fn stream_error(err: &Value, model: &str) -> ProviderError {
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| err.as_str())
        .unwrap_or("the provider reported an error")
        .to_string();
    let status = err
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c));
    if let Some(status) = status {
        return http::status_error(status, &reqwest::header::HeaderMap::new(), &message, model);
    }
    let kind: String = ["type", "code"]
        .iter()
        .filter_map(|k| err.get(*k).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    if kind.contains("rate_limit") {
        ProviderError::RateLimited { retry_after: None }
    } else if kind.contains("model_not_found") {
        ProviderError::ModelNotFound {
            model: model.to_string(),
        }
    } else if kind.contains("invalid_api_key") || kind.contains("authentication") {
        ProviderError::Auth { detail: message }
    } else if kind.contains("server_error") || kind.contains("overloaded") {
        ProviderError::Server {
            status: 500,
            detail: message,
        }
    } else {
        ProviderError::bad(message)
    }
}

// Every field is optional and null-tolerant: compatible servers differ in
// what they leave out.
#[derive(Deserialize)]
struct Chunk {
    choices: Option<Vec<Choice>>,
    usage: Option<ChunkUsage>,
    /// llama.cpp's server: `cache_n` prompt tokens came from its cache.
    #[serde(default)]
    timings: Option<Timings>,
}

#[derive(Deserialize)]
struct Timings {
    #[serde(default)]
    cache_n: Option<u64>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<ChoiceDelta>,
    /// What a completion streams instead of `delta`.
    #[serde(default)]
    text: Option<String>,
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ChoiceDelta {
    content: Option<String>,
    tool_calls: Option<Vec<ToolCallChunk>>,
}

#[derive(Deserialize)]
struct ToolCallChunk {
    index: Option<usize>,
    id: Option<String>,
    function: Option<FunctionChunk>,
}

#[derive(Deserialize)]
struct FunctionChunk {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    /// OpenAI and vLLM: `cached_tokens` of the prompt came from the cache.
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assistant_tool_calls_send_arguments_as_a_json_string() {
        let mut m = ModelMessage::assistant("");
        m.tool_calls = vec![
            ToolCall {
                id: "c1".into(),
                name: "read".into(),
                arguments: json!({"path": "a.txt"}),
            },
            ToolCall {
                id: "c2".into(),
                name: "read".into(),
                arguments: Value::String("{broken".into()),
            },
        ];
        let v = message_json(&m);
        assert_eq!(v["content"], Value::Null);
        assert_eq!(
            v["tool_calls"][0]["function"]["arguments"],
            json!("{\"path\":\"a.txt\"}")
        );
        assert_eq!(
            v["tool_calls"][1]["function"]["arguments"],
            json!("{broken")
        );
        assert_eq!(v["tool_calls"][0]["type"], json!("function"));
    }

    #[test]
    fn stream_errors_map_to_provider_errors() {
        let m = "m";
        assert!(matches!(
            stream_error(&json!({"code": 429, "message": "slow down"}), m),
            ProviderError::RateLimited { .. }
        ));
        assert!(matches!(
            stream_error(&json!({"type": "server_error", "message": "boom"}), m),
            ProviderError::Server { status: 500, .. }
        ));
        assert_eq!(
            stream_error(&json!({"code": "model_not_found", "message": "no"}), m),
            ProviderError::ModelNotFound { model: "m".into() }
        );
        assert!(matches!(
            stream_error(
                &json!({"type": "invalid_request_error", "message": "bad"}),
                m
            ),
            ProviderError::BadResponse { .. }
        ));
    }

    #[test]
    fn empty_arguments_are_an_empty_object() {
        assert_eq!(parse_arguments("t", "  ".into()), json!({}));
        assert_eq!(parse_arguments("t", "{\"a\":1}".into()), json!({"a": 1}));
        assert_eq!(
            parse_arguments("t", "{\"a\":".into()),
            Value::String("{\"a\":".into())
        );
    }
}
