//! Ollama: `/api/tags`, streaming `/api/chat` with tools and a JSON-schema
//! `format`, and model pull with progress, through ollama-rs.
//!
//! ollama-rs provides the client, the request and response types (so the
//! wire format is theirs) and the model listing and pull calls. The chat
//! stream itself is read here: ollama-rs's streaming reader decodes each
//! network chunk separately and drops a chunk that splits a multi-byte
//! character, and it prints and skips malformed lines; we frame by bytes
//! (see `framing`) and report a malformed line as an error instead.

use async_trait::async_trait;
use futures::StreamExt;
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::{ChatMessage as OChatMessage, ChatMessageResponse, MessageRole};
use ollama_rs::generation::parameters::{FormatType, JsonStructure};
use ollama_rs::generation::tools::{
    ToolCall as OToolCall, ToolCallFunction, ToolFunctionInfo, ToolInfo, ToolType,
};
use ollama_rs::models::ModelOptions;
use ollama_rs::Ollama;
use tokio_util::sync::CancellationToken;

use super::framing::{body_stream, lines};
use super::http;
use super::{
    ChatRequest, EventStream, FinishReason, ModelFacts, ModelInfo, ModelMessage, Provider,
    ProviderError, ProviderKind, PullProgress, Role, StreamEvent, ToolCall, Usage,
};

pub struct OllamaProvider {
    name: String,
    base_url: String,
    ollama: Ollama,
    http: reqwest::Client,
}

impl OllamaProvider {
    /// `base_url` like `http://127.0.0.1:11434`.
    pub fn new(name: impl Into<String>, base_url: &str) -> Result<Self, ProviderError> {
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&base_url).map_err(|e| ProviderError::Unavailable {
            detail: format!("'{base_url}' is not a valid Ollama URL: {e}"),
        })?;
        // ollama-rs panics on a URL without a host: check first.
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(ProviderError::Unavailable {
                detail: format!("'{base_url}' is not an http(s) URL with a host"),
            });
        }
        let client = http::client(&base_url);
        Ok(Self {
            name: name.into(),
            ollama: Ollama::builder()
                .url(url)
                .reqwest_client(client.clone())
                .build(),
            base_url,
            http: client,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn map_error(&self, e: ollama_rs::error::OllamaError, model: &str) -> ProviderError {
        use ollama_rs::error::OllamaError as E;
        match e {
            E::ReqwestError(r) => http::transport_error(&self.base_url, &r),
            E::InternalError(i) => classify(&i.message, model),
            E::Other(text) => classify(&http::error_text(&text), model),
            E::JsonError(j) => ProviderError::bad(format!("unexpected JSON from Ollama: {j}")),
            E::ToolCallError(t) => ProviderError::bad(t.to_string()),
        }
    }
}

/// Ollama reports most failures as `{"error": "..."}` text.
fn classify(message: &str, model: &str) -> ProviderError {
    let lower = message.to_lowercase();
    if lower.contains("not found")
        || lower.contains("file does not exist")
        || lower.contains("pull model manifest")
    {
        ProviderError::ModelNotFound {
            model: model.to_string(),
        }
    } else {
        ProviderError::bad(message.to_string())
    }
}

fn to_schema(v: &serde_json::Value, what: &str) -> Result<schemars::Schema, ProviderError> {
    schemars::Schema::try_from(v.clone())
        .map_err(|_| ProviderError::bad(format!("the {what} is not a JSON schema object")))
}

fn to_ollama_message(m: &ModelMessage) -> OChatMessage {
    let role = match m.role {
        Role::System => MessageRole::System,
        Role::User => MessageRole::User,
        Role::Assistant => MessageRole::Assistant,
        Role::Tool => MessageRole::Tool,
    };
    let mut out = OChatMessage::new(role, m.content.clone());
    out.tool_calls = m
        .tool_calls
        .iter()
        .map(|c| OToolCall {
            function: ToolCallFunction {
                name: c.name.clone(),
                arguments: c.arguments.clone(),
            },
        })
        .collect();
    out
}

/// The `/api/chat` body: ollama-rs's request type, with streaming on.
pub fn chat_body(req: &ChatRequest) -> Result<serde_json::Value, ProviderError> {
    let mut r = ChatMessageRequest::new(
        req.model.clone(),
        req.messages.iter().map(to_ollama_message).collect(),
    );
    if !req.tools.is_empty() {
        let mut tools = Vec::with_capacity(req.tools.len());
        for t in &req.tools {
            tools.push(ToolInfo {
                tool_type: ToolType::Function,
                function: ToolFunctionInfo {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: to_schema(&t.parameters, "tool's parameters")?,
                },
            });
        }
        r = r.tools(tools);
    }
    if let Some(schema) = &req.json_schema {
        let s = to_schema(schema, "output schema")?;
        r = r.format(FormatType::StructuredJson(Box::new(
            JsonStructure::new_for_schema(s),
        )));
    }
    let mut options = ModelOptions::default();
    if let Some(t) = req.temperature {
        options = options.temperature(t);
    }
    if let Some(n) = req.max_tokens {
        options = options.num_predict(i32::try_from(n).unwrap_or(i32::MAX));
    }
    if !req.stop.is_empty() {
        options = options.stop(req.stop.clone());
    }
    r = r.options(options);
    let mut body = serde_json::to_value(&r)
        .map_err(|e| ProviderError::bad(format!("cannot encode the request: {e}")))?;
    // ollama-rs sets `stream` only inside its own send methods.
    body["stream"] = serde_json::Value::Bool(true);
    Ok(body)
}

/// Turns one NDJSON line of the chat stream into events.
fn line_events(
    line: &str,
    model: &str,
    call_seq: &mut usize,
) -> Result<Vec<StreamEvent>, ProviderError> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        ProviderError::bad(format!(
            "Ollama sent a line that is not JSON ({e}): {}",
            clip(line)
        ))
    })?;
    if let Some(err) = value.get("error").and_then(|e| e.as_str()) {
        return Err(classify(err, model));
    }
    let resp: ChatMessageResponse = serde_json::from_value(value.clone()).map_err(|e| {
        ProviderError::bad(format!(
            "unexpected chat response from Ollama ({e}): {}",
            clip(line)
        ))
    })?;
    let mut out = Vec::new();
    if !resp.message.content.is_empty() {
        out.push(StreamEvent::Delta(resp.message.content));
    }
    let had_calls = !resp.message.tool_calls.is_empty();
    for c in resp.message.tool_calls {
        *call_seq += 1;
        out.push(StreamEvent::ToolCall(ToolCall {
            id: format!("call_{call_seq}"),
            name: c.function.name,
            arguments: c.function.arguments,
        }));
    }
    if resp.done {
        if let Some(f) = &resp.final_data {
            out.push(StreamEvent::Usage(Usage {
                input_tokens: f.prompt_eval_count,
                output_tokens: f.eval_count,
                // Ollama counts only the prompt tokens it evaluated.
                cached_input_tokens: 0,
            }));
        }
        let reason = match value.get("done_reason").and_then(|r| r.as_str()) {
            _ if had_calls || *call_seq > 0 => FinishReason::ToolCalls,
            Some("length") => FinishReason::Length,
            Some("stop") | None => FinishReason::Stop,
            Some(other) => FinishReason::Other(other.to_string()),
        };
        out.push(StreamEvent::Finish(reason));
    }
    Ok(out)
}

/// Reads an `/api/show` answer; what it does not say stays `None`.
pub fn show_facts(body: &str) -> ModelFacts {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return ModelFacts::default();
    };
    let tools = v
        .get("capabilities")
        .and_then(|c| c.as_array())
        .map(|caps| caps.iter().any(|c| c.as_str() == Some("tools")));
    let info = v.get("model_info").and_then(|i| i.as_object());
    let context_length = info.and_then(|info| {
        let arch = info.get("general.architecture")?.as_str()?;
        info.get(&format!("{arch}.context_length"))?.as_u64()
    });
    let chat_template = v
        .get("template")
        .and_then(|t| t.as_str())
        .map(|t| !t.trim().is_empty() && t.trim() != "{{ .Prompt }}");
    ModelFacts {
        tools,
        context_length,
        chat_template,
    }
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

#[async_trait]
impl Provider for OllamaProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Ollama
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let models = self
            .ollama
            .list_local_models()
            .await
            .map_err(|e| self.map_error(e, ""))?;
        Ok(models
            .into_iter()
            .map(|m| ModelInfo {
                name: m.name,
                size_bytes: Some(m.size),
                details: None,
            })
            .collect())
    }

    /// `/api/show`: `capabilities` lists `tools` only for models that take
    /// native tool calls; `model_info` holds `<architecture>.context_length`.
    async fn model_facts(&self, model: &str) -> Result<ModelFacts, ProviderError> {
        let url = format!("{}/api/show", self.base_url);
        let res = http::send(
            self.http
                .post(&url)
                .json(&serde_json::json!({ "model": model })),
            &self.base_url,
            model,
        )
        .await?;
        let body = res
            .text()
            .await
            .map_err(|e| http::transport_error(&self.base_url, &e))?;
        Ok(show_facts(&body))
    }

    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let body = chat_body(&request)?;
        let url = format!("{}/api/chat", self.base_url);
        let res = tokio::select! {
            _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
            r = http::send(self.http.post(&url).json(&body), &self.base_url, &request.model) => r?,
        };
        let model = request.model.clone();
        let frames = lines(body_stream(res));
        // State: frames, pending events, call counter, finished flag.
        let state = (
            frames,
            std::collections::VecDeque::<StreamEvent>::new(),
            0usize,
            false,
            cancel,
            model,
        );
        let stream = futures::stream::unfold(
            state,
            |(mut frames, mut pending, mut seq, mut finished, cancel, model)| async move {
                loop {
                    if let Some(ev) = pending.pop_front() {
                        if matches!(ev, StreamEvent::Finish(_)) {
                            finished = true;
                        }
                        return Some((Ok(ev), (frames, pending, seq, finished, cancel, model)));
                    }
                    if finished {
                        return None;
                    }
                    let next = tokio::select! {
                        _ = cancel.cancelled() => {
                            finished = true;
                            return Some((Err(ProviderError::Cancelled), (frames, pending, seq, finished, cancel, model)));
                        }
                        n = frames.next() => n,
                    };
                    match next {
                        Some(Ok(line)) if line.trim().is_empty() => continue,
                        Some(Ok(line)) => match line_events(&line, &model, &mut seq) {
                            Ok(evs) => pending.extend(evs),
                            Err(e) => {
                                finished = true;
                                return Some((
                                    Err(e),
                                    (frames, pending, seq, finished, cancel, model),
                                ));
                            }
                        },
                        Some(Err(e)) => {
                            finished = true;
                            return Some((Err(e), (frames, pending, seq, finished, cancel, model)));
                        }
                        None => {
                            finished = true;
                            return Some((
                                Err(ProviderError::Interrupted {
                                    detail: "Ollama closed the stream before it was done".into(),
                                }),
                                (frames, pending, seq, finished, cancel, model),
                            ));
                        }
                    }
                }
            },
        );
        Ok(stream.boxed())
    }

    async fn pull(
        &self,
        model: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
        cancel: CancellationToken,
    ) -> Result<(), ProviderError> {
        let mut stream = self
            .ollama
            .pull_model_stream(model.to_string(), false)
            .await
            .map_err(|e| self.map_error(e, model))?;
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                n = stream.next() => n,
            };
            match next {
                None => return Ok(()),
                Some(Ok(s)) => {
                    let done = s.message == "success";
                    progress(PullProgress {
                        status: s.message,
                        completed: s.completed,
                        total: s.total,
                    });
                    if done {
                        return Ok(());
                    }
                }
                Some(Err(e)) => return Err(self.map_error(e, model)),
            }
        }
    }
}
