//! An agent on the real embedded model (Gemma 3 270M, installed by `make
//! test`) completes a task through `ensemble run`: every step it generated is
//! a schema-valid JSON step (grammar-constrained decoding), and its tool call
//! — `code_run`, a real Python program in the bubblewrap sandbox — actually
//! executed and produced the sum.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/model.rs"]
mod model;

use std::path::Path;
use std::process::Command;

use model::data_dir_with_model;

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::runs::ToolCallState;
use ensemble_core::tasks::{NewTask, TaskStatus};
use ensemble_core::tools::code::{CodeRun, Isolation};
use ensemble_core::tools::Tool;
use ensemble_core::Core;

fn run_until_idle(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .arg("--data-dir")
        .arg(dir)
        .args(["run", "--until-idle"])
        // Nothing answers here: the agent runs on the embedded engine.
        .env("OLLAMA_HOST", "127.0.0.1:9")
        .env("ENSEMBLE_NO_KEYRING", "1")
        .env_remove("DISPLAY")
        .output()
        .unwrap()
}

#[test]
fn an_agent_on_the_embedded_model_runs_code_and_completes_its_task() {
    assert!(
        matches!(Isolation::detect(false), Isolation::Sandbox { .. }),
        "this test needs code_run's bubblewrap sandbox (scripts/setup.sh installs bubblewrap): {:?}",
        Isolation::detect(false)
    );
    let dir = data_dir_with_model();
    let core = Core::open(dir.path()).unwrap();
    let agent = core
        .agents().create(AgentInput {
            name: Some("Calc".into()),
            role: Some("calculator".into()),
            system_prompt: Some(
                "You solve arithmetic by writing a Python program with the code_run tool, then answer with its output."
                    .into(),
            ),
            capabilities: Some(vec!["math".into(), "code_run".into()]),
            allowed_tools: Some(vec!["code_run".into()]),
            provider: Some("embedded".into()),
            autonomy: Some(Autonomy::Autopilot),
            max_steps: Some(6),
            // Greedy decoding: the same steps on every run (a sampled run
            // of this small model sometimes writes `python` as the code).
            temperature: Some(0.0),
            ..Default::default()
        })
        .unwrap();
    let task = core
        .tasks().create(NewTask {
            title: "Sum of 1 to 100".into(),
            objective: Some(
                "Use code_run to run the Python program `print(sum(range(1, 101)))`, then give the printed number as the answer."
                    .into(),
            ),
            required_capabilities: Some(vec!["math".into(), "code_run".into()]),
            ..Default::default()
        })
        .unwrap();
    drop(core);

    let out = run_until_idle(dir.path());
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let core = Core::open(dir.path()).unwrap();
    let done = core.tasks().get(&task.id).unwrap();
    let traces = core.runs().of_task(&task.id).unwrap();
    let trace = traces.last().expect("a run");
    let schema = CodeRun::new(Isolation::detect(false)).def().parameters;
    let validator = jsonschema::validator_for(&schema).unwrap();
    for step in &trace.steps {
        match &step.action {
            Some(action) => {
                assert_eq!(action.tool, "code_run", "step {}: {:?}", step.idx, action);
                assert!(
                    validator.is_valid(&action.arguments),
                    "step {} arguments do not match code_run's schema: {}",
                    step.idx,
                    action.arguments
                );
            }
            None => assert!(
                step.final_answer.is_some(),
                "step {} is neither a tool call nor the answer (a repaired step?): {step:?}",
                step.idx
            ),
        }
    }
    let ran: Vec<_> = trace
        .tool_calls
        .iter()
        .filter(|c| c.tool == "code_run" && c.state == ToolCallState::Succeeded)
        .collect();
    assert!(
        !ran.is_empty(),
        "no code_run call executed: {:?}",
        trace.tool_calls
    );
    let observed: Vec<&str> = trace
        .steps
        .iter()
        .filter_map(|s| s.observation.as_deref())
        .collect();
    assert!(
        observed.iter().any(|o| o.contains("5050")),
        "the program's output is not in the trace: {observed:?}"
    );
    assert_eq!(
        done.status,
        TaskStatus::Completed,
        "{:?} {:?}",
        done.error,
        trace.steps
    );
    assert_eq!(done.routed_agent_id.as_deref(), Some(agent.id.as_str()));
    println!(
        "answer: {:?} after {} steps",
        done.output,
        trace.steps.len()
    );
}
