//! The capability probe: a few short, fixed requests that show what a model
//! really does as an agent — three native tool-call cases (right tool,
//! arguments valid against its schema, the right values), one structured
//! answer under a JSON schema, and one short free answer that gives
//! streaming and tokens per second — plus the context window the provider
//! reports. Five model calls in all: a check, not a benchmark.
//!
//! The verdict: native tools when all three cases pass; JSON steps when the
//! structured answer followed its schema; otherwise not usable for agents.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::profile::{verdict, ModelProfile, ProbeCase, ProfileSource, ToolsMode, APP_VERSION};
use super::{ChatRequest, ModelMessage, Provider, ProviderError, StreamEvent, ToolSpec, Usage};
use crate::runtime::step;
use crate::time;

/// Longest a single probe request may take (a large model on a CPU is slow,
/// but a probe that hangs helps nobody).
const CALL_TIMEOUT: Duration = Duration::from_secs(90);
/// Tokens a probe answer may use: a tool call or a short JSON object.
const CASE_TOKENS: u32 = 160;
/// Tokens of the free answer the speed is measured on.
const SPEED_TOKENS: u32 = 48;

const SYSTEM: &str = "You are a helpful assistant. When a tool can answer, call it.";

fn weather() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "The current weather in a city.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
            "additionalProperties": false
        }),
    }
}

fn add() -> ToolSpec {
    ToolSpec {
        name: "add_numbers".into(),
        description: "Adds two numbers.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
            "additionalProperties": false
        }),
    }
}

fn order() -> ToolSpec {
    ToolSpec {
        name: "lookup_order".into(),
        description: "Finds an order by its id and says where it is.".into(),
        parameters: json!({
            "type": "object",
            "properties": {"order_id": {"type": "string", "pattern": "^A-[0-9]+$"}},
            "required": ["order_id"],
            "additionalProperties": false
        }),
    }
}

/// One native tool-call case: the request's tools, the question, the tool
/// expected and a check of its arguments' values.
struct ToolCase {
    name: &'static str,
    tools: Vec<ToolSpec>,
    question: &'static str,
    expect: &'static str,
    values: fn(&Value) -> bool,
}

fn tool_cases() -> Vec<ToolCase> {
    vec![
        ToolCase {
            name: "weather",
            tools: vec![weather()],
            question: "What is the weather in Paris right now?",
            expect: "get_weather",
            values: |a| {
                a["city"]
                    .as_str()
                    .is_some_and(|c| c.to_lowercase().contains("paris"))
            },
        },
        ToolCase {
            name: "arithmetic",
            tools: vec![weather(), add()],
            question: "What is 17 plus 25?",
            expect: "add_numbers",
            values: |a| {
                let mut v = [a["a"].as_f64(), a["b"].as_f64()];
                v.sort_by(|x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal));
                v == [Some(17.0), Some(25.0)]
            },
        },
        ToolCase {
            name: "order lookup",
            tools: vec![weather(), add(), order()],
            question: "Where is my order A-1042?",
            expect: "lookup_order",
            values: |a| a["order_id"].as_str() == Some("A-1042"),
        },
    ]
}

fn json_case_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 40},
            "temperature_c": {"type": "number"}
        },
        "required": ["city", "temperature_c"],
        "additionalProperties": false
    })
}

/// What one request gave back, with its timing.
struct Answer {
    text: String,
    calls: Vec<super::ToolCall>,
    usage: Usage,
    deltas: usize,
    started: Instant,
    first: Option<Instant>,
    ended: Instant,
}

async fn ask(
    provider: &dyn Provider,
    request: ChatRequest,
    cancel: &CancellationToken,
) -> Result<Answer, ProviderError> {
    let started = Instant::now();
    let work = async {
        let mut stream = provider.chat(request, cancel.clone()).await?;
        let mut a = Answer {
            text: String::new(),
            calls: Vec::new(),
            usage: Usage::default(),
            deltas: 0,
            started,
            first: None,
            ended: started,
        };
        while let Some(ev) = stream.next().await {
            match ev? {
                StreamEvent::Delta(t) => {
                    a.first.get_or_insert_with(Instant::now);
                    a.deltas += 1;
                    a.text.push_str(&t);
                }
                StreamEvent::ToolCall(c) => {
                    a.first.get_or_insert_with(Instant::now);
                    a.calls.push(c);
                }
                StreamEvent::Usage(u) => a.usage = u,
                StreamEvent::ToolCallDelta { .. } | StreamEvent::Finish(_) => {}
            }
        }
        a.ended = Instant::now();
        Ok(a)
    };
    match tokio::time::timeout(CALL_TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError::Timeout {
            after: CALL_TIMEOUT,
        }),
    }
}

/// Errors that mean the probe cannot run at all (nothing is stored then).
fn fatal(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::Unreachable { .. }
            | ProviderError::ModelNotFound { .. }
            | ProviderError::Auth { .. }
            | ProviderError::Cancelled
            | ProviderError::CircuitOpen { .. }
            | ProviderError::Unavailable { .. }
    )
}

fn clip(s: &str, n: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Judges one tool case's answer.
fn judge_tool_case(case: &ToolCase, a: &Answer) -> (bool, String) {
    let Some(call) = a.calls.first() else {
        let names: Vec<&str> = case.tools.iter().map(|t| t.name.as_str()).collect();
        return match step::text_tool_call(&a.text, &names) {
            Some((name, _)) => (
                false,
                format!("wrote the call to {name} as text instead of a native tool call"),
            ),
            None => (
                false,
                format!("answered without a tool call: {:?}", clip(&a.text, 80)),
            ),
        };
    };
    if call.name != case.expect {
        return (
            false,
            format!("called {} instead of {}", call.name, case.expect),
        );
    }
    let schema = case
        .tools
        .iter()
        .find(|t| t.name == case.expect)
        .map(|t| t.parameters.clone())
        .unwrap_or(Value::Null);
    match jsonschema::validator_for(&schema) {
        Ok(v) => {
            if let Some(e) = v.iter_errors(&call.arguments).next() {
                return (
                    false,
                    format!("arguments {} do not match the schema: {e}", call.arguments),
                );
            }
        }
        Err(e) => return (false, format!("the case's schema is invalid: {e}")),
    }
    if !(case.values)(&call.arguments) {
        return (
            false,
            format!(
                "called {} with the wrong values {}",
                call.name, call.arguments
            ),
        );
    }
    (true, format!("{}({})", call.name, call.arguments))
}

/// Runs the probe on `model` of `provider` (named `provider_name` in the
/// profile). Fails only when the model cannot be reached at all; every other
/// problem is a failed case in the profile.
pub async fn probe(
    provider: &dyn Provider,
    provider_name: &str,
    model: &str,
    cancel: &CancellationToken,
) -> Result<ModelProfile, ProviderError> {
    let mut cases = Vec::new();
    // Requests the provider answered at all, and the last one it refused: a
    // probe whose every request failed says nothing about the model.
    let mut answered = 0u32;
    let mut last_error: Option<ProviderError> = None;
    let facts = provider.model_facts(model).await.unwrap_or_default();

    // Native tool calls.
    let (mut native_passed, mut native_total) = (0u32, 0u32);
    let mut refused: Option<String> = None;
    // A base model has no turns to call tools in: its agents take guided
    // steps whatever it would do with `tools`, so that is not asked.
    let base = provider.supports_raw_prompt() && facts.chat_template == Some(false);
    if provider.supports_tools() && facts.tools != Some(false) && !base {
        for case in tool_cases() {
            native_total += 1;
            let request = ChatRequest {
                model: model.to_string(),
                messages: vec![
                    ModelMessage::system(SYSTEM),
                    ModelMessage::user(case.question),
                ],
                tools: case.tools.clone(),
                temperature: Some(0.0),
                max_tokens: Some(CASE_TOKENS),
                ..Default::default()
            };
            let t = Instant::now();
            match ask(provider, request, cancel).await {
                Ok(a) => {
                    answered += 1;
                    let (passed, detail) = judge_tool_case(&case, &a);
                    native_passed += u32::from(passed);
                    cases.push(ProbeCase {
                        name: format!("tool call: {}", case.name),
                        passed,
                        detail,
                        ms: ms(t.elapsed()),
                    });
                }
                Err(ProviderError::ToolsUnsupported { detail, .. }) => {
                    answered += 1;
                    cases.push(ProbeCase {
                        name: format!("tool call: {}", case.name),
                        passed: false,
                        detail: format!("the provider refused tools: {detail}"),
                        ms: ms(t.elapsed()),
                    });
                    refused = Some(detail);
                    native_total = 3;
                    break;
                }
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => {
                    cases.push(ProbeCase {
                        name: format!("tool call: {}", case.name),
                        passed: false,
                        detail: e.to_string(),
                        ms: ms(t.elapsed()),
                    });
                    last_error = Some(e);
                }
            }
        }
    }

    // Structured output under a JSON schema.
    let schema = json_case_schema();
    let request = ChatRequest {
        model: model.to_string(),
        messages: vec![
            ModelMessage::system("You answer with JSON only."),
            ModelMessage::user(
                "It is 21 degrees Celsius in Lisbon today. Give the city and the temperature as JSON.",
            ),
        ],
        json_schema: Some(schema.clone()),
        temperature: Some(0.0),
        max_tokens: Some(CASE_TOKENS),
        ..Default::default()
    };
    let t = Instant::now();
    let json_schema = match ask(provider, request, cancel).await {
        Ok(a) => {
            answered += 1;
            let (passed, detail) = match step::extract_json(&a.text) {
                None => (false, format!("not JSON: {:?}", clip(&a.text, 80))),
                Some(v) => match jsonschema::validator_for(&schema) {
                    Ok(validator) => match validator.iter_errors(&v).next() {
                        Some(e) => (false, format!("{v} does not match the schema: {e}")),
                        None => (true, v.to_string()),
                    },
                    Err(e) => (false, format!("the case's schema is invalid: {e}")),
                },
            };
            cases.push(ProbeCase {
                name: "JSON schema".into(),
                passed,
                detail,
                ms: ms(t.elapsed()),
            });
            passed
        }
        Err(e) if fatal(&e) => return Err(e),
        Err(e) => {
            cases.push(ProbeCase {
                name: "JSON schema".into(),
                passed: false,
                detail: e.to_string(),
                ms: ms(t.elapsed()),
            });
            last_error = Some(e);
            false
        }
    };

    // Streaming and speed, on a short free answer.
    let request = ChatRequest {
        model: model.to_string(),
        messages: vec![ModelMessage::user("Write three sentences about the sea.")],
        temperature: Some(0.0),
        max_tokens: Some(SPEED_TOKENS),
        ..Default::default()
    };
    let (mut streaming, mut prompt_tps, mut gen_tps) = (None, None, None);
    let t = Instant::now();
    match ask(provider, request, cancel).await {
        Ok(a) => {
            answered += 1;
            streaming = Some(a.deltas > 1);
            if let Some(first) = a.first {
                let to_first = first.duration_since(a.started).as_secs_f64();
                if a.usage.input_tokens > 0 && to_first > 0.0 {
                    prompt_tps = Some(round1(a.usage.input_tokens as f64 / to_first));
                }
                let gen = a.ended.duration_since(first).as_secs_f64();
                if a.usage.output_tokens > 1 && gen > 0.0 {
                    gen_tps = Some(round1((a.usage.output_tokens - 1) as f64 / gen));
                }
            }
            cases.push(ProbeCase {
                name: "streamed answer".into(),
                passed: a.deltas > 1,
                detail: format!(
                    "{} pieces, {} tokens: {:?}",
                    a.deltas,
                    a.usage.output_tokens,
                    clip(&a.text, 60)
                ),
                ms: ms(t.elapsed()),
            });
        }
        Err(e) if fatal(&e) => return Err(e),
        Err(e) => {
            cases.push(ProbeCase {
                name: "streamed answer".into(),
                passed: false,
                detail: e.to_string(),
                ms: ms(t.elapsed()),
            });
            last_error = Some(e);
        }
    }
    if answered == 0 {
        // Nothing was answered: the provider's trouble, not a verdict.
        return Err(last_error
            .unwrap_or_else(|| ProviderError::bad("the provider answered no probe request")));
    }

    let (tools, reason) = if native_total > 0 && native_passed == native_total {
        (ToolsMode::Native, String::new())
    } else {
        let why_not_native = if let Some(detail) = &refused {
            format!("the provider refused tools ({detail})")
        } else if !provider.supports_tools() {
            "this provider has no native tool calls; steps are schema-constrained JSON".to_string()
        } else if facts.tools == Some(false) {
            "the provider does not list tool support for this model".to_string()
        } else {
            format!("native tool calls: {native_passed} of {native_total} well-formed")
        };
        if base {
            (
                ToolsMode::Guided,
                "a base model (it brings no chat template): each step is made from short prompts of finished examples".to_string(),
            )
        } else if json_schema {
            (ToolsMode::JsonSteps, why_not_native)
        } else {
            (
                ToolsMode::Unusable,
                format!("{why_not_native}, and its JSON did not follow the schema"),
            )
        }
    };
    Ok(ModelProfile {
        provider: provider_name.to_string(),
        model: model.to_string(),
        verdict: verdict(tools, &reason),
        tools,
        reason,
        source: ProfileSource::Probe,
        native_cases_passed: (native_total > 0).then_some(native_passed),
        native_cases_total: (native_total > 0).then_some(native_total),
        json_schema: Some(json_schema),
        streaming,
        context_length: facts.context_length,
        prompt_tokens_per_sec: prompt_tps,
        generation_tokens_per_sec: gen_tps,
        cases,
        app_version: APP_VERSION.to_string(),
        probed_at: time::now(),
    })
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ensemble_llm::scripted::{Reply, ScriptedProvider};

    fn provider(replies: Vec<Reply>, tools: bool) -> ScriptedProvider {
        let p = ScriptedProvider::new("s", replies);
        if tools {
            p
        } else {
            p.without_tools()
        }
    }

    #[tokio::test]
    async fn a_model_that_calls_tools_well_is_native() {
        let p = provider(
            vec![
                Reply::tool_call("get_weather", json!({"city": "Paris"})),
                Reply::tool_call("add_numbers", json!({"a": 25, "b": 17})),
                Reply::tool_call("lookup_order", json!({"order_id": "A-1042"})),
                Reply::text("{\"city\": \"Lisbon\", \"temperature_c\": 21}"),
                Reply::text("The sea is wide. It is deep. It is blue."),
            ],
            true,
        );
        let got = probe(&p, "s", "m", &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(got.tools, ToolsMode::Native, "{:#?}", got.cases);
        assert_eq!(
            (got.native_cases_passed, got.native_cases_total),
            (Some(3), Some(3))
        );
        assert_eq!(got.json_schema, Some(true));
        assert_eq!(got.streaming, Some(true));
        assert_eq!(got.verdict, "tools: native");
        assert_eq!(got.cases.len(), 5);
    }

    #[tokio::test]
    async fn wrong_or_textual_calls_mean_json_steps_and_say_why() {
        let p = provider(
            vec![
                Reply::text("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}</tool_call>"),
                Reply::tool_call("add_numbers", json!({"a": "17", "b": 25})),
                Reply::tool_call("get_weather", json!({"city": "A-1042"})),
                Reply::text("{\"city\": \"Lisbon\", \"temperature_c\": 21}"),
                Reply::text("Waves."),
            ],
            true,
        );
        let got = probe(&p, "s", "m", &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(got.tools, ToolsMode::JsonSteps);
        assert_eq!(got.native_cases_passed, Some(0));
        assert!(
            got.cases[0].detail.contains("as text"),
            "{}",
            got.cases[0].detail
        );
        assert!(
            got.cases[1].detail.contains("schema"),
            "{}",
            got.cases[1].detail
        );
        assert!(
            got.cases[2].detail.contains("instead of lookup_order"),
            "{}",
            got.cases[2].detail
        );
        assert_eq!(got.reason, "native tool calls: 0 of 3 well-formed");
    }

    #[tokio::test]
    async fn a_refusal_of_tools_skips_the_other_cases_and_bad_json_is_unusable() {
        let p = provider(
            vec![
                Reply::Refuse(ProviderError::ToolsUnsupported {
                    model: "m".into(),
                    detail: "m does not support tools".into(),
                }),
                Reply::text("Lisbon is warm today."),
                Reply::text("The sea."),
            ],
            true,
        );
        let got = probe(&p, "s", "m", &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(got.tools, ToolsMode::Unusable);
        assert_eq!(got.cases.len(), 3);
        assert!(
            got.verdict
                .starts_with("not usable for agents: the provider refused tools"),
            "{}",
            got.verdict
        );
    }

    #[tokio::test]
    async fn a_provider_that_answers_no_request_gives_no_verdict() {
        let refuse = || Reply::Refuse(ProviderError::bad("HTTP 400: no task in the prompt"));
        let p = provider(vec![refuse(), refuse(), refuse(), refuse(), refuse()], true);
        let e = probe(&p, "s", "m", &CancellationToken::new())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no task in the prompt"), "{e}");
    }

    #[tokio::test]
    async fn without_native_tools_only_json_is_tried_and_an_unreachable_model_is_an_error() {
        let p = provider(
            vec![
                Reply::text("{\"city\": \"Lisbon\", \"temperature_c\": 21}"),
                Reply::text("The sea is blue."),
            ],
            false,
        );
        let got = probe(&p, "s", "m", &CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(got.tools, ToolsMode::JsonSteps);
        assert_eq!(got.native_cases_total, None);
        let p = provider(
            vec![Reply::Refuse(ProviderError::ModelNotFound {
                model: "m".into(),
            })],
            false,
        );
        assert!(matches!(
            probe(&p, "s", "m", &CancellationToken::new()).await,
            Err(ProviderError::ModelNotFound { .. })
        ));
    }
}
