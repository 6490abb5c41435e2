//! The app's error: core errors and shell failures, sent to the UI as
//! `{ code, message, details? }`.

use ensemble_core::error::ErrorPayload;
use ensemble_core::CoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    Shell(String),
}

impl AppError {
    pub fn payload(&self) -> ErrorPayload {
        match self {
            Self::Core(e) => e.to_payload(),
            Self::Shell(m) => ErrorPayload {
                code: "SHELL".into(),
                message: m.clone(),
                details: None,
            },
        }
    }
}

impl serde::Serialize for AppError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.payload().serialize(s)
    }
}

pub type CmdResult<T> = Result<T, AppError>;
