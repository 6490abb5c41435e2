//! Tokens per second of the embedded engine on the default model (Gemma 3
//! 270M Q4_K_M): prompt evaluation and generation, for a free-text answer and
//! for a grammar-constrained JSON answer (the bench schema and an agent step's
//! schema), side by side with llama.cpp's own tools on the same GGUF, thread
//! count and lengths: `llama-bench` (the speed reference) and `llama-server`
//! (constrained generation through its `json_schema`), when they are built
//! (`scripts/bench/llama-cpp.sh`, cached in ~/.cache/ensemble/llama.cpp).
//! Each case runs a few times after a warm-up and reports the median; every
//! run's prompt differs at its start, so the engine's prompt cache cannot
//! skip the evaluation being measured. Run with `cargo bench -p
//! ensemble-llm-embedded`; the model comes from `ENSEMBLE_TEST_MODEL` or the
//! shared cache, like the real-model tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use ensemble_core::paths::DEFAULT_MODEL_FILE;
use ensemble_llm::{collect, ChatRequest, ModelMessage, Provider};
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
fn prompt(run: usize) -> Vec<ModelMessage> {
    let notes = "The crew met on Monday to plan the release. The designer wants the \
        settings page simplified, the tester found two crashes in the importer, and the \
        writer needs screenshots for the guide. Deadlines: importer fixes by Wednesday, \
        screenshots by Thursday, release on Friday. ";
    vec![
        ModelMessage::system(format!(
            "Session {run}. You are a helpful project assistant. Answer in detail."
        )),
        ModelMessage::user(
            "Notes: Ana will write the tests by Tuesday. Ben reviews the API on Wednesday. \
             The demo is on Friday.\nSummarise who does what, and when.",
        ),
        ModelMessage::assistant(
            "Ana is writing the tests, and she plans to finish them by Tuesday so that there \
             is time to fix what they find. Ben is reviewing the API on Wednesday, after the \
             tests are in place. Everyone then prepares for the demo, which happens on Friday; \
             the team should rehearse it on Thursday afternoon.",
        ),
        ModelMessage::user(format!(
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

/// Median prompt and generation tokens/s of a case, and the run's sizes.
struct Rates {
    prompt: f64,
    generation: f64,
    prompt_tokens: u64,
    output_tokens: u64,
}

async fn bench(
    provider: &EmbeddedProvider,
    label: &str,
    make: impl Fn(usize) -> ChatRequest,
) -> Rates {
    let mut prompt_rates = Vec::new();
    let mut gen_rates = Vec::new();
    let mut last = None;
    run_once(provider, make(0)).await; // warm-up
    for i in 1..=RUNS {
        let run = run_once(provider, make(i)).await;
        // At most the fixed opening ("System: Session ") before the
        // run's own number.
        assert!(
            run.reused_tokens <= 8,
            "run {i} reused {} prompt tokens: its prompt must be new",
            run.reused_tokens
        );
        prompt_rates.push(per_sec(run.prompt_tokens, run.prompt_eval));
        gen_rates.push(per_sec(run.output_tokens, run.generation));
        last = Some(run);
    }
    let last = last.expect("at least one run");
    let rates = Rates {
        prompt: median(prompt_rates),
        generation: median(gen_rates),
        prompt_tokens: last.prompt_tokens,
        output_tokens: last.output_tokens,
    };
    println!(
        "{label:<12} prompt eval {:>8.1} tok/s ({} tokens)   generation {:>6.1} tok/s ({} tokens)   median of {RUNS}",
        rates.prompt, rates.prompt_tokens, rates.generation, rates.output_tokens,
    );
    rates
}

/// The schema of an agent step with one tool, as the runtime sends it.
fn step_schema() -> serde_json::Value {
    use ensemble_core::runtime::step;
    use ensemble_core::tools::{ToolCategory, ToolDef};
    step::schema(&[ToolDef {
        name: "code_run".into(),
        description: "Run a short Python program.".into(),
        parameters: serde_json::json!({"type": "object", "properties": {
            "language": {"type": "string", "enum": ["python", "javascript"]},
            "code": {"type": "string"}}, "required": ["language", "code"]}),
        category: ToolCategory::Code,
        requires_approval: false,
        idempotent: true,
        unavailable: None,
    }])
}

/// llama.cpp's own tools, when `scripts/bench/llama-cpp.sh` built them.
fn llama_tool(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("ENSEMBLE_LLAMA_CPP_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/ensemble/llama.cpp/build/bin"))
        })?;
    let path = dir.join(name);
    path.is_file().then_some(path)
}

/// `llama-bench` on the same model, threads, prompt and generation lengths:
/// (prompt tok/s, generation tok/s, generation tok/s in an empty context).
/// The generation that counts runs at the depth the engine's does — after
/// the prompt (`-d`) — not in an empty context, where each token attends to
/// fewer and costs less; both are printed.
fn llama_bench(
    bin: &Path,
    model: &Path,
    threads: usize,
    prompt: u64,
    gen: u64,
) -> Option<(f64, f64, f64)> {
    let run = |args: &[String]| -> Option<serde_json::Value> {
        let out = std::process::Command::new(bin)
            .args([
                "-m".to_string(),
                model.display().to_string(),
                "-t".to_string(),
                threads.to_string(),
                "-r".to_string(),
                RUNS.to_string(),
                "-o".to_string(),
                "json".to_string(),
            ])
            .args(args)
            .output()
            .ok()?;
        if !out.status.success() {
            println!(
                "llama-bench failed: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    };
    let rate = |rows: &serde_json::Value, pick: &dyn Fn(&serde_json::Value) -> bool| {
        rows.as_array()?
            .iter()
            .find(|r| pick(r))?
            .get("avg_ts")?
            .as_f64()
    };
    let pp_rows = run(&["-p".into(), prompt.to_string(), "-n".into(), "0".into()])?;
    let pp = rate(&pp_rows, &|r| r["n_prompt"].as_u64() == Some(prompt))?;
    let tg_rows = run(&[
        "-p".into(),
        "0".into(),
        "-n".into(),
        gen.to_string(),
        "-d".into(),
        prompt.to_string(),
    ])?;
    let tg = rate(&tg_rows, &|r| r["n_gen"].as_u64() == Some(gen))?;
    let empty_rows = run(&["-p".into(), "0".into(), "-n".into(), gen.to_string()])?;
    let empty = rate(&empty_rows, &|r| r["n_gen"].as_u64() == Some(gen))?;
    Some((pp, tg, empty))
}

/// A running `llama-server` on the model, stopped on drop.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn llama_server(bin: &Path, model: &Path, threads: usize) -> Option<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new(bin)
        .args([
            "-m",
            &model.display().to_string(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .args(["-c", "4096", "-t", &threads.to_string(), "-np", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..240 {
        if let Ok(r) = client.get(format!("{}/health", server.url)).send().await {
            if r.status().is_success() {
                return Some(server);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// Generation tok/s of `llama-server`'s `/completion` on a plain prompt,
/// free or under a JSON schema (its grammar): the median of a few runs,
/// from the server's own timings.
async fn server_rate(
    server: &Server,
    prompt: &str,
    schema: Option<&serde_json::Value>,
    n: u32,
) -> Option<f64> {
    let client = reqwest::Client::new();
    let mut rates = Vec::new();
    for i in 0..=RUNS {
        let mut body = serde_json::json!({
            "prompt": format!("Session {i}. {prompt}"), "n_predict": n, "temperature": 0.0, "cache_prompt": false,
        });
        if let Some(s) = schema {
            body["json_schema"] = s.clone();
        }
        let r: serde_json::Value = client
            .post(format!("{}/completion", server.url))
            .json(&body)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        if i > 0 {
            rates.push(r["timings"]["predicted_per_second"].as_f64()?);
        }
    }
    Some(median(rates))
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
        let request = |schema: Option<serde_json::Value>| {
            let model = model.clone();
            move |i: usize| ChatRequest {
                model: model.clone(),
                messages: prompt(i),
                json_schema: schema.clone(),
                temperature: Some(0.0),
                max_tokens: Some(128),
                ..ChatRequest::default()
            }
        };
        let free = bench(&provider, "free text", request(None)).await;
        let json = bench(&provider, "JSON schema", request(Some(schema()))).await;
        let step = bench(&provider, "agent step", request(Some(step_schema()))).await;
        println!(
            "constrained / free generation: JSON schema {:.0}%, agent step {:.0}% (goal >= 85%)",
            100.0 * json.generation / free.generation,
            100.0 * step.generation / free.generation
        );

        match llama_tool("llama-bench") {
            Some(bin) => {
                if let Some((pp, tg, empty)) = llama_bench(&bin, &path, threads, free.prompt_tokens, free.output_tokens) {
                    println!(
                        "llama-bench  prompt eval {pp:>8.1} tok/s ({} tokens)   generation {tg:>6.1} tok/s ({} tokens after them; {empty:.1} in an empty context)   {threads} threads, {RUNS} runs",
                        free.prompt_tokens, free.output_tokens
                    );
                    println!(
                        "embedded / llama-bench: prompt eval {:.0}%, generation {:.0}% (goal >= 95%)",
                        100.0 * free.prompt / pp,
                        100.0 * free.generation / tg
                    );
                }
            }
            None => println!("llama-bench: not built (scripts/bench/llama-cpp.sh); no reference figures"),
        }
        match llama_tool("llama-server") {
            Some(bin) => match llama_server(&bin, &path, threads).await {
                Some(server) => {
                    let text = "You are a helpful project assistant. Answer in detail.\n\nNotes: the crew met on Monday \
                        to plan the release. Summarise who does what, and when, as JSON.\n\n";
                    let free_s = server_rate(&server, text, None, 128).await;
                    let json_s = server_rate(&server, text, Some(&schema()), 128).await;
                    let step_s = server_rate(&server, text, Some(&step_schema()), 128).await;
                    if let (Some(f), Some(j), Some(st)) = (free_s, json_s, step_s) {
                        println!(
                            "llama-server generation: free {f:.1} tok/s, JSON schema {j:.1} tok/s ({:.0}% of free), agent step {st:.1} tok/s ({:.0}%)",
                            100.0 * j / f,
                            100.0 * st / f
                        );
                        println!(
                            "embedded / llama-server, constrained generation: JSON schema {:.0}%, agent step {:.0}% (goal >= 90%)",
                            100.0 * json.generation / j,
                            100.0 * step.generation / st
                        );
                    } else {
                        println!("llama-server: a request failed; no constrained reference");
                    }
                }
                None => println!("llama-server: did not start"),
            },
            None => println!("llama-server: not built (scripts/bench/llama-cpp.sh); no constrained reference"),
        }
    });
}
