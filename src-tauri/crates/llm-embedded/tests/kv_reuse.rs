//! KV reuse on the real default model: the next step of a conversation
//! evaluates only what follows the prefix the engine's context still holds.
//! In its own test binary (its own engine thread), so no other test's
//! request lands between the two steps and overwrites the cache.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/model.rs"]
mod model;

use ensemble_llm::{collect, ModelMessage, Provider};
use model::{provider, request};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn the_next_step_of_a_conversation_reuses_the_evaluated_prefix() {
    let (provider, model) = provider();
    let mut first = request(&model, "Name a colour.", 8);
    first.messages.insert(
        0,
        ModelMessage::system(
            "You are a terse assistant for a painter. You answer with one word. \
             The studio has red, blue, green and yellow paint.",
        ),
    );
    let one = collect(
        provider
            .chat(first.clone(), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let stats_one = provider.last_run().unwrap();
    // The next step: the same conversation with the answer and a new question.
    let mut second = first.clone();
    second
        .messages
        .push(ModelMessage::assistant(one.text.clone()));
    second
        .messages
        .push(ModelMessage::user("Name another one."));
    let two = collect(
        provider
            .chat(second, CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let stats_two = provider.last_run().unwrap();
    assert!(
        stats_two.reused_tokens >= stats_one.prompt_tokens / 2,
        "reused {} of {} (first prompt {})",
        stats_two.reused_tokens,
        stats_two.prompt_tokens,
        stats_one.prompt_tokens
    );
    assert_eq!(two.usage.cached_input_tokens, stats_two.reused_tokens);
    assert!(stats_two.reused_tokens < stats_two.prompt_tokens);
    // A different conversation shares next to nothing and is answered all the same.
    let other = collect(
        provider
            .chat(request(&model, "Say hello.", 8), CancellationToken::new())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(!other.text.trim().is_empty());
    let stats_three = provider.last_run().unwrap();
    assert!(stats_three.reused_tokens < stats_two.reused_tokens);
}
