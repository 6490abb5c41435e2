//! A crew on the real embedded model (Gemma 3 270M, installed by `make
//! test`): a two-member sequential crew run through `ensemble crews run
//! --follow` completes; each member's work is a schema-valid structured
//! step of the model; the first member's output is handed to the second;
//! and every message of the run is stored (and was printed as the timeline).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/model.rs"]
mod model;

use std::process::Command;
use std::time::Instant;

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::crews::run::{CrewRunStatus, StopReason};
use ensemble_core::crews::{CrewInput, MemberInput, Process};
use ensemble_core::messages::MessageKind;
use ensemble_core::tasks::{TaskFilter, TaskStatus};
use ensemble_core::{Core, Paging};
use model::data_dir_with_model;

fn member(core: &Core, name: &str, prompt: &str) -> String {
    core.agents()
        .create(AgentInput {
            name: Some(name.into()),
            role: Some(name.to_lowercase()),
            system_prompt: Some(prompt.into()),
            provider: Some("embedded".into()),
            autonomy: Some(Autonomy::Autopilot),
            allowed_tools: Some(vec![]),
            max_steps: Some(3),
            // Greedy decoding: the same short structured answer on every run.
            temperature: Some(0.0),
            ..Default::default()
        })
        .unwrap()
        .id
}

/// Waits for the child's output, killing it after `limit`: a run that waits
/// for a human (an escalation) must fail this test, not hang it.
fn finish_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> std::process::Output {
    let end = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the crew run did not finish within {limit:?}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_sequential_crew_on_the_embedded_model_completes_with_every_message_stored() {
    let dir = data_dir_with_model();
    let core = Core::open(dir.path()).unwrap();
    let a = member(
        &core,
        "Namer",
        "You name things. Answer with one short name.",
    );
    let b = member(
        &core,
        "Tagliner",
        "You write one short tagline for the name you are given.",
    );
    let crew = core
        .crews()
        .create(CrewInput {
            name: Some("Bakery brand".into()),
            goal: Some("Name a bakery and give it a tagline".into()),
            process: Some(Process::Sequential),
            members: Some(vec![
                MemberInput {
                    agent_id: a.clone(),
                    role: Some("namer".into()),
                },
                MemberInput {
                    agent_id: b.clone(),
                    role: Some("tagline writer".into()),
                },
            ]),
            ..Default::default()
        })
        .unwrap();
    drop(core);

    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "crews",
            "run",
            &crew.id,
            "--input",
            "A small bakery in Lisbon",
            "--follow",
        ])
        // Nothing answers here: the members run on the embedded engine.
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("ENSEMBLE_NO_KEYRING", "1")
        .env_remove("DISPLAY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_within(child, std::time::Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}\n(took {:?})", started.elapsed());

    let core = Core::open(dir.path()).unwrap();
    let runs = core
        .crews()
        .list_runs(Some(&crew.id), Paging::default())
        .unwrap()
        .items;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, CrewRunStatus::Completed, "{:?}", run.error);
    assert_eq!(run.stop_reason, Some(StopReason::Completed));
    assert!(
        run.tokens_in > 0 && run.tokens_out > 0,
        "the model's tokens are counted"
    );

    // Each member's work: a completed task whose every step is the model's final structured step.
    let mut tasks = core
        .tasks()
        .list(
            &TaskFilter {
                crew_id: Some(crew.id.clone()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap()
        .items;
    tasks.sort_by_key(|x| x.created_at);
    assert_eq!(tasks.len(), 2);
    for (t, agent) in tasks.iter().zip([&a, &b]) {
        assert_eq!(t.status, TaskStatus::Completed, "{:?}", t.error);
        assert_eq!(t.assigned_agent_id.as_deref(), Some(agent.as_str()));
        let trace = core.runs().of_task(&t.id).unwrap().pop().unwrap();
        assert!(trace.steps.iter().any(|s| s.is_final), "{:?}", trace.steps);
        assert_eq!(trace.run.provider.as_deref(), Some("embedded"));
    }
    let first = tasks[0].output.clone().unwrap_or_default();
    assert!(
        tasks[1]
            .objective
            .split("produced this:\n---\n")
            .nth(1)
            .is_some_and(|rest| rest.trim_start().starts_with(first.trim())),
        "the second member got the first's output: {}",
        tasks[1].objective
    );

    // Every message is stored: start, the namer's result, the handoff with
    // its output, the tagline, the end; and the timeline printed each one.
    let msgs = core
        .crews()
        .run_messages(&run.id, Paging::default())
        .unwrap()
        .items;
    let kinds: Vec<MessageKind> = msgs.iter().map(|m| m.kind).collect();
    use MessageKind::*;
    assert_eq!(
        kinds,
        [StatusUpdate, Response, Handoff, Response, StatusUpdate]
    );
    assert_eq!(msgs[2].channel, format!("direct:{a}:{b}"));
    assert_eq!(
        msgs[2].context["output"].as_str().unwrap().trim(),
        first.trim()
    );
    for (m, t) in [(&msgs[1], &tasks[0]), (&msgs[3], &tasks[1])] {
        let out = t.output.clone().unwrap_or_default();
        let expected = if out.trim().is_empty() {
            "(empty)".to_string()
        } else {
            out.trim().to_string()
        };
        assert_eq!(m.content, expected);
        assert_eq!(m.task_id.as_deref(), Some(t.id.as_str()));
    }
    let timeline = stdout.lines().filter(|l| l.contains(" → ")).count();
    assert_eq!(
        timeline,
        msgs.len(),
        "--follow printed the whole timeline:\n{stdout}"
    );
    assert_eq!(
        run.report.as_deref().map(str::trim),
        tasks[1].output.as_deref().map(str::trim)
    );
}
