//! The core's error type. Every variant maps to a stable SCREAMING_SNAKE code
//! that the UI and the CLI use to react to a kind of error.

use serde::Serialize;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// Longest id repeated in a "does not exist" message.
const MAX_ID_IN_MESSAGE: usize = 80;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{field}: {message}")]
    Validation { field: String, message: String },

    #[error("{field} is too long: {len} characters, the limit is {max}")]
    TooLarge {
        field: String,
        len: usize,
        max: usize,
    },

    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: String },

    #[error("a task cannot move from {from} to {to}")]
    IllegalTransition { from: String, to: String },

    #[error("that would create a cycle: {path}")]
    Cycle { path: String },

    #[error("{0}")]
    Conflict(String),

    #[error("the stored {entity} {id} is unreadable ({detail}); delete or repair it")]
    Corrupt {
        entity: &'static str,
        id: String,
        detail: String,
    },

    #[error("database migration failed: {0}")]
    Migration(String),

    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Provider(#[from] crate::providers::ProviderError),

    #[error("{0}")]
    Internal(String),
}

impl CoreError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `id` is what the caller asked for, so it is clipped: an id is never
    /// long, and a long one would otherwise be repeated in the message.
    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        let id: String = id.into();
        let id = if id.chars().count() > MAX_ID_IN_MESSAGE {
            id.chars().take(MAX_ID_IN_MESSAGE - 1).collect::<String>() + "…"
        } else {
            id
        };
        Self::NotFound { entity, id }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// Stable machine-readable code of this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "VALIDATION",
            Self::TooLarge { .. } => "TOO_LARGE",
            Self::NotFound { .. } => "NOT_FOUND",
            Self::IllegalTransition { .. } => "ILLEGAL_TRANSITION",
            Self::Cycle { .. } => "CYCLE",
            Self::Conflict(_) => "CONFLICT",
            Self::Corrupt { .. } => "CORRUPT_RECORD",
            Self::Migration(_) => "MIGRATION",
            Self::Database(e) if is_busy(e) => "DATABASE_BUSY",
            Self::Database(_) => "DATABASE",
            Self::Io { .. } => "IO",
            Self::Provider(e) => e.code(),
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// A storage failure that may go away by itself: the database is busy or
    /// locked by another connection, the disk is full, or reading or
    /// writing the file failed. Work that hits one is worth retrying.
    pub fn is_transient_storage(&self) -> bool {
        match self {
            Self::Database(e) => matches!(
                e.sqlite_error_code(),
                Some(
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::DiskFull
                        | rusqlite::ErrorCode::SystemIoFailure
                )
            ),
            _ => false,
        }
    }

    /// Structured details for the UI (the field that failed, the id that is missing…).
    pub fn details(&self) -> Option<ErrorDetails> {
        let d = ErrorDetails::default();
        match self {
            Self::Validation { field, .. } => Some(ErrorDetails {
                field: Some(field.clone()),
                ..d
            }),
            Self::TooLarge { field, len, max } => Some(ErrorDetails {
                field: Some(field.clone()),
                len: Some(*len as u64),
                max: Some(*max as u64),
                ..d
            }),
            Self::NotFound { entity, id } | Self::Corrupt { entity, id, .. } => {
                Some(ErrorDetails {
                    entity: Some(entity.to_string()),
                    id: Some(id.clone()),
                    ..d
                })
            }
            Self::IllegalTransition { from, to } => Some(ErrorDetails {
                from: Some(from.clone()),
                to: Some(to.clone()),
                ..d
            }),
            Self::Cycle { path } => Some(ErrorDetails {
                path: Some(path.clone()),
                ..d
            }),
            Self::Provider(p) => provider_details(p),
            _ => None,
        }
    }

    /// The error as the UI receives it.
    pub fn to_payload(&self) -> ErrorPayload {
        ErrorPayload {
            code: self.code().to_string(),
            message: self.to_string(),
            details: self.details(),
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// What crosses IPC when a command fails: `{ code, message, details? }`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub details: Option<ErrorDetails>,
}

/// What a failure is about, for the UI to point at: the fields that apply
/// to the error's code (a validation error names its `field`, a missing
/// record its `entity` and `id`, a provider error its `url`, `model`,
/// `status` or when to retry).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, ts_rs::TS)]
pub struct ErrorDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub len: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub max: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub entity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub to: Option<String>,
    /// The cycle a change would make, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub model: Option<String>,
    /// The HTTP status a provider answered with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub retry_after_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub retry_in_secs: Option<u64>,
}

fn provider_details(e: &crate::providers::ProviderError) -> Option<ErrorDetails> {
    use crate::providers::ProviderError as P;
    let d = ErrorDetails::default();
    match e {
        P::Unreachable { url, .. } => Some(ErrorDetails {
            url: Some(url.clone()),
            ..d
        }),
        P::ModelNotFound { model } => Some(ErrorDetails {
            model: Some(model.clone()),
            ..d
        }),
        P::RateLimited { retry_after } => Some(ErrorDetails {
            retry_after_secs: retry_after.map(|d| d.as_secs()),
            ..d
        }),
        P::Server { status, .. } => Some(ErrorDetails {
            status: Some(*status),
            ..d
        }),
        P::CircuitOpen { provider, retry_in } => Some(ErrorDetails {
            provider: Some(provider.clone()),
            retry_in_secs: Some(retry_in.as_secs()),
            ..d
        }),
        _ => None,
    }
}

/// A provider kind that does not exist is a validation error of the field.
impl From<crate::providers::UnknownProviderKind> for CoreError {
    fn from(e: crate::providers::UnknownProviderKind) -> Self {
        Self::validation("provider kind", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_id_is_not_repeated_in_full() {
        let e = CoreError::not_found("task", "x".repeat(150_000));
        let message = e.to_string();
        assert!(message.starts_with("task xxxx"), "{message}");
        assert!(message.ends_with("… does not exist"), "{message}");
        assert_eq!(message.chars().count(), "task  does not exist".len() + 80);
        assert_eq!(
            CoreError::not_found("agent", "ghost").to_string(),
            "agent ghost does not exist"
        );
    }
}
