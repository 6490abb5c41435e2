//! A scripted model for deterministic tests and benchmarks: each call to
//! `chat` plays the next script (or asks a function for one), records the
//! request, and can fail, pause, or fail mid-stream exactly where a test
//! needs it. It is a real [`Provider`]: everything above it runs unchanged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::{
    ChatRequest, EventStream, FinishReason, ModelFacts, ModelInfo, Provider, ProviderError,
    ProviderKind, StreamEvent, ToolCall, Usage,
};

/// One step of a scripted reply.
#[derive(Debug, Clone)]
pub enum Step {
    Event(StreamEvent),
    /// Ends the stream with this error.
    Fail(ProviderError),
    /// Waits (cancellable) before the next step.
    Sleep(Duration),
}

/// What one `chat` call does: fail at once, or stream these steps.
#[derive(Debug, Clone)]
pub enum Reply {
    Refuse(ProviderError),
    Steps(Vec<Step>),
}

impl Reply {
    /// A text answer streamed word by word, then usage and `Finish(Stop)`.
    pub fn text(text: &str) -> Self {
        let mut steps: Vec<Step> = split_words(text)
            .into_iter()
            .map(|w| Step::Event(StreamEvent::Delta(w)))
            .collect();
        steps.push(Step::Event(StreamEvent::Usage(Usage {
            input_tokens: 10,
            output_tokens: text.split_whitespace().count() as u64,
            cached_input_tokens: 0,
        })));
        steps.push(Step::Event(StreamEvent::Finish(FinishReason::Stop)));
        Reply::Steps(steps)
    }

    /// A text answer whose words arrive `every` apart.
    pub fn slow_text(text: &str, every: Duration) -> Self {
        let mut steps = Vec::new();
        for w in split_words(text) {
            steps.push(Step::Sleep(every));
            steps.push(Step::Event(StreamEvent::Delta(w)));
        }
        steps.push(Step::Event(StreamEvent::Finish(FinishReason::Stop)));
        Reply::Steps(steps)
    }

    /// A native tool call.
    pub fn tool_call(name: &str, arguments: serde_json::Value) -> Self {
        Reply::Steps(vec![
            Step::Event(StreamEvent::ToolCall(ToolCall {
                id: format!("call_{name}"),
                name: name.to_string(),
                arguments,
            })),
            Step::Event(StreamEvent::Finish(FinishReason::ToolCalls)),
        ])
    }

    /// Some text, then the stream breaks.
    pub fn broken_after(text: &str, error: ProviderError) -> Self {
        let mut steps: Vec<Step> = split_words(text)
            .into_iter()
            .map(|w| Step::Event(StreamEvent::Delta(w)))
            .collect();
        steps.push(Step::Fail(error));
        Reply::Steps(steps)
    }
}

fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if ch == ' ' || ch == '\n' {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

type Responder = dyn Fn(&ChatRequest, usize) -> Reply + Send + Sync;

enum Source {
    Queue(Mutex<VecDeque<Reply>>),
    Func(Box<Responder>),
}

pub struct ScriptedProvider {
    name: String,
    kind: ProviderKind,
    tools: bool,
    /// Plays a base model: no chat template, raw prompts and grammars.
    base: bool,
    models: Vec<String>,
    source: Source,
    requests: Mutex<Vec<ChatRequest>>,
    health: Mutex<Result<(), ProviderError>>,
}

impl ScriptedProvider {
    /// Plays `replies` in order; when they run out, answers "(no more script)".
    pub fn new(name: &str, replies: Vec<Reply>) -> Self {
        Self::build(name, Source::Queue(Mutex::new(replies.into())))
    }

    /// Asks `f(request, call_number)` for each reply.
    pub fn from_fn(
        name: &str,
        f: impl Fn(&ChatRequest, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::build(name, Source::Func(Box::new(f)))
    }

    fn build(name: &str, source: Source) -> Self {
        Self {
            name: name.to_string(),
            kind: ProviderKind::OpenAiCompatible,
            tools: true,
            base: false,
            models: vec!["scripted".to_string()],
            source,
            requests: Mutex::new(Vec::new()),
            health: Mutex::new(Ok(())),
        }
    }

    /// Pretend to be a provider without native tool calling (like the embedded engine).
    pub fn without_tools(mut self) -> Self {
        self.tools = false;
        self
    }

    /// Pretend to serve a base model (no chat template, like the default
    /// embedded model): no native tools, raw prompts and grammars taken, so
    /// the runtime's agents take guided steps.
    pub fn as_base_model(mut self) -> Self {
        self.tools = false;
        self.base = true;
        self
    }

    pub fn with_kind(mut self, kind: ProviderKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn set_health(&self, h: Result<(), ProviderError>) {
        *self.health.lock().unwrap_or_else(|p| p.into_inner()) = h;
    }

    pub fn push(&self, reply: Reply) {
        if let Source::Queue(q) = &self.source {
            q.lock().unwrap_or_else(|p| p.into_inner()).push_back(reply);
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn arc(self) -> Arc<Self> {
        Arc::new(self)
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn supports_tools(&self) -> bool {
        self.tools
    }

    fn supports_raw_prompt(&self) -> bool {
        self.base
    }

    fn supports_grammar(&self) -> bool {
        self.base
    }

    /// A script knows what it plays: native tool calls exactly when it was
    /// built with them, and a chat template unless it plays a base model.
    async fn model_facts(&self, _model: &str) -> Result<ModelFacts, ProviderError> {
        Ok(ModelFacts {
            tools: Some(self.tools),
            chat_template: Some(!self.base),
            ..ModelFacts::default()
        })
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        Ok(self
            .models
            .iter()
            .map(|m| ModelInfo {
                name: m.clone(),
                size_bytes: None,
                details: Some("scripted".into()),
            })
            .collect())
    }

    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let n = {
            let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            r.push(request.clone());
            r.len() - 1
        };
        let reply = match &self.source {
            Source::Queue(q) => q
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()
                .unwrap_or_else(|| Reply::text("(no more script)")),
            Source::Func(f) => f(&request, n),
        };
        let steps = match reply {
            Reply::Refuse(e) => return Err(e),
            Reply::Steps(s) => s,
        };
        let stream = futures::stream::unfold(
            (steps.into_iter(), cancel, false),
            |(mut it, cancel, done)| async move {
                if done {
                    return None;
                }
                loop {
                    if cancel.is_cancelled() {
                        return Some((Err(ProviderError::Cancelled), (it, cancel, true)));
                    }
                    match it.next()? {
                        Step::Event(e) => return Some((Ok(e), (it, cancel, false))),
                        Step::Fail(e) => return Some((Err(e), (it, cancel, true))),
                        Step::Sleep(d) => {
                            tokio::select! {
                                _ = cancel.cancelled() => return Some((Err(ProviderError::Cancelled), (it, cancel, true))),
                                _ = tokio::time::sleep(d) => {}
                            }
                        }
                    }
                }
            },
        );
        Ok(stream.boxed())
    }
}
