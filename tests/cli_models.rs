//! `ensemble models`, `settings` and `providers` as a user runs them: the
//! real binary, headless, on a temporary data folder with the real embedded
//! model and no Ollama. The probe stores its verdict, which `models list`
//! then shows; GGUF files are checked before they are added; settings and
//! providers refuse bad values in one line and keep the data as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/model.rs"]
mod model;

use std::path::Path;
use std::process::{Command, Output};

use model::data_dir_with_model;

fn ensemble(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("ENSEMBLE_NO_KEYRING", "1")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap()
}

fn ok_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = ensemble(dir, &all);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fails(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = ensemble(dir, args);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one line for {args:?}: {err}");
    (out.status.code().unwrap_or(-1), err)
}

#[test]
fn the_probe_stores_a_verdict_that_models_list_shows() {
    let dir = data_dir_with_model();
    let before = ok_json(dir.path(), &["models", "list"]);
    let entry = before["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["provider"] == "embedded")
        .expect("the embedded model is listed");
    assert_eq!(entry["model"]["name"], "gemma-3-270m-q4_k_m.gguf");
    assert!(entry["profile"].is_null(), "not probed yet: {entry}");
    assert!(
        before["unreachable"].to_string().contains("ollama"),
        "Ollama is reported unreachable: {before}"
    );

    let probed = ok_json(dir.path(), &["models", "probe", "--provider", "embedded"]);
    let p = &probed[0];
    // The default model is a base model: its agents take guided steps.
    assert_eq!(p["tools"], "guided", "{p:#}");
    assert_eq!(p["verdict"], "tools: guided steps (base model)");
    assert!(
        p["reason"].as_str().unwrap().contains("base model"),
        "{p:#}"
    );
    assert_eq!(p["json_schema"], true, "{p:#}");
    assert_eq!(p["context_length"], 4096);
    assert!(p["native_cases_total"].is_null(), "no native tools to try");

    let after = ok_json(dir.path(), &["models", "list"]);
    let entry = after["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["provider"] == "embedded")
        .unwrap();
    assert_eq!(
        entry["profile"]["verdict"],
        "tools: guided steps (base model)"
    );
    assert_eq!(entry["profile"]["source"], "probe");
    // The plain table says it too.
    let text =
        String::from_utf8_lossy(&ensemble(dir.path(), &["models", "list"]).stdout).to_string();
    assert!(text.contains("tools: guided steps (base model)"), "{text}");

    // A provider that is not reachable: one line, nothing stored.
    let (code, err) = fails(dir.path(), &["models", "probe", "--provider", "ollama"]);
    assert_eq!(code, 1);
    assert!(err.contains("not reachable"), "{err}");
    let (_, err) = fails(dir.path(), &["models", "probe", "--provider", "nope"]);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn gguf_files_are_checked_before_they_are_added() {
    let dir = data_dir_with_model();
    let files = ok_json(dir.path(), &["models", "files"]);
    assert_eq!(files[0]["name"], "gemma-3-270m-q4_k_m.gguf");
    let elsewhere = tempfile::tempdir().unwrap();
    let bogus = elsewhere.path().join("bogus.gguf");
    std::fs::write(&bogus, b"<html>not a model</html>").unwrap();
    let (code, err) = fails(dir.path(), &["models", "add", bogus.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a GGUF model"), "{err}");
    assert!(
        !dir.path().join("models/bogus.gguf").exists(),
        "nothing was added"
    );
    // The real model under another name is accepted and linked.
    let copy = elsewhere.path().join("gemma-copy.gguf");
    std::fs::hard_link(model::model(), &copy).unwrap();
    let added = ok_json(dir.path(), &["models", "add", copy.to_str().unwrap()]);
    assert_eq!(added["name"], "gemma-copy.gguf");
    assert_eq!(added["linked"], true);
    let files = ok_json(dir.path(), &["models", "files"]);
    assert_eq!(files.as_array().unwrap().len(), 2);
    // Downloads refuse bad input before anything is fetched.
    let (code, err) = fails(
        dir.path(),
        &["models", "download", "ftp://example.com/x.gguf"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("http"), "{err}");
    let (_, err) = fails(
        dir.path(),
        &[
            "models",
            "download",
            "http://127.0.0.1:9/x.gguf",
            "--sha256",
            "abc",
        ],
    );
    assert!(err.contains("sha256"), "{err}");
}

#[test]
fn settings_and_providers_change_through_the_same_checks_as_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let set = ok_json(
        dir.path(),
        &[
            "settings",
            "set",
            "web_fetch_allow_list",
            r#"["127.0.0.1:8000"]"#,
        ],
    );
    assert_eq!(
        set["web_fetch_allow_list"],
        serde_json::json!(["127.0.0.1:8000"])
    );
    ok_json(
        dir.path(),
        &["settings", "set", "max_concurrent_tasks", "3"],
    );
    let shown = ok_json(dir.path(), &["settings", "show"]);
    assert_eq!(shown["max_concurrent_tasks"], 3);
    // Unknown names, bad values and out-of-range numbers: one line each, nothing changes.
    let (code, err) = fails(dir.path(), &["settings", "set", "max_tasks", "3"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown setting"), "{err}");
    let (_, err) = fails(
        dir.path(),
        &["settings", "set", "max_concurrent_tasks", "many"],
    );
    assert!(err.contains("max_concurrent_tasks"), "{err}");
    let (_, err) = fails(
        dir.path(),
        &["settings", "set", "max_concurrent_tasks", "0"],
    );
    assert!(err.contains("max_concurrent_tasks"), "{err}");
    assert_eq!(
        ok_json(dir.path(), &["settings", "show"])["max_concurrent_tasks"],
        3
    );

    let p = ok_json(
        dir.path(),
        &[
            "providers",
            "add",
            "llamacpp",
            "--kind",
            "openai_compatible",
            "--url",
            "http://127.0.0.1:8080/v1",
            "--model",
            "gemma",
        ],
    );
    assert_eq!(p["kind"], "openai_compatible");
    let list = ok_json(dir.path(), &["providers", "list"]);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "llamacpp"));
    let (_, err) = fails(
        dir.path(),
        &[
            "providers",
            "add",
            "x",
            "--kind",
            "telepathy",
            "--url",
            "http://h",
        ],
    );
    assert!(err.contains("provider kind"), "{err}");
    let (_, err) = fails(
        dir.path(),
        &[
            "providers",
            "add",
            "llamacpp",
            "--kind",
            "ollama",
            "--url",
            "http://127.0.0.1:1",
        ],
    );
    assert!(err.contains("llamacpp"), "{err}");
}
