//! `web_fetch` against in-process HTTP servers on loopback: the SSRF guard
//! (literal addresses, names that resolve to loopback, redirects, the
//! Settings allow-list), limits (50 KB cap, raw cap, timeout), HTML to text,
//! binary refusal and redirect handling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../llm/tests/common/fixture_server.rs"]
mod fixture;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::settings::SettingsPatch;
use ensemble_core::tools::web::WebFetch;
use ensemble_core::tools::{Tool, ToolContext, ToolError, ToolOutput, ToolRegistry};
use ensemble_core::Core;
use fixture::{FixtureServer, Reply};
use serde_json::{json, Value};
use tokio::net::TcpListener;

struct Env {
    ctx: ToolContext,
    _dir: tempfile::TempDir,
}

fn env(allow: &[String]) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(dir.path()).unwrap());
    core.update_settings(SettingsPatch {
        web_fetch_allow_list: Some(allow.to_vec()),
        ..Default::default()
    })
    .unwrap();
    Env {
        ctx: ToolContext::human(core),
        _dir: dir,
    }
}

async fn fetch(env: &Env, args: Value) -> Result<ToolOutput, ToolError> {
    WebFetch::new().run(args, &env.ctx).await
}

fn refusal(r: Result<ToolOutput, ToolError>) -> String {
    match r {
        Err(ToolError::Refused(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn text(status: u16, content_type: &str, body: &str) -> Reply {
    Reply::Full {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.into(),
    }
}

fn redirect(status: u16, to: &str) -> Reply {
    Reply::Full {
        status,
        headers: vec![("location".into(), to.into())],
        body: String::new(),
    }
}

async fn hello_server() -> FixtureServer {
    FixtureServer::start(|_, _| text(200, "text/plain", "hello from the fixture")).await
}

fn entry(server: &FixtureServer) -> String {
    format!("127.0.0.1:{}", server.addr.port())
}

#[tokio::test]
async fn literal_loopback_private_and_link_local_addresses_are_refused() {
    let server = hello_server().await;
    let port = server.addr.port();
    let env = env(&[]);
    for (url, expected) in [
        (
            format!("http://127.0.0.1:{port}/"),
            "refused: 127.0.0.1 is a loopback address",
        ),
        (
            format!("http://[::1]:{port}/"),
            "refused: ::1 is a loopback address",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            "refused: ::ffff:127.0.0.1 is a loopback address",
        ),
        // Other spellings of 127.0.0.1 are normalised before the check.
        (
            format!("http://2130706433:{port}/"),
            "refused: 127.0.0.1 is a loopback address",
        ),
        (
            format!("http://0x7f.1:{port}/"),
            "refused: 127.0.0.1 is a loopback address",
        ),
        (
            format!("http://0.0.0.0:{port}/"),
            "refused: 0.0.0.0 is an unspecified address",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "refused: 169.254.169.254 is a link-local address",
        ),
        (
            "http://10.0.0.1/".into(),
            "refused: 10.0.0.1 is a private address",
        ),
        (
            "https://192.168.1.1/".into(),
            "refused: 192.168.1.1 is a private address",
        ),
        (
            "http://100.64.0.1/".into(),
            "refused: 100.64.0.1 is a shared (CGNAT) address",
        ),
        (
            "http://[fd00::1]/".into(),
            "refused: fd00::1 is a private address",
        ),
        (
            "http://[fe80::1]/".into(),
            "refused: fe80::1 is a link-local address",
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/".into(),
            "refused: 64:ff9b::a9fe:a9fe is a link-local address",
        ),
    ] {
        let m = refusal(fetch(&env, json!({ "url": url })).await);
        assert_eq!(m, expected, "{url}");
    }
    assert!(
        server.recorded().is_empty(),
        "a refused fetch must not reach the server"
    );
}

#[tokio::test]
async fn names_that_resolve_to_loopback_are_refused() {
    let server = hello_server().await;
    let port = server.addr.port();
    let env = env(&[]);
    for host in ["localhost", "LOCALHOST.", "localhost."] {
        let m = refusal(fetch(&env, json!({ "url": format!("http://{host}:{port}/") })).await);
        assert!(
            m.starts_with("refused: localhost")
                && m.contains("resolves to")
                && m.ends_with("(loopback)"),
            "{host}: {m}"
        );
    }
    assert!(server.recorded().is_empty());
}

#[tokio::test]
async fn an_allowed_loopback_host_can_be_fetched() {
    let server = hello_server().await;
    let port = server.addr.port();

    let env1 = env(&[entry(&server)]);
    let out = fetch(
        &env1,
        json!({ "url": format!("http://127.0.0.1:{port}/x") }),
    )
    .await
    .unwrap();
    assert_eq!(out.content, "hello from the fixture");
    let data = out.data.unwrap();
    assert_eq!(data["status"], 200);
    assert_eq!(data["truncated"], false);

    // A name entry without a port allows every port of that name.
    let env2 = env(&["localhost".to_string()]);
    let out = fetch(
        &env2,
        json!({ "url": format!("http://localhost:{port}/y") }),
    )
    .await
    .unwrap();
    assert_eq!(out.content, "hello from the fixture");

    // An entry for another port does not.
    let env3 = env(&["127.0.0.1:1".to_string()]);
    let m = refusal(fetch(&env3, json!({ "url": format!("http://127.0.0.1:{port}/") })).await);
    assert_eq!(m, "refused: 127.0.0.1 is a loopback address");

    let paths: Vec<String> = server.recorded().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/x", "/y"]);
}

#[tokio::test]
async fn the_allow_list_is_read_at_call_time() {
    let server = hello_server().await;
    let url = format!("http://127.0.0.1:{}/", server.addr.port());
    let env = env(&[]);
    let tool = WebFetch::new();
    assert!(matches!(
        tool.run(json!({ "url": url }), &env.ctx).await,
        Err(ToolError::Refused(_))
    ));
    env.ctx
        .core
        .update_settings(SettingsPatch {
            web_fetch_allow_list: Some(vec![entry(&server)]),
            ..Default::default()
        })
        .unwrap();
    assert!(tool.run(json!({ "url": url }), &env.ctx).await.is_ok());
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_loopback_is_refused() {
    let target = hello_server().await;
    let target_url = format!("http://127.0.0.1:{}/secret", target.addr.port());
    let to = target_url.clone();
    let allowed = FixtureServer::start(move |_, _| redirect(302, &to)).await;
    let env1 = env(&[entry(&allowed)]);

    let m = refusal(
        fetch(
            &env1,
            json!({ "url": format!("http://127.0.0.1:{}/start", allowed.addr.port()) }),
        )
        .await,
    );
    assert!(
        m.starts_with(
            "refused: 127.0.0.1 is a loopback address (redirected from http://127.0.0.1:"
        ),
        "{m}"
    );
    assert_eq!(allowed.recorded().len(), 1);
    assert!(
        target.recorded().is_empty(),
        "the redirect target must not be contacted"
    );

    // The same through a name that resolves to loopback.
    let to = format!("http://localhost:{}/secret", target.addr.port());
    let by_name = FixtureServer::start(move |_, _| redirect(307, &to)).await;
    let env2 = env(&[entry(&by_name)]);
    let m = refusal(
        fetch(
            &env2,
            json!({ "url": format!("http://127.0.0.1:{}/", by_name.addr.port()) }),
        )
        .await,
    );
    assert!(m.starts_with("refused: localhost resolves to"), "{m}");
    assert!(target.recorded().is_empty());
}

#[tokio::test]
async fn redirects_are_followed_up_to_five_times() {
    // /n redirects to /n+1 until /3, which answers.
    let chain = FixtureServer::start(|req, _| {
        let n: u32 = req.path.trim_start_matches('/').parse().unwrap_or(0);
        if n < 3 {
            redirect(301, &format!("/{}", n + 1))
        } else {
            text(200, "text/plain", "arrived")
        }
    })
    .await;
    let env1 = env(&[entry(&chain)]);
    let out = fetch(
        &env1,
        json!({ "url": format!("http://127.0.0.1:{}/0", chain.addr.port()) }),
    )
    .await
    .unwrap();
    assert_eq!(out.content, "arrived");
    let data = out.data.unwrap();
    assert_eq!(data["redirects"].as_array().unwrap().len(), 3);
    assert!(data["url"].as_str().unwrap().ends_with("/3"));

    let looping = FixtureServer::start(|_, _| redirect(302, "/again")).await;
    let env2 = env(&[entry(&looping)]);
    let e = fetch(
        &env2,
        json!({ "url": format!("http://127.0.0.1:{}/", looping.addr.port()) }),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, ToolError::Failed(m) if m.starts_with("too many redirects")),
        "{e:?}"
    );
    assert_eq!(
        looping.recorded().len(),
        6,
        "the first request and 5 redirects"
    );
}

#[tokio::test]
async fn a_post_redirected_with_303_becomes_a_get_and_credentials_stay_with_their_origin() {
    let other = hello_server().await;
    let to = format!("http://localhost:{}/done", other.addr.port());
    let first = FixtureServer::start(move |_, _| redirect(303, &to)).await;
    let env = env(&[entry(&first), "localhost".to_string()]);
    let out = fetch(
        &env,
        json!({
            "url": format!("http://127.0.0.1:{}/submit", first.addr.port()),
            "method": "POST",
            "body": "{\"a\":1}",
            "headers": { "Content-Type": "application/json", "Authorization": "Bearer t", "X-Trace": "7" },
        }),
    )
    .await
    .unwrap();
    assert_eq!(out.content, "hello from the fixture");

    let sent = first.recorded();
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].body, "{\"a\":1}");
    assert_eq!(sent[0].header("authorization"), Some("Bearer t"));
    let got = other.recorded();
    assert_eq!(got[0].method, "GET");
    assert_eq!(got[0].body, "");
    assert_eq!(got[0].header("x-trace"), Some("7"));
    assert_eq!(
        got[0].header("authorization"),
        None,
        "credentials must not follow a redirect to another origin"
    );
}

#[tokio::test]
async fn the_text_is_capped_at_50_kb_with_a_marker() {
    let big = "word ".repeat(40_000); // 200,000 bytes
    let server = FixtureServer::start(move |_, _| text(200, "text/plain", &big)).await;
    let env = env(&[entry(&server)]);
    let out = fetch(
        &env,
        json!({ "url": format!("http://127.0.0.1:{}/", server.addr.port()) }),
    )
    .await
    .unwrap();
    let marker = "\n[… truncated at 50 KB]";
    assert!(
        out.content.ends_with(marker),
        "{}",
        &out.content[out.content.len() - 80..]
    );
    assert_eq!(out.content.len(), 50 * 1024 + marker.len());
    assert_eq!(out.data.unwrap()["truncated"], true);
}

#[tokio::test]
async fn a_huge_body_is_not_read_to_its_end() {
    // 20 s of 1 KB chunks; the tool stops reading at its raw cap, long
    // before its own 10 s timeout.
    let server = FixtureServer::start(|_, _| Reply::Stream {
        status: 200,
        content_type: "text/plain".into(),
        chunks: vec![vec![b'a'; 1024]; 2000],
        delay: Duration::from_millis(10),
        drop_after: false,
    })
    .await;
    let env = env(&[entry(&server)]);
    let tool = WebFetch::new()
        .with_timeout(Duration::from_secs(10))
        .with_caps(4 * 1024, 16 * 1024);
    let out = tool
        .run(
            json!({ "url": format!("http://127.0.0.1:{}/", server.addr.port()) }),
            &env.ctx,
        )
        .await
        .unwrap();
    assert!(out.content.ends_with("\n[… truncated at 4 KB]"));
    assert_eq!(
        out.content.len(),
        4 * 1024 + "\n[… truncated at 4 KB]".len()
    );
}

#[tokio::test]
async fn a_stalled_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and reads, never answers.
    let stall = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let env = env(&[format!("127.0.0.1:{port}")]);
    let tool = WebFetch::new().with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let e = tool
        .run(
            json!({ "url": format!("http://127.0.0.1:{port}/") }),
            &env.ctx,
        )
        .await
        .unwrap_err();
    assert_eq!(e, ToolError::Failed("timed out after 300 ms".into()));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(WebFetch::new().def().description.contains("30 s"));
    stall.abort();
}

#[tokio::test]
async fn html_becomes_readable_text_with_its_links() {
    let page = r#"<!DOCTYPE html><html><head><title>T</title>
        <style>body { color: red }</style><script>var secret = 42;</script></head>
        <body><h1>Release notes</h1>
        <p>Read <a href="https://example.com/docs">the docs</a> before upgrading.</p>
        <ul><li>First item</li><li>Second item</li></ul></body></html>"#;
    let server =
        FixtureServer::start(move |_, _| text(200, "text/html; charset=utf-8", page)).await;
    let env = env(&[entry(&server)]);
    let out = fetch(
        &env,
        json!({ "url": format!("http://127.0.0.1:{}/", server.addr.port()) }),
    )
    .await
    .unwrap();
    let c = &out.content;
    for want in [
        "Release notes",
        "the docs",
        "https://example.com/docs",
        "First item",
        "Second item",
    ] {
        assert!(c.contains(want), "missing {want:?} in:\n{c}");
    }
    for unwanted in ["<p>", "<a ", "var secret", "color: red"] {
        assert!(!c.contains(unwanted), "{unwanted:?} left in:\n{c}");
    }
}

#[tokio::test]
async fn text_is_decoded_with_its_charset_and_errors_keep_their_status() {
    let server = FixtureServer::start(|req, _| {
        if req.path == "/latin1" {
            Reply::Stream {
                status: 200,
                content_type: "text/plain; charset=iso-8859-1".into(),
                chunks: vec![b"caf\xe9".to_vec()],
                delay: Duration::from_millis(1),
                drop_after: false,
            }
        } else {
            text(404, "application/json", "{\"error\":\"no such page\"}")
        }
    })
    .await;
    let env = env(&[entry(&server)]);
    let base = format!("http://127.0.0.1:{}", server.addr.port());
    let out = fetch(&env, json!({ "url": format!("{base}/latin1") }))
        .await
        .unwrap();
    assert_eq!(out.content, "café");
    let out = fetch(&env, json!({ "url": format!("{base}/missing") }))
        .await
        .unwrap();
    assert_eq!(
        out.content,
        "HTTP 404 Not Found\n\n{\"error\":\"no such page\"}"
    );
    assert_eq!(out.data.unwrap()["status"], 404);
}

#[tokio::test]
async fn binary_content_is_refused() {
    let server = FixtureServer::start(|req, _| {
        if req.path == "/png" {
            text(200, "image/png", "\u{1}PNG")
        } else {
            Reply::Stream {
                status: 200,
                content_type: String::new(),
                chunks: vec![b"\x00\x01\x02binary".to_vec()],
                delay: Duration::from_millis(1),
                drop_after: false,
            }
        }
    })
    .await;
    let env = env(&[entry(&server)]);
    let base = format!("http://127.0.0.1:{}", server.addr.port());
    let m = refusal(fetch(&env, json!({ "url": format!("{base}/png") })).await);
    assert!(m.contains("binary content (image/png)"), "{m}");
    let m = refusal(fetch(&env, json!({ "url": format!("{base}/blob") })).await);
    assert!(m.contains("binary content"), "{m}");
}

#[tokio::test]
async fn bad_urls_schemes_and_headers_are_rejected_before_any_request() {
    let env = env(&[]);
    let m = refusal(fetch(&env, json!({ "url": "file:///etc/passwd" })).await);
    assert_eq!(
        m,
        "refused: only http and https URLs can be fetched, not file:"
    );
    let m = refusal(fetch(&env, json!({ "url": "ftp://example.com/x" })).await);
    assert!(m.contains("not ftp:"), "{m}");
    for args in [
        json!({ "url": "not a url" }),
        json!({ "url": "http://example.com/", "body": "x" }),
        json!({ "url": "http://example.com/", "headers": { "Host": "evil" } }),
        json!({ "url": "http://example.com/", "headers": { "bad header": "x" } }),
    ] {
        let e = fetch(&env, args.clone()).await.unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENTS", "{args}: {e}");
    }
}

#[tokio::test]
async fn the_registry_validates_arguments_against_the_schema() {
    let env = env(&[]);
    let mut registry = ToolRegistry::new();
    for t in ensemble_core::tools::web::all() {
        registry.register(t);
    }
    let def = registry.def("web_fetch").unwrap();
    assert_eq!(def.parameters["required"], json!(["url"]));
    assert!(!def.requires_approval);
    assert!(!def.idempotent, "POST may have side effects");
    let r = registry
        .call(
            "web_fetch",
            json!({ "url": "http://example.com/", "method": "DELETE" }),
            &env.ctx,
        )
        .await;
    assert!(!r.success);
    assert!(r.error.unwrap().contains("method"));
    let r = registry
        .call("web_fetch", json!({ "url": "http://10.1.2.3/" }), &env.ctx)
        .await;
    assert_eq!(
        r.error.as_deref(),
        Some("refused: 10.1.2.3 is a private address")
    );
}
