//! `EmbeddedProvider`: the embedded engine behind the `Provider` interface.
//! It answers model listing and health from the models folder, resolves a
//! request's model to a file, and hands generation to the engine thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ensemble_core::providers::{
    ChatRequest, EventStream, ModelInfo, Provider, ProviderError, ProviderKind,
};
use tokio_util::sync::CancellationToken;

use crate::engine::{self, Generation, RunStats};
use crate::models;

/// llama.cpp in-process on GGUF files from one models folder (or any `.gguf`
/// file a request names by absolute path).
///
/// It does not call tools natively (`supports_tools` is false; tools in a
/// request are ignored): the agent runtime asks it for JSON that matches a
/// schema instead, which the engine enforces with a grammar.
#[derive(Debug)]
pub struct EmbeddedProvider {
    name: String,
    models_dir: PathBuf,
    last_run: Arc<Mutex<Option<RunStats>>>,
}

impl EmbeddedProvider {
    pub fn new(name: impl Into<String>, models_dir: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            models_dir: models_dir.into(),
            last_run: Arc::default(),
        }
    }

    /// The folder whose `.gguf` files this provider offers.
    pub fn models_dir(&self) -> &Path {
        &self.models_dir
    }

    /// Timings of this provider's most recent generation that got as far as
    /// evaluating its prompt.
    pub fn last_run(&self) -> Option<RunStats> {
        self.last_run.lock().ok().and_then(|slot| slot.clone())
    }

    /// How many times the process's engine has loaded a model file; a request
    /// for the model already loaded does not add to it.
    pub fn model_loads() -> u64 {
        engine::model_loads()
    }

    /// Runs a blocking file-system look-up off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Path) -> Result<T, ProviderError> + Send + 'static,
    ) -> Result<T, ProviderError> {
        let dir = self.models_dir.clone();
        tokio::task::spawn_blocking(move || work(&dir))
            .await
            .map_err(|err| ProviderError::Unavailable {
                detail: format!("model look-up failed: {err}"),
            })?
    }
}

#[async_trait]
impl Provider for EmbeddedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Embedded
    }

    fn supports_tools(&self) -> bool {
        false
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        self.blocking(|dir| {
            models::list(dir).map_err(|err| ProviderError::Unavailable {
                detail: format!("cannot read the models folder {}: {err}", dir.display()),
            })
        })
        .await
    }

    async fn health(&self) -> Result<(), ProviderError> {
        if self.list_models().await?.is_empty() {
            return Err(ProviderError::Unavailable {
                detail: models::no_model_hint(&self.models_dir),
            });
        }
        Ok(())
    }

    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        if cancel.is_cancelled() {
            return Err(ProviderError::Cancelled);
        }
        let model = request.model.clone();
        let path = self
            .blocking(move |dir| models::resolve(dir, &model))
            .await?;
        if !request.tools.is_empty() {
            tracing::debug!(
                provider = %self.name,
                tools = request.tools.len(),
                "ignoring tools: the embedded engine answers with schema-constrained JSON instead"
            );
        }
        let generation = Generation {
            messages: request.messages,
            json_schema: request.json_schema,
            temperature: request.temperature,
            max_tokens: request.max_tokens,
        };
        engine::start(path, generation, cancel, Arc::clone(&self.last_run))
    }
}
