//! `EmbeddedProvider`: the embedded engine behind the `Provider` interface.
//! It answers model listing and health from the models folder, resolves a
//! request's model to a file, and hands generation to the engine thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ensemble_llm::{
    ChatRequest, EventStream, ModelFacts, ModelInfo, Provider, ProviderError, ProviderKind,
};
use tokio_util::sync::CancellationToken;

use crate::engine::{self, Generation, GgufFacts, RunStats};
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
    /// The user's models folder first, then folders a package installs
    /// models into (read only).
    dirs: Vec<PathBuf>,
    models_dir: PathBuf,
    last_run: Arc<Mutex<Option<RunStats>>>,
}

impl EmbeddedProvider {
    pub fn new(name: impl Into<String>, models_dir: impl Into<PathBuf>) -> Self {
        let models_dir = models_dir.into();
        Self {
            name: name.into(),
            dirs: vec![models_dir.clone()],
            models_dir,
            last_run: Arc::default(),
        }
    }

    /// Also offers the models in `dirs` (after the user's own folder), e.g.
    /// the one the model package installs (`paths::shared_model_dirs`).
    pub fn with_shared_dirs(mut self, dirs: impl IntoIterator<Item = PathBuf>) -> Self {
        for d in dirs {
            if !self.dirs.contains(&d) {
                self.dirs.push(d);
            }
        }
        self
    }

    /// Every folder models are taken from, the user's first.
    pub fn model_dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The folder whose `.gguf` files this provider offers.
    pub fn models_dir(&self) -> &Path {
        &self.models_dir
    }

    /// Checks a GGUF file before it is used: it must start with the GGUF
    /// magic, and llama.cpp must know its architecture (a vocabulary-only
    /// load, no weights, on the engine thread). Returns what it read.
    pub async fn inspect(&self, path: &Path) -> Result<GgufFacts, ProviderError> {
        let file = path.to_path_buf();
        let checked = tokio::task::spawn_blocking(move || models::check_magic(&file))
            .await
            .map_err(|err| ProviderError::Unavailable {
                detail: format!("model check failed: {err}"),
            })?;
        checked?;
        let facts = engine::inspect(path.to_path_buf()).await?;
        if facts.architecture.is_empty() {
            return Err(ProviderError::Unavailable {
                detail: format!(
                    "{} names no architecture (general.architecture)",
                    path.display()
                ),
            });
        }
        Ok(facts)
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
        work: impl FnOnce(&[PathBuf]) -> Result<T, ProviderError> + Send + 'static,
    ) -> Result<T, ProviderError> {
        let dirs = self.dirs.clone();
        tokio::task::spawn_blocking(move || work(&dirs))
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

    fn supports_raw_prompt(&self) -> bool {
        true
    }

    fn supports_grammar(&self) -> bool {
        true
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        self.blocking(|dirs| {
            models::list_all(dirs).map_err(|err| ProviderError::Unavailable {
                detail: format!(
                    "cannot read the models folder {}: {err}",
                    dirs.first()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                ),
            })
        })
        .await
    }

    /// From the file itself: no native tools (steps are grammar-constrained
    /// JSON), the context the engine gives it, and whether it brings a chat
    /// template.
    async fn model_facts(&self, model: &str) -> Result<ModelFacts, ProviderError> {
        let model = model.to_owned();
        let path = self
            .blocking(move |dirs| models::resolve_in(dirs, &model))
            .await?;
        let facts = self.inspect(&path).await?;
        Ok(ModelFacts {
            tools: Some(false),
            context_length: Some(u64::from(engine::context_for(facts.context_train))),
            chat_template: Some(facts.chat_template),
        })
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
            .blocking(move |dirs| models::resolve_in(dirs, &model))
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
            stop: request.stop,
            seed: request.seed,
            raw_prompt: request.raw_prompt,
            grammar: request.grammar,
        };
        engine::start(path, generation, cancel, Arc::clone(&self.last_run))
    }
}
