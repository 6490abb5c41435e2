//! One ReAct step as structured output, for providers without native tool
//! calling (the embedded engine, small local models). The step schema lists
//! one alternative per allowed tool, each with that tool's own argument
//! schema, plus `finish`; grammar-constrained decoding (llama.cpp) or
//! Ollama's `format` then makes even a small model emit a well-formed step.
//! Whatever comes back is still parsed and validated here: a bad step is
//! reported back to the model, never executed.

use serde_json::{json, Value};

use crate::tools::ToolDef;

/// What the model decided in one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Act {
        thought: String,
        tool: String,
        arguments: Value,
        call_id: String,
    },
    Finish {
        thought: String,
        answer: String,
        confidence: Option<f64>,
    },
}

pub const FINISH: &str = "finish";

mod examples;

pub use self::examples::{example_arguments, example_messages, has_example};

/// The JSON schema of a step for these tools.
pub fn schema(tools: &[ToolDef]) -> Value {
    schema_with(tools, true)
}

/// The JSON schema of a step that must use one of these tools (no `finish`).
pub fn schema_without_finish(tools: &[ToolDef]) -> Value {
    schema_with(tools, false)
}

fn schema_with(tools: &[ToolDef], finish: bool) -> Value {
    let mut variants: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "type": "object",
                // The action first: a small model then decides what to do
                // before it talks itself into an answer.
                "properties": {
                    "action": { "const": t.name },
                    "arguments": bounded(&required_only(&t.parameters)),
                    "thought": { "type": "string", "maxLength": THOUGHT_MAX },
                },
                "required": ["thought", "action", "arguments"],
                "additionalProperties": false,
            })
        })
        .collect();
    if finish || variants.is_empty() {
        variants.push(finish_variant());
    }
    if variants.len() == 1 {
        return variants.remove(0);
    }
    json!({ "anyOf": variants })
}

/// Longest `thought` a step may carry, in characters.
pub const THOUGHT_MAX: u64 = 300;
/// Longest final `answer`.
pub const ANSWER_MAX: u64 = 1500;
/// Longest string argument whose tool sets no bound of its own.
pub const ARGUMENT_MAX: u64 = 1000;
/// llama.cpp's grammar builder fails on repetition bounds of about 2000 and
/// more, so no bound in a step schema goes above this.
const BOUND_CEILING: u64 = 1500;

/// A tool's argument schema with only its required arguments, when it has
/// any. Small models fill every optional field they are offered — a `body`
/// for a GET, junk on `stdin` — and the call then fails; the optional ones
/// keep their defaults. (`sql_query`'s optional `params` is also a schema
/// llama.cpp's grammar builder refuses.) The tool's own schema still checks
/// the arguments.
pub fn required_only(schema: &Value) -> Value {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return schema.clone();
    };
    if required.is_empty() {
        return schema.clone();
    }
    let mut out = schema.clone();
    let kept: serde_json::Map<String, Value> = props
        .iter()
        .filter(|(k, _)| required.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out["properties"] = Value::Object(kept);
    out["additionalProperties"] = Value::Bool(false);
    out
}

/// `schema` with every plain string bounded (`maxLength`): the step's
/// grammar then cannot let a model that repeats itself run on to the token
/// limit inside one argument. A tool's own bound is kept (up to the
/// grammar's ceiling); strings already limited otherwise (enum, const,
/// pattern, format) are left alone. The tool's own schema still checks the
/// arguments afterwards.
pub fn bounded(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len() + 1);
            for (k, v) in map {
                let v = match k.as_str() {
                    // Keywords whose values are schemas, or maps / lists of them.
                    "properties" | "patternProperties" | "$defs" | "definitions" => match v {
                        Value::Object(props) => Value::Object(
                            props.iter().map(|(n, s)| (n.clone(), bounded(s))).collect(),
                        ),
                        other => other.clone(),
                    },
                    "items" | "additionalProperties" | "not" | "contains" => bounded(v),
                    "anyOf" | "oneOf" | "allOf" | "prefixItems" => match v {
                        Value::Array(list) => Value::Array(list.iter().map(bounded).collect()),
                        other => other.clone(),
                    },
                    _ => v.clone(),
                };
                out.insert(k.clone(), v);
            }
            let plain_string = map.get("type").and_then(Value::as_str) == Some("string")
                && !["enum", "const", "pattern", "format"]
                    .iter()
                    .any(|k| map.contains_key(*k));
            if plain_string {
                let bound = map
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .unwrap_or(ARGUMENT_MAX)
                    .min(BOUND_CEILING);
                out.insert("maxLength".into(), json!(bound));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Tokens to allow for one JSON step under `schema`: its bounded strings
/// (at about three characters a token, JSON escapes included) plus room
/// for the structure, between 128 and 1024.
pub fn max_tokens(schema: &Value) -> u32 {
    let chars = longest_text(schema);
    u32::try_from(64 + chars / 3)
        .unwrap_or(u32::MAX)
        .clamp(128, 1024)
}

/// The most characters of string content an instance of `schema` can hold
/// (alternatives: the longest one; unbounded strings count ARGUMENT_MAX).
fn longest_text(schema: &Value) -> u64 {
    let Some(map) = schema.as_object() else {
        return 0;
    };
    if let Some(list) = map
        .get("anyOf")
        .or_else(|| map.get("oneOf"))
        .and_then(Value::as_array)
    {
        return list.iter().map(longest_text).max().unwrap_or(0);
    }
    let mut n = 0;
    if map.get("type").and_then(Value::as_str) == Some("string") {
        n += map
            .get("maxLength")
            .and_then(Value::as_u64)
            .unwrap_or(ARGUMENT_MAX)
            .min(BOUND_CEILING);
    }
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        n += props.values().map(|p| 8 + longest_text(p)).sum::<u64>();
    }
    if let Some(items) = map.get("items") {
        // Arrays: count a few items' worth.
        n += 4 * longest_text(items);
    }
    n
}

fn finish_variant() -> Value {
    json!({
        "type": "object",
        "properties": {
            "action": { "const": FINISH },
            // The answer before the thought: with the thought first the
            // default 270M model restated the task in it ("The program
            // printed 3.5 times 4.") and copied that into the answer (in
            // one run each, 1 of 8 arithmetic answers right instead of 2).
            "answer": { "type": "string", "maxLength": ANSWER_MAX },
            "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
            "thought": { "type": "string", "maxLength": THOUGHT_MAX },
        },
        "required": ["thought", "action", "answer", "confidence"],
        "additionalProperties": false,
    })
}

/// How the step format is explained to the model (with the schema enforced
/// anyway where the provider can). Small base models copy what they are
/// shown: shown `"thought": "<why>"` the default model wrote exactly that,
/// and shown an example call inline it ran the example's program instead of
/// the task's. So the format is described in words here, and shown as a
/// worked exchange on another task ([`example_messages`]) before the real one.
pub fn instructions(tools: &[ToolDef]) -> String {
    let mut s = String::from(
        "Work step by step. Reply to every turn with ONE JSON object and nothing else. \
         Its \"action\" is the name of a tool, with the tool's \"arguments\", or \"finish\", with your whole \
         \"answer\" to the task and a \"confidence\" from 0 to 1; its \"thought\" says why in a few words. \
         After a tool runs you get its result as an observation. When the task asks for a tool, use it before you finish, \
         and base the answer on its result.\n",
    );
    if tools.is_empty() {
        s.push_str("You have no tools: answer with action \"finish\".\n");
    } else {
        if tools.iter().any(|t| has_example(&t.name)) {
            s.push_str("Worked examples on other tasks come first; then comes yours.\n");
        }
        s.push_str("Tools:\n");
        for t in tools {
            s.push_str(&format!(
                "- {}: {} Arguments schema: {}\n",
                t.name,
                t.description,
                // The arguments the step schema asks for (as the grammar).
                required_only(&t.parameters)
            ));
        }
    }
    s
}

/// The observation a tool's result is given back as (JSON steps), with the
/// task said again after it: a small model answers from what it read last,
/// and with the task far above the observation it answered something else
/// (the address it fetched instead of the phone number on the page). With
/// the task just before the observation instead, the default 270M model
/// copied the example more (it remembered "the office opens at nine" for
/// a task that gave another fact).
pub fn observation_message(tool: &str, observation: &str, task: &str) -> String {
    if failed(observation) {
        return format!(
            "Observation from {tool}:\n{observation}\n\nThe task: {task}\nThe call failed, so there is no result yet: correct the arguments and call {tool} again."
        );
    }
    format!(
        "Observation from {tool}:\n{observation}\n\nThe task: {task}\nIf the observation answers it, reply with action \"finish\" and the answer taken from the observation; otherwise take the next step."
    )
}

/// Whether a tool's observation reports a failure: a tool error, or a
/// program that exited with another code than 0 or was killed (`code_run`
/// reports those as its result).
pub fn failed(observation: &str) -> bool {
    let first = observation.lines().next().unwrap_or("").trim();
    first.starts_with("Error:")
        || first.starts_with("killed")
        || first
            .strip_prefix("exit code ")
            .is_some_and(|code| code.trim() != "0")
}

/// Extracts the first JSON object from model text (models sometimes wrap it
/// in prose or a code fence).
pub fn extract_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    let start = t.find('{')?;
    // Scan for the matching brace, honouring strings and escapes.
    let bytes = t.as_bytes();
    let (mut depth, mut in_str, mut escape) = (0i32, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_str {
            match b {
                _ if escape => escape = false,
                b'\\' => escape = true,
                b'"' => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return serde_json::from_str(&t[start..=i]).ok();
                }
            }
            _ => {}
        }
    }
    None
}

/// The tool call at the start of a JSON step whose generation was stopped
/// before its end — because it began repeating itself in the `thought` that
/// follows the call (the schema puts the action and its arguments first).
/// The call itself is whole, so it is kept; nothing is made of a cut-off
/// `finish` or of arguments that did not close. On the default 270M model
/// 6 of the 32 competence tasks failed on such a loop (2026-12-03), some
/// after a whole query (`…FROM deskprice"},"thought":"The query ret…`).
pub fn salvage_call(text: &str, call_id: &str) -> Option<Step> {
    let at = text.find("\"arguments\"")?;
    let arguments = extract_json(&text[at + "\"arguments\"".len()..])?;
    if !arguments.is_object() {
        return None;
    }
    let head = &text[..at];
    let rest = &head[head.find("\"action\"")? + "\"action\"".len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let name = &rest[..rest.find('"')?];
    if name == FINISH {
        return None;
    }
    let whole = json!({
        "action": name,
        "arguments": arguments,
        "thought": "(the rest of this step was cut short)",
    });
    parse(&whole.to_string(), call_id).ok()
}

/// The http(s) addresses a text mentions, in order, each once (trailing
/// punctuation that closes a sentence or a bracket is not part of one).
pub fn addresses(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = ["http://", "https://"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || "\"'<>`()[]{}|\\^".contains(c))
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?']);
        if url.len() > "https://".len() && !out.iter().any(|u| u == url) {
            out.push(url.to_string());
        }
        rest = &tail[end.max(1)..];
    }
    out
}

/// Limits every `url` argument in a step schema to `known` addresses (those
/// of the task and of what the run has read so far). A small model does not
/// copy an address reliably: shown two examples on localhost:8080, the
/// default 270M model fetched `http://localhost:8080/team.html` for a task
/// that gave `http://127.0.0.1:38977/team.html`. Nothing changes when no
/// address is known, nor where the tool's schema already limits the value.
pub fn only_addresses(schema: &mut Value, known: &[String]) {
    if known.is_empty() {
        return;
    }
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(url)) =
                map.get_mut("properties").and_then(|p| p.get_mut("url"))
            {
                let plain = url.get("type").and_then(Value::as_str) == Some("string")
                    && !["enum", "const", "pattern"]
                        .iter()
                        .any(|k| url.contains_key(*k));
                if plain {
                    url.remove("maxLength");
                    url.insert("enum".into(), json!(known));
                }
            }
            for v in map.values_mut() {
                only_addresses(v, known);
            }
        }
        Value::Array(list) => {
            for v in list {
                only_addresses(v, known);
            }
        }
        _ => {}
    }
}

/// Why a model's reply is not a step. Said to the model so that it can fix
/// its step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// No JSON object in the reply (its first 200 characters are quoted).
    #[error("your reply is not a JSON object: {0:?}")]
    NotJson(String),
    #[error("your reply must be a JSON object")]
    NotAnObject,
    #[error("the step has no \"action\" (a tool name or \"finish\")")]
    NoAction,
    #[error("a \"finish\" step needs an \"answer\"")]
    NoAnswer,
}

/// Parses a JSON step.
pub fn parse(text: &str, call_id: &str) -> Result<Step, StepError> {
    let v =
        extract_json(text).ok_or_else(|| StepError::NotJson(text.chars().take(200).collect()))?;
    let obj = v.as_object().ok_or(StepError::NotAnObject)?;
    let thought = obj
        .get("thought")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let action = obj
        .get("action")
        .and_then(Value::as_str)
        .ok_or(StepError::NoAction)?
        .trim()
        .to_string();
    if action == FINISH {
        let answer = obj
            .get("answer")
            .and_then(|a| {
                a.as_str()
                    .map(str::to_string)
                    .or_else(|| (!a.is_null()).then(|| a.to_string()))
            })
            .ok_or(StepError::NoAnswer)?;
        let confidence = obj
            .get("confidence")
            .and_then(Value::as_f64)
            .map(|c| c.clamp(0.0, 1.0));
        return Ok(Step::Finish {
            thought,
            answer,
            confidence,
        });
    }
    let arguments = obj.get("arguments").cloned().unwrap_or_else(|| json!({}));
    Ok(Step::Act {
        thought,
        tool: action,
        arguments,
        call_id: call_id.to_string(),
    })
}

/// A tool call a model wrote as text instead of calling it natively:
/// Qwen / Hermes `<tool_call>{"name": …, "arguments": …}</tool_call>`,
/// Mistral `[TOOL_CALLS] [{…}]`, or a bare JSON object (fenced or not) that
/// names one of `tools` under `name`, `tool`, `action` or `function` with
/// its arguments under `arguments`, `parameters`, `args` or `input`
/// (arguments given as a JSON string are parsed). Only a known tool counts:
/// an answer that merely contains some JSON stays an answer.
pub fn text_tool_call(text: &str, tools: &[&str]) -> Option<(String, Value)> {
    let t = text.trim();
    let body = if let Some(start) = t.find("<tool_call>") {
        let rest = &t[start + "<tool_call>".len()..];
        rest.split("</tool_call>").next().unwrap_or(rest)
    } else if let Some(start) = t.find("[TOOL_CALLS]") {
        &t[start + "[TOOL_CALLS]".len()..]
    } else {
        t
    };
    let value = extract_json(body).or_else(|| {
        // `[{...}]`: the first call of a list.
        let start = body.find('[')?;
        serde_json::from_str::<Value>(body[start..].trim())
            .ok()?
            .as_array()?
            .first()
            .cloned()
    })?;
    let value = match value {
        Value::Array(list) => list.into_iter().next()?,
        v => v,
    };
    let obj = value.as_object()?;
    let (name, args) = if let Some(f) = obj.get("function").and_then(Value::as_object) {
        (
            f.get("name")?.as_str()?,
            f.get("arguments").or_else(|| f.get("parameters")),
        )
    } else {
        let name = ["name", "tool", "action", "function"]
            .iter()
            .find_map(|k| obj.get(*k).and_then(Value::as_str))?;
        let args = ["arguments", "parameters", "args", "input"]
            .iter()
            .find_map(|k| obj.get(*k));
        (name, args)
    };
    let name = name.trim();
    if !tools.contains(&name) {
        return None;
    }
    let args = match args {
        None => json!({}),
        Some(Value::String(s)) => serde_json::from_str(s).ok().filter(Value::is_object)?,
        Some(v) if v.is_object() => v.clone(),
        Some(_) => return None,
    };
    Some((name.to_string(), args))
}

/// The text a JSON step is replayed as in the conversation.
pub fn render(step: &Step) -> String {
    match step {
        Step::Act { thought, tool, arguments, .. } => {
            json!({ "action": tool, "arguments": arguments, "thought": thought }).to_string()
        }
        Step::Finish { thought, answer, confidence } => {
            json!({ "action": FINISH, "answer": answer, "confidence": confidence.unwrap_or(0.5), "thought": thought })
                .to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::ToolCategory;

    /// A tool with one string argument, `code`.
    pub(super) fn tool(name: &str) -> ToolDef {
        ToolDef {
            name: name.into(),
            description: "d".into(),
            parameters: json!({"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}),
            category: ToolCategory::Code,
            requires_approval: false,
            idempotent: true,
            unavailable: None,
        }
    }

    #[test]
    fn the_schema_has_one_alternative_per_tool_and_finish() {
        let s = schema(&[tool("code_run"), tool("web_fetch")]);
        let variants = s["anyOf"].as_array().unwrap();
        assert_eq!(variants.len(), 3);
        assert_eq!(variants[0]["properties"]["action"]["const"], "code_run");
        assert_eq!(
            variants[0]["properties"]["arguments"]["required"],
            json!(["code"])
        );
        assert_eq!(variants[2]["properties"]["action"]["const"], "finish");
        // The schema validates good steps and refuses bad ones.
        let v = jsonschema::validator_for(&s).unwrap();
        assert!(v.is_valid(
            &json!({"thought": "t", "action": "code_run", "arguments": {"code": "1+1"}})
        ));
        assert!(!v.is_valid(&json!({"thought": "t", "action": "code_run", "arguments": {}})));
        assert!(!v.is_valid(&json!({"thought": "t", "action": "rm_rf", "arguments": {}})));
        assert!(v.is_valid(
            &json!({"thought": "t", "action": "finish", "answer": "2", "confidence": 0.9})
        ));
    }

    #[test]
    fn a_step_offers_only_the_required_arguments() {
        let t = ToolDef {
            parameters: json!({"type": "object", "properties": {
                "url": {"type": "string"}, "body": {"type": ["string", "null"]}, "items": {"type": ["array", "null"], "items": true}
            }, "required": ["url"]}),
            ..tool("web")
        };
        let s = schema(&[t]);
        let args = &s["anyOf"][0]["properties"]["arguments"];
        assert_eq!(
            args["properties"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["url"]
        );
        assert_eq!(args["additionalProperties"], false);
        // A tool whose arguments are all optional keeps them all.
        let open = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        assert_eq!(required_only(&open), open);
    }

    #[test]
    fn strings_in_a_step_are_bounded_for_the_grammar() {
        let t = ToolDef {
            parameters: json!({"type": "object", "properties": {
                "code": {"type": "string"},
                "lang": {"type": "string", "enum": ["python"]},
                "note": {"type": "string", "maxLength": 20},
                "huge": {"type": "string", "maxLength": 100000},
                "tags": {"type": "array", "items": {"type": "string"}}
            }, "required": ["code", "lang", "note", "huge", "tags"]}),
            ..tool("t")
        };
        let s = schema(&[t]);
        let args = &s["anyOf"][0]["properties"]["arguments"]["properties"];
        assert_eq!(args["code"]["maxLength"], ARGUMENT_MAX);
        assert!(args["lang"].get("maxLength").is_none());
        assert_eq!(args["note"]["maxLength"], 20);
        assert_eq!(args["huge"]["maxLength"], 1500);
        assert_eq!(args["tags"]["items"]["maxLength"], ARGUMENT_MAX);
        assert_eq!(
            s["anyOf"][0]["properties"]["thought"]["maxLength"],
            THOUGHT_MAX
        );
        assert_eq!(
            s["anyOf"][1]["properties"]["answer"]["maxLength"],
            ANSWER_MAX
        );
        // The cap follows the bounds, within limits.
        let finish_only = schema(&[]);
        let n = max_tokens(&finish_only);
        assert!((500..=800).contains(&n), "{n}");
        assert_eq!(max_tokens(&json!({"type": "object"})), 128);
    }

    #[test]
    fn url_arguments_are_limited_to_the_addresses_the_run_was_given() {
        assert_eq!(
            addresses("Read http://127.0.0.1:81/a.html. Then (https://x.org/b?q=1), http://127.0.0.1:81/a.html"),
            vec!["http://127.0.0.1:81/a.html", "https://x.org/b?q=1"]
        );
        assert!(addresses("no address, just http:// alone").is_empty());
        let web = ToolDef {
            name: "web_fetch".into(),
            parameters: json!({"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}),
            ..tool("x")
        };
        let mut s = schema(std::slice::from_ref(&web));
        only_addresses(&mut s, &["http://127.0.0.1:81/a.html".into()]);
        let v = jsonschema::validator_for(&s).unwrap();
        let call =
            |url: &str| json!({"action": "web_fetch", "arguments": {"url": url}, "thought": "t"});
        assert!(v.is_valid(&call("http://127.0.0.1:81/a.html")));
        assert!(!v.is_valid(&call("http://localhost:8080/a.html")));
        // No address known: unchanged.
        let mut free = schema(std::slice::from_ref(&web));
        only_addresses(&mut free, &[]);
        assert_eq!(free, schema(std::slice::from_ref(&web)));
    }

    #[test]
    fn a_whole_call_is_kept_from_a_step_cut_short_in_its_thought() {
        let cut = r#"{"action":"sql_query","arguments":{"database":"shop","query":"SELECT count(*) FROM products"},"thought":"The query returned 5. The query returned 5. The query ret"#;
        match salvage_call(cut, "c1") {
            Some(Step::Act {
                tool,
                arguments,
                call_id,
                ..
            }) => {
                assert_eq!(tool, "sql_query");
                assert_eq!(arguments["query"], "SELECT count(*) FROM products");
                assert_eq!(call_id, "c1");
            }
            other => panic!("{other:?}"),
        }
        // Arguments that never closed, a cut-off finish, no call at all.
        assert!(salvage_call(
            r#"{"action":"sql_query","arguments":{"query":"SELECT a, a, a"#,
            "c"
        )
        .is_none());
        assert!(
            salvage_call(r#"{"action":"finish","answer":"x x x","arguments":{}"#, "c").is_none()
        );
        assert!(salvage_call("The query returned", "c").is_none());
    }

    #[test]
    fn tool_calls_written_as_text_are_recognised_only_for_known_tools() {
        let tools = ["get_weather", "code_run"];
        let qwen = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        assert_eq!(
            text_tool_call(qwen, &tools),
            Some(("get_weather".into(), json!({"city": "Paris"})))
        );
        let bare =
            "```json\n{\"name\": \"code_run\", \"parameters\": {\"code\": \"print(1)\"}}\n```";
        assert_eq!(
            text_tool_call(bare, &tools).map(|c| c.1),
            Some(json!({"code": "print(1)"}))
        );
        let openai = r#"{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}"#;
        assert_eq!(
            text_tool_call(openai, &tools).map(|c| c.1),
            Some(json!({"city": "Oslo"}))
        );
        let mistral = r#"[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Rome"}}]"#;
        assert_eq!(
            text_tool_call(mistral, &tools).map(|c| c.1),
            Some(json!({"city": "Rome"}))
        );
        // Not a tool call: an unknown name, JSON that is the answer, prose.
        assert_eq!(
            text_tool_call(r#"{"name": "delete_all", "arguments": {}}"#, &tools),
            None
        );
        assert_eq!(
            text_tool_call(r#"{"name": "Ada", "age": 36}"#, &tools),
            None
        );
        assert_eq!(text_tool_call("It is sunny in Paris.", &tools), None);
        assert_eq!(
            text_tool_call(r#"{"name": "code_run", "arguments": 5}"#, &tools),
            None
        );
    }

    #[test]
    fn steps_parse_from_json_even_inside_prose() {
        let s = parse("Sure! ```json\n{\"thought\": \"sum\", \"action\": \"code_run\", \"arguments\": {\"code\": \"print({1})\"}}\n```", "c1").unwrap();
        assert_eq!(
            s,
            Step::Act {
                thought: "sum".into(),
                tool: "code_run".into(),
                arguments: json!({"code": "print({1})"}),
                call_id: "c1".into()
            }
        );
        let f = parse(
            "{\"thought\":\"done\",\"action\":\"finish\",\"answer\":\"42\",\"confidence\":1.5}",
            "c2",
        )
        .unwrap();
        assert_eq!(
            f,
            Step::Finish {
                thought: "done".into(),
                answer: "42".into(),
                confidence: Some(1.0)
            }
        );
        assert!(parse("no json here", "c3")
            .unwrap_err()
            .to_string()
            .contains("not a JSON object"));
        assert!(parse("{\"thought\": \"x\"}", "c4")
            .unwrap_err()
            .to_string()
            .contains("no \"action\""));
        assert!(parse("{\"action\": \"finish\"}", "c5")
            .unwrap_err()
            .to_string()
            .contains("needs an \"answer\""));
    }
}
