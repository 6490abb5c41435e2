//! MCP tools over stdio with a real child process (tests/fixtures/mcp_server.py,
//! newline-delimited JSON-RPC): tools listed with their names, schemas and
//! hints; calls through the registry (invalid arguments refused before they
//! reach the server); a crash reported and the server restarted on the next
//! call, without re-sending the call that was in flight; a server whose
//! command does not exist reported without hiding the others; cancellation,
//! per-call timeout and the restart limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::settings::McpServerConfig;
use ensemble_core::tools::mcp::{
    connect_all, sanitize_schema, shutdown_all, statuses, tool_name, McpHub, McpOptions, McpState,
    McpStatus,
};
use ensemble_core::tools::{Tool, ToolCategory, ToolContext, ToolError, ToolRegistry};
use ensemble_core::Core;
use serde_json::json;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_server.py");

struct Env {
    core: Arc<Core>,
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let core = Arc::new(Core::open(&dir.path().join("data")).unwrap());
        Self { core, dir }
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    /// The calls that reached the fixture server, one "name args" a line.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn server(&self, name: &str) -> McpServerConfig {
        fixture(name, &self.log())
    }

    fn ctx(&self) -> ToolContext {
        ToolContext::human(self.core.clone())
    }
}

fn fixture(name: &str, log: &Path) -> McpServerConfig {
    McpServerConfig {
        name: name.into(),
        command: "python3".into(),
        args: vec![FIXTURE.into()],
        env: BTreeMap::from([
            ("MCP_FIXTURE_LOG".to_string(), log.display().to_string()),
            (
                "FIXTURE_GREETING".to_string(),
                "hello from Settings".to_string(),
            ),
        ]),
        enabled: true,
    }
}

fn options() -> McpOptions {
    McpOptions {
        start_timeout: Duration::from_secs(20),
        ..McpOptions::default()
    }
}

fn registry(tools: Vec<Arc<dyn Tool>>) -> ToolRegistry {
    let mut r = ToolRegistry::new();
    for t in tools {
        r.register(t);
    }
    r
}

fn status_of(list: &[McpStatus], server: &str) -> McpStatus {
    list.iter()
        .find(|s| s.server == server)
        .cloned()
        .unwrap_or_else(|| panic!("no status for {server} in {list:?}"))
}

async fn pid_of_add(r: &ToolRegistry, ctx: &ToolContext, tool: &str) -> u64 {
    let res = r.call(tool, json!({"a": 1, "b": 1}), ctx).await;
    assert!(res.success, "{res:?}");
    res.result.unwrap().data.unwrap()["pid"].as_u64().unwrap()
}

#[tokio::test]
async fn servers_contribute_their_tools_and_a_missing_command_is_reported() {
    let env = Env::new();
    let configs = vec![
        env.server("fixture"),
        McpServerConfig {
            name: "ghost".into(),
            command: "ensemble-no-such-mcp-server".into(),
            args: vec![],
            env: BTreeMap::new(),
            enabled: true,
        },
        McpServerConfig {
            enabled: false,
            ..env.server("off")
        },
    ];
    let started = Instant::now();
    let (tools, list) = connect_all(&configs, Duration::from_secs(20)).await;
    assert!(started.elapsed() < Duration::from_secs(15));

    let mut names: Vec<String> = tools.iter().map(|t| t.def().name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "fixture__add",
            "fixture__crash",
            "fixture__deafen",
            "fixture__env",
            "fixture__fail",
            "fixture__sleep"
        ]
    );
    let defs: BTreeMap<String, _> = tools.iter().map(|t| (t.def().name, t.def())).collect();
    let add = &defs["fixture__add"];
    assert_eq!(add.description, "Add two numbers.");
    assert_eq!(add.category, ToolCategory::Mcp);
    assert_eq!(add.parameters["type"], "object");
    assert_eq!(add.parameters["required"], json!(["a", "b"]));
    assert_eq!(add.parameters["properties"]["a"]["type"], "number");
    // readOnlyHint: no approval needed, and safe to repeat.
    assert!(!add.requires_approval && add.idempotent);
    let crash = &defs["fixture__crash"];
    assert!(crash.requires_approval && !crash.idempotent);
    let fail = &defs["fixture__fail"];
    assert!(fail.requires_approval && fail.idempotent);
    assert_eq!(fail.parameters, json!({"type": "object", "properties": {}}));

    assert_eq!(list.len(), 3);
    let ok = status_of(&list, "fixture");
    assert_eq!(ok.state, McpState::Running);
    assert_eq!(ok.tools, names);
    assert_eq!((ok.restarts, ok.last_error), (0, None));
    let ghost = status_of(&list, "ghost");
    assert_eq!(ghost.state, McpState::Failed);
    assert!(ghost.tools.is_empty());
    let why = ghost.last_error.unwrap();
    assert!(
        why.contains("command not found") && why.contains("ensemble-no-such-mcp-server"),
        "{why}"
    );
    assert_eq!(status_of(&list, "off").state, McpState::Disabled);

    // The live statuses of connect_all's servers stay readable.
    let live = statuses();
    assert_eq!(status_of(&live, "fixture").state, McpState::Running);
    assert_eq!(status_of(&live, "ghost").state, McpState::Failed);

    // The working server's tools run although the other one failed.
    let r = registry(tools);
    let res = r
        .call("fixture__add", json!({"a": 2, "b": 3.5}), &env.ctx())
        .await;
    assert!(res.success, "{res:?}");
    let out = res.result.unwrap();
    assert_eq!(out.content, "5.5");
    assert_eq!(out.data.unwrap()["sum"], json!(5.5));

    shutdown_all().await;
    assert!(statuses().is_empty());
}

#[tokio::test]
async fn calls_pass_the_registry_validation_first() {
    let env = Env::new();
    let hub = McpHub::connect(&[env.server("calc")], options()).await;
    let r = registry(hub.tools());
    let ctx = env.ctx();

    let res = r.call("calc__add", json!({"a": 40, "b": 2}), &ctx).await;
    assert!(res.success, "{res:?}");
    assert_eq!(res.result.unwrap().content, "42");

    // Refused by the schema: never sent to the server.
    for bad in [
        json!({"a": "two", "b": 2}),
        json!({"a": 1}),
        json!({"a": 1, "b": 2, "c": 3}),
    ] {
        let res = r.call("calc__add", bad.clone(), &ctx).await;
        assert!(!res.success);
        let e = res.error.unwrap();
        assert!(
            e.starts_with("invalid arguments for calc__add"),
            "{bad}: {e}"
        );
    }
    let err = r.check("calc__sleep", &json!({})).unwrap_err();
    assert_eq!(err.code(), "INVALID_ARGUMENTS");
    assert_eq!(env.calls(), [r#"add {"a": 40, "b": 2}"#]);

    // isError results are tool failures carrying the server's text.
    let res = r.call("calc__fail", json!({}), &ctx).await;
    assert!(!res.success);
    assert_eq!(res.error.unwrap(), "the fail tool always fails");

    // The configured environment reaches the process.
    let res = r
        .call("calc__env", json!({"name": "FIXTURE_GREETING"}), &ctx)
        .await;
    assert_eq!(res.result.unwrap().content, "hello from Settings");
    hub.shutdown().await;
    assert_eq!(hub.statuses()[0].state, McpState::Exited);
}

#[tokio::test]
async fn a_server_that_dies_during_a_call_is_reported_and_restarted() {
    let env = Env::new();
    let hub = McpHub::connect(&[env.server("fragile")], options()).await;
    let r = registry(hub.tools());
    let ctx = env.ctx();
    let first_pid = pid_of_add(&r, &ctx, "fragile__add").await;

    let res = r.call("fragile__crash", json!({}), &ctx).await;
    assert!(!res.success);
    let e = res.error.unwrap();
    assert!(e.contains("died during the call to fragile__crash"), "{e}");
    assert!(e.contains("not repeated"), "{e}");
    let st = hub.statuses().remove(0);
    assert_eq!(st.state, McpState::Exited);
    assert_eq!(st.restarts, 0);
    assert!(st.last_error.unwrap().contains("exited"));

    // The next call starts a new process (not sooner than 1 s after the last
    // start) and works.
    let second_pid = pid_of_add(&r, &ctx, "fragile__add").await;
    assert_ne!(first_pid, second_pid);
    let st = hub.statuses().remove(0);
    assert_eq!(st.state, McpState::Running);
    assert_eq!(st.restarts, 1);
    // The call in flight when the server died was not sent again.
    let crashes = env
        .calls()
        .iter()
        .filter(|c| c.starts_with("crash"))
        .count();
    assert_eq!(crashes, 1, "{:?}", env.calls());
    hub.shutdown().await;
}

#[tokio::test]
async fn a_server_killed_between_calls_is_noticed_and_restarted() {
    let env = Env::new();
    let hub = McpHub::connect(&[env.server("victim")], options()).await;
    let r = registry(hub.tools());
    let ctx = env.ctx();
    let pid = pid_of_add(&r, &ctx, "victim__add").await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while hub.statuses()[0].state != McpState::Exited {
        assert!(Instant::now() < deadline, "death not noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(pid_of_add(&r, &ctx, "victim__add").await, pid);
    assert_eq!(hub.statuses()[0].restarts, 1);
    assert_eq!(hub.statuses()[0].state, McpState::Running);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_call_that_could_not_be_delivered_is_sent_again_after_a_restart() {
    let env = Env::new();
    let hub = McpHub::connect(&[env.server("deaf")], options()).await;
    let r = registry(hub.tools());
    let ctx = env.ctx();
    let pid = pid_of_add(&r, &ctx, "deaf__add").await;
    assert!(r.call("deaf__deafen", json!({}), &ctx).await.success);
    // The process is alive but reads nothing: writing the request fails, so
    // it certainly never ran; the server is restarted and the call sent once.
    let res = r.call("deaf__add", json!({"a": 20, "b": 1}), &ctx).await;
    assert!(res.success, "{res:?}");
    let out = res.result.unwrap();
    assert_eq!(out.content, "21");
    assert_ne!(out.data.unwrap()["pid"].as_u64().unwrap(), pid);
    let st = hub.statuses().remove(0);
    assert_eq!((st.state, st.restarts), (McpState::Running, 1));
    assert!(st.last_error.unwrap().contains("stopped reading"));
    let adds: Vec<String> = env
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("add"))
        .collect();
    assert_eq!(
        adds,
        [r#"add {"a": 1, "b": 1}"#, r#"add {"a": 20, "b": 1}"#]
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn calls_honour_cancellation_and_the_call_timeout() {
    let env = Env::new();
    let hub = McpHub::connect(
        &[env.server("slow")],
        McpOptions {
            call_timeout: Duration::from_millis(700),
            ..options()
        },
    )
    .await;
    let tools = hub.tools();
    let sleep = tools
        .iter()
        .find(|t| t.def().name == "slow__sleep")
        .unwrap()
        .clone();

    let ctx = env.ctx();
    let cancel = ctx.cancel.clone();
    let started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let e = sleep.run(json!({"ms": 5000}), &ctx).await.unwrap_err();
    canceller.await.unwrap();
    assert_eq!(e, ToolError::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(2));

    let started = Instant::now();
    let e = sleep
        .run(json!({"ms": 3000}), &env.ctx())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    match e {
        ToolError::Failed(m) => assert!(m.contains("no answer") && m.contains("0.7 s"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Neither made the server unusable.
    assert_eq!(hub.statuses()[0].state, McpState::Running);
    hub.shutdown().await;
}

#[tokio::test]
async fn restarts_are_limited() {
    let env = Env::new();
    let hub = McpHub::connect(
        &[env.server("flaky")],
        McpOptions {
            restart_interval: Duration::from_millis(50),
            max_restarts_per_minute: 2,
            ..options()
        },
    )
    .await;
    let r = registry(hub.tools());
    let ctx = env.ctx();
    for round in 0..2 {
        assert!(!r.call("flaky__crash", json!({}), &ctx).await.success);
        let res = r
            .call("flaky__add", json!({"a": 1, "b": round}), &ctx)
            .await;
        assert!(res.success, "round {round}: {res:?}");
    }
    assert!(!r.call("flaky__crash", json!({}), &ctx).await.success);
    let res = r.call("flaky__add", json!({"a": 1, "b": 2}), &ctx).await;
    assert!(!res.success);
    let e = res.error.unwrap();
    assert!(e.contains("restarted 2 times in the last minute"), "{e}");
    let st = hub.statuses().remove(0);
    assert_eq!((st.state, st.restarts), (McpState::Failed, 2));
}

#[test]
fn names_and_schemas_are_made_fit_for_providers() {
    assert_eq!(tool_name("files", "read_file"), "files__read_file");
    assert_eq!(
        tool_name("my.server", "do thing/now"),
        "my_server__do_thing_now"
    );
    assert_eq!(tool_name("s", &"x".repeat(100)).len(), 64);

    let not_object = json!({"type": "string"});
    assert_eq!(
        sanitize_schema(not_object.as_object().unwrap()),
        json!({"type": "object", "properties": {}})
    );
    let broken = json!({"type": "object", "properties": {"a": {"type": 7}}});
    assert_eq!(
        sanitize_schema(broken.as_object().unwrap()),
        json!({"type": "object", "properties": {}})
    );
    let fine = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"]
    });
    assert_eq!(
        sanitize_schema(fine.as_object().unwrap()),
        json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
    );
}
