//! The real default model for these tests (installed by `make test`): where
//! it is, a provider over its folder, and a greedy request.

#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use ensemble_core::paths::DEFAULT_MODEL_FILE;
use ensemble_llm::{ChatRequest, ModelMessage};
use ensemble_llm_embedded::EmbeddedProvider;

pub fn model_path() -> PathBuf {
    let path = match std::env::var_os("ENSEMBLE_TEST_MODEL").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home)
                .join(".cache/ensemble/models")
                .join(DEFAULT_MODEL_FILE)
        }
    };
    assert!(
        path.is_file(),
        "the real-model tests need the model at {}: run scripts/install-model.sh \
         (or `make test`), or point ENSEMBLE_TEST_MODEL at a .gguf file",
        path.display()
    );
    path
}

/// A provider over the real model's folder, and the model's name in it.
pub fn provider() -> (EmbeddedProvider, String) {
    let path = model_path();
    let dir = path.parent().expect("the model is in a folder");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a UTF-8 file name");
    (EmbeddedProvider::new("embedded", dir), name.to_owned())
}

/// One user message, greedy (the same answer every run).
pub fn request(model: &str, prompt: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        model: model.to_owned(),
        messages: vec![ModelMessage::user(prompt)],
        max_tokens: Some(max_tokens),
        temperature: Some(0.0),
        ..ChatRequest::default()
    }
}
