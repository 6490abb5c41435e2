//! Model files for the embedded engine: the GGUF files it can use (the data
//! folder's `models/` and the folders a package installs into), adding one
//! the user already has elsewhere (a link in `models/`, after the caller
//! checked it), and downloading one from a URL — resumable from a `.part`
//! file, sha256-checked, cancellable. A download that fails its check leaves
//! no file behind; a cancelled one keeps its `.part` to resume from.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::providers::{http, ProviderError};

/// One GGUF file the embedded engine can use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelFile {
    /// The name agents and Settings refer to it by.
    pub name: String,
    pub path: String,
    #[ts(type = "number")]
    pub size_bytes: u64,
    /// Installed by a package (read only), not in the data folder.
    pub shared: bool,
    /// A link to a file the user keeps elsewhere.
    pub linked: bool,
}

/// A download to start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
pub struct DownloadSpec {
    /// An http(s) URL of a `.gguf` file.
    pub url: String,
    /// Hex sha256 the file must have; without it, nothing is checked but
    /// the GGUF magic.
    #[ts(optional)]
    pub sha256: Option<String>,
    /// Name to save it under (default: the URL's last path segment).
    #[ts(optional)]
    pub file_name: Option<String>,
}

/// How far a download is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct DownloadProgress {
    pub file_name: String,
    #[ts(type = "number")]
    pub downloaded: u64,
    #[ts(type = "number | null")]
    pub total: Option<u64>,
    /// Bytes that were already there from an earlier, interrupted download.
    #[ts(type = "number")]
    pub resumed_from: u64,
    /// "downloading", "verifying", "done".
    pub phase: String,
}

fn is_gguf_name(name: &str) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

/// A plain `.gguf` file name: no folders, nothing hidden.
fn checked_name(name: &str) -> Result<String> {
    let name = name.trim();
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name));
    if !plain {
        return Err(CoreError::validation(
            "file_name",
            format!("'{name}' is not a plain file name"),
        ));
    }
    if !is_gguf_name(name) {
        return Err(CoreError::validation(
            "file_name",
            format!("'{name}' does not end in .gguf"),
        ));
    }
    Ok(name.to_string())
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CoreError {
    let context = context.into();
    move |source| CoreError::Io { context, source }
}

/// The GGUF files of `dirs` (the data folder's `models/` first, then shared
/// folders), each name once.
pub fn list(dirs: &[PathBuf]) -> Vec<ModelFile> {
    let mut out: Vec<ModelFile> = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if !is_gguf_name(&name) || out.iter().any(|m| m.name == name) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let linked = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
            out.push(ModelFile {
                name,
                path: path.display().to_string(),
                size_bytes: meta.len(),
                shared: i > 0,
                linked,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Makes a GGUF file the user has elsewhere usable: a link to it in
/// `models_dir` under its own name. The caller checks the file first (the
/// embedded engine's inspection); a name already taken is refused.
pub fn link(models_dir: &Path, source: &Path) -> Result<ModelFile> {
    let source =
        std::fs::canonicalize(source).map_err(io(format!("cannot open {}", source.display())))?;
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| CoreError::validation("path", "the file has no usable name"))?;
    let name = checked_name(name)?;
    std::fs::create_dir_all(models_dir)
        .map_err(io(format!("cannot create {}", models_dir.display())))?;
    let target = models_dir.join(&name);
    if std::fs::canonicalize(&target).is_ok_and(|t| t == source) {
        // Already there (the folder's own file, or linked before).
    } else if target.exists() || std::fs::symlink_metadata(&target).is_ok() {
        return Err(CoreError::Conflict(format!(
            "a model named {name} is in {} already",
            models_dir.display()
        )));
    } else {
        symlink(&source, &target).map_err(io(format!("cannot link {}", target.display())))?;
    }
    let size_bytes = std::fs::metadata(&source)
        .map_err(io(format!("cannot read {}", source.display())))?
        .len();
    Ok(ModelFile {
        name,
        path: target.display().to_string(),
        size_bytes,
        shared: false,
        linked: true,
    })
}

#[cfg(unix)]
fn symlink(source: &Path, target: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(source, target)
}

#[cfg(not(unix))]
fn symlink(source: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::copy(source, target).map(|_| ())
}

/// The name a download is saved under (checked).
pub fn file_name_for(spec: &DownloadSpec) -> Result<String> {
    download_name(spec)
}

fn download_name(spec: &DownloadSpec) -> Result<String> {
    if let Some(n) = spec.file_name.as_deref().filter(|n| !n.trim().is_empty()) {
        return checked_name(n);
    }
    let url = reqwest::Url::parse(spec.url.trim())
        .map_err(|e| CoreError::validation("url", format!("not a URL: {e}")))?;
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            CoreError::validation("file_name", "the URL names no file; give a file name")
        })?;
    checked_name(last)
}

fn expected_hash(spec: &DownloadSpec) -> Result<Option<String>> {
    let Some(h) = spec
        .sha256
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
    else {
        return Ok(None);
    };
    if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CoreError::validation(
            "sha256",
            "a sha256 is 64 hexadecimal characters",
        ));
    }
    Ok(Some(h.to_ascii_lowercase()))
}

/// Hashes what an interrupted download left, so a resumed one can be
/// checked as a whole.
fn hash_existing(path: &Path, hasher: &mut Sha256) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// Downloads `spec` into `models_dir`. An earlier interrupted download of
/// the same name is resumed (HTTP Range) when the server allows it; a
/// server that answers the whole file again starts over. The finished file
/// must start with the GGUF magic and match `sha256` when one is given;
/// otherwise it is deleted and the error says why. Cancelling keeps the
/// `.part` file for a later resume.
pub async fn download(
    models_dir: &Path,
    spec: &DownloadSpec,
    progress: &(dyn Fn(DownloadProgress) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<ModelFile> {
    let name = download_name(spec)?;
    let expected = expected_hash(spec)?;
    let url = reqwest::Url::parse(spec.url.trim())
        .map_err(|e| CoreError::validation("url", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CoreError::validation(
            "url",
            "only http and https URLs can be downloaded",
        ));
    }
    let target = models_dir.join(&name);
    if target.exists() {
        return Err(CoreError::Conflict(format!(
            "a model named {name} is in {} already",
            models_dir.display()
        )));
    }
    std::fs::create_dir_all(models_dir)
        .map_err(io(format!("cannot create {}", models_dir.display())))?;
    let part = models_dir.join(format!("{name}.part"));

    let mut hasher = Sha256::new();
    let mut have = match std::fs::metadata(&part) {
        Ok(_) => hash_existing(&part, &mut hasher)
            .map_err(io(format!("cannot read {}", part.display())))?,
        Err(_) => 0,
    };
    let client = http::client(url.as_str());
    let mut req = client.get(url.clone());
    if have > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let res = tokio::select! {
        () = cancel.cancelled() => return Err(ProviderError::Cancelled.into()),
        r = req.send() => r.map_err(|e| http::transport_error(url.as_str(), &e))?,
    };
    let status = res.status().as_u16();
    let resumed = status == 206 && have > 0;
    if status == 416 && have > 0 {
        // The part is as long as the file (or longer): start over.
        std::fs::remove_file(&part).ok();
        return Err(CoreError::Conflict(
            "the server refused to resume the download; start it again".into(),
        ));
    }
    if !(200..300).contains(&status) {
        let body = res.text().await.unwrap_or_default();
        return Err(CoreError::Provider(ProviderError::Server {
            status,
            detail: format!("the download failed: {}", http::error_text(&body)),
        }));
    }
    if !resumed {
        have = 0;
        hasher = Sha256::new();
    }
    let total = res.content_length().map(|len| len + have);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(&part)
        .map_err(io(format!("cannot write {}", part.display())))?;
    let resumed_from = have;
    let report = |downloaded: u64, phase: &str| {
        progress(DownloadProgress {
            file_name: name.clone(),
            downloaded,
            total,
            resumed_from,
            phase: phase.to_string(),
        });
    };
    report(have, "downloading");
    let mut body = res.bytes_stream();
    let mut last_report = std::time::Instant::now();
    loop {
        let chunk = tokio::select! {
            () = cancel.cancelled() => {
                file.flush().ok();
                return Err(ProviderError::Cancelled.into());
            }
            c = body.next() => c,
        };
        let Some(chunk) = chunk else { break };
        let chunk = chunk.map_err(|e| http::transport_error(url.as_str(), &e))?;
        file.write_all(&chunk)
            .map_err(io(format!("cannot write {}", part.display())))?;
        hasher.update(&chunk);
        have += chunk.len() as u64;
        if last_report.elapsed() >= std::time::Duration::from_millis(200) {
            report(have, "downloading");
            last_report = std::time::Instant::now();
        }
    }
    file.flush()
        .map_err(io(format!("cannot write {}", part.display())))?;
    drop(file);
    report(have, "verifying");
    let refuse = |why: String| -> CoreError {
        std::fs::remove_file(&part).ok();
        CoreError::validation("download", why)
    };
    if let Some(total) = total {
        if have != total {
            return Err(refuse(format!(
                "the download ended after {have} of {total} bytes"
            )));
        }
    }
    let actual: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if let Some(expected) = &expected {
        if *expected != actual {
            return Err(refuse(format!(
                "the file's sha256 is {actual}, not the expected {expected}; it was deleted"
            )));
        }
    }
    let mut magic = [0u8; 4];
    let magic_ok = std::fs::File::open(&part)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"GGUF";
    if !magic_ok {
        return Err(refuse(format!(
            "{name} is not a GGUF model; it was deleted"
        )));
    }
    std::fs::rename(&part, &target).map_err(io(format!(
        "cannot move the download to {}",
        target.display()
    )))?;
    report(have, "done");
    tracing::info!(file = %target.display(), bytes = have, sha256 = %actual, "model downloaded");
    Ok(ModelFile {
        name,
        path: target.display().to_string(),
        size_bytes: have,
        shared: false,
        linked: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_plain_gguf_files() {
        assert_eq!(checked_name("tiny.gguf").unwrap(), "tiny.gguf");
        for bad in [
            "../x.gguf",
            "a/b.gguf",
            ".hidden.gguf",
            "model.bin",
            "",
            "x.gguf\0",
        ] {
            assert!(checked_name(bad).is_err(), "{bad:?}");
        }
        let spec = DownloadSpec {
            url: "https://example.com/models/tiny.gguf?download=1".into(),
            ..Default::default()
        };
        assert_eq!(download_name(&spec).unwrap(), "tiny.gguf");
        let spec = DownloadSpec {
            url: "https://example.com/".into(),
            ..Default::default()
        };
        assert!(download_name(&spec).is_err());
        assert!(expected_hash(&DownloadSpec {
            sha256: Some("abc".into()),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn listing_marks_shared_and_linked_files_and_links_refuse_a_taken_name() {
        let user = tempfile::tempdir().unwrap();
        let shared = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(shared.path().join("default.gguf"), b"GGUFxx").unwrap();
        std::fs::write(elsewhere.path().join("mine.gguf"), b"GGUFyyyy").unwrap();
        std::fs::write(user.path().join("notes.txt"), b"x").unwrap();
        let linked = link(user.path(), &elsewhere.path().join("mine.gguf")).unwrap();
        assert!(linked.linked);
        assert_eq!(linked.size_bytes, 8);
        // Linking the same file again is fine; another file of that name is not.
        link(user.path(), &elsewhere.path().join("mine.gguf")).unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("mine.gguf"), b"GGUF").unwrap();
        assert!(matches!(
            link(user.path(), &other.path().join("mine.gguf")),
            Err(CoreError::Conflict(_))
        ));
        let files = list(&[user.path().to_path_buf(), shared.path().to_path_buf()]);
        let seen: Vec<_> = files
            .iter()
            .map(|f| (f.name.as_str(), f.shared, f.linked))
            .collect();
        assert_eq!(
            seen,
            [("default.gguf", true, false), ("mine.gguf", false, true)]
        );
    }
}
