//! `ensemble chat` on the real embedded model (Gemma 3 270M, installed by
//! `make test`): on a machine without Ollama it streams an answer to stdout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/model.rs"]
mod model;

use std::path::Path;
use std::process::Command;

use model::data_dir_with_model;

fn chat(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .arg("chat")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        // Nothing answers here: the app must fall back to the embedded engine.
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("ENSEMBLE_NO_KEYRING", "1")
        .env_remove("DISPLAY")
        .output()
        .unwrap()
}

#[test]
fn chat_streams_an_answer_from_the_embedded_model_without_ollama() {
    let dir = data_dir_with_model();
    let out = chat(
        dir.path(),
        &["Say hello to the team in one short sentence."],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.trim().chars().count() >= 5,
        "an answer was printed: {stdout:?}"
    );

    // The same, as JSON lines: started on the embedded provider, deltas, finish.
    let out = chat(dir.path(), &["Name three colours.", "--json"]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "started");
    assert_eq!(events[0]["data"]["provider"], "embedded");
    let deltas = events.iter().filter(|e| e["event"] == "delta").count();
    assert!(deltas >= 2, "several deltas: {deltas}");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "finish");
    assert_eq!(last["data"]["message"]["status"], "complete");
}

#[test]
fn chat_refuses_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = chat(dir.path(), &["hi", "--session", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: chat session ghost does not exist"
    );
    let out = chat(dir.path(), &["   "]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: text: the message is empty"
    );
}
