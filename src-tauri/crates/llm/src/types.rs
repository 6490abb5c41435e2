//! The provider interface: what every model backend (Ollama, OpenAI-compatible,
//! Anthropic, the embedded llama.cpp engine, the scripted test model) offers,
//! and the errors it reports with the data a caller needs to react.

use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use super::ProviderKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A tool call the model asked for, with parsed JSON arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolCall {
    /// Provider-assigned id (generated when the provider has none).
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
}

/// One message of a conversation sent to a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMessage {
    pub role: Role,
    pub content: String,
    /// Tool calls made by an assistant message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For a `tool` message: the tool's name (some providers want it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ModelMessage {
    fn plain(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::plain(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::plain(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::plain(Role::Assistant, content)
    }
    pub fn tool_result(
        call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            name: Some(name.into()),
            ..Self::plain(Role::Tool, content)
        }
    }
}

/// A tool offered to the model: name, description and JSON-schema parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

/// A request for one streamed completion.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ModelMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Constrain the output to JSON matching this JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Fixes the sampler's randomness (a retry asks for a different one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// Text that ends the answer where it appears (not included), for
    /// providers that take stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Continue this text exactly as it is, instead of `messages` rendered
    /// as a chat: how a base model (one without a chat template) is
    /// prompted — by example, with no turns. Only providers whose
    /// [`Provider::supports_raw_prompt`] is true take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_prompt: Option<String>,
    /// Constrain the output to this grammar, in llama.cpp's GBNF with its
    /// start rule named `root` (instead of `json_schema`). Only providers
    /// whose [`Provider::supports_grammar`] is true take it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grammar: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Usage {
    #[ts(type = "number")]
    pub input_tokens: u64,
    #[ts(type = "number")]
    pub output_tokens: u64,
    /// Input tokens the provider did not evaluate again (its prompt cache
    /// held them from an earlier request); part of `input_tokens`.
    #[serde(default)]
    #[ts(type = "number")]
    pub cached_input_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model finished its answer.
    Stop,
    /// It hit the token limit.
    Length,
    /// It stopped to call tools.
    ToolCalls,
    /// The provider filtered the output.
    ContentFilter,
    /// The model started repeating the same block over and over and was
    /// stopped (the embedded engine notices this).
    Repetition,
    /// Anything else the provider reported.
    Other(String),
}

/// What a provider's stream yields, in order: deltas (text and tool-call
/// fragments), complete tool calls, usage, and exactly one `Finish` last.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of the answer's text.
    Delta(String),
    /// A fragment of a tool call as it streams (OpenAI-style `index`).
    ToolCallDelta {
        index: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// A complete tool call with parsed arguments.
    ToolCall(ToolCall),
    Usage(Usage),
    Finish(FinishReason),
}

pub type EventStream = BoxStream<'static, Result<StreamEvent, ProviderError>>;

/// A model a provider offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelInfo {
    pub name: String,
    #[ts(type = "number | null")]
    pub size_bytes: Option<u64>,
    /// Family, parameter size, quantisation… as the provider reports it.
    pub details: Option<String>,
}

/// What a provider says about a model without running it (Ollama's
/// `/api/show`, a GGUF's metadata). `None` where it does not say.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelFacts {
    /// Whether the model takes native tool calls (Ollama lists `tools` in
    /// its `capabilities` only for models that do).
    pub tools: Option<bool>,
    /// The context window the model was trained for, in tokens.
    pub context_length: Option<u64>,
    /// Whether the model brings a chat template (a base model has none).
    pub chat_template: Option<bool>,
}

/// Progress of a model download (Ollama pull).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct PullProgress {
    pub status: String,
    #[ts(type = "number | null")]
    pub completed: Option<u64>,
    #[ts(type = "number | null")]
    pub total: Option<u64>,
}

/// Why a provider call failed, with what the caller needs to react.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    #[error("cannot reach the provider at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("model '{model}' is not available from this provider")]
    ModelNotFound { model: String },
    #[error("the provider is rate limiting requests{}", retry_after.map(|d| format!("; retry in {} s", d.as_secs().max(1))).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("the provider refused the credentials: {detail}")]
    Auth { detail: String },
    #[error("the provider failed (HTTP {status}): {detail}")]
    Server { status: u16, detail: String },
    #[error("the provider sent a response Ensemble cannot use: {detail}")]
    BadResponse { detail: String },
    #[error("no answer from the provider within {}", seconds(*after))]
    Timeout { after: Duration },
    #[error("generation was cancelled")]
    Cancelled,
    #[error("provider '{provider}' is paused after repeated failures; next try in {} s", retry_in.as_secs().max(1))]
    CircuitOpen {
        provider: String,
        retry_in: Duration,
    },
    #[error("{detail}")]
    Unavailable { detail: String },
    #[error("the stream broke off: {detail}")]
    Interrupted { detail: String },
    /// The provider refused a request with `tools` for this model (Ollama's
    /// 400 "… does not support tools", an OpenAI-compatible server without
    /// tool calling): the caller can ask for JSON steps instead.
    #[error("model '{model}' does not support tool calls here: {detail}")]
    ToolsUnsupported { model: String, detail: String },
}

/// A duration for people: "300 s", or "0.25 s" below a second.
pub(crate) fn seconds(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} s", (d.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}

impl ProviderError {
    pub fn bad(detail: impl Into<String>) -> Self {
        Self::BadResponse {
            detail: detail.into(),
        }
    }

    /// Stable code for the UI and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "PROVIDER_UNREACHABLE",
            Self::ModelNotFound { .. } => "MODEL_NOT_FOUND",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Auth { .. } => "PROVIDER_AUTH",
            Self::Server { .. } => "PROVIDER_ERROR",
            Self::BadResponse { .. } => "BAD_RESPONSE",
            Self::Timeout { .. } => "PROVIDER_TIMEOUT",
            Self::Cancelled => "CANCELLED",
            Self::CircuitOpen { .. } => "CIRCUIT_OPEN",
            Self::Unavailable { .. } => "PROVIDER_UNAVAILABLE",
            Self::Interrupted { .. } => "STREAM_INTERRUPTED",
            Self::ToolsUnsupported { .. } => "TOOLS_UNSUPPORTED",
        }
    }

    /// Worth another try (before any token arrived): the provider may recover.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. }
                | Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Interrupted { .. }
        )
    }

    /// Counts against the provider's circuit breaker (the provider, not the request, is at fault).
    pub fn is_provider_fault(&self) -> bool {
        self.is_retryable()
    }
}

/// A model backend. Implementations must be cheap to share (`Arc`).
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider config's name (e.g. "ollama", "embedded").
    fn name(&self) -> &str;

    fn kind(&self) -> ProviderKind;

    /// Whether the provider calls tools natively; otherwise the agent runtime
    /// asks for schema-constrained JSON steps instead.
    fn supports_tools(&self) -> bool {
        true
    }

    /// Whether the provider continues a raw prompt
    /// ([`ChatRequest::raw_prompt`]) with no chat template around it.
    fn supports_raw_prompt(&self) -> bool {
        false
    }

    /// Whether the provider constrains output with a GBNF grammar
    /// ([`ChatRequest::grammar`]).
    fn supports_grammar(&self) -> bool {
        false
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError>;

    /// What the provider says about `model` without running it; by default
    /// nothing. Cheap (no generation): the agent runtime asks it the first
    /// time it meets a model.
    async fn model_facts(&self, _model: &str) -> Result<ModelFacts, ProviderError> {
        Ok(ModelFacts::default())
    }

    /// Answers when the provider is usable right now.
    async fn health(&self) -> Result<(), ProviderError> {
        self.list_models().await.map(|_| ())
    }

    /// Starts a streamed completion. Cancelling `cancel` (or dropping the
    /// stream) stops generation promptly.
    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError>;

    /// Downloads a model, reporting progress (providers that can).
    async fn pull(
        &self,
        model: &str,
        _progress: &(dyn Fn(PullProgress) + Send + Sync),
        _cancel: CancellationToken,
    ) -> Result<(), ProviderError> {
        Err(ProviderError::Unavailable {
            detail: format!(
                "{} cannot download models; '{model}' must be installed another way",
                self.name()
            ),
        })
    }
}

/// Collects a stream into the final text, tool calls, usage and finish reason
/// (used by callers that do not stream, and by tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub finish: Option<FinishReason>,
    pub deltas: usize,
}

pub async fn collect(mut stream: EventStream) -> Result<Collected, (ProviderError, Collected)> {
    use futures::StreamExt;
    let mut out = Collected::default();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(StreamEvent::Delta(t)) => {
                out.deltas += 1;
                out.text.push_str(&t);
            }
            Ok(StreamEvent::ToolCall(c)) => out.tool_calls.push(c),
            Ok(StreamEvent::ToolCallDelta { .. }) => {}
            Ok(StreamEvent::Usage(u)) => out.usage = u,
            Ok(StreamEvent::Finish(f)) => out.finish = Some(f),
            Err(e) => return Err((e, out)),
        }
    }
    Ok(out)
}
