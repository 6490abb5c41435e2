//! What can go wrong inside the engine, and how each failure is reported to
//! callers as a `ProviderError` (the only error type that leaves this crate).

use std::path::PathBuf;

use ensemble_llm::ProviderError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    #[error("llama.cpp could not start: {0}")]
    Backend(String),
    #[error("could not load the model {}: {detail}", path.display())]
    Load { path: PathBuf, detail: String },
    #[error("could not create a llama.cpp context for the request: {0}")]
    Context(#[from] llama_cpp_2::LlamaContextLoadError),
    #[error("the conversation is {prompt} tokens but the embedded model's context holds {n_ctx}; shorten it or use a model with a longer context")]
    PromptTooLong { prompt: usize, n_ctx: u32 },
    #[error("the conversation rendered to an empty prompt")]
    EmptyPrompt,
    #[error("the embedded engine cannot constrain output to this JSON schema: {0}")]
    Schema(String),
    #[error("llama.cpp failed to evaluate tokens: {0}")]
    Decode(#[from] llama_cpp_2::DecodeError),
    #[error("llama.cpp batch error: {0}")]
    Batch(#[from] llama_cpp_2::llama_batch::BatchAddError),
    #[error("the JSON grammar allowed no next token")]
    NoToken,
    #[error("generation was cancelled")]
    Cancelled,
}

impl From<EngineError> for ProviderError {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Cancelled => ProviderError::Cancelled,
            // The model's own computation went wrong: its answer is unusable.
            EngineError::Decode(_) | EngineError::Batch(_) | EngineError::NoToken => {
                ProviderError::bad(err.to_string())
            }
            // The engine cannot serve this request as asked; retrying the same
            // request would fail the same way, so none of these are retryable.
            EngineError::Backend(_)
            | EngineError::Load { .. }
            | EngineError::Context(_)
            | EngineError::PromptTooLong { .. }
            | EngineError::EmptyPrompt
            | EngineError::Schema(_) => ProviderError::Unavailable {
                detail: err.to_string(),
            },
        }
    }
}
