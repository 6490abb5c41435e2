//! Property tests (issue 8): the parsers and validators that take input from
//! models, providers and people never panic, and either succeed or return a
//! clear error; well-formed input round-trips.
//!
//! - JSON steps from a model (`runtime::step::parse`, `extract_json`);
//! - tool-call arguments checked against each built-in tool's JSON schema
//!   (`ToolRegistry::check`);
//! - workflow DAG validation (`workflows::validate_definition`);
//! - NDJSON / SSE framing of provider streams split at arbitrary points.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use ensemble_core::providers::framing;
use ensemble_core::runtime::step::{self, Step};
use ensemble_core::tools::ToolRegistry;
use ensemble_core::workflows::{
    validate_definition, FailurePolicy, WorkflowDefinition, WorkflowStep,
};
use futures::StreamExt;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Arbitrary model text: a step or a message for the model, never a panic.
    #[test]
    fn step_parse_never_panics(text in "\\PC{0,300}") {
        match step::parse(&text, "call-1") {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let _ = step::extract_json(&text);
    }

    /// Text with braces, quotes and escapes in odd places (the brace scanner).
    #[test]
    fn extract_json_never_panics_on_brace_soup(text in "[{}\"\\\\a: ,\\[\\]]{0,200}") {
        let _ = step::extract_json(&text);
        let _ = step::parse(&text, "c");
    }

    /// A well-formed step, wrapped in prose or a code fence, parses to what
    /// was written, and its rendering parses back to the same step.
    #[test]
    fn well_formed_steps_round_trip(
        thought in "[a-zA-Z0-9 .,]{0,60}",
        tool in "[a-z_]{1,20}",
        args in any_json(),
        prose in "[a-zA-Z ]{0,30}",
    ) {
        prop_assume!(tool != step::FINISH);
        let args = match args { Value::Object(_) => args, other => json!({ "value": other }) };
        let body = json!({ "thought": thought, "action": tool, "arguments": args }).to_string();
        let text = format!("{prose}\n```json\n{body}\n```\n");
        let parsed = step::parse(&text, "call-7").map_err(|e| TestCaseError::fail(e.to_string()))?;
        match &parsed {
            Step::Act { thought: t, tool: n, arguments, call_id } => {
                prop_assert_eq!(t, &thought);
                prop_assert_eq!(n, &tool);
                prop_assert_eq!(arguments, &args);
                prop_assert_eq!(call_id.as_str(), "call-7");
            }
            Step::Finish { .. } => prop_assert!(false, "parsed as finish"),
        }
        let again = step::parse(&step::render(&parsed), "call-7").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(again, parsed);
    }

    /// Any arguments for any built-in tool (and unknown names): accepted only
    /// when the schema says so, otherwise an error naming the tool.
    #[test]
    fn tool_arguments_are_checked_without_panics(
        pick in 0usize..64,
        unknown in "[a-z_]{1,16}",
        args in any_json(),
    ) {
        let reg = ToolRegistry::builtin();
        let defs = reg.defs();
        let name = if pick < defs.len() { defs[pick].name.clone() } else { format!("zz_{unknown}") };
        match reg.check(&name, &args) {
            Ok(def) => {
                prop_assert_eq!(&def.name, &name);
                // Accepted arguments are an object (every tool takes one).
                prop_assert!(args.is_object(), "{} accepted {}", name, args);
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    /// Random step graphs: validation never panics; a graph whose edges all
    /// point to earlier steps (acyclic, known keys) is accepted; adding an
    /// edge from the first step to the last (a cycle) is refused, naming it.
    #[test]
    fn workflow_validation(
        n in 1usize..12,
        edges in prop::collection::vec((0usize..12, 0usize..12), 0..30),
        junk in prop::collection::vec("\\PC{0,12}", 0..4),
    ) {
        let keys: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let mut steps: Vec<WorkflowStep> = keys
            .iter()
            .map(|k| WorkflowStep {
                key: k.clone(),
                title: k.clone(),
                agent_id: None,
                capabilities: vec![],
                prompt: format!("do {k}"),
                depends_on: vec![],
                condition: None,
                priority: None,
            })
            .collect();
        for (a, b) in &edges {
            let (a, b) = (a % n, b % n);
            if b < a && !steps[a].depends_on.contains(&keys[b]) {
                steps[a].depends_on.push(keys[b].clone());
                steps[a].prompt.push_str(&format!(" with {{{{{}.output}}}}", keys[b]));
            }
        }
        let def = WorkflowDefinition { steps: steps.clone(), on_failure: FailurePolicy::Fail };
        prop_assert!(validate_definition(&def).is_ok(), "{:?}", validate_definition(&def));

        if n >= 2 {
            let mut cyclic = steps.clone();
            // s0 waits for the last step, which (through the chain below) waits for s0.
            for i in 1..n {
                let prev = keys[i - 1].clone();
                if !cyclic[i].depends_on.contains(&prev) {
                    cyclic[i].depends_on.push(prev);
                }
            }
            cyclic[0].depends_on.push(keys[n - 1].clone());
            let e = validate_definition(&WorkflowDefinition { steps: cyclic, on_failure: FailurePolicy::Fail })
                .expect_err("a cycle is refused");
            prop_assert!(e.to_string().contains("cycle"), "{}", e);
        }

        // Junk in keys, references and dependencies: an error or a pass, never a panic.
        let mut messy = steps;
        for (i, j) in junk.iter().enumerate() {
            let s = &mut messy[i % n];
            match i % 3 {
                0 => s.depends_on.push(j.clone()),
                1 => s.prompt.push_str(&format!("{{{{{j}.output}}}}")),
                _ => s.key = j.clone(),
            }
        }
        let _ = validate_definition(&WorkflowDefinition { steps: messy, on_failure: FailurePolicy::Continue });
    }

    /// An NDJSON body cut at arbitrary byte positions (even inside a UTF-8
    /// character) gives back exactly its lines.
    #[test]
    fn ndjson_lines_survive_any_split(
        lines in prop::collection::vec("[^\\n\\r]{0,40}", 1..8),
        cuts in prop::collection::vec(0usize..400, 0..10),
    ) {
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let bytes = body.as_bytes().to_vec();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut chunks = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain(std::iter::once(bytes.len())) {
            if c > at {
                chunks.push(Ok::<Bytes, std::io::Error>(Bytes::copy_from_slice(&bytes[at..c])));
                at = c;
            }
        }
        let got: Vec<String> = futures::executor::block_on(
            framing::lines(futures::stream::iter(chunks).boxed()).collect::<Vec<_>>(),
        )
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(got, lines);
    }

    /// Arbitrary bytes as a provider stream: lines or a clear error, no panic.
    #[test]
    fn framing_never_panics_on_garbage(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..8),
    ) {
        let body = chunks.clone().into_iter().map(|c| Ok::<Bytes, std::io::Error>(Bytes::from(c)));
        let out = futures::executor::block_on(
            framing::lines(futures::stream::iter(body).boxed()).collect::<Vec<_>>(),
        );
        for item in out {
            if let Err(e) = item {
                prop_assert!(!e.to_string().is_empty());
            }
        }
        let body = chunks.into_iter().map(|c| Ok::<Bytes, std::io::Error>(Bytes::from(c)));
        let events = futures::executor::block_on(
            framing::sse_events(framing::lines(futures::stream::iter(body).boxed())).collect::<Vec<_>>(),
        );
        prop_assert!(events.len() <= 600);
    }
}
