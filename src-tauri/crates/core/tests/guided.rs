//! Guided steps on a base model, with a scripted model that plays one (no
//! chat template; raw prompts and grammars) and answers each frame as a
//! model would continue it. What is checked is the runtime's side: which
//! frame each step asks, what the run does with the continuation, and that
//! the result lands in the task — through the real tools (`sql_query` on a
//! SQLite file, `web_fetch` on a local page, `code_run` in its sandbox,
//! `remember`). The same runtime on the real default model is measured by
//! the competence benchmark and exercised by `tests/agent_real_model.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/orch.rs"]
mod orch;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::providers::{ChatRequest, FinishReason, StreamEvent};
use ensemble_core::runs;
use ensemble_core::settings::{SettingsPatch, SqlDatabase};
use ensemble_core::tasks::TaskStatus;
use ensemble_llm::scripted::{Reply, ScriptedProvider, Step};
use orch::Env;
use serde_json::json;

const LONG: Duration = Duration::from_secs(30);

/// What the frame a raw prompt ends with asks for.
fn frame(req: &ChatRequest) -> &'static str {
    let p = req.raw_prompt.as_deref().unwrap_or("");
    if p.ends_with("Program: print(") {
        "program"
    } else if p.ends_with("SQL: SELECT") {
        "query"
    } else if p.ends_with("\nAnswer:") {
        "answer"
    } else if p.ends_with("\nFact:") {
        "fact"
    } else if p.ends_with("\nFirst:") {
        "choose"
    } else if p.ends_with("\n\nAssistant:") {
        "direct"
    } else if req.raw_prompt.is_none() {
        "json"
    } else {
        "unknown"
    }
}

fn agent(env: &Env, name: &str, tools: &[&str]) -> String {
    env.core
        .agents()
        .create(AgentInput {
            name: Some(name.into()),
            system_prompt: Some(format!("You are {name}.")),
            allowed_tools: Some(tools.iter().map(|t| t.to_string()).collect()),
            autonomy: Some(Autonomy::Autopilot),
            ..Default::default()
        })
        .unwrap()
        .id
}

/// The steps of the task's newest run.
fn steps(env: &Env, task_id: &str) -> Vec<runs::RunStep> {
    env.core.runs().of_task(task_id).unwrap().remove(0).steps
}

fn shop(dir: &std::path::Path) -> String {
    let path = dir.join("shop.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL);
         CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
         INSERT INTO products VALUES (1,'Lamp',24.5),(2,'Desk',180.0);
         INSERT INTO customers VALUES (1,'Ada','London');",
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_up_is_written_against_the_real_tables_and_answered_from_its_rows() {
    let seen: Arc<Mutex<Vec<ChatRequest>>> = Arc::default();
    let log = seen.clone();
    let model = ScriptedProvider::from_fn("scripted", move |req, _| {
        log.lock().unwrap().push(req.clone());
        match frame(req) {
            "query" => Reply::text(" price FROM products WHERE name = 'Desk'\n"),
            "answer" => Reply::text(" The Desk costs 180 euros."),
            other => Reply::text(&format!("(unexpected {other} frame)")),
        }
    })
    .as_base_model();
    let mut env = Env::new(model);
    let db = shop(env.dir.path());
    env.set(SettingsPatch {
        sql_databases: Some(vec![SqlDatabase {
            name: "shop".into(),
            path: db,
        }]),
        ..Default::default()
    });
    let lib = agent(&env, "Lib", &["sql_query"]);
    let id = env.task_for(
        &lib,
        "What is the price of the Desk? Look it up with sql_query.",
    );
    env.start();
    let done = env.wait_final(std::slice::from_ref(&id), LONG).await;
    env.stop().await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    assert_eq!(done[0].output.as_deref(), Some("The Desk costs 180 euros."));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(frame).collect::<Vec<_>>(),
        ["query", "answer"]
    );
    // The query frame lists the database's real tables and keeps the
    // grammar to the table the question names and the value it gives.
    let q = &seen[0];
    let prompt = q.raw_prompt.as_deref().unwrap();
    assert!(
        prompt.contains("Tables: customers(id, name, city); products(id, name, price)\nQuestion: What is the price of the Desk?\nSQL: SELECT"),
        "{prompt}"
    );
    let grammar = q.grammar.as_deref().unwrap();
    assert!(grammar.contains("table ::= \"products\"\n"), "{grammar}");
    assert!(grammar.contains("value ::= \"'Desk'\"\n"), "{grammar}");
    assert_eq!(q.temperature, Some(0.0));
    // The answer frame has the row, as `column: value`.
    let a = seen[1].raw_prompt.as_deref().unwrap();
    assert!(
        a.ends_with("Question: What is the price of the Desk?\nResult: price: 180\nAnswer:"),
        "{a}"
    );
    let st = steps(&env, &id);
    let call = st[0].action.as_ref().unwrap();
    assert_eq!(call.tool, "sql_query");
    assert_eq!(
        call.arguments,
        json!({"database": "shop", "query": "SELECT price FROM products WHERE name = 'Desk'"})
    );
    assert!(
        st[0].thought.starts_with("Guided step: sql_query"),
        "{}",
        st[0].thought
    );
    assert!(st[1].is_final);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_program_is_corrected_with_its_error_in_view_and_never_repeated_word_for_word() {
    let seen: Arc<Mutex<Vec<ChatRequest>>> = Arc::default();
    let log = seen.clone();
    let programs = Arc::new(Mutex::new(0usize));
    let model = ScriptedProvider::from_fn("scripted", move |req, _| {
        log.lock().unwrap().push(req.clone());
        match frame(req) {
            "program" => {
                let mut n = programs.lock().unwrap();
                *n += 1;
                match *n {
                    // A name that does not exist, then the same line again
                    // (drawn again), then a working one.
                    1 | 2 => Reply::text("len(word))\n"),
                    _ => Reply::text("len('encyclopedia'))\n"),
                }
            }
            "answer" => Reply::text(" The word has 12 letters."),
            other => Reply::text(&format!("(unexpected {other} frame)")),
        }
    })
    .as_base_model();
    let mut env = Env::new(model);
    let calc = agent(&env, "Calc", &["code_run"]);
    let id = env.task_for(
        &calc,
        "How many letters does the word 'encyclopedia' have? Count them with code_run.",
    );
    env.start();
    let done = env.wait_final(std::slice::from_ref(&id), LONG).await;
    env.stop().await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    assert_eq!(done[0].output.as_deref(), Some("The word has 12 letters."));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(frame).collect::<Vec<_>>(),
        ["program", "program", "program", "answer"]
    );
    // First greedy under the Python grammar; the correction shows the
    // failed line and its error, and is drawn warm with a seed — a second
    // time, with another seed, when it came back word for word.
    assert_eq!(seen[0].temperature, Some(0.0));
    assert!(seen[0].grammar.as_deref().unwrap().contains("fname ::="));
    let fix = seen[1].raw_prompt.as_deref().unwrap();
    assert!(
        fix.ends_with("Program: print(len(word))\nError: NameError: name 'word' is not defined\nProgram: print("),
        "{fix}"
    );
    assert!(seen[1].temperature.unwrap() > 0.5);
    assert!(seen[1].seed.is_some() && seen[2].seed.is_some());
    assert_ne!(seen[1].seed, seen[2].seed);
    let st = steps(&env, &id);
    let codes: Vec<String> = st
        .iter()
        .filter_map(|s| s.action.as_ref())
        .map(|a| a.arguments["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes, ["print(len(word))", "print(len('encyclopedia'))"]);
    assert!(st[0]
        .observation
        .as_deref()
        .unwrap()
        .starts_with("exit code 1"));
    assert!(
        seen[3]
            .raw_prompt
            .as_deref()
            .unwrap()
            .contains("\nResult: 12\nAnswer:"),
        "the answer frame has the program's output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_read_from_the_address_given_then_computed_on_with_its_data_first() {
    // A page served on loopback, allowed for web_fetch.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let body = "<html><body><h1>Prices</h1><ul><li>Bread: 3 euros</li><li>Cake: 12 euros</li></ul></body></html>";
                let _ = sock
                    .write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes())
                    .await;
            });
        }
    });
    let seen: Arc<Mutex<Vec<ChatRequest>>> = Arc::default();
    let log = seen.clone();
    let model = ScriptedProvider::from_fn("scripted", move |req, _| {
        log.lock().unwrap().push(req.clone());
        match frame(req) {
            "program" => Reply::text("3 + 12)\n"),
            "answer" => Reply::text(" The total is 15 euros."),
            other => Reply::text(&format!("(unexpected {other} frame)")),
        }
    })
    .as_base_model();
    let mut env = Env::new(model);
    env.set(SettingsPatch {
        web_fetch_allow_list: Some(vec![format!("127.0.0.1:{port}")]),
        ..Default::default()
    });
    let ana = agent(&env, "Ana", &["web_fetch", "code_run"]);
    let url = format!("http://127.0.0.1:{port}/prices.html");
    let id = env.task_for(
        &ana,
        &format!("Fetch {url} with web_fetch, then add up the prices with code_run."),
    );
    env.start();
    let done = env.wait_final(std::slice::from_ref(&id), LONG).await;
    env.stop().await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    assert_eq!(done[0].output.as_deref(), Some("The total is 15 euros."));
    let st = steps(&env, &id);
    let calls: Vec<(String, serde_json::Value)> = st
        .iter()
        .filter_map(|s| s.action.as_ref())
        .map(|a| (a.tool.clone(), a.arguments.clone()))
        .collect();
    // The address is the task's own (no model was asked for it), in the
    // order the task names the tools.
    assert_eq!(calls[0], ("web_fetch".to_string(), json!({"url": url})));
    assert_eq!(calls[1].0, "code_run");
    assert_eq!(calls[1].1["code"], "print(3 + 12)");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(frame).collect::<Vec<_>>(),
        ["program", "answer"]
    );
    let p = seen[0].raw_prompt.as_deref().unwrap();
    // The page as plain sentences before the task; the task without the
    // fetch clause and the tool names.
    assert!(
        p.ends_with("Data: Prices. Bread: 3 euros. Cake: 12 euros.\nTask: Add up the prices.\nProgram: print("),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_is_kept_then_recalled_in_the_chat_frame_with_the_team_notes() {
    let seen: Arc<Mutex<Vec<ChatRequest>>> = Arc::default();
    let log = seen.clone();
    let model = ScriptedProvider::from_fn("scripted", move |req, _| {
        log.lock().unwrap().push(req.clone());
        match frame(req) {
            "fact" => Reply::text(" The client's name is Ada Lovelace.\n"),
            "direct" => Reply::text(" Ada Lovelace.\nUser: and"),
            other => Reply::text(&format!("(unexpected {other} frame)")),
        }
    })
    .as_base_model();
    let mut env = Env::new(model);
    let keeper = agent(&env, "Keeper", &["remember"]);
    let sage = agent(&env, "Sage", &[]);
    let keep = env.task_for(&keeper, "Remember this fact for the team with the remember tool: the client's name is Ada Lovelace.");
    env.start();
    env.wait_final(std::slice::from_ref(&keep), LONG).await;
    let ask = env.task_for(&sage, "What is the client's name?");
    let done = env.wait_final(&[keep.clone(), ask.clone()], LONG).await;
    env.stop().await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    assert_eq!(done[1].status, TaskStatus::Completed, "{:?}", done[1].error);
    let memory = env.core.memory().team(None, 10).unwrap();
    assert_eq!(memory[0].content, "The client's name is Ada Lovelace.");
    // The chat frame's stop strings end the answer at the next turn.
    assert_eq!(done[1].output.as_deref(), Some("Ada Lovelace."));
    let seen = seen.lock().unwrap().clone();
    let direct = seen.iter().find(|r| frame(r) == "direct").unwrap();
    let p = direct.raw_prompt.as_deref().unwrap();
    assert!(
        p.starts_with("You are Sage.\n\nThe following is a conversation"),
        "{p}"
    );
    assert!(
        p.ends_with(
            "User: The client's name is Ada Lovelace.\nWhat is the client's name?\n\nAssistant:"
        ),
        "{p}"
    );
    assert!(direct.stop.iter().any(|s| s == "\nUser:"));
    assert!(direct.grammar.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_chooses_only_where_the_task_names_no_tool_and_a_tool_without_a_frame_gets_a_json_step(
) {
    let seen: Arc<Mutex<Vec<ChatRequest>>> = Arc::default();
    let log = seen.clone();
    let model = ScriptedProvider::from_fn("scripted", move |req, _| {
        log.lock().unwrap().push(req.clone());
        match frame(req) {
            "choose" => Reply::text(" test_append\n"),
            "json" => Reply::text(
                &json!({"action": "test_append", "arguments": {"file": "out.txt", "line": "hello"}, "thought": "t"})
                    .to_string(),
            ),
            "answer" => Reply::text(" Appended hello."),
            other => Reply::text(&format!("(unexpected {other} frame)")),
        }
    })
    .as_base_model();
    let mut env = Env::new(model);
    let doer = agent(&env, "Doer", &["test_append"]);
    let id = env.task_for(&doer, "Put hello in the file.");
    env.start();
    let done = env.wait_final(std::slice::from_ref(&id), LONG).await;
    env.stop().await;
    assert_eq!(done[0].status, TaskStatus::Completed, "{:?}", done[0].error);
    assert_eq!(done[0].output.as_deref(), Some("Appended hello."));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(frame).collect::<Vec<_>>(),
        ["choose", "json", "answer"]
    );
    // The choice is a grammar over the tools and "answer".
    let g = seen[0].grammar.as_deref().unwrap();
    assert!(g.contains("\"answer\" | \"test_append\""), "{g}");
    // The JSON step must call that tool: no `finish` in its schema.
    let schema = seen[1].json_schema.as_ref().unwrap().to_string();
    assert!(
        schema.contains("test_append") && !schema.contains("finish"),
        "{schema}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_loops_is_drawn_once_more_then_the_task_fails_with_the_reason() {
    let seen: Arc<Mutex<Vec<ChatRequest>>> = Arc::default();
    let log = seen.clone();
    let model = ScriptedProvider::from_fn("scripted", move |req, _| {
        log.lock().unwrap().push(req.clone());
        Reply::Steps(vec![
            Step::Event(StreamEvent::Delta("again and again and again".into())),
            Step::Event(StreamEvent::Finish(FinishReason::Repetition)),
        ])
    })
    .as_base_model();
    let mut env = Env::new(model);
    let sage = agent(&env, "Sage", &[]);
    let id = env.task_for(&sage, "Say something.");
    env.start();
    let done = env.wait_final(std::slice::from_ref(&id), LONG).await;
    env.stop().await;
    assert_eq!(done[0].status, TaskStatus::Failed);
    let error = done[0].error.clone().unwrap();
    assert!(error.contains("kept repeating itself, twice"), "{error}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].seed, None);
    assert!(seen[1].seed.is_some() && seen[1].temperature.unwrap() > 0.0);
}
