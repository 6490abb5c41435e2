//! Prompt workbench: continues raw prompts on a GGUF model with the embedded
//! engine, one JSON request per stdin line, one JSON result per stdout line.
//! Used to measure prompt frames for base models (see `runtime/guided.rs`).
//!
//! ```text
//! echo '{"prompt": "Q: 2+2?\nA:", "max_tokens": 8, "stop": ["\n"]}' |
//!   cargo run --release -p ensemble-llm-embedded --example complete -- model.gguf
//! ```
//! A request: `prompt`, and optionally `schema` (JSON schema), `max_tokens`,
//! `stop`, `temperature`, `seed`, `grammar` (GBNF). A result: `text`, `finish`, `ms`,
//! `prompt_tokens`, `reused_tokens`, or `error`.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use ensemble_llm::{collect, ChatRequest};
use ensemble_llm_embedded::EmbeddedProvider;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

fn main() {
    let Some(model) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: complete MODEL.gguf < requests.jsonl");
        std::process::exit(2);
    };
    let (Some(dir), Some(name)) = (model.parent(), model.file_name().and_then(|n| n.to_str()))
    else {
        eprintln!("{} is not a model file", model.display());
        std::process::exit(2);
    };
    let provider = EmbeddedProvider::new("embedded", dir);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let out = match serde_json::from_str::<Value>(&line) {
            Ok(req) => runtime.block_on(one(&provider, name, &req)),
            Err(e) => json!({"error": format!("bad request line: {e}")}),
        };
        println!("{out}");
    }
}

async fn one(provider: &EmbeddedProvider, model: &str, req: &Value) -> Value {
    use ensemble_llm::Provider;
    let request = ChatRequest {
        model: model.to_owned(),
        raw_prompt: req["prompt"].as_str().map(str::to_owned),
        json_schema: req.get("schema").filter(|s| !s.is_null()).cloned(),
        grammar: req["grammar"].as_str().map(str::to_owned),
        max_tokens: req["max_tokens"].as_u64().map(|n| n as u32).or(Some(64)),
        temperature: req["temperature"].as_f64().map(|t| t as f32).or(Some(0.0)),
        seed: req["seed"].as_u64().map(|s| s as u32),
        stop: req["stop"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        ..ChatRequest::default()
    };
    let started = Instant::now();
    let got = match provider.chat(request, CancellationToken::new()).await {
        Ok(stream) => collect(stream).await.map_err(|(e, _)| e),
        Err(e) => Err(e),
    };
    let stats = provider.last_run();
    match got {
        Ok(c) => json!({
            "text": c.text,
            "finish": format!("{:?}", c.finish),
            "ms": started.elapsed().as_millis() as u64,
            "prompt_tokens": stats.as_ref().map(|s| s.prompt_tokens),
            "reused_tokens": stats.as_ref().map(|s| s.reused_tokens),
        }),
        Err(e) => json!({"error": e.to_string()}),
    }
}
