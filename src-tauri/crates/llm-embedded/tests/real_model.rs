//! The embedded engine on the real default model, Gemma 3 270M Q4_K_M: a
//! streamed answer, schema-constrained JSON, cancellation, model look-up,
//! listing, and reuse of the loaded model.
//!
//! The model file is `ENSEMBLE_TEST_MODEL`, else
//! `~/.cache/ensemble/models/gemma-3-270m-q4_k_m.gguf` (`make test` installs
//! it through `scripts/install-model.sh`). A missing model fails these tests
//! rather than skipping them: the real model is what they are about.
//!
//! The tests share the process's one engine thread, which serves requests in
//! turn, so they keep answers short.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ensemble_core::paths::DEFAULT_MODEL_FILE;
use ensemble_llm::{
    collect, FinishReason, ModelMessage, Provider, ProviderError, ProviderKind, StreamEvent,
    ToolSpec,
};
#[path = "common/model.rs"]
mod model;

use ensemble_llm_embedded::{EmbeddedProvider, RunStats};
use futures::StreamExt;
use model::{model_path, provider, request};
use tokio_util::sync::CancellationToken;

/// Waits for the engine to record the provider's run (it does so once it has
/// stopped generating).
async fn wait_for_run(provider: &EmbeddedProvider, within: Duration) -> RunStats {
    let deadline = Instant::now() + within;
    loop {
        if let Some(run) = provider.last_run() {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "the engine recorded no run within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_streamed_answer_arrives_in_pieces_then_usage_then_one_finish() {
    let (provider, model) = provider();
    assert_eq!(provider.kind(), ProviderKind::Embedded);
    assert!(!provider.supports_tools());
    // A multi-turn conversation whose first answer shows the expected shape:
    // the default model is a small base model that follows examples best.
    let mut req = request(&model, "What is the sky?", 40);
    req.messages = vec![
        ModelMessage::system("You answer questions in one full sentence."),
        ModelMessage::user("What is the sea?"),
        ModelMessage::assistant(
            "The sea is the large body of salt water that covers most of the Earth.",
        ),
        ModelMessage::user("What is the sky?"),
    ];
    let mut stream = provider.chat(req, CancellationToken::new()).await.unwrap();

    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.expect("no error in the stream"));
    }
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Delta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let text: String = deltas.concat();
    assert!(
        deltas.len() >= 3,
        "expected the answer in several pieces, got {deltas:?}"
    );
    assert!(!text.trim().is_empty(), "empty answer");

    let n = events.len();
    assert!(
        n >= 2 && deltas.len() == n - 2,
        "deltas first, then usage and finish: {events:?}"
    );
    let StreamEvent::Usage(usage) = &events[n - 2] else {
        panic!("usage before finish: {events:?}")
    };
    assert!(usage.input_tokens > 5, "the prompt has tokens: {usage:?}");
    assert!((1..=40).contains(&usage.output_tokens), "{usage:?}");
    assert!(
        usage.output_tokens >= deltas.len() as u64,
        "each delta is at least one token: {usage:?}"
    );
    let StreamEvent::Finish(reason) = &events[n - 1] else {
        panic!("finish last: {events:?}")
    };
    assert!(
        matches!(reason, FinishReason::Stop | FinishReason::Length),
        "{reason:?}"
    );
    let finishes = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Finish(_)))
        .count();
    assert_eq!(finishes, 1);
}

#[tokio::test]
async fn a_schema_constrained_answer_is_json_that_matches_the_schema() {
    let (provider, model) = provider();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "city": { "type": "string" },
            "country": { "type": "string" },
            "year": { "type": "integer" }
        },
        "required": ["city", "country", "year"],
        "additionalProperties": false
    });
    // (Asked for a city's population, the model writes 1 and zeros until the
    // repetition guard stops it: a number is not what this test is about.)
    let mut req = request(
        &model,
        "Where is the Eiffel Tower, and in which year was it finished? \
         Answer in JSON with the keys city, country and year.",
        64,
    );
    req.json_schema = Some(schema.clone());
    // The schema's own low default temperature, not the greedy test setting.
    req.temperature = None;

    let out = collect(provider.chat(req, CancellationToken::new()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(
        out.finish,
        Some(FinishReason::Stop),
        "the JSON was completed: {:?}",
        out.text
    );
    let value: serde_json::Value = serde_json::from_str(&out.text)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", out.text));
    let validator = jsonschema::validator_for(&schema).unwrap();
    if let Err(err) = validator.validate(&value) {
        panic!("{value} does not match the schema: {err}");
    }
    assert!(!value["city"].as_str().unwrap().is_empty(), "{value}");
}

#[tokio::test]
async fn cancelling_mid_answer_ends_the_stream_promptly_with_cancelled() {
    let (provider, model) = provider();
    let cancel = CancellationToken::new();
    // A schema that demands 300 numbers makes the answer long whatever the
    // model would like to say, so it is surely still generating when cancelled.
    let mut req = request(&model, "List the numbers from 1 to 300.", 400);
    req.json_schema = Some(serde_json::json!({
        "type": "object",
        "properties": { "numbers": { "type": "array", "items": { "type": "integer" }, "minItems": 300 } },
        "required": ["numbers"]
    }));
    let mut stream = provider.chat(req, cancel.clone()).await.unwrap();

    let mut deltas = 0;
    while deltas < 3 {
        match stream.next().await {
            Some(Ok(StreamEvent::Delta(_))) => deltas += 1,
            other => panic!("expected deltas before cancelling, got {other:?}"),
        }
    }
    cancel.cancel();
    let cancelled_at = Instant::now();
    let mut last = None;
    while let Some(event) = stream.next().await {
        match event {
            Ok(StreamEvent::Delta(_)) => deltas += 1,
            Ok(other) => panic!("no usage or finish after cancelling, got {other:?}"),
            Err(err) => last = Some(err),
        }
    }
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(2),
        "took {:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(last, Some(ProviderError::Cancelled));

    // The engine itself stopped, far short of the limit.
    let run = wait_for_run(&provider, Duration::from_secs(2)).await;
    assert_eq!(run.finish, None, "{run:?}");
    assert!(
        run.output_tokens < 100,
        "generated {} tokens after cancelling",
        run.output_tokens
    );
    assert!(deltas < 100);
}

#[tokio::test]
async fn a_model_that_is_not_there_is_reported_as_not_found() {
    let (provider, _) = provider();
    for model in ["no-such-model.gguf", "/definitely/not/here/model.gguf"] {
        let err = provider
            .chat(request(model, "Hi", 8), CancellationToken::new())
            .await
            .err();
        assert_eq!(
            err,
            Some(ProviderError::ModelNotFound {
                model: model.to_owned()
            })
        );
    }
}

#[tokio::test]
async fn lists_the_gguf_files_of_a_models_folder() {
    let real = model_path();
    let dir = tempfile::tempdir().unwrap();
    let empty = EmbeddedProvider::new("embedded", dir.path());
    assert!(empty.list_models().await.unwrap().is_empty());
    let Err(ProviderError::Unavailable { detail }) = empty.health().await else {
        panic!("an empty models folder is not healthy")
    };
    assert!(
        detail.contains(&dir.path().display().to_string()) && detail.contains(".gguf"),
        "{detail}"
    );

    std::os::unix::fs::symlink(&real, dir.path().join("linked.gguf")).unwrap();
    std::fs::write(dir.path().join("readme.txt"), "not a model").unwrap();
    let provider = EmbeddedProvider::new("embedded", dir.path());
    let models = provider.list_models().await.unwrap();
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0].name, "linked.gguf");
    assert_eq!(
        models[0].size_bytes,
        Some(std::fs::metadata(&real).unwrap().len())
    );
    provider.health().await.unwrap();

    // The listed name is what a request uses.
    let out = collect(
        provider
            .chat(
                request("linked.gguf", "Say hello.", 4),
                CancellationToken::new(),
            )
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(out.finish.is_some());
}

#[tokio::test]
async fn a_second_request_reuses_the_loaded_model() {
    let (provider, model) = provider();
    let first = collect(
        provider
            .chat(
                request(&model, "Name a colour.", 6),
                CancellationToken::new(),
            )
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(first.finish.is_some() && first.usage.input_tokens > 0);
    let loads_before = EmbeddedProvider::model_loads();
    assert!(loads_before >= 1);

    // Tools are ignored rather than refused: this provider does not call them.
    let mut second = request(&model, "Name a fruit.", 6);
    second.tools = vec![ToolSpec {
        name: "lookup".into(),
        description: "Looks things up".into(),
        parameters: serde_json::json!({"type": "object"}),
    }];
    let second = collect(
        provider
            .chat(second, CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(second.finish.is_some() && !second.text.is_empty());

    let run = provider.last_run().unwrap();
    assert!(
        !run.loaded_model,
        "the second request loaded the model again: {run:?}"
    );
    assert_eq!(run.load_time, Duration::ZERO);
    assert_eq!(EmbeddedProvider::model_loads(), loads_before);
}

#[tokio::test]
async fn a_conversation_longer_than_the_context_is_refused_clearly() {
    let (provider, model) = provider();
    let long = "lorem ipsum dolor sit amet ".repeat(2000);
    let err = collect(
        provider
            .chat(request(&model, &long, 8), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .err()
    .map(|(err, _)| err);
    let Some(ProviderError::Unavailable { detail }) = err else {
        panic!("expected a clear refusal, got {err:?}")
    };
    assert!(detail.contains("context"), "{detail}");
}

#[tokio::test]
async fn a_schema_the_engine_cannot_enforce_is_refused_clearly() {
    let (provider, model) = provider();
    let mut req = request(&model, "Hi", 8);
    req.json_schema = Some(serde_json::json!({
        "type": "object",
        "properties": { "a": { "$ref": "#/definitions/missing" } }
    }));
    let err = collect(provider.chat(req, CancellationToken::new()).await.unwrap())
        .await
        .err()
        .map(|(err, _)| err);
    let Some(ProviderError::Unavailable { detail }) = err else {
        panic!("expected a clear refusal, got {err:?}")
    };
    assert!(detail.contains("JSON schema"), "{detail}");
}

#[tokio::test]
async fn a_gguf_file_is_checked_before_it_is_used() {
    let (provider, _) = provider();
    let facts = provider.inspect(&model_path()).await.unwrap();
    assert_eq!(facts.architecture, "gemma3");
    assert!(!facts.chat_template, "the default model is a base model");
    assert!(facts.context_train >= 4096);
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.gguf");
    std::fs::write(&fake, b"<html>not a model</html>").unwrap();
    let e = provider.inspect(&fake).await.unwrap_err();
    assert!(e.to_string().contains("not a GGUF model"), "{e}");
    // The right magic, then garbage: llama.cpp refuses it, clearly.
    std::fs::write(&fake, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    let e = provider.inspect(&fake).await.unwrap_err();
    assert!(e.to_string().contains("cannot load"), "{e}");
    // The facts as a provider reports them.
    let facts = provider.model_facts(DEFAULT_MODEL_FILE).await.unwrap();
    assert_eq!(facts.tools, Some(false));
    assert_eq!(facts.chat_template, Some(false));
    assert_eq!(facts.context_length, Some(4096));
}
