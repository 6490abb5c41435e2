//! The real embedded model for tests (Gemma 3 270M, installed by `make test`):
//! where it is, and a data folder that has it in `models/`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

pub fn model() -> PathBuf {
    let p = std::env::var_os("ENSEMBLE_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/ensemble/models/gemma-3-270m-q4_k_m.gguf")
        });
    assert!(
        p.exists(),
        "the test model is missing at {}; run scripts/install-model.sh",
        p.display()
    );
    p
}

pub fn data_dir_with_model() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let dst = models.join("gemma-3-270m-q4_k_m.gguf");
    if std::fs::hard_link(model(), &dst).is_err() {
        std::fs::copy(model(), &dst).unwrap();
    }
    dir
}
