//! The provider hub: builds a live provider (wrapped in retries and its
//! circuit breaker) from each stored configuration, picks the default
//! (Ollama when it answers, otherwise the embedded engine, unless Settings
//! name one), resolves the provider and model for an agent, and reports each
//! provider's status for Settings.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use super::probe;
use super::profile::ModelProfile;
use super::resilience::{
    Breaker, BreakerConfig, BreakerStatus, Resilient, RetryPolicy, DEFAULT_STALL_TIMEOUT,
};
use super::{Connector, ModelInfo, Provider, ProviderConfig, ProviderError, ProviderKind};
use crate::error::{CoreError, ErrorPayload, Result};
use crate::secrets::SecretStore;
use crate::Core;

/// How long a health check may take before the provider counts as unreachable.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the automatic default choice is reused before Ollama is asked again.
const AUTO_TTL: Duration = Duration::from_secs(20);

/// The provider used when an agent names none, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DefaultChoice {
    pub provider: String,
    pub reason: String,
}

/// One provider as Settings shows it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ProviderStatus {
    pub config: ProviderConfig,
    pub reachable: bool,
    pub error: Option<ErrorPayload>,
    pub models: Vec<ModelInfo>,
    pub breaker: BreakerStatus,
    /// This is the provider agents use when they name none.
    pub active: bool,
    pub has_api_key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ProvidersOverview {
    pub default: DefaultChoice,
    pub providers: Vec<ProviderStatus>,
}

/// A provider and model ready for a request.
#[derive(Clone)]
pub struct Resolved {
    pub provider: Arc<dyn Provider>,
    pub provider_name: String,
    pub model: String,
}

pub struct ProviderHub {
    core: Arc<Core>,
    secrets: SecretStore,
    /// Providers given from outside, by config name or kind (the embedded engine, test doubles).
    injected: Mutex<HashMap<String, Arc<dyn Provider>>>,
    /// Builds the HTTP providers (Ollama, OpenAI-compatible, Anthropic);
    /// none in a hub that only serves injected ones.
    connector: Option<Arc<dyn Connector>>,
    built: Mutex<HashMap<String, (String, Arc<Resilient>)>>,
    breakers: Mutex<HashMap<String, Arc<Breaker>>>,
    policy: RetryPolicy,
    breaker_config: BreakerConfig,
    stall: Duration,
    /// The automatic default, when it was chosen and from which configs.
    auto: Mutex<Option<(Instant, Vec<ProviderConfig>, DefaultChoice)>>,
    /// (provider, model) pairs being probed now, so one is not probed twice at once.
    probing: Mutex<HashSet<(String, String)>>,
    /// Probes started for a model met for the first time; aborted with the hub.
    background: Mutex<tokio::task::JoinSet<()>>,
    /// Whether a (provider, model) is a base model, as its provider said;
    /// asked once per model and process.
    base_models: Mutex<HashMap<(String, String), bool>>,
}

/// How long a provider has to say whether a model is a base model.
const FACTS_TIMEOUT: Duration = Duration::from_secs(2);

/// A model a provider offers, with what is known of it as an agent.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ModelEntry {
    /// The provider config's name.
    pub provider: String,
    pub provider_kind: ProviderKind,
    pub model: ModelInfo,
    /// The stored verdict, if the model was probed or its provider told.
    pub profile: Option<ModelProfile>,
}

/// Every provider's models with their verdicts (Settings → Models, `ensemble models list`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ModelsOverview {
    pub models: Vec<ModelEntry>,
    /// Providers that could not list their models, with why.
    pub unreachable: Vec<(String, ErrorPayload)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ProviderHub {
    pub fn new(core: Arc<Core>) -> Self {
        let secrets = SecretStore::new(core.data_dir());
        Self::with_secrets(core, secrets)
    }

    pub fn with_secrets(core: Arc<Core>, secrets: SecretStore) -> Self {
        Self {
            core,
            secrets,
            injected: Mutex::new(HashMap::new()),
            connector: None,
            built: Mutex::new(HashMap::new()),
            breakers: Mutex::new(HashMap::new()),
            policy: RetryPolicy::default(),
            breaker_config: BreakerConfig::default(),
            stall: DEFAULT_STALL_TIMEOUT,
            auto: Mutex::new(None),
            probing: Mutex::new(HashSet::new()),
            background: Mutex::new(tokio::task::JoinSet::new()),
            base_models: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `resolved` is a base model — one without a chat template —
    /// on a provider that continues raw prompts: agents on it take guided
    /// steps and a chat with it is framed as a transcript. Asked of the
    /// provider once per model and process; a provider that does not say
    /// (or not in time) serves a chat model as far as Ensemble knows.
    pub async fn is_base_model(&self, resolved: &Resolved) -> bool {
        if !resolved.provider.supports_raw_prompt() {
            return false;
        }
        let key = (resolved.provider_name.clone(), resolved.model.clone());
        if let Some(known) = lock(&self.base_models).get(&key).copied() {
            return known;
        }
        let facts = tokio::time::timeout(
            FACTS_TIMEOUT,
            resolved.provider.model_facts(&resolved.model),
        )
        .await;
        let Ok(Ok(facts)) = facts else {
            return false;
        };
        let base = facts.chat_template == Some(false);
        lock(&self.base_models).insert(key, base);
        base
    }

    /// How the hub builds HTTP providers from their configs (the host
    /// gives ensemble-llm's `HttpConnector`).
    pub fn with_connector(mut self, connector: Arc<dyn Connector>) -> Self {
        self.connector = Some(connector);
        self
    }

    pub fn with_policy(mut self, policy: RetryPolicy, breaker: BreakerConfig) -> Self {
        self.policy = policy;
        self.breaker_config = breaker;
        self
    }

    /// How long a provider may stay silent before a call fails (see
    /// [`DEFAULT_STALL_TIMEOUT`]).
    pub fn with_stall_timeout(mut self, stall: Duration) -> Self {
        self.stall = stall;
        self
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// Supplies the implementation for configs of kind `embedded`.
    pub fn set_embedded(&self, provider: Arc<dyn Provider>) {
        self.inject("kind:embedded", provider);
    }

    /// Supplies the implementation for one config name (tests use scripted models this way).
    pub fn inject(&self, key: &str, provider: Arc<dyn Provider>) {
        lock(&self.injected).insert(key.to_string(), provider);
        lock(&self.built).clear();
        *lock(&self.auto) = None;
    }

    pub fn breaker(&self, name: &str) -> Arc<Breaker> {
        lock(&self.breakers)
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Breaker::new(name, self.breaker_config)))
            .clone()
    }

    fn api_key(&self, cfg: &ProviderConfig) -> Option<String> {
        let r = cfg.api_key_ref.as_deref()?;
        match self.secrets.get(r) {
            Ok(k) => k,
            Err(e) => {
                tracing::warn!(provider = %cfg.name, error = %e, "cannot read the provider's key");
                None
            }
        }
    }

    fn build_raw(&self, cfg: &ProviderConfig) -> Result<Arc<dyn Provider>> {
        let injected = lock(&self.injected);
        if let Some(p) = injected.get(&cfg.name) {
            return Ok(p.clone());
        }
        if cfg.kind == ProviderKind::Embedded {
            return injected.get("kind:embedded").cloned().ok_or_else(|| {
                CoreError::from(ProviderError::Unavailable {
                    detail: "the embedded engine is not part of this build".into(),
                })
            });
        }
        let connector = self.connector.as_ref().ok_or_else(|| {
            CoreError::from(ProviderError::Unavailable {
                detail: format!("this process cannot reach {} providers", cfg.kind),
            })
        })?;
        // Only the HTTP kinds need a key: the embedded engine returned above.
        let key = match cfg.kind {
            ProviderKind::Ollama => None,
            _ => self.api_key(cfg),
        };
        Ok(connector.connect(cfg.kind, &cfg.name, &cfg.base_url, key)?)
    }

    /// The live provider for a config (rebuilt when the config changed).
    pub fn provider_for(&self, cfg: &ProviderConfig) -> Result<Arc<Resilient>> {
        let fingerprint = format!("{}|{}", cfg.updated_at.timestamp_millis(), cfg.enabled);
        if let Some((fp, p)) = lock(&self.built).get(&cfg.name) {
            if *fp == fingerprint {
                return Ok(p.clone());
            }
        }
        let raw = self.build_raw(cfg)?;
        let p = Arc::new(
            Resilient::new(raw, self.breaker(&cfg.name), self.policy)
                .with_stall_timeout(self.stall),
        );
        lock(&self.built).insert(cfg.name.clone(), (fingerprint, p.clone()));
        Ok(p)
    }

    /// The live provider named `name`.
    pub fn provider(&self, name: &str) -> Result<Arc<Resilient>> {
        let cfg = self.core.providers().get(name)?;
        self.provider_for(&cfg)
    }

    async fn healthy(&self, p: &Arc<Resilient>) -> std::result::Result<(), ProviderError> {
        match tokio::time::timeout(HEALTH_TIMEOUT, p.health()).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Timeout {
                after: HEALTH_TIMEOUT,
            }),
        }
    }

    /// The provider agents use when they name none: Settings' choice, else
    /// Ollama when it answers, else the embedded engine.
    pub async fn default_choice(&self) -> Result<DefaultChoice> {
        let settings = self.core.settings()?;
        if let Some(p) = settings.default_provider {
            return Ok(DefaultChoice {
                provider: p,
                reason: "chosen in Settings".into(),
            });
        }
        // The automatic choice holds while the configs it was made from do
        // (a provider added, edited or removed, here or by another process,
        // makes a new one) and for at most `AUTO_TTL`.
        let configs = self.core.providers().list()?;
        if let Some((at, from, choice)) = lock(&self.auto).clone() {
            if at.elapsed() < AUTO_TTL && from == configs {
                return Ok(choice);
            }
        }
        let mut why_not_ollama = String::from("no Ollama provider is configured");
        if let Some(cfg) = configs
            .iter()
            .find(|c| c.kind == ProviderKind::Ollama && c.enabled)
        {
            let p = self.provider_for(cfg)?;
            match self.healthy(&p).await {
                Ok(()) => {
                    let choice = DefaultChoice {
                        provider: cfg.name.clone(),
                        reason: format!("Ollama answered at {}", cfg.base_url),
                    };
                    *lock(&self.auto) = Some((Instant::now(), configs.clone(), choice.clone()));
                    return Ok(choice);
                }
                Err(e) => {
                    why_not_ollama = format!("Ollama did not answer at {} ({e})", cfg.base_url)
                }
            }
        }
        let embedded = configs
            .iter()
            .find(|c| c.kind == ProviderKind::Embedded && c.enabled)
            .ok_or_else(|| {
                CoreError::from(ProviderError::Unavailable {
                    detail: format!("{why_not_ollama}, and the embedded engine is disabled"),
                })
            })?;
        let choice = DefaultChoice {
            provider: embedded.name.clone(),
            reason: format!("{why_not_ollama}; using the embedded model"),
        };
        *lock(&self.auto) = Some((Instant::now(), configs.clone(), choice.clone()));
        Ok(choice)
    }

    /// Forgets the automatic choice (e.g. after Ollama was started: the
    /// configs are the same, the answer may not be). A changed config needs
    /// no call: the choice is remade when the configs differ.
    pub fn refresh_default(&self) {
        *lock(&self.auto) = None;
    }

    /// The provider and model for a request: the agent's own choice where it
    /// has one, else the default provider, and the model from the agent,
    /// Settings, the provider's default, or the first model it lists.
    pub async fn resolve(&self, provider: Option<&str>, model: Option<&str>) -> Result<Resolved> {
        let (name, via_default) = match provider.filter(|p| !p.is_empty()) {
            Some(p) => (p.to_string(), false),
            None => (self.default_choice().await?.provider, true),
        };
        let cfg = self.core.providers().get(&name)?;
        if !cfg.enabled {
            return Err(ProviderError::Unavailable {
                detail: format!("provider '{name}' is disabled in Settings"),
            }
            .into());
        }
        let live = self.provider_for(&cfg)?;
        let settings_model = if via_default {
            self.core.settings()?.default_model
        } else {
            None
        };
        let model = match model
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .or(settings_model)
            .or(cfg.default_model.clone())
        {
            Some(m) => m,
            None => {
                let models = live.list_models().await?;
                models.into_iter().next().map(|m| m.name).ok_or_else(|| {
                    CoreError::from(ProviderError::Unavailable {
                        detail: format!(
                            "provider '{name}' has no model yet; pull one in Settings or set a default model"
                        ),
                    })
                })?
            }
        };
        Ok(Resolved {
            provider: live,
            provider_name: name,
            model,
        })
    }

    /// Checks one provider now ("test connection").
    pub async fn status(&self, cfg: &ProviderConfig, default: &DefaultChoice) -> ProviderStatus {
        let has_api_key = self.api_key(cfg).is_some();
        let breaker = self.breaker(&cfg.name).status();
        let (reachable, error, models) = match self.provider_for(cfg) {
            Err(e) => (false, Some(e.to_payload()), Vec::new()),
            Ok(p) => match tokio::time::timeout(HEALTH_TIMEOUT, p.list_models()).await {
                Ok(Ok(models)) => (true, None, models),
                Ok(Err(e)) => (false, Some(CoreError::from(e).to_payload()), Vec::new()),
                Err(_) => (
                    false,
                    Some(
                        CoreError::from(ProviderError::Timeout {
                            after: HEALTH_TIMEOUT,
                        })
                        .to_payload(),
                    ),
                    Vec::new(),
                ),
            },
        };
        ProviderStatus {
            active: default.provider == cfg.name,
            config: cfg.clone(),
            reachable,
            error,
            models,
            breaker,
            has_api_key,
        }
    }

    /// Every provider's status, checked in parallel.
    pub async fn overview(&self) -> Result<ProvidersOverview> {
        let default = self.default_choice().await?;
        let configs = self.core.providers().list()?;
        let providers =
            futures::future::join_all(configs.iter().map(|c| self.status(c, &default))).await;
        Ok(ProvidersOverview { default, providers })
    }

    /// Runs the capability probe on a model (the agent's way of resolving:
    /// the default provider and its model where none is named) and stores
    /// its profile. Refused while the same model is being probed.
    pub async fn probe_model(
        &self,
        provider: Option<&str>,
        model: Option<&str>,
        cancel: CancellationToken,
    ) -> Result<ModelProfile> {
        if let Some(p) = provider {
            crate::validate::id("provider", p)?;
        }
        if let Some(m) = model {
            crate::validate::id("model", m)?;
        }
        let resolved = self.resolve(provider, model).await?;
        let key = (resolved.provider_name.clone(), resolved.model.clone());
        if !lock(&self.probing).insert(key.clone()) {
            return Err(CoreError::Conflict(format!(
                "model '{}' of '{}' is being probed already",
                key.1, key.0
            )));
        }
        let result = probe::probe(
            resolved.provider.as_ref(),
            &resolved.provider_name,
            &resolved.model,
            &cancel,
        )
        .await;
        lock(&self.probing).remove(&key);
        let profile = result?;
        self.core.save_model_profile(&profile)?;
        tracing::info!(
            provider = %profile.provider,
            model = %profile.model,
            verdict = %profile.verdict,
            "model probed"
        );
        Ok(profile)
    }

    /// Probes a model in the background (first use of a model nothing is
    /// known about); nothing happens if it is being probed already.
    pub fn probe_in_background(self: &Arc<Self>, provider: &str, model: &str) {
        if lock(&self.probing).contains(&(provider.to_string(), model.to_string())) {
            return;
        }
        let (hub, provider, model) = (Arc::clone(self), provider.to_string(), model.to_string());
        let mut set = lock(&self.background);
        // Reap the probes that ended, so the set does not grow.
        while set.try_join_next().is_some() {}
        set.spawn(async move {
            match hub
                .probe_model(Some(&provider), Some(&model), CancellationToken::new())
                .await
            {
                Ok(_) | Err(CoreError::Conflict(_)) => {}
                Err(e) => {
                    tracing::warn!(%provider, %model, error = %e, "background probe failed")
                }
            }
        });
    }

    /// Every enabled provider's models with their stored profiles, listed in
    /// parallel; a provider that does not answer is reported, not an error.
    pub async fn models_overview(&self) -> Result<ModelsOverview> {
        let configs: Vec<ProviderConfig> = self
            .core
            .providers()
            .list()?
            .into_iter()
            .filter(|c| c.enabled)
            .collect();
        let listed = futures::future::join_all(configs.iter().map(|cfg| async move {
            let models = match self.provider_for(cfg) {
                Err(e) => Err(e.to_payload()),
                Ok(p) => match tokio::time::timeout(HEALTH_TIMEOUT, p.list_models()).await {
                    Ok(Ok(m)) => Ok(m),
                    Ok(Err(e)) => Err(CoreError::from(e).to_payload()),
                    Err(_) => Err(CoreError::from(ProviderError::Timeout {
                        after: HEALTH_TIMEOUT,
                    })
                    .to_payload()),
                },
            };
            (cfg, models)
        }))
        .await;
        let profiles = self.core.model_profiles()?;
        let mut out = ModelsOverview {
            models: Vec::new(),
            unreachable: Vec::new(),
        };
        for (cfg, models) in listed {
            match models {
                Err(e) => out.unreachable.push((cfg.name.clone(), e)),
                Ok(models) => {
                    for m in models {
                        let profile = profiles
                            .iter()
                            .find(|p| p.provider == cfg.name && p.model == m.name)
                            .cloned();
                        out.models.push(ModelEntry {
                            provider: cfg.name.clone(),
                            provider_kind: cfg.kind,
                            model: m,
                            profile,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Stores a provider's API key (keyring or private file) and records its name.
    pub fn set_api_key(&self, provider: &str, key: &str) -> Result<crate::secrets::SecretLocation> {
        let cfg = self.core.providers().get(provider)?;
        let key_ref = cfg
            .api_key_ref
            .clone()
            .unwrap_or_else(|| format!("provider-{}", cfg.name));
        let key = key.trim();
        if key.is_empty() {
            self.secrets.delete(&key_ref)?;
            self.core.providers().update(
                &cfg.id,
                super::ProviderInput {
                    api_key_ref: Some(String::new()),
                    ..Default::default()
                },
            )?;
            return Ok(crate::secrets::SecretLocation::File);
        }
        let at = self.secrets.set(&key_ref, key)?;
        self.core.providers().update(
            &cfg.id,
            super::ProviderInput {
                api_key_ref: Some(key_ref),
                ..Default::default()
            },
        )?;
        Ok(at)
    }
}
