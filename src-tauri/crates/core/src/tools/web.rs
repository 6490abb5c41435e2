//! `web_fetch`: HTTP(S) GET/POST for agents, with the SSRF guard of SPEC §5.
//!
//! Every hop (the first request and each redirect, followed by hand) resolves
//! the host, refuses loopback, private, link-local and other non-public
//! addresses unless the host is in the Settings allow-list, and connects only
//! to the addresses it checked (pinned in the client, so a second DNS answer
//! cannot swap them). No system proxy is used. Responses are capped, HTML
//! becomes readable text, binary content is refused.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize};

mod ip;

use ip::article;
pub use ip::restricted_kind;

use super::{Tool, ToolCategory, ToolContext, ToolError, ToolOutput, TypedTool};

const NAME: &str = "web_fetch";

/// Whole call, all hops and the body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most text returned to the agent (after HTML conversion).
pub const DEFAULT_TEXT_CAP: usize = 50 * 1024;
/// Most body bytes read from the network, so a huge page cannot exhaust memory.
pub const DEFAULT_RAW_CAP: usize = 2 * 1024 * 1024;
/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
const MAX_HEADERS: usize = 50;
/// Wrap width of text converted from HTML.
const TEXT_WIDTH: usize = 100;

/// Headers an agent may not set: they describe the connection, which the
/// tool owns.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-authorization",
    "proxy-connection",
];

/// Headers dropped when a redirect leaves the origin that received them.
const CREDENTIAL_HEADERS: &[HeaderName] = &[header::AUTHORIZATION, header::COOKIE];

/// The web tools with their default limits.
pub fn all() -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(WebFetch::new())]
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
enum HttpMethod {
    #[default]
    Get,
    Post,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct FetchArgs {
    /// The http:// or https:// address to fetch.
    url: String,
    /// GET (the default) or POST.
    #[serde(default)]
    method: HttpMethod,
    /// Request body, for POST.
    #[serde(default)]
    body: Option<String>,
    /// Extra request headers, name to value (for example Accept or Content-Type).
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// The `web_fetch` tool. Its limits are fields so tests can run fast.
#[derive(Debug, Clone)]
pub struct WebFetch {
    timeout: Duration,
    text_cap: usize,
    raw_cap: usize,
}

impl Default for WebFetch {
    fn default() -> Self {
        Self::new()
    }
}

impl WebFetch {
    /// 30 s timeout, 50 KB of text, 2 MB read from the network.
    pub fn new() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            text_cap: DEFAULT_TEXT_CAP,
            raw_cap: DEFAULT_RAW_CAP,
        }
    }

    /// Limit on the whole call: DNS, every hop and reading the body.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Most bytes of text returned, and most body bytes read.
    pub fn with_caps(mut self, text_cap: usize, raw_cap: usize) -> Self {
        self.text_cap = text_cap;
        self.raw_cap = raw_cap.max(text_cap);
        self
    }
}

#[async_trait]
impl TypedTool for WebFetch {
    type Args = FetchArgs;
    const NAME: &'static str = NAME;
    const CATEGORY: ToolCategory = ToolCategory::Web;
    // POST may have side effects and the definition cannot differ per call,
    // so an interrupted fetch is never repeated blindly.
    const IDEMPOTENT: bool = false;

    fn description(&self) -> String {
        format!(
            "Fetch a web page or API over http(s) with GET or POST and return its text \
             (HTML converted to readable text, links listed as footnotes). At most {} of \
             text; times out after {}. Local and private network addresses are refused \
             unless the user allowed them in Settings.",
            size_text(self.text_cap),
            duration_text(self.timeout)
        )
    }

    async fn call(&self, a: FetchArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        let url = parse_url(&a.url)?;
        if a.body.is_some() && a.method == HttpMethod::Get {
            return Err(invalid("a body needs method POST"));
        }
        let headers = request_headers(a.headers.unwrap_or_default())?;
        let allow = ctx
            .core
            .settings()
            .map_err(|e| ToolError::Failed(format!("cannot read the web_fetch allow-list: {e}")))?
            .web_fetch_allow_list;
        let method = match a.method {
            HttpMethod::Get => Method::GET,
            HttpMethod::Post => Method::POST,
        };
        let request = Request {
            url,
            method,
            body: a.body,
            headers,
        };
        match tokio::time::timeout(self.timeout, self.fetch(request, &allow)).await {
            Ok(r) => r,
            Err(_) => Err(ToolError::Failed(format!(
                "timed out after {}",
                duration_text(self.timeout)
            ))),
        }
    }
}

struct Request {
    url: Url,
    method: Method,
    body: Option<String>,
    headers: HeaderMap,
}

/// Where a checked hop may connect.
enum Pin {
    /// The URL names an IP address: nothing to resolve.
    Literal,
    /// A host name and the addresses it resolved to, all checked.
    Resolved(String, Vec<SocketAddr>),
}

impl WebFetch {
    async fn fetch(&self, mut req: Request, allow: &[String]) -> Result<ToolOutput, ToolError> {
        let mut redirects: Vec<String> = Vec::new();
        loop {
            let pin =
                check_target(&req.url, allow)
                    .await
                    .map_err(|e| match (e, redirects.last()) {
                        (ToolError::Refused(m), Some(from)) => {
                            ToolError::Refused(format!("{m} (redirected from {from})"))
                        }
                        (e, _) => e,
                    })?;
            let client = self.client(&pin)?;
            let mut builder = client
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(body) = &req.body {
                builder = builder.body(body.clone());
            }
            let resp = builder
                .send()
                .await
                .map_err(|e| transport_error(&req.url, &e))?;
            let status = resp.status();
            let location = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let Some(location) = location.filter(|_| status.is_redirection()) else {
                return self.read(resp, redirects).await;
            };
            if redirects.len() >= MAX_REDIRECTS {
                return Err(ToolError::Failed(format!(
                    "too many redirects (more than {MAX_REDIRECTS}), last to {location}"
                )));
            }
            let next = req.url.join(&location).map_err(|e| {
                ToolError::Failed(format!(
                    "{} redirected to a bad address '{location}': {e}",
                    req.url
                ))
            })?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(ToolError::Refused(format!(
                    "refused: {} redirected to {next}, which is not http or https",
                    req.url
                )));
            }
            // Browsers turn these into a GET without a body; 307 and 308 keep both.
            let status = status.as_u16();
            if status == 303 || (matches!(status, 301 | 302) && req.method == Method::POST) {
                req.method = Method::GET;
                req.body = None;
                req.headers.remove(header::CONTENT_TYPE);
            }
            if next.origin() != req.url.origin() {
                for h in CREDENTIAL_HEADERS {
                    req.headers.remove(h);
                }
            }
            redirects.push(req.url.to_string());
            req.url = next;
        }
    }

    fn client(&self, pin: &Pin) -> Result<reqwest::Client, ToolError> {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(self.timeout)
            .user_agent(concat!(
                "Ensemble/",
                env!("CARGO_PKG_VERSION"),
                " web_fetch"
            ));
        if let Pin::Resolved(host, addrs) = pin {
            b = b.resolve_to_addrs(host, addrs);
        }
        b.build()
            .map_err(|e| ToolError::Failed(format!("cannot set up the HTTP client: {e}")))
    }

    async fn read(
        &self,
        mut resp: reqwest::Response,
        redirects: Vec<String>,
    ) -> Result<ToolOutput, ToolError> {
        let url = resp.url().clone();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let declared = content_type.as_deref().map(kind_of_type);
        if let Some(Kind::Binary(mime)) = &declared {
            return Err(ToolError::Refused(format!(
                "refused: {url} returned binary content ({mime}); web_fetch reads text and HTML only"
            )));
        }

        let mut raw: Vec<u8> = Vec::new();
        let mut raw_truncated = false;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ToolError::Failed(format!("reading {url} failed: {}", error_chain(&e))))?
        {
            let room = self.raw_cap - raw.len();
            if chunk.len() > room {
                raw.extend_from_slice(&chunk[..room]);
                raw_truncated = true;
                break;
            }
            raw.extend_from_slice(&chunk);
        }
        drop(resp);

        let kind = match declared {
            Some(Kind::Unknown) | None => sniff(&raw),
            Some(k) => k,
        };
        let text = match kind {
            Kind::Binary(what) => {
                return Err(ToolError::Refused(format!(
                    "refused: {url} returned binary content ({what}); web_fetch reads text and HTML only"
                )))
            }
            Kind::Html => {
                let html = decode(&raw, content_type.as_deref());
                tokio::task::spawn_blocking(move || html_to_text(&html))
                    .await
                    .map_err(|e| ToolError::Failed(format!("converting HTML failed: {e}")))??
            }
            Kind::Text | Kind::Unknown => decode(&raw, content_type.as_deref()),
        };

        let (mut content, text_truncated) = cap_text(text, self.text_cap);
        if text_truncated {
            content.push_str(&format!("\n[… truncated at {}]", size_text(self.text_cap)));
        } else if raw_truncated {
            content.push_str(&format!(
                "\n[… truncated: only the first {} of the response was read]",
                size_text(self.raw_cap)
            ));
        }
        if !status.is_success() {
            content = format!("HTTP {status}\n\n{content}");
        }
        Ok(ToolOutput {
            content,
            data: Some(serde_json::json!({
                "url": url.as_str(),
                "status": status.as_u16(),
                "content_type": content_type,
                "truncated": text_truncated || raw_truncated,
                "redirects": redirects,
            })),
        })
    }
}

fn invalid(detail: impl Into<String>) -> ToolError {
    ToolError::InvalidArguments {
        tool: NAME.into(),
        detail: detail.into(),
    }
}

fn parse_url(raw: &str) -> Result<Url, ToolError> {
    let url = Url::parse(raw.trim()).map_err(|e| invalid(format!("'{raw}' is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ToolError::Refused(format!(
            "refused: only http and https URLs can be fetched, not {}:",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("'{raw}' has no host")));
    }
    Ok(url)
}

fn request_headers(map: BTreeMap<String, String>) -> Result<HeaderMap, ToolError> {
    if map.len() > MAX_HEADERS {
        return Err(invalid(format!("at most {MAX_HEADERS} headers")));
    }
    let mut out = HeaderMap::new();
    for (name, value) in map {
        let n = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid(format!("'{name}' is not a header name")))?;
        if RESERVED_HEADERS.contains(&n.as_str()) {
            return Err(invalid(format!(
                "the {n} header is set by web_fetch itself"
            )));
        }
        let v = HeaderValue::from_str(value.trim())
            .map_err(|_| invalid(format!("the value of {n} is not a valid header value")))?;
        out.insert(n, v);
    }
    Ok(out)
}

/// Resolves and checks the host of one hop; refuses a non-public address
/// unless the host is allowed in Settings.
async fn check_target(url: &Url, allow: &[String]) -> Result<Pin, ToolError> {
    let host = url
        .host_str()
        .ok_or_else(|| invalid(format!("{url} has no host")))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| invalid(format!("{url} has no port")))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let literal = bare.parse::<IpAddr>().ok();
    let allowed = is_allowed(allow, bare, literal, port);
    if let Some(ip) = literal {
        if let Some(kind) = restricted_kind(ip).filter(|_| !allowed) {
            return Err(ToolError::Refused(format!(
                "refused: {ip} is {} {kind} address",
                article(kind)
            )));
        }
        return Ok(Pin::Literal);
    }
    // "name." is the same DNS name as "name", but the hosts file only knows
    // the latter. The pin below stays under the URL's own spelling.
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare.trim_end_matches('.'), port))
        .await
        .map_err(|e| ToolError::Failed(format!("cannot resolve {bare}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(ToolError::Failed(format!("{bare} has no address")));
    }
    if !allowed {
        if let Some((ip, kind)) = addrs
            .iter()
            .find_map(|a| restricted_kind(a.ip()).map(|k| (a.ip(), k)))
        {
            return Err(ToolError::Refused(format!(
                "refused: {bare} resolves to {ip} ({kind})"
            )));
        }
    }
    Ok(Pin::Resolved(bare.to_string(), addrs))
}

/// Whether `host` (with `port`) matches an allow-list entry: `host`,
/// `host:port`, `[v6]` or `[v6]:port`; IP addresses compare as addresses.
fn is_allowed(list: &[String], host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    let host = host.trim_end_matches('.');
    list.iter().any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        let (entry_host, entry_port) = split_entry(&entry);
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        match (ip, entry_host.parse::<IpAddr>()) {
            (Some(a), Ok(b)) => a == b,
            _ => entry_host.trim_end_matches('.').eq_ignore_ascii_case(host),
        }
    })
}

/// `(host, port)` of an allow-list entry; an entry with a port that does not
/// parse matches nothing (port 0 never matches a URL).
fn split_entry(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((h, "")) => (h, None),
            Some((h, p)) => (
                h,
                Some(
                    p.strip_prefix(':')
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0),
                ),
            ),
            None => (rest, None),
        };
    }
    match entry.split_once(':') {
        // One colon: host:port. More: a bare IPv6 address.
        Some((h, p)) if !p.contains(':') => (h, Some(p.parse().unwrap_or(0))),
        _ => (entry, None),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Html,
    Text,
    Binary(String),
    Unknown,
}

fn kind_of_type(content_type: &str) -> Kind {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let textual_app = [
        "application/json",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-javascript",
        "application/x-www-form-urlencoded",
        "application/x-ndjson",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/sql",
        "application/graphql",
    ];
    // octet-stream is what servers send when they do not know: look at it.
    if mime.is_empty() || mime == "application/octet-stream" {
        Kind::Unknown
    } else if mime == "text/html" || mime == "application/xhtml+xml" {
        Kind::Html
    } else if mime.starts_with("text/")
        || textual_app.contains(&mime.as_str())
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
    {
        Kind::Text
    } else {
        Kind::Binary(mime)
    }
}

/// A body without a content type: text if it looks like text.
fn sniff(raw: &[u8]) -> Kind {
    let head = &raw[..raw.len().min(1024)];
    if head.contains(&0) {
        return Kind::Binary("unknown type".into());
    }
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A character cut at the end of the sample is fine.
        Err(e) => e.error_len().is_none(),
    };
    if !valid {
        return Kind::Binary("unknown type".into());
    }
    let start = String::from_utf8_lossy(&head[..head.len().min(256)])
        .trim_start()
        .to_ascii_lowercase();
    if start.starts_with("<!doctype html") || start.starts_with("<html") {
        Kind::Html
    } else {
        Kind::Text
    }
}

/// Decodes with the declared charset (UTF-8 when none or unknown).
fn decode(raw: &[u8], content_type: Option<&str>) -> String {
    let label = content_type.and_then(|ct| {
        ct.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"').to_string())
        })
    });
    let encoding = label
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    encoding.decode(raw).0.into_owned()
}

fn html_to_text(html: &str) -> Result<String, ToolError> {
    html2text::config::plain()
        .no_link_wrapping()
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), TEXT_WIDTH)
        .map_err(|e| ToolError::Failed(format!("cannot convert the HTML to text: {e}")))
}

/// Cuts `text` to at most `cap` bytes on a character boundary.
fn cap_text(mut text: String, cap: usize) -> (String, bool) {
    if text.len() <= cap {
        return (text, false);
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

fn transport_error(url: &Url, e: &reqwest::Error) -> ToolError {
    let what = if e.is_connect() {
        format!("cannot connect to {}", url.host_str().unwrap_or_default())
    } else {
        format!("request to {url} failed")
    };
    ToolError::Failed(format!("{what}: {}", error_chain(e)))
}

/// An error with its causes: reqwest's own message alone rarely says why.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn size_text(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

fn duration_text(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_entries_match_host_and_port() {
        let list = vec![
            "localhost".to_string(),
            "127.0.0.1:8080".to_string(),
            "[::1]:9000".to_string(),
            "fd00::5".to_string(),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert!(is_allowed(&list, "localhost", None, 1234));
        assert!(is_allowed(&list, "LOCALHOST.", None, 80));
        assert!(is_allowed(&list, "127.0.0.1", ip("127.0.0.1"), 8080));
        assert!(!is_allowed(&list, "127.0.0.1", ip("127.0.0.1"), 8081));
        assert!(is_allowed(&list, "::1", ip("::1"), 9000));
        assert!(!is_allowed(&list, "::1", ip("::1"), 80));
        assert!(is_allowed(&list, "fd00::5", ip("fd00::5"), 443));
        assert!(is_allowed(&list, "fd00:0::5", ip("fd00:0::5"), 443));
        assert!(!is_allowed(&list, "127.0.0.2", ip("127.0.0.2"), 8080));
        assert!(!is_allowed(&list, "example.com", None, 80));
        assert!(!is_allowed(
            &["127.0.0.1:x".to_string()],
            "127.0.0.1",
            ip("127.0.0.1"),
            80
        ));
    }

    #[test]
    fn content_types_are_sorted_into_html_text_and_binary() {
        assert_eq!(kind_of_type("text/html; charset=utf-8"), Kind::Html);
        assert_eq!(kind_of_type("application/json"), Kind::Text);
        assert_eq!(kind_of_type("application/ld+json"), Kind::Text);
        assert_eq!(kind_of_type("text/plain"), Kind::Text);
        assert_eq!(kind_of_type("image/png"), Kind::Binary("image/png".into()));
        assert_eq!(kind_of_type(""), Kind::Unknown);
        assert_eq!(sniff(b"<!DOCTYPE html><p>x</p>"), Kind::Html);
        assert_eq!(sniff(b"plain words"), Kind::Text);
        assert!(matches!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Kind::Binary(_)));
    }

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let (t, cut) = cap_text("héllo".into(), 2);
        assert_eq!((t.as_str(), cut), ("h", true));
        let (t, cut) = cap_text("abc".into(), 3);
        assert_eq!((t.as_str(), cut), ("abc", false));
    }
}
