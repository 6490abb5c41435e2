//! Tokens per second of the embedded engine on the default model (Gemma 3
//! 270M Q4_K_M): prompt evaluation and generation, for a free-text answer and
//! for a grammar-constrained JSON answer. Each case runs a few times after a
//! warm-up and reports the median. Run with `cargo bench -p
//! ensemble-llm-embedded`; the model comes from `ENSEMBLE_TEST_MODEL` or the
//! shared cache, like the real-model tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use ensemble_core::paths::DEFAULT_MODEL_FILE;
use ensemble_core::providers::{collect, ChatRequest, Message, Provider};
use ensemble_llm_embedded::{EmbeddedProvider, RunStats};
use tokio_util::sync::CancellationToken;

const RUNS: usize = 5;

fn model_path() -> PathBuf {
    let path = match std::env::var_os("ENSEMBLE_TEST_MODEL").filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/ensemble/models")
            .join(DEFAULT_MODEL_FILE),
    };
    assert!(
        path.is_file(),
        "no model at {}: run scripts/install-model.sh",
        path.display()
    );
    path
}

/// A conversation long enough (about 300 tokens) for a stable prompt-eval
/// rate. Its worked example gets the default model, a small base model, to
/// answer at length rather than in a few words.
fn prompt() -> Vec<Message> {
    let notes = "The crew met on Monday to plan the release. The designer wants the \
        settings page simplified, the tester found two crashes in the importer, and the \
        writer needs screenshots for the guide. Deadlines: importer fixes by Wednesday, \
        screenshots by Thursday, release on Friday. ";
    vec![
        Message::system("You are a helpful project assistant. Answer in detail."),
        Message::user(
            "Notes: Ana will write the tests by Tuesday. Ben reviews the API on Wednesday. \
             The demo is on Friday.\nSummarise who does what, and when.",
        ),
        Message::assistant(
            "Ana is writing the tests, and she plans to finish them by Tuesday so that there \
             is time to fix what they find. Ben is reviewing the API on Wednesday, after the \
             tests are in place. Everyone then prepares for the demo, which happens on Friday; \
             the team should rehearse it on Thursday afternoon.",
        ),
        Message::user(format!(
            "Notes: {}\nSummarise who does what, and when.",
            notes.repeat(3)
        )),
    ]
}

fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "owner": { "type": "string" },
                        "task": { "type": "string" },
                        "due": { "type": "string" }
                    },
                    "required": ["owner", "task", "due"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["tasks"],
        "additionalProperties": false
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn per_sec(tokens: u64, time: Duration) -> f64 {
    tokens as f64 / time.as_secs_f64().max(f64::EPSILON)
}

async fn run_once(provider: &EmbeddedProvider, request: ChatRequest) -> RunStats {
    let out = collect(
        provider
            .chat(request, CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(out.finish.is_some());
    provider.last_run().expect("the engine recorded the run")
}

async fn bench(provider: &EmbeddedProvider, label: &str, request: ChatRequest) {
    let mut prompt_rates = Vec::new();
    let mut gen_rates = Vec::new();
    let mut last = None;
    run_once(provider, request.clone()).await; // warm-up
    for _ in 0..RUNS {
        let run = run_once(provider, request.clone()).await;
        prompt_rates.push(per_sec(run.prompt_tokens, run.prompt_eval));
        gen_rates.push(per_sec(run.output_tokens, run.generation));
        last = Some(run);
    }
    let last = last.expect("at least one run");
    println!(
        "{label:<12} prompt eval {:>8.1} tok/s ({} tokens)   generation {:>6.1} tok/s ({} tokens)   median of {RUNS}",
        median(prompt_rates),
        last.prompt_tokens,
        median(gen_rates),
        last.output_tokens,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not and
    // only wants to know the target builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let path = model_path();
    let provider = EmbeddedProvider::new("bench", path.parent().expect("a folder"));
    let model = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a file name")
        .to_owned();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("model {} on {threads} threads", path.display());
    // Other work on the machine skews the numbers; show how busy it was.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at start: {}", load.trim());
    }

    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let free_text = ChatRequest {
            model: model.clone(),
            messages: prompt(),
            temperature: Some(0.0),
            max_tokens: Some(128),
            ..ChatRequest::default()
        };
        bench(&provider, "free text", free_text).await;

        let json = ChatRequest {
            model,
            messages: prompt(),
            json_schema: Some(schema()),
            temperature: Some(0.0),
            max_tokens: Some(128),
            ..ChatRequest::default()
        };
        bench(&provider, "JSON schema", json).await;
    });
}
