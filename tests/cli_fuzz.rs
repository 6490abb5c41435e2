//! Property test (issue 8): the command line never panics on arbitrary
//! arguments. Random argument lists built from the real subcommands, flags
//! and hostile values (huge numbers, negative limits, NUL-free control
//! characters, bad JSON, unknown ids) are run against a real data folder;
//! each must exit 0, 1 or 2 and, when it fails, say why in one line on
//! stderr — never a panic, and the database stays intact.
//!
//! `run` and `chat` are left out: they work until stopped or call a model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use proptest::prelude::*;

const GROUPS: &[&str] = &[
    "agents",
    "tasks",
    "crews",
    "approvals",
    "workflows",
    "tools",
];
const VERBS: &[&str] = &[
    "list",
    "show",
    "add",
    "rm",
    "cancel",
    "retry",
    "pause",
    "resume",
    "depend",
    "approve",
    "reject",
    "run",
    "relate",
    "export",
    "import",
    "templates",
    "status",
];
const VALUES: &[&str] = &[
    "--json",
    "--limit",
    "0",
    "-1",
    "99999999999999999999",
    "--priority",
    "critical",
    "11",
    "--status",
    "nonsense",
    "--agent",
    "--capabilities",
    ",,,",
    "--depends-on",
    "x,y",
    "--objective",
    "",
    " ",
    "--template",
    "analyst",
    "--autonomy",
    "yolo",
    "{",
    "{\"a\":",
    "[]",
    "code_run",
    "web_fetch",
    "{\"url\": 5}",
    "--comment",
    "\u{1b}[31m",
    "é\u{301}",
    "--process",
    "hierarchical",
    "--members",
    "--wait",
    "--input",
    "--parent",
    "--on",
];

fn arg() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(VALUES).prop_map(str::to_string),
        1 => "[a-zA-Z0-9_ -]{0,24}",
        1 => "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    ]
}

fn command() -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::select(GROUPS),
        prop::sample::select(VERBS),
        prop::collection::vec(arg(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(g, v, rest, json)| {
            let mut out = Vec::new();
            if json {
                out.push("--json".to_string());
            }
            out.push(g.to_string());
            out.push(v.to_string());
            out.extend(rest);
            out
        })
}

fn run(dir: &std::path::Path, args: &[String]) -> Result<(), TestCaseError> {
    let out = Command::new(env!("CARGO_BIN_EXE_ensemble"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("ENSEMBLE_NO_KEYRING", "1")
        .env("OLLAMA_HOST", "http://127.0.0.1:9")
        .env("ENSEMBLE_LOG", "off")
        .output()
        .expect("run ensemble");
    let stderr = String::from_utf8_lossy(&out.stderr);
    prop_assert!(
        !stderr.contains("panicked"),
        "{:?} panicked: {}",
        args,
        stderr
    );
    let code = out.status.code();
    prop_assert!(
        matches!(code, Some(0..=2)),
        "{:?} exited {:?}: {}",
        args,
        code,
        stderr
    );
    if code != Some(0) {
        prop_assert!(
            !stderr.trim().is_empty(),
            "{:?} failed without a reason",
            args
        );
    }
    Ok(())
}

#[test]
fn arbitrary_arguments_fail_cleanly_and_the_database_stays_intact() {
    let dir = tempfile::tempdir().unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(80));
    runner
        .run(&command(), |args| run(dir.path(), &args))
        .unwrap();
    let core = ensemble_core::Core::open(dir.path()).unwrap();
    assert_eq!(core.store().integrity_check().unwrap(), "ok");
}
