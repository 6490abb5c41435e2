//! Protocol fixtures for the Anthropic adapter: an in-process server speaks
//! the documented Messages API wire format (named SSE events, `tool_use`
//! blocks with `input_json_delta`, error events and statuses), because the
//! Anthropic API cannot be reached from this machine. They check framing,
//! mapping and error handling; they never replace the real-model tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/fixture_server.rs"]
mod fixture;

use std::time::{Duration, Instant};

use ensemble_llm::anthropic::AnthropicProvider;
use ensemble_llm::{
    collect, ChatRequest, EventStream, FinishReason, ModelMessage, Provider, ProviderError,
    StreamEvent, ToolCall, ToolSpec, Usage,
};
use fixture::{refused_url, FixtureServer, Reply};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const SSE: &str = "text/event-stream";
const MODEL: &str = "claude-sonnet-4-5";
const KEY: &str = "sk-ant-test-key";

fn provider(server: &FixtureServer) -> AnthropicProvider {
    AnthropicProvider::new("anthropic", &server.url(), Some(KEY.into()))
}

fn request() -> ChatRequest {
    ChatRequest {
        model: MODEL.into(),
        messages: vec![
            ModelMessage::system("Be brief."),
            ModelMessage::system("Answer in English."),
            ModelMessage::user("Say hello"),
        ],
        ..ChatRequest::default()
    }
}

/// One named server-sent event.
fn ev(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn message_start(input_tokens: u64) -> String {
    ev(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": MODEL, "content": [], "stop_reason": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
    )
}

fn text_start(index: u64) -> String {
    ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}),
    )
}

fn text_delta(index: u64, text: &str) -> String {
    ev(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}),
    )
}

fn tool_start(index: u64, id: &str, name: &str) -> String {
    ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
    )
}

fn json_delta(index: u64, partial: &str) -> String {
    ev(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "input_json_delta", "partial_json": partial}}),
    )
}

fn block_stop(index: u64) -> String {
    ev(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    )
}

fn message_end(stop_reason: &str, output_tokens: u64) -> String {
    ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output_tokens}}),
    ) + &ev("message_stop", json!({"type": "message_stop"}))
}

fn ping() -> String {
    ev("ping", json!({"type": "ping"}))
}

async fn serve(reply: Reply) -> FixtureServer {
    FixtureServer::start(
        move |req, _| match req.path.split('?').next().unwrap_or_default() {
            "/v1/models" => Reply::json(
                200,
                json!({"data": [
                {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
                    "created_at": "2025-09-29T00:00:00Z"},
                {"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5",
                    "created_at": "2025-10-01T00:00:00Z"},
            ], "has_more": false, "first_id": "claude-sonnet-4-5", "last_id": "claude-haiku-4-5"}),
            ),
            "/v1/messages" => reply.clone(),
            _ => Reply::json(
                404,
                json!({"type": "error", "error": {"type": "not_found_error", "message": "no"}}),
            ),
        },
    )
    .await
}

async fn events(stream: EventStream) -> Vec<Result<StreamEvent, ProviderError>> {
    tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ends")
}

async fn ok_events(p: &AnthropicProvider, req: ChatRequest) -> Vec<StreamEvent> {
    let stream = p.chat(req, CancellationToken::new()).await.unwrap();
    events(stream)
        .await
        .into_iter()
        .map(|e| e.unwrap())
        .collect()
}

async fn chat_err(p: &AnthropicProvider) -> ProviderError {
    match p.chat(request(), CancellationToken::new()).await {
        Ok(_) => panic!("chat should fail before streaming"),
        Err(e) => e,
    }
}

fn api_error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

#[tokio::test]
async fn lists_models_with_the_key_headers() {
    let server = serve(Reply::Hangup).await;
    let models = provider(&server).list_models().await.unwrap();
    let names: Vec<_> = models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["claude-sonnet-4-5", "claude-haiku-4-5"]);
    assert_eq!(models[0].details.as_deref(), Some("Claude Sonnet 4.5"));
    let rec = server.recorded();
    assert_eq!(rec[0].method, "GET");
    assert!(rec[0].path.starts_with("/v1/models"), "{}", rec[0].path);
    assert_eq!(rec[0].header("x-api-key"), Some(KEY));
    assert_eq!(rec[0].header("anthropic-version"), Some("2023-06-01"));
}

#[tokio::test]
async fn streams_text_split_inside_characters() {
    let body = [
        message_start(12),
        text_start(0),
        ping(),
        text_delta(0, "h"),
        text_delta(0, "éllo"),
        text_delta(0, " wö"),
        text_delta(0, "rld 🌍"),
        block_stop(0),
        message_end("end_turn", 9),
    ]
    .concat();
    for piece in [3, 7] {
        let server = serve(Reply::stream_split(SSE, &body, piece)).await;
        let mut req = request();
        req.temperature = Some(0.5);
        let evs = ok_events(&provider(&server), req).await;
        let text: String = evs
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Delta(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "héllo wörld 🌍", "piece size {piece}");
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, StreamEvent::Delta(_)))
                .count(),
            4
        );
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, StreamEvent::Finish(_)))
                .count(),
            1
        );
        let n = evs.len();
        assert_eq!(
            evs[n - 2],
            StreamEvent::Usage(Usage {
                input_tokens: 12,
                output_tokens: 9,
                ..Default::default()
            })
        );
        assert_eq!(evs[n - 1], StreamEvent::Finish(FinishReason::Stop));

        let rec = &server.recorded()[0];
        assert_eq!(
            (rec.method.as_str(), rec.path.as_str()),
            ("POST", "/v1/messages")
        );
        assert_eq!(rec.header("x-api-key"), Some(KEY));
        assert_eq!(rec.header("anthropic-version"), Some("2023-06-01"));
        let sent = rec.json();
        assert_eq!(sent["model"], MODEL);
        assert_eq!(
            sent["max_tokens"], 1024,
            "default when the request sets none"
        );
        assert_eq!(sent["stream"], true);
        assert_eq!(sent["temperature"], 0.5);
        assert_eq!(sent["system"], "Be brief.\n\nAnswer in English.");
        assert_eq!(
            sent["messages"],
            json!([{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}])
        );
        assert!(sent.get("tools").is_none());
        assert!(sent.get("tool_choice").is_none());
    }
}

#[tokio::test]
async fn tool_use_arrives_whole_after_fragments() {
    let body = [
        message_start(40),
        text_start(0),
        text_delta(0, "Reading both."),
        block_stop(0),
        tool_start(1, "toolu_a", "read_file"),
        json_delta(1, ""),
        json_delta(1, "{\"pa"),
        json_delta(1, "th\": \"notes/é"),
        json_delta(1, ".txt\"}"),
        block_stop(1),
        tool_start(2, "toolu_b", "read_file"),
        json_delta(2, "{\"path\": \"b.t"),
        block_stop(2),
        tool_start(3, "toolu_c", "list_dir"),
        block_stop(3),
        message_end("tool_use", 25),
    ]
    .concat();
    let server = serve(Reply::stream_split(SSE, &body, 11)).await;
    let mut req = request();
    req.max_tokens = Some(300);
    req.tools = vec![ToolSpec {
        name: "read_file".into(),
        description: "Reads a file".into(),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    }];
    let mut prior = ModelMessage::assistant("");
    prior.tool_calls = vec![
        ToolCall {
            id: "toolu_0".into(),
            name: "read_file".into(),
            arguments: json!({"path": "x"}),
        },
        ToolCall {
            id: "toolu_1".into(),
            name: "read_file".into(),
            arguments: json!({"path": "y"}),
        },
    ];
    req.messages.push(prior);
    req.messages.push(ModelMessage::tool_result(
        "toolu_0",
        "read_file",
        "contents of x",
    ));
    req.messages.push(ModelMessage::tool_result(
        "toolu_1",
        "read_file",
        "contents of y",
    ));

    let evs = ok_events(&provider(&server), req).await;
    assert!(evs.contains(&StreamEvent::ToolCallDelta {
        index: 0,
        id: Some("toolu_a".into()),
        name: Some("read_file".into()),
        arguments: String::new(),
    }));
    assert!(evs.contains(&StreamEvent::ToolCallDelta {
        index: 0,
        id: None,
        name: None,
        arguments: "{\"pa".into(),
    }));
    let calls: Vec<&ToolCall> = evs
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [
            &ToolCall {
                id: "toolu_a".into(),
                name: "read_file".into(),
                arguments: json!({"path": "notes/é.txt"}),
            },
            // Truncated input is passed on as text for the caller's validation.
            &ToolCall {
                id: "toolu_b".into(),
                name: "read_file".into(),
                arguments: Value::String("{\"path\": \"b.t".into()),
            },
            // No input deltas at all: an empty object.
            &ToolCall {
                id: "toolu_c".into(),
                name: "list_dir".into(),
                arguments: json!({}),
            },
        ]
    );
    assert!(evs.contains(&StreamEvent::Delta("Reading both.".into())));
    assert_eq!(
        evs.last(),
        Some(&StreamEvent::Finish(FinishReason::ToolCalls))
    );

    let sent = server.recorded()[0].json();
    assert_eq!(sent["max_tokens"], 300);
    assert_eq!(
        sent["tools"],
        json!([{"name": "read_file", "description": "Reads a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}])
    );
    assert_eq!(
        sent["messages"][1],
        json!({"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_0", "name": "read_file", "input": {"path": "x"}},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "y"}},
        ]})
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_0", "content": "contents of x"},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "contents of y"},
        ]}),
        "consecutive tool results share one user message"
    );
    assert_eq!(sent["messages"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn json_schema_is_a_forced_tool_and_comes_back_as_text() {
    let body = [
        message_start(20),
        tool_start(0, "toolu_r", "respond"),
        json_delta(0, "{\"answer\": "),
        json_delta(0, "\"héllo 🌍\", \"n\""),
        json_delta(0, ": 3}"),
        block_stop(0),
        message_end("tool_use", 15),
    ]
    .concat();
    let server = serve(Reply::stream_split(SSE, &body, 7)).await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["answer", "n"]});
    let mut req = request();
    req.json_schema = Some(schema.clone());
    let out = collect(
        provider(&server)
            .chat(req, CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out.text).unwrap(),
        json!({"answer": "héllo 🌍", "n": 3})
    );
    assert_eq!(out.deltas, 3);
    assert!(
        out.tool_calls.is_empty(),
        "the answer is text, not a tool call"
    );
    assert_eq!(out.finish, Some(FinishReason::Stop));

    let sent = server.recorded()[0].json();
    let tools = sent["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "respond");
    assert_eq!(tools[0]["input_schema"], schema);
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "respond"})
    );
}

#[tokio::test]
async fn stop_reasons_are_mapped() {
    for (wire, reason) in [
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("pause_turn", FinishReason::Other("pause_turn".into())),
    ] {
        let body = [
            message_start(1),
            text_start(0),
            text_delta(0, "x"),
            block_stop(0),
            message_end(wire, 2),
        ]
        .concat();
        let server = serve(Reply::stream_split(SSE, &body, 64)).await;
        let out = collect(
            provider(&server)
                .chat(request(), CancellationToken::new())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(out.finish, Some(reason));
    }
}

#[tokio::test]
async fn unknown_model_is_model_not_found() {
    let server = serve(api_error(404, "not_found_error", "model: claude-nope")).await;
    let mut req = request();
    req.model = "claude-nope".into();
    let err = provider(&server)
        .chat(req, CancellationToken::new())
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        ProviderError::ModelNotFound {
            model: "claude-nope".into()
        }
    );
}

#[tokio::test]
async fn refused_connection_is_unreachable() {
    let base = refused_url().await;
    let p = AnthropicProvider::new("anthropic", &base, Some(KEY.into()));
    match chat_err(&p).await {
        ProviderError::Unreachable { url, .. } => assert_eq!(url, format!("{base}/v1/messages")),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(matches!(
        p.health().await,
        Err(ProviderError::Unreachable { .. })
    ));
}

#[tokio::test]
async fn dropped_connection_keeps_the_partial_text_then_errors() {
    let body = [
        message_start(5),
        text_start(0),
        text_delta(0, "Hello, "),
        text_delta(0, "wor"),
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"ind".to_string(),
    ]
    .concat();
    let server = serve(Reply::stream_split(SSE, &body, 16).dropping()).await;
    let stream = provider(&server)
        .chat(request(), CancellationToken::new())
        .await
        .unwrap();
    let (err, partial) = collect(stream).await.unwrap_err();
    assert!(matches!(err, ProviderError::Interrupted { .. }), "{err:?}");
    assert_eq!(partial.text, "Hello, wor");
    assert_eq!(partial.finish, None);
}

#[tokio::test]
async fn a_stream_that_ends_before_message_stop_is_interrupted() {
    let body = [message_start(5), text_start(0), text_delta(0, "Hel")].concat();
    let server = serve(Reply::stream_split(SSE, &body, 32)).await;
    let stream = provider(&server)
        .chat(request(), CancellationToken::new())
        .await
        .unwrap();
    let (err, partial) = collect(stream).await.unwrap_err();
    assert!(matches!(err, ProviderError::Interrupted { .. }), "{err:?}");
    assert_eq!(partial.text, "Hel");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let server = serve(Reply::Full {
        status: 429,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("retry-after".into(), "7".into()),
        ],
        body:
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}})
                .to_string(),
    })
    .await;
    assert_eq!(
        chat_err(&provider(&server)).await,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn server_failure_is_server_error() {
    let server = serve(api_error(500, "api_error", "Internal server error")).await;
    match chat_err(&provider(&server)).await {
        ProviderError::Server { status, detail } => {
            assert_eq!(status, 500);
            assert_eq!(detail, "Internal server error");
        }
        other => panic!("expected Server, got {other:?}"),
    }
    let server = serve(api_error(401, "authentication_error", "invalid x-api-key")).await;
    assert!(matches!(
        chat_err(&provider(&server)).await,
        ProviderError::Auth { .. }
    ));
}

#[tokio::test]
async fn error_event_mid_stream_is_mapped() {
    for (kind, expected) in [
        (
            "overloaded_error",
            ProviderError::Server {
                status: 529,
                detail: "Overloaded".into(),
            },
        ),
        (
            "rate_limit_error",
            ProviderError::RateLimited { retry_after: None },
        ),
        (
            "not_found_error",
            ProviderError::ModelNotFound {
                model: MODEL.into(),
            },
        ),
    ] {
        let body = [
            message_start(5),
            text_start(0),
            text_delta(0, "Par"),
            ev(
                "error",
                json!({"type": "error", "error": {"type": kind, "message": "Overloaded"}}),
            ),
        ]
        .concat();
        let server = serve(Reply::stream_split(SSE, &body, 13)).await;
        let stream = provider(&server)
            .chat(request(), CancellationToken::new())
            .await
            .unwrap();
        let (err, partial) = collect(stream).await.unwrap_err();
        assert_eq!(err, expected, "{kind}");
        assert_eq!(partial.text, "Par");
    }
}

#[tokio::test]
async fn malformed_json_line_is_bad_response() {
    let body = [
        message_start(5),
        text_start(0),
        text_delta(0, "Hi"),
        "event: content_block_delta\ndata: {\"type\": \"content_block_delta\", oops\n\n"
            .to_string(),
        text_delta(0, "never"),
        block_stop(0),
        message_end("end_turn", 3),
    ]
    .concat();
    let server = serve(Reply::stream_split(SSE, &body, 10)).await;
    let evs = events(
        provider(&server)
            .chat(request(), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert_eq!(evs[0], Ok(StreamEvent::Delta("Hi".into())));
    assert!(
        matches!(evs[1], Err(ProviderError::BadResponse { .. })),
        "{:?}",
        evs[1]
    );
}

#[tokio::test]
async fn cancellation_stops_the_stream_promptly() {
    let mut chunks: Vec<Vec<u8>> = vec![(message_start(5) + &text_start(0)).into_bytes()];
    chunks.extend((0..50).map(|i| text_delta(0, &format!("t{i} ")).into_bytes()));
    let server = serve(Reply::Stream {
        status: 200,
        content_type: SSE.into(),
        chunks,
        delay: Duration::from_millis(200),
        drop_after: false,
    })
    .await;
    let cancel = CancellationToken::new();
    let mut stream = provider(&server)
        .chat(request(), cancel.clone())
        .await
        .unwrap();
    assert_eq!(
        stream.next().await.unwrap(),
        Ok(StreamEvent::Delta("t0 ".into()))
    );
    let started = Instant::now();
    cancel.cancel();
    assert_eq!(stream.next().await.unwrap(), Err(ProviderError::Cancelled));
    assert!(
        stream.next().await.is_none(),
        "the stream ends after Cancelled"
    );
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn without_a_key_it_is_off_and_sends_nothing() {
    let server = serve(Reply::Hangup).await;
    for key in [None, Some(String::new()), Some("  ".to_string())] {
        let p = AnthropicProvider::new("anthropic", &server.url(), key);
        let off = ProviderError::Unavailable {
            detail: "Anthropic is off until an API key is added in Settings".into(),
        };
        assert_eq!(p.list_models().await.unwrap_err(), off);
        assert_eq!(p.health().await.unwrap_err(), off);
        assert_eq!(
            p.chat(request(), CancellationToken::new())
                .await
                .err()
                .unwrap(),
            off
        );
    }
    assert!(
        server.recorded().is_empty(),
        "no request may reach the network"
    );
}
