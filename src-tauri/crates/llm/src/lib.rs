//! Ensemble's model providers, with no knowledge of tasks, agents or the
//! store: the [`Provider`] interface every model backend offers (messages,
//! tool specs, a stream of events, typed errors), the HTTP adapters for
//! Ollama, OpenAI-compatible servers and Anthropic, the framing of their
//! streams, retries with a circuit breaker around any provider, and how a
//! base model is asked to chat. The embedded llama.cpp engine
//! (`ensemble-llm-embedded`) implements the same interface; the core's
//! provider hub builds these adapters from the stored provider configs.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "clients")]
pub mod anthropic;
pub mod chat_frame;
pub mod framing;
pub mod http;
#[cfg(feature = "clients")]
pub mod ollama;
#[cfg(feature = "clients")]
pub mod openai;
pub mod resilience;
#[cfg(any(test, feature = "test-support"))]
pub mod scripted;
pub mod types;

pub use types::*;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The kinds of model backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
pub enum ProviderKind {
    #[serde(rename = "ollama")]
    Ollama,
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
    #[serde(rename = "anthropic")]
    Anthropic,
    #[serde(rename = "embedded")]
    Embedded,
}

impl ProviderKind {
    pub const ALL: &'static [ProviderKind] = &[
        Self::Ollama,
        Self::OpenAiCompatible,
        Self::Anthropic,
        Self::Embedded,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ollama => "ollama",
            Self::OpenAiCompatible => "openai_compatible",
            Self::Anthropic => "anthropic",
            Self::Embedded => "embedded",
        }
    }

    /// The accepted spellings, for error messages and help text.
    pub fn choices() -> String {
        Self::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether a provider of this kind is reached at a URL (all but the
    /// embedded engine).
    pub fn needs_url(&self) -> bool {
        !matches!(self, Self::Embedded)
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that names no [`ProviderKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider kind '{0}'; expected one of: {choices}", choices = ProviderKind::choices())]
pub struct UnknownProviderKind(pub String);

impl std::str::FromStr for ProviderKind {
    type Err = UnknownProviderKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownProviderKind(s.to_string()))
    }
}

/// Builds the live provider of a stored provider config. The core's hub
/// asks it for every kind but the embedded engine (which the host plugs in
/// itself); the host hands it the [`HttpConnector`].
pub trait Connector: Send + Sync {
    fn connect(
        &self,
        kind: ProviderKind,
        name: &str,
        base_url: &str,
        api_key: Option<String>,
    ) -> Result<Arc<dyn Provider>, ProviderError>;
}

/// The HTTP adapters of this crate, by kind.
#[cfg(feature = "clients")]
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpConnector;

#[cfg(feature = "clients")]
impl Connector for HttpConnector {
    fn connect(
        &self,
        kind: ProviderKind,
        name: &str,
        base_url: &str,
        api_key: Option<String>,
    ) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(match kind {
            ProviderKind::Ollama => Arc::new(ollama::OllamaProvider::new(name, base_url)?),
            ProviderKind::OpenAiCompatible => {
                Arc::new(openai::OpenAiProvider::new(name, base_url, api_key))
            }
            ProviderKind::Anthropic => {
                Arc::new(anthropic::AnthropicProvider::new(name, base_url, api_key))
            }
            ProviderKind::Embedded => {
                return Err(ProviderError::Unavailable {
                    detail: "the embedded engine is not an HTTP provider".into(),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_ones_name_the_choices() {
        for k in ProviderKind::ALL {
            assert_eq!(k.as_str().parse::<ProviderKind>(), Ok(*k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        let e = "llama".parse::<ProviderKind>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown provider kind 'llama'; expected one of: ollama, openai_compatible, anthropic, embedded"
        );
    }
}
