//! MCP tools: each enabled stdio MCP server in Settings is started as a child
//! process and talked to with the official Rust SDK (`rmcp`); every tool it
//! lists becomes a proxy [`Tool`] named `{server}__{tool}`.
//!
//! Decisions:
//! - Names use `__`, not `.`, because OpenAI and Ollama accept only
//!   `[a-zA-Z0-9_-]{1,64}` in tool names; other characters become `_`.
//! - The remote input schema is the tool's parameter schema (so the registry
//!   validates arguments before anything is sent); one that is not an object
//!   schema, or does not compile, is replaced by `{"type":"object"}`.
//! - `requires_approval` is false only for tools the server marks
//!   `readOnlyHint: true`; `idempotent` is true for `idempotentHint: true` or
//!   read-only tools. These are hints from the server, trusted because a
//!   person chose to install that server: a server that lies about them could
//!   do the same harm through any of its tools.
//! - A server that dies is reported (tracing warning, [`McpStatus`] with
//!   `last_error` and `restarts`) and restarted by the next call, at most once
//!   a second and [`McpOptions::max_restarts_per_minute`] times a minute. A
//!   call is sent again only when it certainly never reached the server; one
//!   that was in flight when the server died fails with an error saying so.
//! - The tool list is read once at start (the registry is built once per
//!   process); `tools/list_changed` notifications are ignored.

mod server;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Tool, ToolCategory, ToolContext, ToolDef, ToolError, ToolOutput};
use crate::settings::McpServerConfig;
use crate::text_enum;
use server::McpServer;

/// How long a tool call may take before it is cancelled.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest tool name the providers accept.
const MAX_TOOL_NAME: usize = 64;

text_enum! {
    pub enum McpState ("MCP server state") {
        /// Turned off in Settings.
        Disabled = "disabled",
        Starting = "starting",
        Running = "running",
        /// Died; the next call restarts it.
        Exited = "exited",
        /// Could not be started (see `last_error`).
        Failed = "failed",
    }
}

/// What Settings shows about one configured MCP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct McpStatus {
    pub server: String,
    pub state: McpState,
    /// The tools it contributes, as agents see them (`server__tool`).
    pub tools: Vec<String>,
    /// How many times it was started again after dying.
    pub restarts: u32,
    pub last_error: Option<String>,
}

/// Timeouts and restart limits.
#[derive(Debug, Clone)]
pub struct McpOptions {
    /// Start, `initialize` and `tools/list` together.
    pub start_timeout: Duration,
    pub call_timeout: Duration,
    /// Least time between two starts of one server.
    pub restart_interval: Duration,
    pub max_restarts_per_minute: usize,
}

impl Default for McpOptions {
    fn default() -> Self {
        Self {
            start_timeout: Duration::from_secs(30),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            restart_interval: Duration::from_secs(1),
            max_restarts_per_minute: 5,
        }
    }
}

/// Starts every enabled server (concurrently, each within `timeout`) and
/// returns one proxy tool per remote tool and the status of every configured
/// server. A server that cannot start is reported in its status and
/// contributes no tools; the others are unaffected. The live statuses of
/// this configuration stay readable through [`statuses`].
pub async fn connect_all(
    configs: &[McpServerConfig],
    timeout: Duration,
) -> (Vec<Arc<dyn Tool>>, Vec<McpStatus>) {
    let hub = McpHub::connect(
        configs,
        McpOptions {
            start_timeout: timeout,
            ..McpOptions::default()
        },
    )
    .await;
    let tools = hub.tools();
    let statuses = hub.statuses();
    *lock(&CURRENT) = hub.servers;
    (tools, statuses)
}

/// The servers of the latest [`connect_all`]. Their processes live as long
/// as their tools (or this list) do.
static CURRENT: Mutex<Vec<Arc<McpServer>>> = Mutex::new(Vec::new());

/// The live status of every server of the latest [`connect_all`], in
/// configuration order: state, tools, restarts and the last error.
pub fn statuses() -> Vec<McpStatus> {
    lock(&CURRENT).iter().map(|s| s.status()).collect()
}

/// Stops the servers of the latest [`connect_all`] (on app exit): each gets
/// its stdin closed, a few seconds to exit, then SIGTERM and kill.
pub async fn shutdown_all() {
    let servers = std::mem::take(&mut *lock(&CURRENT));
    futures::future::join_all(servers.iter().map(|s| s.shutdown())).await;
}

/// The MCP servers of one configuration, for a caller that owns them (and
/// their shutdown) rather than using [`connect_all`].
pub struct McpHub {
    servers: Vec<Arc<McpServer>>,
    tools: Vec<Arc<dyn Tool>>,
}

impl McpHub {
    /// Starts every enabled server concurrently; see [`connect_all`].
    pub async fn connect(configs: &[McpServerConfig], options: McpOptions) -> Self {
        let mut seen = BTreeSet::new();
        let servers: Vec<Arc<McpServer>> = configs
            .iter()
            .map(|config| {
                let server = Arc::new(McpServer::new(config.clone(), options.clone()));
                if !config.enabled {
                    server.set_state(McpState::Disabled, None);
                } else if !seen.insert(sanitize(&config.name)) {
                    server.set_state(
                        McpState::Failed,
                        Some(format!(
                            "another MCP server is already named '{}'",
                            config.name
                        )),
                    );
                }
                server
            })
            .collect();
        let starting = servers
            .iter()
            .filter(|s| s.status().state == McpState::Starting)
            .map(|s| proxies(s.clone()));
        let tools = futures::future::join_all(starting)
            .await
            .into_iter()
            .flatten()
            .collect();
        Self { servers, tools }
    }

    pub fn tools(&self) -> Vec<Arc<dyn Tool>> {
        self.tools.clone()
    }

    /// The live status of every configured server, in configuration order.
    pub fn statuses(&self) -> Vec<McpStatus> {
        self.servers.iter().map(|s| s.status()).collect()
    }

    /// Stops every server: closes its stdin, waits for it to exit, then
    /// terminates it (the MCP stdio shutdown sequence).
    pub async fn shutdown(&self) {
        futures::future::join_all(self.servers.iter().map(|s| s.shutdown())).await;
    }
}

/// Starts a server and makes one proxy per remote tool (none if it failed).
async fn proxies(server: Arc<McpServer>) -> Vec<Arc<dyn Tool>> {
    let Ok(remote) = server.start().await else {
        return Vec::new();
    };
    let name = server.status().server;
    let mut names = BTreeSet::new();
    let mut tools: Vec<Arc<dyn Tool>> = Vec::new();
    for t in remote {
        let agent_name = tool_name(&name, &t.name);
        if !names.insert(agent_name.clone()) {
            tracing::warn!(server = %name, tool = %t.name, "two MCP tools share the name {agent_name}; the second is left out");
            continue;
        }
        let hints = t.annotations.clone().unwrap_or_default();
        let read_only = hints.read_only_hint == Some(true);
        let description = t
            .description
            .as_deref()
            .or(t.title.as_deref())
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{} (MCP server {name})", t.name));
        tools.push(Arc::new(McpTool {
            server: server.clone(),
            remote_name: t.name.to_string(),
            def: ToolDef {
                name: agent_name,
                description,
                parameters: sanitize_schema(&t.input_schema),
                category: ToolCategory::Mcp,
                requires_approval: !read_only,
                idempotent: read_only || hints.idempotent_hint == Some(true),
                unavailable: None,
            },
        }));
    }
    server.set_tools(names.into_iter().collect());
    tools
}

/// The agent-visible name of a remote tool: `{server}__{tool}`, limited to
/// the characters and length every provider accepts.
pub fn tool_name(server: &str, tool: &str) -> String {
    let mut name = format!("{}__{}", sanitize(server), sanitize(tool));
    name.truncate(MAX_TOOL_NAME);
    name
}

fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// A remote input schema made fit for the registry and the providers: an
/// object schema without `$schema`, or `{"type":"object"}` if it is not one.
pub fn sanitize_schema(schema: &serde_json::Map<String, serde_json::Value>) -> serde_json::Value {
    let permissive = || serde_json::json!({"type": "object", "properties": {}});
    match schema.get("type") {
        Some(serde_json::Value::String(t)) if t == "object" => {}
        None if schema.contains_key("properties") => {}
        _ => return permissive(),
    }
    let mut s = schema.clone();
    s.remove("$schema");
    s.insert("type".into(), "object".into());
    s.entry("properties")
        .or_insert_with(|| serde_json::json!({}));
    let value = serde_json::Value::Object(s);
    if jsonschema::validator_for(&value).is_err() {
        return permissive();
    }
    value
}

/// The text an agent sees for a tool result: text blocks as they are, other
/// blocks summarized; structured content becomes the output's data.
fn render(result: CallToolResult) -> ToolOutput {
    let mut parts = Vec::new();
    for block in result.content {
        match block {
            ContentBlock::Text(t) => parts.push(t.text),
            ContentBlock::Image(i) => parts.push(format!(
                "[image {}, {} bytes of base64]",
                i.mime_type,
                i.data.len()
            )),
            ContentBlock::Audio(a) => parts.push(format!(
                "[audio {}, {} bytes of base64]",
                a.mime_type,
                a.data.len()
            )),
            ContentBlock::Resource(r) => match r.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => {
                    parts.push(format!("[resource {uri}]\n{text}"))
                }
                ResourceContents::BlobResourceContents {
                    uri,
                    mime_type,
                    blob,
                    ..
                } => parts.push(format!(
                    "[resource {uri} ({}), {} bytes of base64]",
                    mime_type.as_deref().unwrap_or("binary"),
                    blob.len()
                )),
                _ => parts.push("[resource]".into()),
            },
            ContentBlock::ResourceLink(l) => {
                parts.push(format!("[resource link {} <{}>]", l.name, l.uri))
            }
            _ => parts.push("[unsupported content]".into()),
        }
    }
    let data = result.structured_content;
    let mut content = parts.join("\n");
    if content.is_empty() {
        if let Some(d) = &data {
            content = d.to_string();
        }
    }
    ToolOutput { content, data }
}

/// One remote tool as a local [`Tool`].
struct McpTool {
    server: Arc<McpServer>,
    remote_name: String,
    def: ToolDef,
}

#[async_trait]
impl Tool for McpTool {
    fn def(&self) -> ToolDef {
        self.def.clone()
    }

    async fn run(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        self.server
            .call(&self.remote_name, &self.def.name, args, &ctx.cancel)
            .await
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
