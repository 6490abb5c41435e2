//! `code_run` sandbox tests: real Python and Node.js programs inside a real
//! bubblewrap sandbox. They need bubblewrap (`scripts/setup.sh` installs it)
//! and a kernel that lets it create a sandbox; without one they fail and say
//! so (how the tool reports itself unavailable then is checked by
//! `unavailable_without_a_sandbox_unless_opted_in`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::tools::code::{CodeRun, Isolation};
use ensemble_core::tools::{Tool, ToolContext, ToolError, ToolOutput};
use ensemble_core::Core;
use serde_json::json;

fn sandbox() -> CodeRun {
    match Isolation::detect(false) {
        iso @ Isolation::Sandbox { .. } => CodeRun::new(iso),
        other => panic!(
            "these tests need a bubblewrap sandbox (apt-get install bubblewrap; scripts/setup.sh does): {other:?}"
        ),
    }
}

fn ctx() -> (ToolContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(dir.path()).unwrap());
    (ToolContext::human(core), dir)
}

async fn run(tool: &CodeRun, language: &str, code: &str) -> Result<ToolOutput, ToolError> {
    let (ctx, _dir) = ctx();
    tool.run(json!({"language": language, "code": code}), &ctx)
        .await
}

fn data(out: &ToolOutput, key: &str) -> serde_json::Value {
    out.data.as_ref().unwrap()[key].clone()
}

#[tokio::test]
async fn python_and_node_both_work() {
    let tool = sandbox();
    let py = run(&tool, "python", "print(sum(range(1, 101)))")
        .await
        .unwrap();
    assert_eq!(data(&py, "stdout"), "5050\n", "{}", py.content);
    assert_eq!(data(&py, "exit_code"), 0);
    assert_eq!(data(&py, "sandboxed"), true);
    let js = run(
        &tool,
        "javascript",
        "console.log([1,2,3].map(x => x * 2).join(','))",
    )
    .await
    .unwrap();
    assert_eq!(data(&js, "stdout"), "2,4,6\n", "{}", js.content);
    let node = run(&tool, "node", "process.stdout.write(String(6 * 7))")
        .await
        .unwrap();
    assert_eq!(data(&node, "stdout"), "42");
}

#[tokio::test]
async fn a_last_bare_expression_is_printed_as_in_a_notebook() {
    let tool = sandbox();
    let out = run(&tool, "python", "17 * 23").await.unwrap();
    assert_eq!(data(&out, "stdout"), "391\n", "{}", out.content);
    let out = run(&tool, "python", "word = 'stressed'\nword[::-1]")
        .await
        .unwrap();
    assert_eq!(data(&out, "stdout"), "'desserts'\n");
    // A program that prints prints once; a last value of None prints nothing.
    let out = run(&tool, "python", "print(5050)").await.unwrap();
    assert_eq!(data(&out, "stdout"), "5050\n");
    let out = run(&tool, "python", "x = 3\nif x:\n    print(x)")
        .await
        .unwrap();
    assert_eq!(data(&out, "stdout"), "3\n");
    // Errors read as if main.py had run by itself.
    let bad = run(
        &tool,
        "python",
        "print(sum(range(1, 101))), then give the number",
    )
    .await
    .unwrap();
    assert_eq!(data(&bad, "exit_code"), 1);
    assert!(
        bad.content.contains("File \"main.py\", line 1"),
        "{}",
        bad.content
    );
    assert!(bad.content.contains("SyntaxError"), "{}", bad.content);
    assert!(!bad.content.contains("_run.py"), "{}", bad.content);
    let boom = run(&tool, "python", "def f():\n    return 1 / 0\nf()")
        .await
        .unwrap();
    assert!(
        boom.content.contains("ZeroDivisionError"),
        "{}",
        boom.content
    );
    assert!(!boom.content.contains("_run.py"), "{}", boom.content);
}

#[tokio::test]
async fn stdin_reaches_the_program_and_errors_are_reported_not_hidden() {
    let tool = sandbox();
    let (ctx, _dir) = ctx();
    let out = tool
        .run(
            json!({"language": "python", "code": "import sys\nprint(sys.stdin.read().upper())", "stdin": "hi"}),
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(data(&out, "stdout"), "HI\n");
    let failed = run(&tool, "python", "raise ValueError('boom')")
        .await
        .unwrap();
    assert_eq!(data(&failed, "exit_code"), 1);
    assert!(
        failed.content.contains("ValueError: boom"),
        "{}",
        failed.content
    );
}

#[tokio::test]
async fn the_network_is_unreachable() {
    let tool = sandbox();
    // A listener on the host's loopback: reachable from outside the sandbox,
    // so only the sandbox can make it unreachable.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let code = format!(
        "import socket\n\
         for host, port in (('127.0.0.1', {port}), ('1.1.1.1', 80)):\n\
         \x20   try:\n\
         \x20       socket.create_connection((host, port), timeout=2)\n\
         \x20       print('CONNECTED', host)\n\
         \x20   except OSError as e:\n\
         \x20       print('refused', host, e.errno)\n"
    );
    let out = run(&tool, "python", &code).await.unwrap();
    let stdout = data(&out, "stdout").as_str().unwrap().to_string();
    assert!(!stdout.contains("CONNECTED"), "{stdout}");
    assert_eq!(stdout.matches("refused").count(), 2, "{}", out.content);
    let js = run(
        &tool,
        "javascript",
        &format!("require('net').connect({port}, '127.0.0.1').on('connect', () => console.log('CONNECTED')).on('error', e => console.log('refused', e.code))"),
    )
    .await
    .unwrap();
    assert!(
        data(&js, "stdout").as_str().unwrap().starts_with("refused"),
        "{}",
        js.content
    );
}

#[tokio::test]
async fn writing_outside_the_temp_dir_fails() {
    let tool = sandbox();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("escaped.txt");
    let code = format!(
        "import os\n\
         open('inside.txt', 'w').write('ok')\n\
         print('inside', open('inside.txt').read())\n\
         open('/tmp/scratch.txt', 'w').write('ok')\n\
         for path in ({target:?}, '/usr/escaped.txt', '/etc/escaped.txt', '/escaped.txt', '/proc/escaped.txt'):\n\
         \x20   try:\n\
         \x20       open(path, 'w').write('x')\n\
         \x20       print('WROTE', path)\n\
         \x20   except OSError as e:\n\
         \x20       print('denied', path)\n",
        target = target.to_string_lossy()
    );
    let out = run(&tool, "python", &code).await.unwrap();
    let stdout = data(&out, "stdout").as_str().unwrap().to_string();
    assert!(stdout.contains("inside ok"), "{}", out.content);
    assert!(!stdout.contains("WROTE"), "{stdout}");
    assert_eq!(stdout.matches("denied").count(), 5, "{stdout}");
    assert!(!target.exists());
    assert!(!std::path::Path::new("/usr/escaped.txt").exists());
}

#[tokio::test]
async fn a_300_mb_allocation_is_stopped() {
    let tool = sandbox();
    let py = run(
        &tool,
        "python",
        "b = bytearray(300 * 1024 * 1024)\nprint('ALLOCATED')",
    )
    .await
    .unwrap();
    assert!(!py.content.contains("ALLOCATED"), "{}", py.content);
    assert_ne!(data(&py, "exit_code"), 0, "{}", py.content);
    assert!(py.content.contains("MemoryError"), "{}", py.content);
    // Node cannot even grow its heap past the limit.
    let js = run(
        &tool,
        "javascript",
        "const a = []; for (let i = 0; i < 300; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log('ALLOCATED')",
    )
    .await
    .unwrap();
    assert!(!js.content.contains("ALLOCATED"), "{}", js.content);
    assert_ne!(data(&js, "exit_code"), 0, "{}", js.content);
    // Within the limit, memory is there.
    let small = run(
        &tool,
        "python",
        "b = bytearray(50 * 1024 * 1024)\nprint(len(b))",
    )
    .await
    .unwrap();
    assert_eq!(data(&small, "stdout"), "52428800\n", "{}", small.content);
}

#[tokio::test]
async fn an_endless_loop_is_killed_at_the_timeout() {
    let tool = sandbox();
    let tool = tool.with_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let err = run(&tool, "python", "while True:\n    pass")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Failed(m) if m.contains("timed out")),
        "{err}"
    );
    let js = run(&tool, "javascript", "for (;;) {}").await.unwrap_err();
    assert!(js.to_string().contains("timed out"), "{js}");
    // Both loops were stopped (not left to run to their CPU limit).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn output_is_capped_with_a_marker() {
    let tool = sandbox();
    let out = run(&tool, "python", "print('x' * 100000)").await.unwrap();
    assert_eq!(data(&out, "truncated"), true);
    assert!(data(&out, "stdout").as_str().unwrap().len() <= 16 * 1024);
    assert!(
        out.content.contains("[output truncated"),
        "{}",
        &out.content[out.content.len() - 80..]
    );
}

#[tokio::test]
async fn bad_arguments_are_refused_before_anything_runs() {
    let tool = CodeRun::new(Isolation::detect(false));
    let (ctx, _dir) = ctx();
    for args in [
        json!({"language": "ruby", "code": "puts 1"}),
        json!({"language": "python"}),
        json!({"language": "python", "code": "   "}),
        json!({"language": "python", "code": "x\u{0}"}),
    ] {
        let err = tool.run(args.clone(), &ctx).await.unwrap_err();
        assert!(
            matches!(err, ToolError::InvalidArguments { .. }),
            "{args}: {err}"
        );
    }
}

#[tokio::test]
async fn unavailable_without_a_sandbox_unless_opted_in() {
    let off = CodeRun::new(Isolation::Unavailable {
        reason: "bubblewrap (bwrap) is not installed".into(),
    });
    assert!(off
        .def()
        .unavailable
        .as_deref()
        .unwrap()
        .contains("bubblewrap"));
    let err = run(&off, "python", "print(1)").await.unwrap_err();
    assert!(matches!(err, ToolError::Unavailable(_)), "{err}");

    let opted = CodeRun::new(Isolation::UnsandboxedWithApproval {
        reason: "no sandbox".into(),
    });
    let def = opted.def();
    assert!(def.unavailable.is_none());
    assert!(def.requires_approval);
    assert!(def.description.contains("WITHOUT a sandbox"));
    let out = run(&opted, "python", "print(2 + 2)").await.unwrap();
    assert_eq!(data(&out, "stdout"), "4\n");
    assert_eq!(data(&out, "sandboxed"), false);
}
