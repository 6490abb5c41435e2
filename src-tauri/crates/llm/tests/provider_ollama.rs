//! Protocol fixtures for the Ollama adapter: an in-process HTTP server speaks
//! Ollama's documented wire format (`/api/tags`, NDJSON `/api/chat`,
//! `/api/pull`), because Ollama itself cannot run on these machines. They
//! check framing, request shape and error mapping; they never replace the
//! real-model tests of the embedded engine.
//!
//! Also here: retries and the circuit breaker (`resilience`) against the same
//! fixture, since they sit on top of any provider.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/fixture_server.rs"]
mod fixture;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ensemble_llm::ollama::OllamaProvider;
use ensemble_llm::resilience::{Breaker, BreakerConfig, BreakerState, Resilient, RetryPolicy};
use ensemble_llm::{
    collect, ChatRequest, FinishReason, ModelMessage, Provider, ProviderError, PullProgress,
    StreamEvent, ToolSpec,
};
use fixture::{refused_url, FixtureServer, Reply};
use futures::StreamExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const NDJSON: &str = "application/x-ndjson";

fn chunk(content: &str) -> String {
    json!({"model": "llama3.2", "created_at": "2026-11-21T10:00:00Z", "message": {"role": "assistant", "content": content}, "done": false}).to_string() + "\n"
}

fn done_line(reason: &str) -> String {
    json!({
        "model": "llama3.2", "created_at": "2026-11-21T10:00:01Z",
        "message": {"role": "assistant", "content": ""},
        "done": true, "done_reason": reason,
        "total_duration": 5, "load_duration": 1, "prompt_eval_count": 12, "prompt_eval_duration": 1,
        "eval_count": 4, "eval_duration": 2
    })
    .to_string()
        + "\n"
}

fn answer_body() -> String {
    ["Hé", "llo ", "wörld ", "🌍!"]
        .iter()
        .map(|c| chunk(c))
        .collect::<String>()
        + &done_line("stop")
}

fn request(model: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![
            ModelMessage::system("Be brief."),
            ModelMessage::user("Say hello"),
        ],
        temperature: Some(0.2),
        ..Default::default()
    }
}

#[tokio::test]
async fn lists_models_from_api_tags() {
    let server = FixtureServer::start(|r, _| {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/api/tags"));
        Reply::json(200, json!({"models": [
            {"name": "llama3.2:latest", "modified_at": "2026-11-01T10:00:00Z", "size": 2019393189u64, "digest": "a80c4f17acd5", "details": {"family": "llama"}},
            {"name": "qwen2.5:0.5b", "modified_at": "2026-11-02T10:00:00Z", "size": 397821319u64, "digest": "b80c4f17acd5"}
        ]}))
    })
    .await;
    let p = OllamaProvider::new("ollama", &server.url()).unwrap();
    let models = p.list_models().await.unwrap();
    assert_eq!(
        models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["llama3.2:latest", "qwen2.5:0.5b"]
    );
    assert_eq!(models[0].size_bytes, Some(2019393189));
    assert!(p.health().await.is_ok());
}

#[tokio::test]
async fn streams_text_with_frames_split_across_reads() {
    for piece in [1, 3, 7, 64] {
        let server =
            FixtureServer::start(move |_, _| Reply::stream_split(NDJSON, &answer_body(), piece))
                .await;
        let p = OllamaProvider::new("ollama", &server.url()).unwrap();
        let stream = p
            .chat(request("llama3.2"), CancellationToken::new())
            .await
            .unwrap();
        let events: Vec<_> = stream.collect().await;
        let deltas: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                Ok(StreamEvent::Delta(d)) => Some(d.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            deltas.concat(),
            "Héllo wörld 🌍!",
            "pieces of {piece} bytes"
        );
        assert_eq!(deltas.len(), 4);
        assert!(matches!(
            events.last(),
            Some(Ok(StreamEvent::Finish(FinishReason::Stop)))
        ));
        let usage = events.iter().find_map(|e| match e {
            Ok(StreamEvent::Usage(u)) => Some(*u),
            _ => None,
        });
        assert_eq!(
            usage.map(|u| (u.input_tokens, u.output_tokens)),
            Some((12, 4))
        );
    }
}

#[tokio::test]
async fn tools_and_the_json_schema_format_reach_the_request() {
    let server = FixtureServer::start(|_, _| {
        let line = json!({"model": "llama3.2", "created_at": "x", "message": {"role": "assistant", "content": "",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]}, "done": false});
        Reply::stream_pieces(NDJSON, &[&(line.to_string() + "\n"), &done_line("stop")])
    })
    .await;
    let p = OllamaProvider::new("ollama", &server.url()).unwrap();
    let schema =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let mut req = request("llama3.2");
    req.tools = vec![ToolSpec {
        name: "get_weather".into(),
        description: "Weather for a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}),
    }];
    req.json_schema = Some(schema.clone());
    req.max_tokens = Some(64);
    let got = collect(p.chat(req, CancellationToken::new()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got.tool_calls.len(), 1);
    assert_eq!(got.tool_calls[0].name, "get_weather");
    assert_eq!(
        got.tool_calls[0].arguments,
        json!({"city": "Paris", "days": 2})
    );
    assert_eq!(got.finish, Some(FinishReason::ToolCalls));

    let sent = server.recorded()[0].json();
    assert_eq!(server.recorded()[0].path, "/api/chat");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["model"], "llama3.2");
    assert_eq!(
        sent["format"], schema,
        "the JSON schema is sent as `format`"
    );
    assert_eq!(sent["tools"][0]["type"], "function");
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent["tools"][0]["function"]["parameters"]["required"],
        json!(["city"])
    );
    assert_eq!(
        (
            sent["messages"][0]["role"].as_str(),
            sent["messages"][0]["content"].as_str()
        ),
        (Some("system"), Some("Be brief."))
    );
    assert_eq!(sent["messages"][1]["role"], "user");
    assert!((sent["options"]["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert_eq!(sent["options"]["num_predict"], 64);
}

#[tokio::test]
async fn unknown_model_is_model_not_found() {
    let server = FixtureServer::start(|_, _| {
        Reply::json(
            404,
            json!({"error": "model \"nope\" not found, try pulling it first"}),
        )
    })
    .await;
    let p = OllamaProvider::new("ollama", &server.url()).unwrap();
    let err = p
        .chat(request("nope"), CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        ProviderError::ModelNotFound {
            model: "nope".into()
        }
    );
    assert_eq!(err.code(), "MODEL_NOT_FOUND");
}

#[tokio::test]
async fn refused_connection_is_unreachable_with_the_url() {
    let url = refused_url().await;
    let p = OllamaProvider::new("ollama", &url).unwrap();
    match p
        .chat(request("llama3.2"), CancellationToken::new())
        .await
        .err()
        .unwrap()
    {
        ProviderError::Unreachable { url: u, .. } => assert_eq!(u, url),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(matches!(
        p.list_models().await,
        Err(ProviderError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn a_dropped_connection_keeps_the_partial_text_and_reports_an_error() {
    let server = FixtureServer::start(|_, _| {
        Reply::stream_pieces(
            NDJSON,
            &[
                &chunk("The answer "),
                &chunk("is 4"),
                "{\"model\":\"llama3.2\",\"crea",
            ],
        )
        .dropping()
    })
    .await;
    let p = OllamaProvider::new("ollama", &server.url()).unwrap();
    let (err, partial) = collect(
        p.chat(request("llama3.2"), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(partial.text, "The answer is 4");
    assert!(matches!(err, ProviderError::Interrupted { .. }), "{err:?}");
}

#[tokio::test]
async fn malformed_lines_and_error_lines_are_reported() {
    let server = FixtureServer::start(|_, n| {
        if n == 0 {
            Reply::stream_pieces(NDJSON, &[&chunk("ok "), "{not json}\n", &done_line("stop")])
        } else {
            Reply::stream_pieces(
                NDJSON,
                &[
                    &chunk("ok "),
                    "{\"error\":\"out of memory while loading\"}\n",
                ],
            )
        }
    })
    .await;
    let p = OllamaProvider::new("ollama", &server.url()).unwrap();
    let (err, partial) = collect(
        p.chat(request("m"), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(partial.text, "ok ");
    assert!(matches!(err, ProviderError::BadResponse { .. }), "{err:?}");
    let (err, _) = collect(
        p.chat(request("m"), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        ProviderError::BadResponse {
            detail: "out of memory while loading".into()
        }
    );
}

#[tokio::test]
async fn cancelling_ends_the_stream() {
    let server = FixtureServer::start(|_, _| {
        let mut r = Reply::stream_pieces(
            NDJSON,
            &[
                &chunk("a "),
                &chunk("b "),
                &chunk("c "),
                &chunk("d "),
                &done_line("stop"),
            ],
        );
        if let Reply::Stream { delay, .. } = &mut r {
            *delay = Duration::from_millis(200);
        }
        r
    })
    .await;
    let p = OllamaProvider::new("ollama", &server.url()).unwrap();
    let cancel = CancellationToken::new();
    let mut s = p.chat(request("m"), cancel.clone()).await.unwrap();
    assert!(matches!(s.next().await, Some(Ok(StreamEvent::Delta(_)))));
    cancel.cancel();
    let t = Instant::now();
    assert_eq!(s.next().await, Some(Err(ProviderError::Cancelled)));
    assert_eq!(s.next().await, None);
    assert!(t.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn pull_reports_progress() {
    let server = FixtureServer::start(|r, _| {
        assert_eq!(r.path, "/api/pull");
        let lines = [
            json!({"status": "pulling manifest"}),
            json!({"status": "downloading", "digest": "sha256:1", "total": 1000, "completed": 250}),
            json!({"status": "downloading", "digest": "sha256:1", "total": 1000, "completed": 1000}),
            json!({"status": "verifying sha256 digest"}),
            json!({"status": "success"}),
        ];
        let body: String = lines.iter().map(|l| l.to_string() + "\n").collect();
        Reply::stream_split(NDJSON, &body, 11)
    })
    .await;
    let p = OllamaProvider::new("ollama", &server.url()).unwrap();
    let seen: Arc<Mutex<Vec<PullProgress>>> = Arc::default();
    let s2 = seen.clone();
    p.pull(
        "qwen2.5:0.5b",
        &move |pr| s2.lock().unwrap().push(pr),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.first().map(|p| p.status.as_str()),
        Some("pulling manifest")
    );
    assert!(seen
        .iter()
        .any(|p| p.completed == Some(250) && p.total == Some(1000)));
    assert_eq!(seen.last().map(|p| p.status.as_str()), Some("success"));
    // ollama-rs sends the model as `name` (Ollama accepts it beside `model`).
    assert_eq!(server.recorded()[0].json()["name"], "qwen2.5:0.5b");
}

// ---------------------------------------------------------------- resilience

fn resilient(url: &str, attempts: u32, breaker: BreakerConfig) -> (Resilient, Arc<Breaker>) {
    let inner: Arc<dyn Provider> = Arc::new(OllamaProvider::new("ollama", url).unwrap());
    let b = Arc::new(Breaker::new("ollama", breaker));
    let policy = RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
    };
    (Resilient::new(inner, b.clone(), policy), b)
}

#[tokio::test]
async fn failures_before_the_first_token_are_retried_then_succeed() {
    let server = FixtureServer::start(|_, n| match n {
        0 => Reply::json(503, json!({"error": "loading model"})),
        1 => Reply::Hangup,
        _ => Reply::stream_split(NDJSON, &answer_body(), 5),
    })
    .await;
    let (p, b) = resilient(&server.url(), 3, BreakerConfig::default());
    let got = collect(
        p.chat(request("llama3.2"), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(got.text, "Héllo wörld 🌍!");
    assert_eq!(server.recorded().len(), 3, "two failures, then success");
    assert_eq!(b.status().state, BreakerState::Closed);
    assert_eq!(b.status().consecutive_failures, 0);
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let server = FixtureServer::start(|_, n| {
        if n == 0 {
            Reply::Full {
                status: 429,
                headers: vec![("retry-after".into(), "1".into())],
                body: "{\"error\":\"slow down\"}".into(),
            }
        } else {
            Reply::stream_split(NDJSON, &answer_body(), 64)
        }
    })
    .await;
    let (p, _) = resilient(&server.url(), 2, BreakerConfig::default());
    let t = Instant::now();
    collect(
        p.chat(request("llama3.2"), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        t.elapsed()
    );
    assert_eq!(server.recorded().len(), 2);
}

#[tokio::test]
async fn errors_after_the_first_token_are_not_retried_and_not_found_is_not_retried() {
    let server = FixtureServer::start(|r, _| {
        if r.json()["model"] == "nope" {
            Reply::json(404, json!({"error": "model not found"}))
        } else {
            Reply::stream_pieces(NDJSON, &[&chunk("partial ")]).dropping()
        }
    })
    .await;
    let (p, b) = resilient(&server.url(), 3, BreakerConfig::default());
    let (err, partial) = collect(
        p.chat(request("llama3.2"), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(partial.text, "partial ");
    assert!(matches!(err, ProviderError::Interrupted { .. }));
    assert_eq!(server.recorded().len(), 1, "no retry once tokens flowed");
    assert_eq!(b.status().consecutive_failures, 1);
    let err = p
        .chat(request("nope"), CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ProviderError::ModelNotFound { .. }));
    assert_eq!(server.recorded().len(), 2, "model-not-found is not retried");
    assert_eq!(
        b.status().consecutive_failures,
        0,
        "the provider answered: it is up"
    );
}

#[tokio::test]
async fn the_breaker_opens_then_half_opens_and_recovers() {
    let healthy = Arc::new(AtomicBool::new(false));
    let h = healthy.clone();
    let server = FixtureServer::start(move |_, _| {
        if h.load(Ordering::SeqCst) {
            Reply::stream_split(NDJSON, &answer_body(), 64)
        } else {
            Reply::json(500, json!({"error": "boom"}))
        }
    })
    .await;
    let cfg = BreakerConfig {
        threshold: 3,
        cool_down: Duration::from_millis(400),
    };
    let (p, b) = resilient(&server.url(), 1, cfg);
    for _ in 0..3 {
        let e = p
            .chat(request("m"), CancellationToken::new())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(e, ProviderError::Server { status: 500, .. }),
            "{e:?}"
        );
    }
    assert_eq!(b.status().state, BreakerState::Open);
    let e = p
        .chat(request("m"), CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert!(matches!(e, ProviderError::CircuitOpen { .. }), "{e:?}");
    assert_eq!(server.recorded().len(), 3, "an open breaker sends nothing");

    tokio::time::sleep(Duration::from_millis(450)).await;
    // Half-open: one trial goes through; it fails, so the breaker reopens.
    assert!(matches!(
        p.chat(request("m"), CancellationToken::new()).await.err(),
        Some(ProviderError::Server { .. })
    ));
    assert_eq!(b.status().state, BreakerState::Open);
    assert_eq!(server.recorded().len(), 4);

    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let got = collect(
        p.chat(request("m"), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(got.text, "Héllo wörld 🌍!");
    assert_eq!(b.status().state, BreakerState::Closed);
}
