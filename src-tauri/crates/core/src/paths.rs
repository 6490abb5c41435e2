//! Where Ensemble keeps its data: the platform's app-data folder, unless
//! `ENSEMBLE_DATA_DIR` (or the CLI's `--data-dir`) says otherwise.

use std::path::{Path, PathBuf};

pub const DATA_DIR_ENV: &str = "ENSEMBLE_DATA_DIR";
pub const DB_FILE: &str = "ensemble.db";
pub const MODELS_DIR: &str = "models";
/// File name of the default embedded model inside `models/`.
pub const DEFAULT_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// The data folder: explicit path, else `ENSEMBLE_DATA_DIR`, else the platform's
/// app-data folder (`~/.local/share/ensemble` on Linux).
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("ensemble")
}

pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE)
}

pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(MODELS_DIR)
}

/// Folders that installed packages put models in, read only: next to the
/// program (`<prefix>/bin/ensemble` → `<prefix>/share/ensemble/models`, so
/// the model package works wherever the app package is unpacked), then
/// `/usr/share/ensemble/models`.
pub fn shared_model_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(prefix) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
    {
        dirs.push(prefix.join("share/ensemble/models"));
    }
    let system = PathBuf::from("/usr/share/ensemble/models");
    if !dirs.contains(&system) {
        dirs.push(system);
    }
    dirs
}
