//! Step modes chosen per model, against in-process servers that speak
//! Ollama's documented wire format (`/api/show`, NDJSON `/api/chat` with
//! `tools` and `format`) and the OpenAI chat-completions SSE format — protocol
//! fixtures, since neither Ollama nor vLLM runs here:
//!
//! - a model whose server refuses `tools` with a 400 finishes its task
//!   through JSON steps after that one refusal, and the verdict is stored;
//! - a model Ollama lists without `tools` gets JSON steps from the start;
//! - a tool call written as text (`<tool_call>…`) runs the tool;
//! - the capability probe stores its verdict and the models overview shows it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../llm/tests/common/fixture_server.rs"]
mod fixture;
#[path = "common/orch.rs"]
mod orch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::orchestrator::Orchestrator;
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::providers::profile::{ProfileSource, ToolsMode};
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::runtime::AgentRuntime;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{NewTask, Task, TaskStatus};
use ensemble_core::Core;
use fixture::{FixtureServer, Recorded, Reply};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const NDJSON: &str = "application/x-ndjson";
const MODEL: &str = "tiny";
const LONG: Duration = Duration::from_secs(20);

struct Setup {
    core: Arc<Core>,
    hub: Arc<ProviderHub>,
    orch: Arc<Orchestrator>,
    handle: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new(kind: ProviderKind, url: String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let core = Arc::new(Core::open(dir.path()).unwrap());
        let name = "local";
        core.providers()
            .create(ProviderInput {
                name: Some(name.into()),
                kind: Some(kind),
                base_url: Some(url),
                default_model: Some(MODEL.into()),
                ..Default::default()
            })
            .unwrap();
        core.update_settings(SettingsPatch {
            default_provider: Some(name.into()),
            ..Default::default()
        })
        .unwrap();
        let hub = Arc::new(
            ProviderHub::with_secrets(
                core.clone(),
                ensemble_core::secrets::SecretStore::file_only(dir.path()),
            )
            .with_connector(Arc::new(ensemble_llm::HttpConnector)),
        );
        let tools = Arc::new(orch::registry(dir.path()));
        let runtime = Arc::new(AgentRuntime::new(core.clone(), hub.clone(), tools));
        let orch = Orchestrator::new(core.clone(), hub.clone(), runtime, orch::fast_config());
        let o = orch.clone();
        let handle = tokio::spawn(async move { o.run().await.unwrap() });
        core.agents()
            .create(AgentInput {
                name: Some("Doer".into()),
                system_prompt: Some("You are Doer.".into()),
                allowed_tools: Some(vec!["test_append".into()]),
                autonomy: Some(Autonomy::Autopilot),
                ..Default::default()
            })
            .unwrap();
        Self {
            core,
            hub,
            orch,
            handle,
            dir,
        }
    }

    fn task(&self, title: &str) -> String {
        self.core
            .tasks()
            .create(NewTask {
                title: title.into(),
                ..Default::default()
            })
            .unwrap()
            .id
    }

    async fn wait_final(&self, id: &str) -> Task {
        let end = Instant::now() + LONG;
        loop {
            let t = self.core.tasks().get(id).unwrap();
            if t.status.is_final() {
                return t;
            }
            assert!(
                Instant::now() < end,
                "task not final: {:?} {:?}",
                t.status,
                t.error
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn appended(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("log.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    async fn stop(self) {
        self.orch.shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.handle).await;
    }
}

// --- Ollama's wire format -------------------------------------------------

fn line(v: Value) -> String {
    format!("{v}\n")
}

fn content(text: &str) -> String {
    line(json!({"model": MODEL, "created_at": "2026-11-21T10:00:00Z",
        "message": {"role": "assistant", "content": text}, "done": false}))
}

fn tool_line(name: &str, arguments: Value) -> String {
    line(json!({"model": MODEL, "created_at": "2026-11-21T10:00:00Z",
        "message": {"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": name, "arguments": arguments}}]},
        "done": false}))
}

fn done() -> String {
    line(json!({"model": MODEL, "created_at": "2026-11-21T10:00:01Z",
        "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
        "total_duration": 5, "load_duration": 1, "prompt_eval_count": 30,
        "prompt_eval_duration": 1, "eval_count": 9, "eval_duration": 2}))
}

fn ndjson(pieces: &[String]) -> Reply {
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    Reply::stream_pieces(NDJSON, &refs)
}

/// `/api/show` for the model, with or without a `capabilities` list (Ollama
/// before 0.6 had none).
fn show(capabilities: Option<&[&str]>) -> Reply {
    let mut v = json!({
        "template": "{{ .Prompt }}",
        "model_info": {"general.architecture": "llama", "llama.context_length": 8192}
    });
    if let Some(c) = capabilities {
        v["capabilities"] = json!(c);
    }
    Reply::json(200, v)
}

fn tags() -> Reply {
    Reply::json(
        200,
        json!({"models": [{"name": MODEL, "model": MODEL, "modified_at": "2026-11-21T10:00:00Z",
            "size": 1, "digest": "d"}]}),
    )
}

fn is_task(body: &Value) -> bool {
    body["messages"].as_array().into_iter().flatten().any(|m| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("Task: "))
    })
}

/// Whether a tool result follows the task's own message (the worked
/// example before it has one of its own).
fn observed(body: &Value) -> bool {
    let messages: Vec<&Value> = body["messages"].as_array().into_iter().flatten().collect();
    let task = messages
        .iter()
        .position(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("Task: "))
        })
        .unwrap_or(0);
    messages[task..].iter().any(|m| {
        m["role"] == "tool"
            || m["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("Observation from"))
    })
}

/// What a small model without tool support answers to JSON-step and probe
/// requests (`format` set): a step, or the probe's weather object.
fn json_answer(body: &Value) -> String {
    let schema = body
        .get("format")
        .or_else(|| body.pointer("/response_format/json_schema/schema"));
    let wants_city = schema
        .map(|s| s.to_string().contains("temperature_c"))
        .unwrap_or(false);
    if wants_city {
        return json!({"city": "Lisbon", "temperature_c": 21}).to_string();
    }
    if observed(body) {
        json!({"action": "finish", "answer": "Appended the line.", "confidence": 0.9,
            "thought": "The tool ran."})
        .to_string()
    } else {
        json!({"action": "test_append", "arguments": {"file": "log.txt", "line": "once"},
            "thought": "Append it."})
        .to_string()
    }
}

/// An Ollama that serves a model without tool support: a request with
/// `tools` gets Ollama's 400.
fn ollama_without_tools(
    capabilities: Option<&'static [&'static str]>,
) -> impl Fn(&Recorded, usize) -> Reply {
    move |r, _| match r.path.as_str() {
        "/api/tags" => tags(),
        "/api/show" => show(capabilities),
        "/api/chat" => {
            let body = r.json();
            if body.get("tools").is_some() {
                return Reply::json(
                    400,
                    json!({"error": format!("registry.ollama.ai/library/{MODEL}:latest does not support tools")}),
                );
            }
            if body.get("format").is_some() {
                return ndjson(&[content(&json_answer(&body)), done()]);
            }
            ndjson(&[content("The sea is wide and blue today."), done()])
        }
        _ => Reply::json(404, json!({"error": "not found"})),
    }
}

fn refusals(server: &FixtureServer) -> usize {
    server
        .recorded()
        .iter()
        .filter(|r| r.path == "/api/chat" && r.json().get("tools").is_some() && is_task(&r.json()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_for_tools_switches_the_model_to_json_steps_once_and_is_remembered() {
    // An older Ollama: /api/show has no capabilities, so the first task
    // starts with native tools (and the model is probed in the background).
    let server = FixtureServer::start(ollama_without_tools(None)).await;
    let s = Setup::new(ProviderKind::Ollama, server.url()).await;
    let first = s.task("Append once");
    let t = s.wait_final(&first).await;
    assert_eq!(t.status, TaskStatus::Completed, "{:?}", t.error);
    assert_eq!(t.output.as_deref(), Some("Appended the line."));
    assert_eq!(s.appended(), ["once"], "the tool ran exactly once");
    assert_eq!(refusals(&server), 1, "one refused step, then JSON steps");
    let profile = s
        .core
        .model_profile("local", MODEL)
        .unwrap()
        .expect("verdict stored");
    assert_eq!(profile.tools, ToolsMode::JsonSteps);
    // The next task goes straight to JSON steps.
    let second = s.task("Append again");
    let t = s.wait_final(&second).await;
    assert_eq!(t.status, TaskStatus::Completed, "{:?}", t.error);
    assert_eq!(refusals(&server), 1, "no second refusal");
    assert_eq!(s.appended(), ["once", "once"]);
    // The step requests carried a cap sized to the step and stop sequences.
    let step = server
        .recorded()
        .into_iter()
        .find(|r| r.path == "/api/chat" && r.json().get("format").is_some() && is_task(&r.json()))
        .unwrap()
        .json();
    let cap = step["options"]["num_predict"].as_i64().unwrap();
    assert!((128..=1024).contains(&cap), "num_predict {cap}");
    assert!(
        step["options"]["stop"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{step}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_ollama_lists_without_tools_gets_json_steps_from_the_start() {
    let server = FixtureServer::start(ollama_without_tools(Some(&["completion"]))).await;
    let s = Setup::new(ProviderKind::Ollama, server.url()).await;
    let id = s.task("Append once");
    let t = s.wait_final(&id).await;
    assert_eq!(t.status, TaskStatus::Completed, "{:?}", t.error);
    assert_eq!(
        refusals(&server),
        0,
        "no request with tools was sent: {:#?}",
        server
            .recorded()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
    let p = s.core.model_profile("local", MODEL).unwrap().unwrap();
    assert_eq!(
        (p.tools, p.source),
        (ToolsMode::JsonSteps, ProfileSource::Capabilities)
    );
    assert_eq!(p.context_length, Some(8192));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_written_as_text_runs_the_tool() {
    // A model that takes tools but writes its call in `content`, Qwen style.
    let server = FixtureServer::start(|r, _| match r.path.as_str() {
        "/api/tags" => tags(),
        "/api/show" => show(Some(&["completion", "tools"])),
        _ => {
            let body = r.json();
            if observed(&body) {
                ndjson(&[content("Done: the line is in the log."), done()])
            } else {
                ndjson(&[
                    content("<tool_call>\n{\"name\": \"test_append\", "),
                    content("\"arguments\": {\"file\": \"log.txt\", \"line\": \"as text\"}}\n</tool_call>"),
                    done(),
                ])
            }
        }
    })
    .await;
    let s = Setup::new(ProviderKind::Ollama, server.url()).await;
    let id = s.task("Append as text");
    let t = s.wait_final(&id).await;
    assert_eq!(t.status, TaskStatus::Completed, "{:?}", t.error);
    assert_eq!(t.output.as_deref(), Some("Done: the line is in the log."));
    assert_eq!(s.appended(), ["as text"]);
    let chat = server
        .recorded()
        .into_iter()
        .filter(|r| r.path == "/api/chat")
        .collect::<Vec<_>>();
    assert_eq!(chat.len(), 2, "the call, then the answer after its result");
    assert!(
        chat[0].json().get("tools").is_some(),
        "native tools were offered"
    );
    s.stop().await;
}

// --- OpenAI-compatible wire format -----------------------------------------

fn sse_text(text: &str) -> Reply {
    let chunk = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": null}]});
    let end = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}});
    let body = format!("data: {chunk}\n\ndata: {end}\n\ndata: [DONE]\n\n");
    Reply::stream_split("text/event-stream", &body, 64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_compatible_server_without_tool_calling_gets_json_steps() {
    // vLLM started without a tool parser refuses `tools` with a 400.
    let server = FixtureServer::start(|r, _| match r.path.as_str() {
        "/v1/models" => Reply::json(200, json!({"object": "list", "data": [{"id": MODEL, "object": "model", "max_model_len": 4096}]})),
        "/v1/chat/completions" => {
            let body = r.json();
            if body.get("tools").is_some() {
                return Reply::json(400, json!({"object": "error", "type": "BadRequestError", "code": 400,
                    "message": "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set"}));
            }
            if body.get("response_format").is_some() {
                return sse_text(&json_answer(&body));
            }
            sse_text("The sea is wide.")
        }
        _ => Reply::json(404, json!({"error": "not found"})),
    })
    .await;
    let s = Setup::new(
        ProviderKind::OpenAiCompatible,
        format!("{}/v1", server.url()),
    )
    .await;
    let id = s.task("Append once");
    let t = s.wait_final(&id).await;
    assert_eq!(t.status, TaskStatus::Completed, "{:?}", t.error);
    assert_eq!(s.appended(), ["once"]);
    let task_refusals = server
        .recorded()
        .iter()
        .filter(|r| r.json().get("tools").is_some() && is_task(&r.json()))
        .count();
    assert_eq!(task_refusals, 1);
    let p = s.core.model_profile("local", MODEL).unwrap().unwrap();
    assert_eq!(p.tools, ToolsMode::JsonSteps);
    s.stop().await;
}

// --- The probe ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_stores_its_verdict_and_the_overview_shows_it() {
    // A model that calls tools well (the answers follow the probe's cases).
    let server = FixtureServer::start(|r, _| match r.path.as_str() {
        "/api/tags" => tags(),
        "/api/show" => show(Some(&["completion", "tools"])),
        _ => {
            let body = r.json();
            let question = body["messages"][1]["content"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if body.get("tools").is_some() {
                let (name, args) = if question.contains("Paris") {
                    ("get_weather", json!({"city": "Paris"}))
                } else if question.contains("17") {
                    ("add_numbers", json!({"a": 17, "b": 25}))
                } else {
                    ("lookup_order", json!({"order_id": "A-1042"}))
                };
                return ndjson(&[tool_line(name, args), done()]);
            }
            if body.get("format").is_some() {
                return ndjson(&[content(&json_answer(&body)), done()]);
            }
            ndjson(&[content("The sea "), content("is wide."), done()])
        }
    })
    .await;
    let s = Setup::new(ProviderKind::Ollama, server.url()).await;
    let p = s
        .hub
        .probe_model(Some("local"), None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(p.tools, ToolsMode::Native, "{:#?}", p.cases);
    assert_eq!(p.verdict, "tools: native");
    assert_eq!(
        (p.native_cases_passed, p.native_cases_total),
        (Some(3), Some(3))
    );
    assert_eq!(p.json_schema, Some(true));
    assert_eq!(p.streaming, Some(true));
    assert_eq!(p.context_length, Some(8192));
    assert!(p.generation_tokens_per_sec.is_some());
    let overview = s.hub.models_overview().await.unwrap();
    let entry = overview
        .models
        .iter()
        .find(|m| m.model.name == MODEL)
        .unwrap();
    assert_eq!(
        entry.profile.as_ref().map(|p| p.verdict.as_str()),
        Some("tools: native")
    );
    // Five model calls: a check, not a benchmark.
    let calls = server
        .recorded()
        .iter()
        .filter(|r| r.path == "/api/chat")
        .count();
    assert_eq!(calls, 5);
    s.stop().await;
}

/// The template llama-server gives a model without one (its
/// `CHATML_TEMPLATE_SRC`, as `/props` prints it).
const LLAMA_CPP_CHATML: &str = "{%- for message in messages -%}\n  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n  {{- '<|im_start|>assistant\n' -}}\n{%- endif -%}";

/// llama.cpp's `llama-server` with a base model (its `/props` shows the
/// default ChatML template): the probe asks no tool questions.
#[tokio::test]
async fn the_probe_gives_a_base_model_on_llama_server_guided_steps_without_asking_for_tools() {
    // The chat endpoint answers the probe's JSON and streaming cases.
    let server = FixtureServer::start(|req, _| match req.path.as_str() {
        "/v1/models" => Reply::json(
            200,
            json!({"object": "list", "data": [{"id": MODEL, "object": "model"}]}),
        ),
        "/props" => Reply::json(200, json!({"chat_template": LLAMA_CPP_CHATML})),
        "/v1/chat/completions" => sse_text("{\"city\": \"Lisbon\", \"temperature_c\": 21}"),
        _ => Reply::json(404, json!({"error": {"message": "unknown path"}})),
    })
    .await;
    let p =
        ensemble_llm::openai::OpenAiProvider::new("local", &format!("{}/v1", server.url()), None);
    let profile =
        ensemble_core::providers::probe::probe(&p, "local", MODEL, &CancellationToken::new())
            .await
            .unwrap();
    assert_eq!(profile.tools, ToolsMode::Guided);
    assert_eq!(profile.verdict, "tools: guided steps (base model)");
    assert!(
        profile.reason.contains("no chat template"),
        "{}",
        profile.reason
    );
    assert_eq!(
        profile.native_cases_total, None,
        "no tool cases on a base model"
    );
    let asked_tools = server
        .recorded()
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .any(|r| r.json().get("tools").is_some());
    assert!(!asked_tools);
}
