//! The worked examples a small model in JSON steps is shown before its task:
//! one finished exchange per built-in tool (and a two-step one), the closest
//! to the task chosen, and made-up arguments for a tool without one.

use serde_json::{json, Value};

use crate::tools::ToolDef;

use super::{observation_message, FINISH};

/// A worked example: a task, the calls it takes (tool, arguments, thought,
/// what the tool answered), and the final answer.
struct Worked {
    task: &'static str,
    calls: &'static [Call],
    answer: &'static str,
    because: &'static str,
}

struct Call {
    tool: &'static str,
    /// The arguments as JSON text (parsed when the example is shown).
    arguments: &'static str,
    thought: &'static str,
    observation: &'static str,
}

/// The worked examples of the built-in tools. Each takes what its calls
/// need from the task's own words (the numbers, the address, the fact), so
/// that is what a model copies; the two-step one shows a result carried
/// from one tool to the next. None of them is a task of the competence
/// benchmark.
const WORKED: &[Worked] = &[
    Worked {
        task: "What is 6 times 7? Use code_run to run the program `print(6 * 7)`, then give the result.",
        calls: &[Call {
            tool: "code_run",
            arguments: r#"{"language": "python", "code": "print(6 * 7)"}"#,
            thought: "I compute 6 times 7 with Python.",
            observation: "exit code 0\nstdout:\n42\n",
        }],
        answer: "6 times 7 is 42.",
        because: "The program printed 42.",
    },
    Worked {
        task: "How many invoices are in the sales database? Use sql_query.",
        calls: &[Call {
            tool: "sql_query",
            arguments: r#"{"database": "sales", "query": "SELECT count(*) FROM invoices"}"#,
            thought: "I count the rows of the invoices table.",
            observation: "count(*)\n12",
        }],
        answer: "There are 12 invoices.",
        because: "The query returned 12.",
    },
    Worked {
        task: "How much is the soup? Read http://localhost:8080/menu.html with web_fetch.",
        calls: &[Call {
            tool: "web_fetch",
            arguments: r#"{"url": "http://localhost:8080/menu.html"}"#,
            thought: "The menu page has the prices.",
            observation: "Menu\nTomato soup: 4 euros. Bread: 2 euros.",
        }],
        answer: "The soup is 4 euros.",
        because: "The menu says tomato soup is 4 euros.",
    },
    Worked {
        task: "Fetch http://localhost:8080/sales.html with web_fetch, then add up the sales with code_run.",
        calls: &[
            Call {
                tool: "web_fetch",
                arguments: r#"{"url": "http://localhost:8080/sales.html"}"#,
                thought: "First I read the sales page.",
                observation: "Sales\nMonday: 12 cakes. Tuesday: 30 cakes.",
            },
            Call {
                tool: "code_run",
                arguments: r#"{"language": "python", "code": "print(12 + 30)"}"#,
                thought: "Now I add the numbers from the page with Python.",
                observation: "exit code 0\nstdout:\n42\n",
            },
        ],
        answer: "The sales add up to 42 cakes.",
        because: "The program printed 42.",
    },
    Worked {
        task: "Remember this for the team with the remember tool: the office opens at nine.",
        calls: &[Call {
            tool: "remember",
            arguments: r#"{"content": "The office opens at nine."}"#,
            thought: "I save the fact for the team.",
            observation: "Remembered.",
        }],
        answer: "Noted: the office opens at nine.",
        because: "The fact is saved.",
    },
];

/// One worked example comes before a task, the closest. Measured on the
/// default 270M model: with three (the closest last) it no longer copied a
/// program the task spelled out — `print(sum(range(1, 101)))` came back
/// without its last parenthesis, twice, failing the e2e approvals journey —
/// and the competence suite did not get better (10 to 12 of 32 right in
/// five runs, the same spread as with one).
fn args(call: &Call) -> Value {
    serde_json::from_str(call.arguments).unwrap_or(Value::Null)
}

/// The worked example for an agent with `tools` on a task that requires
/// `required`: of those whose calls use only the agent's tools, the one
/// that uses the most of the required tools, then the fewest others;
/// between equals, the first listed.
fn closest_example(tools: &[&str], required: &[&str]) -> Option<&'static Worked> {
    let score = |w: &Worked| {
        let mut used: Vec<&str> = w.calls.iter().map(|c| c.tool).collect();
        used.sort_unstable();
        used.dedup();
        let hits = used.iter().filter(|t| required.contains(t)).count();
        (hits, std::cmp::Reverse(used.len() - hits))
    };
    WORKED
        .iter()
        .filter(|w| w.calls.iter().all(|c| tools.contains(&c.tool)))
        // max_by_key keeps the last of equals: go through the list backwards.
        .rev()
        .max_by_key(|w| score(w))
}

/// A worked exchange on another task, shown before the real one in JSON
/// steps (see [`closest_example`]): the task, its calls with their
/// observations, and the answer. A small model learns the format from it
/// and — the example being about something else — takes the content from
/// its own task. None for an agent without built-in tools.
pub fn example_messages(
    tools: &[ToolDef],
    required: &[String],
) -> Vec<crate::providers::ModelMessage> {
    use crate::providers::ModelMessage;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let required: Vec<&str> = required.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    // Without a tool the grammar leaves nothing to choose but the answer
    // itself, and an example answer only got copied: no example then.
    if let Some(w) = closest_example(&names, &required) {
        out.push(ModelMessage::user(format!(
            "Task (an example): {}\n",
            w.task
        )));
        for c in w.calls {
            out.push(ModelMessage::assistant(
                json!({"action": c.tool, "arguments": args(c), "thought": c.thought}).to_string(),
            ));
            out.push(ModelMessage::user(observation_message(
                c.tool,
                c.observation,
                w.task,
            )));
        }
        out.push(ModelMessage::assistant(
            json!({"action": FINISH, "answer": w.answer, "confidence": 0.9, "thought": w.because})
                .to_string(),
        ));
    }
    out
}

/// Whether a tool has a worked example.
pub fn has_example(tool: &str) -> bool {
    WORKED
        .iter()
        .any(|w| w.calls.iter().any(|c| c.tool == tool))
}

/// Arguments for the example step of a tool: a plausible call of the
/// built-in tools, otherwise values made up from the schema.
pub fn example_arguments(tool: &ToolDef) -> Value {
    WORKED
        .iter()
        .flat_map(|w| w.calls.iter())
        .find(|c| c.tool == tool.name)
        .map(args)
        .unwrap_or_else(|| example_value(&tool.parameters, 0))
}

/// A value of `schema` made up for an example: its own example or default
/// where it has one, the first choice of an enum, else a short value of the
/// type.
fn example_value(schema: &Value, depth: usize) -> Value {
    let Some(map) = schema.as_object() else {
        return json!("example");
    };
    for key in ["examples", "default", "const"] {
        if let Some(v) = map.get(key) {
            return match v {
                Value::Array(list) if key == "examples" => {
                    list.first().cloned().unwrap_or(Value::Null)
                }
                other => other.clone(),
            };
        }
    }
    if let Some(first) = map
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
    {
        return first.clone();
    }
    if depth > 4 {
        return Value::Null;
    }
    match map.get("type").and_then(Value::as_str) {
        Some("object") => {
            let required: Vec<&str> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = serde_json::Map::new();
            if let Some(props) = map.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if required.is_empty() || required.contains(&name.as_str()) {
                        out.insert(name.clone(), example_value(prop, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
        Some("array") => json!([example_value(
            map.get("items").unwrap_or(&Value::Null),
            depth + 1
        )]),
        Some("integer") => json!(3),
        Some("number") => json!(2.5),
        Some("boolean") => json!(true),
        Some("null") => Value::Null,
        _ => json!("example"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::tool;
    use super::super::*;
    use super::*;

    #[test]
    fn the_format_is_shown_as_a_worked_exchange_not_placeholders() {
        let code = ToolDef {
            name: "code_run".into(),
            ..tool("x")
        };
        let text = instructions(std::slice::from_ref(&code));
        assert!(!text.contains('<'), "{text}");
        assert!(text.contains("- code_run: d"), "{text}");
        let ex = example_messages(std::slice::from_ref(&code), &["code_run".into()]);
        assert_eq!(ex.len(), 4);
        assert!(ex[0]
            .content
            .starts_with("Task (an example): What is 6 times 7?"));
        let call: Value = serde_json::from_str(&ex[1].content).unwrap();
        assert_eq!(call["arguments"]["code"], "print(6 * 7)");
        assert!(ex[2].content.starts_with("Observation from code_run:"));
        let done: Value = serde_json::from_str(&ex[3].content).unwrap();
        assert_eq!(done["action"], "finish");
        // Every step of every example is valid under the step schema of
        // the built-in tools (with their real argument schemas, the runtime
        // names sql_query's databases; here any string does).
        use crate::tools::{code, collab, sql, web, Tool};
        let mut builtin: Vec<ToolDef> = vec![
            code::CodeRun::new(code::Isolation::Unavailable {
                reason: "test".into(),
            })
            .def(),
            web::WebFetch::new().def(),
            sql::SqlQuery::new().def(),
        ];
        builtin.extend(collab::all().iter().map(|t| t.def()));
        let v = jsonschema::validator_for(&schema(&builtin)).unwrap();
        let names: Vec<String> = builtin.iter().map(|t| t.name.clone()).collect();
        for required in [
            vec![],
            names.clone(),
            vec!["web_fetch".into(), "code_run".into()],
        ] {
            let ex = example_messages(&builtin, &required);
            assert_eq!(ex.len() % 2, 0);
            for m in ex
                .iter()
                .filter(|m| m.role == crate::providers::Role::Assistant)
            {
                let step: Value = serde_json::from_str(&m.content).unwrap();
                assert!(v.is_valid(&step), "{step}");
            }
        }
        // An agent with web_fetch and code_run on a task that needs both
        // sees the two-step example; on a task that needs one, that one's.
        let two: Vec<ToolDef> = builtin
            .iter()
            .filter(|t| t.name == "web_fetch" || t.name == "code_run")
            .cloned()
            .collect();
        let first_task = |required: &[String]| {
            example_messages(&two, required)[0]
                .content
                .trim_start_matches("Task (an example): ")
                .to_string()
        };
        assert!(first_task(&["web_fetch".into(), "code_run".into()])
            .starts_with("Fetch http://localhost:8080/sales.html"));
        assert!(first_task(&["web_fetch".into()]).starts_with("How much is the soup?"));
        assert!(first_task(&[]).starts_with("What is 6 times 7?"));
        // No example for an unknown tool, nor without tools.
        assert!(example_messages(&[tool("mcp__thing")], &[]).is_empty());
        assert!(example_messages(&[], &[]).is_empty());
        // A failed call is said to be one.
        assert!(failed("exit code 1\nstderr:\nSyntaxError"));
        assert!(failed("Error: refused"));
        assert!(!failed("exit code 0\nstdout:\n42\n"));
        assert!(
            observation_message("code_run", "exit code 1\n", "t").contains("call code_run again")
        );
        assert!(instructions(&[]).contains("no tools"));
        let made_up = example_arguments(&ToolDef {
            parameters: json!({"type": "object", "properties": {
                "n": {"type": "integer"}, "mode": {"enum": ["fast", "slow"]}, "opt": {"type": "string"}
            }, "required": ["n", "mode"]}),
            ..tool("mcp__thing")
        });
        assert_eq!(made_up, json!({"n": 3, "mode": "fast"}));
    }
}
