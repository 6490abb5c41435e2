//! Where the embedded engine's models come from: the `*.gguf` files in the
//! provider's models folder, or any `.gguf` file the user names by absolute
//! path. These functions do blocking file-system calls; callers run them off
//! the async runtime.

use std::io;
use std::path::{Path, PathBuf};

use ensemble_llm::{ModelInfo, ProviderError};

const EXTENSION: &str = "gguf";

fn is_gguf(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case(EXTENSION))
}

/// The `.gguf` files in `dir`, sorted by name. A folder that does not exist
/// yet simply holds no models.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<ModelInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut models = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if !is_gguf(&path) {
            continue;
        }
        // `metadata` follows symlinks, so a linked model shows its real size
        // and a dangling link is skipped.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        models.push(ModelInfo {
            name: name.to_owned(),
            size_bytes: Some(meta.len()),
            details: None,
        });
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(models)
}

/// The models of several folders (the data folder's, then the ones a
/// package installs), each name once: the first folder that has it wins.
pub(crate) fn list_all(dirs: &[PathBuf]) -> io::Result<Vec<ModelInfo>> {
    let mut models: Vec<ModelInfo> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let found = match list(dir) {
            Ok(found) => found,
            // Only the first folder is the user's; the others are optional.
            Err(_) if i > 0 => continue,
            Err(err) => return Err(err),
        };
        for m in found {
            if !models.iter().any(|have| have.name == m.name) {
                models.push(m);
            }
        }
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(models)
}

/// [`resolve`] in each folder in turn.
pub(crate) fn resolve_in(dirs: &[PathBuf], model: &str) -> Result<PathBuf, ProviderError> {
    let Some(first) = dirs.first() else {
        return Err(ProviderError::Unavailable {
            detail: "the embedded engine has no models folder".into(),
        });
    };
    if model.trim().is_empty() {
        let found = list_all(dirs).map_err(|err| ProviderError::Unavailable {
            detail: format!("cannot read the models folder {}: {err}", first.display()),
        })?;
        let name =
            found
                .into_iter()
                .next()
                .map(|m| m.name)
                .ok_or_else(|| ProviderError::Unavailable {
                    detail: no_model_hint(first),
                })?;
        return resolve_in(dirs, &name);
    }
    let mut last = None;
    for dir in dirs {
        match resolve(dir, model) {
            Ok(path) => return Ok(path),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or(ProviderError::ModelNotFound {
        model: model.to_owned(),
    }))
}

/// The four bytes every GGUF file starts with.
const GGUF_MAGIC: &[u8; 4] = b"GGUF";

/// Refuses a file that is not GGUF before llama.cpp sees it.
pub(crate) fn check_magic(path: &Path) -> Result<(), ProviderError> {
    use std::io::Read;
    let unusable = |detail: String| ProviderError::Unavailable { detail };
    let mut file = std::fs::File::open(path)
        .map_err(|e| unusable(format!("cannot open {}: {e}", path.display())))?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).map_err(|_| {
        unusable(format!(
            "{} is too short to be a GGUF model",
            path.display()
        ))
    })?;
    if &magic != GGUF_MAGIC {
        return Err(unusable(format!(
            "{} is not a GGUF model (it does not start with \"GGUF\")",
            path.display()
        )));
    }
    Ok(())
}

/// What to tell a user whose models folder is empty.
pub(crate) fn no_model_hint(dir: &Path) -> String {
    format!(
        "no model for the embedded engine: put a .gguf file in {} \
         (`make run` installs the default, Gemma 3 270M)",
        dir.display()
    )
}

/// The file a request's `model` names: a file name inside `dir` (the `.gguf`
/// extension may be left off), or an absolute path to a `.gguf` file. An empty
/// name means the first model in `dir`.
pub(crate) fn resolve(dir: &Path, model: &str) -> Result<PathBuf, ProviderError> {
    let not_found = || ProviderError::ModelNotFound {
        model: model.to_owned(),
    };
    let model = model.trim();
    if model.is_empty() {
        let first = list(dir)
            .map_err(|err| ProviderError::Unavailable {
                detail: format!("cannot read the models folder {}: {err}", dir.display()),
            })?
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::Unavailable {
                detail: no_model_hint(dir),
            })?;
        return Ok(dir.join(first.name));
    }
    let requested = Path::new(model);
    if requested.is_absolute() {
        return if is_gguf(requested) && requested.is_file() {
            Ok(requested.to_path_buf())
        } else {
            Err(not_found())
        };
    }
    // Only a bare file name may point into the folder: "../x.gguf" or
    // "sub/x.gguf" would let a request reach files the user never offered.
    if requested.file_name() != Some(requested.as_os_str()) {
        return Err(not_found());
    }
    let exact = dir.join(requested);
    if is_gguf(&exact) && exact.is_file() {
        return Ok(exact);
    }
    let with_extension = dir.join(format!("{model}.{EXTENSION}"));
    if with_extension.is_file() {
        return Ok(with_extension);
    }
    Err(not_found())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn folder_with(files: &[(&str, usize)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, len) in files {
            std::fs::write(dir.path().join(name), vec![0u8; *len]).unwrap();
        }
        dir
    }

    #[test]
    fn lists_only_gguf_files_sorted_with_sizes() {
        let dir = folder_with(&[
            ("b.gguf", 3),
            ("a.GGUF", 5),
            ("notes.txt", 1),
            ("c.gguf.part", 2),
        ]);
        std::fs::create_dir(dir.path().join("d.gguf")).unwrap();
        let models = list(dir.path()).unwrap();
        let names: Vec<_> = models
            .iter()
            .map(|m| (m.name.as_str(), m.size_bytes))
            .collect();
        assert_eq!(names, [("a.GGUF", Some(5)), ("b.gguf", Some(3))]);
    }

    #[test]
    fn several_folders_list_each_name_once_and_resolve_in_order() {
        let user = folder_with(&[("mine.gguf", 4), ("shared.gguf", 1)]);
        let system = folder_with(&[("shared.gguf", 9), ("default.gguf", 7)]);
        let dirs = vec![
            user.path().to_path_buf(),
            system.path().to_path_buf(),
            user.path().join("missing"),
        ];
        let names: Vec<_> = list_all(&dirs)
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.size_bytes))
            .collect();
        assert_eq!(
            names,
            [
                ("default.gguf".to_string(), Some(7)),
                ("mine.gguf".to_string(), Some(4)),
                ("shared.gguf".to_string(), Some(1))
            ]
        );
        assert_eq!(
            resolve_in(&dirs, "shared").unwrap(),
            user.path().join("shared.gguf")
        );
        assert_eq!(
            resolve_in(&dirs, "default.gguf").unwrap(),
            system.path().join("default.gguf")
        );
        assert_eq!(
            resolve_in(&dirs, "").unwrap(),
            system.path().join("default.gguf")
        );
        assert!(matches!(
            resolve_in(&dirs, "nope"),
            Err(ProviderError::ModelNotFound { .. })
        ));
    }

    #[test]
    fn a_missing_folder_lists_no_models() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(&dir.path().join("nope")).unwrap().is_empty());
    }

    #[test]
    fn resolves_names_with_or_without_extension_and_absolute_paths() {
        let dir = folder_with(&[("m.gguf", 1), ("z.gguf", 1)]);
        let file = dir.path().join("m.gguf");
        assert_eq!(resolve(dir.path(), "m.gguf").unwrap(), file);
        assert_eq!(resolve(dir.path(), "m").unwrap(), file);
        assert_eq!(resolve(dir.path(), "").unwrap(), file);
        assert_eq!(resolve(dir.path(), file.to_str().unwrap()).unwrap(), file);
    }

    #[test]
    fn refuses_missing_files_paths_outside_the_folder_and_other_extensions() {
        let dir = folder_with(&[("m.gguf", 1), ("m.bin", 1)]);
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/x.gguf"), b"x").unwrap();
        for model in ["other.gguf", "../m.gguf", "sub/x.gguf", "m.bin"] {
            assert_eq!(
                resolve(dir.path(), model),
                Err(ProviderError::ModelNotFound {
                    model: model.to_owned()
                }),
                "{model}"
            );
        }
        let bin = dir.path().join("m.bin");
        assert!(matches!(
            resolve(dir.path(), bin.to_str().unwrap()),
            Err(ProviderError::ModelNotFound { .. })
        ));
    }

    #[test]
    fn an_empty_name_in_an_empty_folder_says_where_to_put_a_model() {
        let dir = tempfile::tempdir().unwrap();
        let Err(ProviderError::Unavailable { detail }) = resolve(dir.path(), "") else {
            unreachable!("an empty folder has no model to pick")
        };
        assert!(
            detail.contains(".gguf") && detail.contains("make run"),
            "{detail}"
        );
    }
}
