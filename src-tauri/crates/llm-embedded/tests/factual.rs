//! Short factual questions to the real default model (a base model) get
//! short answers through the prompt frame. In its own test binary (its own
//! engine thread): the questions run in one fixed order, so the context's
//! cache — and with it greedy decoding's last bit of floating-point rounding —
//! is the same every run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/model.rs"]
mod model;

use ensemble_llm::{collect, Provider};
use model::{provider, request};
use tokio_util::sync::CancellationToken;

/// Short factual questions and a word each right answer contains. The
/// default model is a base model: these check that the prompt frame makes it
/// answer instead of continuing the question (docs/BENCHMARKS.md reports the
/// same set through `ensemble chat`).
const FACTS: &[(&str, &[&str])] = &[
    (
        "Which planet do we live on? Answer in one word.",
        &["earth"],
    ),
    ("What is the capital of France?", &["paris"]),
    ("What is the largest ocean on Earth?", &["pacific"]),
    ("How many legs does a spider have?", &["8", "eight"]),
    ("What colour is grass?", &["green"]),
    ("What is frozen water called?", &["ice"]),
    ("Who wrote Romeo and Juliet?", &["shakespeare"]),
    ("What is the opposite of day?", &["night"]),
    ("In which country is the Eiffel Tower?", &["france"]),
    ("What do bees make?", &["honey"]),
];

#[tokio::test]
async fn short_factual_questions_get_short_answers_not_more_questions() {
    let (provider, model) = provider();
    let mut hits = Vec::new();
    let mut answers = Vec::new();
    for (question, expect) in FACTS {
        let out = collect(
            provider
                .chat(request(&model, question, 48), CancellationToken::new())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        let answer = out.text.trim().to_lowercase();
        // An answer, not the next question of a list.
        assert!(!answer.is_empty(), "{question}: no answer");
        assert!(
            !answer.ends_with('?'),
            "{question}: answered with a question: {answer:?}"
        );
        assert!(
            answer.len() < 300,
            "{question}: a long ramble instead of an answer: {answer:?}"
        );
        if expect.iter().any(|e| answer.contains(e)) {
            hits.push(*question);
        }
        answers.push(format!("{question} -> {answer:?}"));
    }
    println!(
        "{} of {} right:\n{}",
        hits.len(),
        FACTS.len(),
        answers.join("\n")
    );
    // Greedy decoding: the same answers every run on one build. Measured:
    // 8 of these 10 with the frame (the model does not know a spider's legs,
    // nor that frozen water is ice), 1 without it (it repeats the question).
    assert!(
        hits.len() >= 7,
        "{} of {} right:\n{}",
        hits.len(),
        FACTS.len(),
        answers.join("\n")
    );
}
