//! Model downloads against an in-process HTTP/1.1 file server (plain GET and
//! `Range: bytes=N-` answered with 206, as static file servers and model
//! hubs do): a verified download lands in models/, a wrong checksum or a
//! file that is not GGUF leaves nothing behind, a cancelled download keeps
//! its part and the next one resumes from it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../llm/tests/common/fixture_server.rs"]
mod fixture;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ensemble_core::model_files::{download, DownloadProgress, DownloadSpec};
use ensemble_core::providers::ProviderError;
use ensemble_core::CoreError;
use fixture::{FixtureServer, Recorded, Reply};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// A fake model: the GGUF magic, then 200 kB of bytes.
fn model_bytes() -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend((0..200_000u32).map(|i| (i % 251) as u8));
    b
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn range_start(r: &Recorded) -> Option<usize> {
    r.header("range")?
        .strip_prefix("bytes=")?
        .trim_end_matches('-')
        .parse()
        .ok()
}

/// Serves `bytes` in 10 kB chunks `delay` apart, honouring `Range`.
fn file_server(bytes: Vec<u8>, delay: Duration) -> impl Fn(&Recorded, usize) -> Reply {
    move |r, _| {
        let from = range_start(r).unwrap_or(0).min(bytes.len());
        let body = &bytes[from..];
        Reply::Stream {
            status: if from > 0 { 206 } else { 200 },
            content_type: "application/octet-stream".into(),
            chunks: body.chunks(10_000).map(<[u8]>::to_vec).collect(),
            delay,
            drop_after: false,
        }
    }
}

fn spec(server: &FixtureServer, sha256: Option<String>) -> DownloadSpec {
    DownloadSpec {
        url: format!("{}/files/tiny.gguf", server.url()),
        sha256,
        file_name: None,
    }
}

fn no_progress() -> impl Fn(DownloadProgress) + Send + Sync {
    |_| {}
}

#[tokio::test]
async fn a_verified_download_lands_in_the_models_folder() {
    let bytes = model_bytes();
    let server = FixtureServer::start(file_server(bytes.clone(), Duration::from_millis(1))).await;
    let dir = tempfile::tempdir().unwrap();
    let seen: Arc<Mutex<Vec<DownloadProgress>>> = Arc::default();
    let s = seen.clone();
    let f = download(
        dir.path(),
        &spec(&server, Some(sha(&bytes).to_uppercase())),
        &move |p| s.lock().unwrap().push(p),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(f.name, "tiny.gguf");
    assert_eq!(std::fs::read(dir.path().join("tiny.gguf")).unwrap(), bytes);
    assert!(!dir.path().join("tiny.gguf.part").exists());
    let phases: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.phase.clone())
        .collect();
    assert_eq!(phases.first().map(String::as_str), Some("downloading"));
    assert_eq!(phases.last().map(String::as_str), Some("done"));
    // A second download of the same name is refused: nothing is overwritten.
    let again = download(
        dir.path(),
        &spec(&server, None),
        &no_progress(),
        &CancellationToken::new(),
    )
    .await;
    assert!(matches!(again, Err(CoreError::Conflict(_))), "{again:?}");
}

#[tokio::test]
async fn a_wrong_checksum_or_a_file_that_is_not_gguf_leaves_nothing_behind() {
    let bytes = model_bytes();
    let server = FixtureServer::start(file_server(bytes, Duration::ZERO)).await;
    let dir = tempfile::tempdir().unwrap();
    let e = download(
        dir.path(),
        &spec(&server, Some("0".repeat(64))),
        &no_progress(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("sha256"), "{e}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file, no part"
    );

    let html = FixtureServer::start(file_server(
        b"<html>Sign in</html>".to_vec(),
        Duration::ZERO,
    ))
    .await;
    let e = download(
        dir.path(),
        &spec(&html, None),
        &no_progress(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not a GGUF model"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    // Bad input is refused before anything is fetched.
    for bad in [
        DownloadSpec {
            url: "ftp://example.com/x.gguf".into(),
            ..Default::default()
        },
        DownloadSpec {
            url: "not a url".into(),
            ..Default::default()
        },
        DownloadSpec {
            url: format!("{}/x.gguf", html.url()),
            file_name: Some("../escape.gguf".into()),
            ..Default::default()
        },
        DownloadSpec {
            url: format!("{}/x.gguf", html.url()),
            sha256: Some("xyz".into()),
            ..Default::default()
        },
    ] {
        let before = html.recorded().len();
        assert!(
            download(dir.path(), &bad, &no_progress(), &CancellationToken::new())
                .await
                .is_err()
        );
        assert_eq!(html.recorded().len(), before, "{bad:?} reached the server");
    }
}

#[tokio::test]
async fn a_cancelled_download_keeps_its_part_and_the_next_resumes_from_it() {
    let bytes = model_bytes();
    let server = FixtureServer::start(file_server(bytes.clone(), Duration::from_millis(20))).await;
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    // Cancel once some of the file is in.
    let watcher = move |p: DownloadProgress| {
        if p.downloaded >= 50_000 {
            stop.cancel();
        }
    };
    let e = download(
        dir.path(),
        &spec(&server, Some(sha(&bytes))),
        &watcher,
        &cancel,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, CoreError::Provider(ProviderError::Cancelled)),
        "{e}"
    );
    let part = dir.path().join("tiny.gguf.part");
    let kept = std::fs::metadata(&part).unwrap().len() as usize;
    assert!(kept >= 50_000 && kept < bytes.len(), "kept {kept}");
    assert!(!dir.path().join("tiny.gguf").exists());

    let resumed: Arc<Mutex<Option<u64>>> = Arc::default();
    let r = resumed.clone();
    let f = download(
        dir.path(),
        &spec(&server, Some(sha(&bytes))),
        &move |p| *r.lock().unwrap() = Some(p.resumed_from),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(&f.path).unwrap(),
        bytes,
        "the whole file, checked as a whole"
    );
    assert_eq!(*resumed.lock().unwrap(), Some(kept as u64));
    let last = server.recorded().into_iter().last().unwrap();
    assert_eq!(
        last.header("range"),
        Some(format!("bytes={kept}-").as_str())
    );
    assert!(!part.exists());
}
