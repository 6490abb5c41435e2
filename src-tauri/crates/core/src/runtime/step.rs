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
                    "arguments": t.parameters,
                    "thought": { "type": "string" },
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

fn finish_variant() -> Value {
    json!({
        "type": "object",
        "properties": {
            "action": { "const": FINISH },
            "answer": { "type": "string" },
            "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
            "thought": { "type": "string" },
        },
        "required": ["thought", "action", "answer", "confidence"],
        "additionalProperties": false,
    })
}

/// How the step format is explained to the model (with the schema enforced
/// anyway where the provider can).
pub fn instructions(tools: &[ToolDef]) -> String {
    let mut s = String::from(
        "Work step by step. Answer every turn with ONE JSON object and nothing else:\n\
         - to use a tool: {\"action\": \"<tool name>\", \"arguments\": {…}, \"thought\": \"<why this tool>\"}\n\
         - when you have the final answer: {\"action\": \"finish\", \"answer\": ANSWER, \"confidence\": <0.0-1.0>, \"thought\": \"<why>\"}\n\
         where ANSWER is a JSON string holding your whole answer to the task itself, written out in full.\n\
         After a tool runs you get its result as an observation. When the task asks for a tool, use it before you finish, \
         and base the answer on its result.\n",
    );
    if tools.is_empty() {
        s.push_str("You have no tools: answer with action \"finish\".\n");
    } else {
        s.push_str("Tools:\n");
        for t in tools {
            s.push_str(&format!(
                "- {}: {} Arguments schema: {}\n",
                t.name, t.description, t.parameters
            ));
        }
    }
    s
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

/// Parses a JSON step. Errors are phrased for the model to fix its step.
pub fn parse(text: &str, call_id: &str) -> Result<Step, String> {
    let v = extract_json(text).ok_or_else(|| {
        let shown: String = text.chars().take(200).collect();
        format!("your reply is not a JSON object: {shown:?}")
    })?;
    let obj = v.as_object().ok_or("your reply must be a JSON object")?;
    let thought = obj
        .get("thought")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let action = obj
        .get("action")
        .and_then(Value::as_str)
        .ok_or("the step has no \"action\" (a tool name or \"finish\")")?
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
            .ok_or("a \"finish\" step needs an \"answer\"")?;
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

/// The text a JSON step is replayed as in the conversation.
pub fn render(step: &Step) -> String {
    match step {
        Step::Act { thought, tool, arguments, .. } => {
            json!({ "thought": thought, "action": tool, "arguments": arguments }).to_string()
        }
        Step::Finish { thought, answer, confidence } => {
            json!({ "thought": thought, "action": FINISH, "answer": answer, "confidence": confidence.unwrap_or(0.5) })
                .to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::ToolCategory;

    fn tool(name: &str) -> ToolDef {
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
            .contains("not a JSON object"));
        assert!(parse("{\"thought\": \"x\"}", "c4")
            .unwrap_err()
            .contains("no \"action\""));
        assert!(parse("{\"action\": \"finish\"}", "c5")
            .unwrap_err()
            .contains("needs an \"answer\""));
    }
}
