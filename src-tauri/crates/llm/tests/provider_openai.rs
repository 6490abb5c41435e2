//! Protocol fixtures for the OpenAI-compatible adapter: an in-process server
//! speaks the documented chat-completions wire format (SSE chunks, tool-call
//! deltas, `[DONE]`, error statuses), because neither OpenAI nor a llama.cpp
//! server can run on this machine. They check framing, mapping and error
//! handling; they never replace the real-model tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/fixture_server.rs"]
mod fixture;

use std::time::{Duration, Instant};

use ensemble_llm::openai::OpenAiProvider;
use ensemble_llm::{
    collect, ChatRequest, EventStream, FinishReason, ModelMessage, Provider, ProviderError,
    StreamEvent, ToolCall, ToolSpec, Usage,
};
use fixture::{refused_url, FixtureServer, Reply};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const SSE: &str = "text/event-stream";
const MODEL: &str = "llama-3.2-1b";

fn provider(server: &FixtureServer, key: Option<&str>) -> OpenAiProvider {
    OpenAiProvider::new(
        "local",
        &format!("{}/v1", server.url()),
        key.map(str::to_string),
    )
}

fn request() -> ChatRequest {
    ChatRequest {
        model: MODEL.into(),
        messages: vec![
            ModelMessage::system("Be brief."),
            ModelMessage::user("Say hello"),
        ],
        ..ChatRequest::default()
    }
}

/// An SSE body: one `data:` frame per chunk, then `[DONE]`.
fn sse(chunks: &[Value]) -> String {
    let mut s: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    s.push_str("data: [DONE]\n\n");
    s
}

fn text_chunk(text: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL,
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
}

fn finish_chunk(reason: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL,
        "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
}

fn usage_chunk(input: u64, output: u64) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL, "choices": [],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}})
}

fn tool_chunk(index: usize, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
    let mut call = json!({"index": index, "function": {"arguments": args}});
    if let Some(id) = id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    if let Some(name) = name {
        call["function"]["name"] = json!(name);
    }
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL,
        "choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": null}]})
}

/// Serves `reply` for chat completions and a fixed model list.
async fn serve(reply: Reply) -> FixtureServer {
    FixtureServer::start(move |req, _| match req.path.as_str() {
        "/v1/models" => Reply::json(
            200,
            json!({"object": "list", "data": [
                {"id": "llama-3.2-1b", "object": "model", "owned_by": "llamacpp"},
                {"id": "qwen2.5-coder", "object": "model", "owned_by": "llamacpp"},
            ]}),
        ),
        "/v1/chat/completions" => reply.clone(),
        _ => Reply::json(404, json!({"error": {"message": "unknown path"}})),
    })
    .await
}

async fn events(stream: EventStream) -> Vec<Result<StreamEvent, ProviderError>> {
    tokio::time::timeout(Duration::from_secs(10), stream.collect::<Vec<_>>())
        .await
        .expect("the stream ends")
}

async fn chat_err(p: &OpenAiProvider) -> ProviderError {
    match p.chat(request(), CancellationToken::new()).await {
        Ok(_) => panic!("chat should fail before streaming"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn lists_models() {
    let server = serve(Reply::Hangup).await;
    let models = provider(&server, None).list_models().await.unwrap();
    let names: Vec<_> = models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["llama-3.2-1b", "qwen2.5-coder"]);
    let rec = server.recorded();
    assert_eq!(
        (rec[0].method.as_str(), rec[0].path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(
        rec[0].header("authorization"),
        None,
        "no key, no Authorization header"
    );
}

#[tokio::test]
async fn a_base_url_without_the_api_root_says_so() {
    let server = serve(Reply::Hangup).await;
    // Missing `/v1`: the server answers 404 for `/models`.
    let p = OpenAiProvider::new("local", &server.url(), None);
    let err = p.list_models().await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable { detail } if detail.contains("base URL")),
        "{err:?}"
    );
}

#[tokio::test]
async fn streams_text_split_inside_characters() {
    let body = sse(&[
        text_chunk("h"),
        text_chunk("éllo"),
        text_chunk(" wö"),
        text_chunk("rld 🌍"),
        finish_chunk("stop"),
        usage_chunk(11, 4),
    ]);
    for piece in [3, 7] {
        let server = serve(Reply::stream_split(SSE, &body, piece)).await;
        let mut req = request();
        req.temperature = Some(0.25);
        req.max_tokens = Some(64);
        let evs = events(
            provider(&server, None)
                .chat(req, CancellationToken::new())
                .await
                .unwrap(),
        )
        .await;
        let evs: Vec<StreamEvent> = evs.into_iter().map(|e| e.unwrap()).collect();
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
        assert_eq!(evs.last(), Some(&StreamEvent::Finish(FinishReason::Stop)));
        assert!(evs.contains(&StreamEvent::Usage(Usage {
            input_tokens: 11,
            output_tokens: 4,
            ..Default::default()
        })));

        let sent = server.recorded()[0].json();
        assert_eq!(sent["model"], MODEL);
        assert_eq!(sent["stream"], true);
        assert_eq!(sent["stream_options"], json!({"include_usage": true}));
        assert_eq!(
            sent["messages"],
            json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}])
        );
        assert_eq!(sent["temperature"], 0.25);
        assert_eq!(sent["max_tokens"], 64);
        assert!(sent.get("response_format").is_none());
        assert!(sent.get("tools").is_none());
    }
}

#[tokio::test]
async fn tool_calls_arrive_whole_after_fragments() {
    let body = sse(&[
        tool_chunk(0, Some("call_a"), Some("read_file"), ""),
        tool_chunk(0, None, None, "{\"pa"),
        tool_chunk(1, Some("call_b"), Some("read_file"), "{\"path\": "),
        tool_chunk(0, None, None, "th\": \"notes/é.txt\""),
        tool_chunk(0, None, None, "}"),
        tool_chunk(1, None, None, "\"b.txt"),
        finish_chunk("tool_calls"),
        usage_chunk(30, 12),
    ]);
    let server = serve(Reply::stream_split(SSE, &body, 5)).await;
    let mut req = request();
    req.tools = vec![ToolSpec {
        name: "read_file".into(),
        description: "Reads a file".into(),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
    }];
    let mut prior = ModelMessage::assistant("");
    prior.tool_calls = vec![ToolCall {
        id: "call_0".into(),
        name: "read_file".into(),
        arguments: json!({"path": "x"}),
    }];
    req.messages.push(prior);
    req.messages.push(ModelMessage::tool_result(
        "call_0",
        "read_file",
        "contents of x",
    ));

    let evs: Vec<StreamEvent> = events(
        provider(&server, None)
            .chat(req, CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .into_iter()
    .map(|e| e.unwrap())
    .collect();
    let deltas = evs
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
        .count();
    assert_eq!(deltas, 6);
    assert!(evs.contains(&StreamEvent::ToolCallDelta {
        index: 1,
        id: Some("call_b".into()),
        name: Some("read_file".into()),
        arguments: "{\"path\": ".into(),
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
                id: "call_a".into(),
                name: "read_file".into(),
                arguments: json!({"path": "notes/é.txt"}),
            },
            // Truncated arguments are passed on as text for the caller's validation.
            &ToolCall {
                id: "call_b".into(),
                name: "read_file".into(),
                arguments: Value::String("{\"path\": \"b.txt".into()),
            },
        ]
    );
    assert_eq!(
        evs.last(),
        Some(&StreamEvent::Finish(FinishReason::ToolCalls))
    );

    let sent = server.recorded()[0].json();
    assert_eq!(
        sent["tools"][0],
        json!({"type": "function", "function": {"name": "read_file", "description": "Reads a file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}})
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function",
            "function": {"name": "read_file", "arguments": "{\"path\":\"x\"}"}}]})
    );
    assert_eq!(
        sent["messages"][3],
        json!({"role": "tool", "tool_call_id": "call_0", "content": "contents of x"})
    );
}

#[tokio::test]
async fn json_schema_becomes_response_format() {
    let body = sse(&[
        text_chunk("{\"answer\":"),
        text_chunk(" 42}"),
        finish_chunk("stop"),
    ]);
    let server = serve(Reply::stream_split(SSE, &body, 9)).await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
        "additionalProperties": false});
    let mut req = request();
    req.json_schema = Some(schema.clone());
    let out = collect(
        provider(&server, None)
            .chat(req, CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&out.text).unwrap(),
        json!({"answer": 42})
    );
    assert_eq!(out.finish, Some(FinishReason::Stop));
    assert_eq!(
        server.recorded()[0].json()["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": true}})
    );
}

#[tokio::test]
async fn done_without_finish_reason_still_finishes_once() {
    let body = sse(&[text_chunk("ok")]);
    let server = serve(Reply::stream_split(SSE, &body, 4)).await;
    let evs = events(
        provider(&server, None)
            .chat(request(), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await;
    let evs: Vec<StreamEvent> = evs.into_iter().map(|e| e.unwrap()).collect();
    assert_eq!(
        evs,
        [
            StreamEvent::Delta("ok".into()),
            StreamEvent::Finish(FinishReason::Stop)
        ]
    );
}

#[tokio::test]
async fn finish_reasons_are_mapped() {
    for (wire, reason) in [
        ("length", FinishReason::Length),
        ("content_filter", FinishReason::ContentFilter),
        ("eos_token", FinishReason::Other("eos_token".into())),
    ] {
        let body = sse(&[text_chunk("x"), finish_chunk(wire)]);
        let server = serve(Reply::stream_split(SSE, &body, 64)).await;
        let out = collect(
            provider(&server, None)
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
    let server = serve(Reply::json(
        404,
        json!({"error": {"message": "The model `nope` does not exist", "type": "invalid_request_error",
            "code": "model_not_found"}}),
    ))
    .await;
    let p = provider(&server, None);
    let mut req = request();
    req.model = "nope".into();
    let err = p.chat(req, CancellationToken::new()).await.err().unwrap();
    assert_eq!(
        err,
        ProviderError::ModelNotFound {
            model: "nope".into()
        }
    );
}

#[tokio::test]
async fn refused_connection_is_unreachable() {
    let base = format!("{}/v1", refused_url().await);
    let p = OpenAiProvider::new("local", &base, None);
    match p.list_models().await.unwrap_err() {
        ProviderError::Unreachable { url, .. } => assert_eq!(url, format!("{base}/models")),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    match chat_err(&p).await {
        ProviderError::Unreachable { url, .. } => {
            assert_eq!(url, format!("{base}/chat/completions"))
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn dropped_connection_keeps_the_partial_text_then_errors() {
    let mut body = sse(&[text_chunk("Hello, "), text_chunk("wor")]);
    body.truncate(body.find("data: [DONE]").unwrap());
    body.push_str("data: {\"choices\":[{\"delta\":{\"content\":\"ld");
    let server = serve(Reply::stream_split(SSE, &body, 16).dropping()).await;
    let stream = provider(&server, None)
        .chat(request(), CancellationToken::new())
        .await
        .unwrap();
    let (err, partial) = collect(stream).await.unwrap_err();
    assert!(matches!(err, ProviderError::Interrupted { .. }), "{err:?}");
    assert_eq!(partial.text, "Hello, wor");
    assert_eq!(partial.finish, None);
}

#[tokio::test]
async fn a_stream_that_ends_before_finishing_is_interrupted() {
    let body = format!("data: {}\n\n", text_chunk("Hel"));
    let server = serve(Reply::stream_split(SSE, &body, 8)).await;
    let stream = provider(&server, None)
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
        body: json!({"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded"}})
            .to_string(),
    })
    .await;
    assert_eq!(
        chat_err(&provider(&server, None)).await,
        ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn server_failure_is_server_error() {
    let server = serve(Reply::json(
        500,
        json!({"error": {"message": "CUDA out of memory"}}),
    ))
    .await;
    match chat_err(&provider(&server, None)).await {
        ProviderError::Server { status, detail } => {
            assert_eq!(status, 500);
            assert!(detail.contains("CUDA out of memory"), "{detail}");
        }
        other => panic!("expected Server, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_json_line_is_bad_response() {
    let body = format!(
        "data: {}\n\ndata: {{\"choices\": [oops\n\n{}",
        text_chunk("Hi"),
        sse(&[text_chunk("never")])
    );
    let server = serve(Reply::stream_split(SSE, &body, 10)).await;
    let evs = events(
        provider(&server, None)
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
async fn error_object_inside_the_stream_is_mapped() {
    let body = format!(
        "data: {}\n\ndata: {}\n\n",
        text_chunk("Par"),
        json!({"error": {"code": 500, "message": "slot unavailable", "type": "server_error"}})
    );
    let server = serve(Reply::stream_split(SSE, &body, 12)).await;
    let stream = provider(&server, None)
        .chat(request(), CancellationToken::new())
        .await
        .unwrap();
    let (err, partial) = collect(stream).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Server { status: 500, detail } if detail == "slot unavailable"),
        "{err:?}"
    );
    assert_eq!(partial.text, "Par");
}

#[tokio::test]
async fn cancellation_stops_the_stream_promptly() {
    let chunks: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("data: {}\n\n", text_chunk(&format!("t{i} "))).into_bytes())
        .collect();
    let server = serve(Reply::Stream {
        status: 200,
        content_type: SSE.into(),
        chunks,
        delay: Duration::from_millis(200),
        drop_after: false,
    })
    .await;
    let cancel = CancellationToken::new();
    let mut stream = provider(&server, None)
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

    // A token cancelled before the request is answered stops it too.
    let already = CancellationToken::new();
    already.cancel();
    let err = provider(&server, None)
        .chat(request(), already)
        .await
        .err()
        .unwrap();
    assert_eq!(err, ProviderError::Cancelled);
}

#[tokio::test]
async fn the_key_is_sent_as_a_bearer_token() {
    let body = sse(&[text_chunk("ok"), finish_chunk("stop")]);
    let server = serve(Reply::stream_split(SSE, &body, 64)).await;
    let p = provider(&server, Some("sk-test-123"));
    p.list_models().await.unwrap();
    collect(p.chat(request(), CancellationToken::new()).await.unwrap())
        .await
        .unwrap();
    let rec = server.recorded();
    assert_eq!(rec.len(), 2);
    for r in &rec {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer sk-test-123"),
            "{}",
            r.path
        );
    }
    assert!(
        !format!("{p:?}").contains("sk-test-123"),
        "Debug must not print the key"
    );
}

/// llama.cpp's server for a GGUF without a chat template: `/props` reports
/// its built-in ChatML template as the model's (as `llama-server` 11434
/// does), and `/v1/completions` streams `text` chunks.
async fn llama_server_with_base_model(template: &'static str) -> FixtureServer {
    FixtureServer::start(move |req, _| match req.path.as_str() {
        "/v1/models" => Reply::json(
            200,
            json!({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "llamacpp",
                "meta": {"n_ctx_train": 32768}}]}),
        ),
        "/props" => Reply::json(
            200,
            json!({"chat_template": template, "total_slots": 1, "build_info": "b11434"}),
        ),
        "/v1/completions" => {
            let chunk = |text: &str, finish: Option<&str>| {
                json!({"id": "cmpl-1", "object": "text_completion", "model": MODEL,
                    "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}]})
            };
            Reply::stream_split(
                SSE,
                &sse(&[
                    chunk(" 17", None),
                    chunk(" * 23)", None),
                    chunk("", Some("stop")),
                    usage_chunk(40, 3),
                ]),
                7,
            )
        }
        _ => Reply::json(404, json!({"error": {"message": "unknown path"}})),
    })
    .await
}

/// The template llama-server gives a model without one (its
/// `CHATML_TEMPLATE_SRC`, as `/props` prints it).
const LLAMA_CPP_CHATML: &str = "{%- for message in messages -%}\n  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n  {{- '<|im_start|>assistant\n' -}}\n{%- endif -%}";

#[tokio::test]
async fn a_base_model_on_llama_server_is_recognised_and_continues_raw_prompts_under_a_grammar() {
    let server = llama_server_with_base_model(LLAMA_CPP_CHATML).await;
    let p = provider(&server, None);
    assert!(p.supports_raw_prompt());
    // Grammars only once the server showed it is llama.cpp.
    assert!(!p.supports_grammar());
    let facts = p.model_facts(MODEL).await.unwrap();
    assert_eq!(
        facts.chat_template,
        Some(false),
        "the default template means none of its own"
    );
    assert_eq!(facts.context_length, Some(32768));
    assert!(p.supports_grammar());

    let request = ChatRequest {
        model: MODEL.into(),
        raw_prompt: Some("Task: What is 17 times 23?\nProgram: print(".into()),
        grammar: Some("root ::= [0-9 *]+ \")\"".into()),
        temperature: Some(0.0),
        seed: Some(7),
        max_tokens: Some(120),
        stop: vec!["\n".into()],
        ..ChatRequest::default()
    };
    let got = collect(p.chat(request, CancellationToken::new()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(got.text, " 17 * 23)");
    assert_eq!(got.finish, Some(FinishReason::Stop));
    assert_eq!(got.usage.input_tokens, 40);
    let rec = server.recorded();
    let sent = rec
        .iter()
        .find(|r| r.path == "/v1/completions")
        .unwrap()
        .json();
    assert_eq!(
        sent["prompt"],
        "Task: What is 17 times 23?\nProgram: print("
    );
    assert_eq!(sent["grammar"], "root ::= [0-9 *]+ \")\"");
    assert_eq!(sent["max_tokens"], 120);
    assert_eq!(sent["seed"], 7);
    assert_eq!(sent["stop"], json!(["\n"]));
    assert_eq!(sent["stream"], true);
    assert!(sent.get("messages").is_none());
}

#[tokio::test]
async fn a_model_with_its_own_template_or_a_server_without_props_is_not_taken_for_a_base_model() {
    let server = llama_server_with_base_model(
        "{% for m in messages %}<start_of_turn>{{ m.content }}{% endfor %}",
    )
    .await;
    let facts = provider(&server, None).model_facts(MODEL).await.unwrap();
    assert_eq!(facts.chat_template, Some(true));
    // Any other OpenAI-compatible server: no `/props`, nothing said.
    let other = serve(Reply::Hangup).await;
    let p = provider(&other, None);
    let facts = p.model_facts("llama-3.2-1b").await.unwrap();
    assert_eq!(facts.chat_template, None);
    assert!(!p.supports_grammar());
}
