//! One MCP server process: start, `initialize`, calls, death, restart
//! (see the decisions in `tools/mcp.rs`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotification, CancelledNotificationParam,
    ClientCapabilities, ClientConfig, ClientRequest, ErrorCode, Implementation, ProtocolVersion,
    RequestId, ServerResult,
};
use rmcp::service::{PeerRequestOptions, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{Peer, RoleClient, ServiceError, ServiceExt};
use tokio::io::AsyncBufReadExt;
use tokio_util::sync::CancellationToken;

use super::{lock, render, McpOptions, McpState, McpStatus};
use crate::settings::McpServerConfig;
use crate::tools::{ToolError, ToolOutput};

/// Lines of a server's stderr kept to explain why it died.
const STDERR_TAIL: usize = 20;

/// Mutable bookkeeping of one server, shared with its connection's monitor.
struct Book {
    status: McpStatus,
    /// Which connection is current (a stale one's death is not news).
    generation: u64,
    last_start: Option<Instant>,
    restarts_at: VecDeque<Instant>,
}

type StderrTail = Arc<Mutex<VecDeque<String>>>;

/// One configured MCP server: its process (if running) and its status.
pub(super) struct McpServer {
    config: McpServerConfig,
    options: McpOptions,
    book: Arc<Mutex<Book>>,
    /// The running connection; locked across (re)starts so only one happens.
    conn: tokio::sync::Mutex<Option<Connection>>,
}

/// A started process and the SDK's session with it.
struct Connection {
    session: Session,
    stop: CancellationToken,
    monitor: Option<tokio::task::JoinHandle<()>>,
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
}

/// Why an MCP server did not start (kept in its status, logged, and said
/// to an agent whose call needed it).
#[derive(Debug, thiserror::Error)]
pub(super) enum StartError {
    #[error("command not found: {0}")]
    NotFound(String),
    #[error("command is not executable: {0}")]
    NotExecutable(String),
    #[error("could not start {command}: {detail}")]
    Spawn { command: String, detail: String },
    /// The handshake failed; the detail ends with what the server wrote to
    /// stderr, if anything.
    #[error("initialize failed: {0}")]
    Initialize(String),
    #[error("tools/list failed: {0}")]
    ListTools(String),
    #[error("did not answer {what} within {secs} s")]
    Silent { what: &'static str, secs: f32 },
}

impl Drop for Connection {
    fn drop(&mut self) {
        // The monitor closes the SDK session, which shuts the process down.
        self.stop.cancel();
        if let Some(r) = self.stderr_reader.take() {
            r.abort();
        }
    }
}

/// What a call needs of a connection.
#[derive(Clone)]
struct Session {
    peer: Peer<RoleClient>,
    generation: u64,
    alive: Arc<AtomicBool>,
    stderr: StderrTail,
}

impl Session {
    fn usable(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && !self.peer.is_transport_closed()
    }
}

/// How one attempt at a call ended.
enum Attempt {
    Done(Result<ToolOutput, ToolError>),
    /// The request certainly never reached the server: safe to send again.
    NotSent(String),
}

impl McpServer {
    pub(super) fn new(config: McpServerConfig, options: McpOptions) -> Self {
        let status = McpStatus {
            server: config.name.clone(),
            state: McpState::Starting,
            tools: Vec::new(),
            restarts: 0,
            last_error: None,
        };
        Self {
            config,
            options,
            book: Arc::new(Mutex::new(Book {
                status,
                generation: 0,
                last_start: None,
                restarts_at: VecDeque::new(),
            })),
            conn: tokio::sync::Mutex::new(None),
        }
    }

    pub(super) fn status(&self) -> McpStatus {
        lock(&self.book).status.clone()
    }

    pub(super) fn set_state(&self, state: McpState, error: Option<String>) {
        let mut book = lock(&self.book);
        book.status.state = state;
        if error.is_some() {
            book.status.last_error = error;
        }
    }

    /// The first start: the remote tools, or why there are none (also
    /// recorded in the status).
    pub(super) async fn start(&self) -> Result<Vec<rmcp::model::Tool>, StartError> {
        let mut slot = self.conn.lock().await;
        let started = tokio::time::timeout(self.options.start_timeout, async {
            let conn = self.spawn().await?;
            let tools = conn.session.peer.list_all_tools().await.map_err(|e| {
                StartError::ListTools(format!(
                    "{e}{}",
                    tail_note(&conn.session.stderr, "its stderr")
                ))
            })?;
            Ok::<_, StartError>((conn, tools))
        })
        .await
        .unwrap_or_else(|_| {
            Err(StartError::Silent {
                what: "initialize and tools/list",
                secs: self.options.start_timeout.as_secs_f32(),
            })
        });
        match started {
            Ok((conn, tools)) => {
                *slot = Some(conn);
                self.set_state(McpState::Running, None);
                Ok(tools)
            }
            Err(e) => {
                tracing::warn!(server = %self.config.name, error = %e, "MCP server failed to start; it contributes no tools");
                self.set_state(McpState::Failed, Some(e.to_string()));
                Err(e)
            }
        }
    }

    /// Records the tools a started server contributes.
    pub(super) fn set_tools(&self, tools: Vec<String>) {
        tracing::info!(server = %self.config.name, tools = tools.len(), "MCP server started");
        lock(&self.book).status.tools = tools;
    }

    /// Starts the process and runs the `initialize` handshake.
    async fn spawn(&self) -> Result<Connection, StartError> {
        lock(&self.book).last_start = Some(Instant::now());
        let mut cmd = tokio::process::Command::new(&self.config.command);
        cmd.args(&self.config.args)
            .envs(&self.config.env)
            .kill_on_drop(true);
        let (transport, stderr_pipe) = TokioChildProcess::builder(cmd)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| {
                let command = self.config.command.clone();
                match e.kind() {
                    std::io::ErrorKind::NotFound => StartError::NotFound(command),
                    std::io::ErrorKind::PermissionDenied => StartError::NotExecutable(command),
                    _ => StartError::Spawn {
                        command,
                        detail: e.to_string(),
                    },
                }
            })?;
        let stderr: StderrTail = Arc::default();
        let stderr_reader = stderr_pipe
            .map(|pipe| tokio::spawn(read_stderr(self.config.name.clone(), pipe, stderr.clone())));
        let info = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("ensemble", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE);
        let running = match info.serve(transport).await {
            Ok(r) => r,
            Err(e) => {
                // Give the dying process a moment to explain itself.
                tokio::time::sleep(Duration::from_millis(200)).await;
                if let Some(r) = stderr_reader {
                    r.abort();
                }
                return Err(StartError::Initialize(format!(
                    "{e}{}",
                    tail_note(&stderr, "its stderr")
                )));
            }
        };
        let generation = {
            let mut book = lock(&self.book);
            book.generation += 1;
            book.generation
        };
        let session = Session {
            peer: running.peer().clone(),
            generation,
            alive: Arc::new(AtomicBool::new(true)),
            stderr,
        };
        let stop = CancellationToken::new();
        let monitor = tokio::spawn(monitor(
            running,
            stop.clone(),
            session.clone(),
            self.config.name.clone(),
            self.book.clone(),
        ));
        Ok(Connection {
            session,
            stop,
            monitor: Some(monitor),
            stderr_reader,
        })
    }

    /// A usable session: the current one, or a new process if it died.
    async fn session(&self, cancel: &CancellationToken) -> Result<Session, ToolError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.session.usable()) {
            return Ok(c.session.clone());
        }
        if let Some(dead) = slot.take() {
            note_death(
                &self.book,
                &self.config.name,
                &dead.session,
                "the server exited",
            );
        }
        let wait = self.restart_permit()?;
        if !wait.is_zero() {
            tokio::select! {
                _ = cancel.cancelled() => return Err(ToolError::Cancelled),
                _ = tokio::time::sleep(wait) => {}
            }
        }
        {
            let mut book = lock(&self.book);
            book.restarts_at.push_back(Instant::now());
            book.status.restarts += 1;
            book.status.state = McpState::Starting;
        }
        tracing::info!(server = %self.config.name, "restarting MCP server");
        let started = tokio::select! {
            _ = cancel.cancelled() => {
                self.set_state(McpState::Exited, None);
                return Err(ToolError::Cancelled);
            }
            r = tokio::time::timeout(self.options.start_timeout, self.spawn()) => r,
        };
        let conn = started
            .unwrap_or_else(|_| {
                Err(StartError::Silent {
                    what: "initialize",
                    secs: self.options.start_timeout.as_secs_f32(),
                })
            })
            .map_err(|e| {
                tracing::warn!(server = %self.config.name, error = %e, "MCP server failed to restart");
                self.set_state(McpState::Failed, Some(e.to_string()));
                ToolError::Unavailable(format!(
                    "MCP server '{}' could not be restarted: {e}",
                    self.config.name
                ))
            })?;
        self.set_state(McpState::Running, None);
        let session = conn.session.clone();
        *slot = Some(conn);
        Ok(session)
    }

    /// How long to wait before the next restart, or why there is none.
    fn restart_permit(&self) -> Result<Duration, ToolError> {
        let mut book = lock(&self.book);
        let now = Instant::now();
        while book
            .restarts_at
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            book.restarts_at.pop_front();
        }
        if book.restarts_at.len() >= self.options.max_restarts_per_minute {
            let e = format!(
                "MCP server '{}' was restarted {} times in the last minute; not restarting it again yet",
                self.config.name,
                book.restarts_at.len()
            );
            book.status.state = McpState::Failed;
            book.status.last_error = Some(e.clone());
            return Err(ToolError::Unavailable(e));
        }
        Ok(book
            .last_start
            .map(|t| {
                self.options
                    .restart_interval
                    .saturating_sub(now.duration_since(t))
            })
            .unwrap_or_default())
    }

    /// Calls a remote tool, restarting the server first if it died.
    pub(super) async fn call(
        &self,
        remote: &str,
        tool: &str,
        args: serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<ToolOutput, ToolError> {
        let arguments = match args {
            serde_json::Value::Object(m) => m,
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                return Err(ToolError::InvalidArguments {
                    tool: tool.to_string(),
                    detail: format!("arguments must be an object, not {other}"),
                })
            }
        };
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(
            CallToolRequestParams::new(remote.to_string()).with_arguments(arguments),
        ));
        let mut retried = false;
        loop {
            let session = self.session(cancel).await?;
            match self.attempt(&session, request.clone(), tool, cancel).await {
                Attempt::Done(r) => return r,
                Attempt::NotSent(why) if !retried => {
                    tracing::info!(server = %self.config.name, %tool, %why, "call not delivered; restarting the server and sending it again");
                    retried = true;
                }
                Attempt::NotSent(why) => {
                    return Err(ToolError::Unavailable(format!(
                        "MCP server '{}' is not answering: {why}",
                        self.config.name
                    )))
                }
            }
        }
    }

    async fn attempt(
        &self,
        session: &Session,
        request: ClientRequest,
        tool: &str,
        cancel: &CancellationToken,
    ) -> Attempt {
        let server = &self.config.name;
        let dead = |what: &str| {
            session.alive.store(false, Ordering::SeqCst);
            note_death(&self.book, server, session, what);
        };
        let handle = match session
            .peer
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
        {
            Ok(h) => h,
            Err(ServiceError::TransportClosed) => {
                dead("the server exited");
                return Attempt::NotSent("the server had exited".into());
            }
            Err(e) => return Attempt::Done(Err(ToolError::Failed(format!("{tool}: {e}")))),
        };
        // From here on the request may be in flight: if this future is
        // dropped (the registry's own cancel) or gives up, tell the server.
        let mut guard = CancelOnDrop {
            peer: session.peer.clone(),
            id: Some(handle.id.clone()),
            reason: "cancelled",
        };
        let mut rx = handle.rx;
        let answer = tokio::select! {
            r = &mut rx => r,
            _ = cancel.cancelled() => return Attempt::Done(Err(ToolError::Cancelled)),
            _ = tokio::time::sleep(self.options.call_timeout) => {
                guard.reason = "timed out";
                return Attempt::Done(Err(ToolError::Failed(format!(
                    "{tool}: no answer from MCP server '{server}' within {} s; the call was cancelled",
                    self.options.call_timeout.as_secs_f32()
                ))));
            }
        };
        guard.id = None;
        Attempt::Done(match answer {
            Ok(Ok(ServerResult::CallToolResult(result))) => {
                let failed = result.is_error == Some(true);
                let out = render(result);
                if !failed {
                    Ok(out)
                } else if out.content.is_empty() {
                    Err(ToolError::Failed(format!("{tool} reported an error")))
                } else {
                    Err(ToolError::Failed(out.content))
                }
            }
            Ok(Ok(_)) => Err(ToolError::Failed(format!(
                "{tool}: MCP server '{server}' answered with something other than a tool result (input requests and tasks are not supported)"
            ))),
            Ok(Err(ServiceError::TransportSend(e))) => {
                // Writing the request failed: the server never got it whole.
                dead("the server stopped reading its input");
                return Attempt::NotSent(e.to_string());
            }
            Ok(Err(ServiceError::McpError(e))) if e.code == ErrorCode::INVALID_PARAMS => {
                Err(ToolError::InvalidArguments {
                    tool: tool.to_string(),
                    detail: e.message.to_string(),
                })
            }
            Ok(Err(ServiceError::McpError(e))) => Err(ToolError::Failed(format!(
                "{tool}: MCP server '{server}' answered with an error: {}",
                e.message
            ))),
            Ok(Err(e)) => Err(ToolError::Failed(format!("{tool}: {e}"))),
            Err(_) => {
                dead(&format!("the server exited during a call to {tool}"));
                Err(ToolError::Failed(format!(
                    "MCP server '{server}' died during the call to {tool}; the call may or may not have taken effect, so it was not repeated (the server restarts on the next call){}",
                    tail_note(&session.stderr, "its last stderr")
                )))
            }
        })
    }

    pub(super) async fn shutdown(&self) {
        let Some(mut conn) = self.conn.lock().await.take() else {
            return;
        };
        conn.stop.cancel();
        if let Some(monitor) = conn.monitor.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), monitor).await;
        }
        let mut book = lock(&self.book);
        if book.status.state == McpState::Running {
            book.status.state = McpState::Exited;
            book.status.last_error = Some("stopped by Ensemble".into());
        }
    }
}

/// Sends `notifications/cancelled` for a request abandoned while in flight.
struct CancelOnDrop {
    peer: Peer<RoleClient>,
    id: Option<RequestId>,
    reason: &'static str,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let peer = self.peer.clone();
        let note = CancelledNotification::new(CancelledNotificationParam::new(
            Some(id),
            Some(self.reason.to_string()),
        ));
        // A one-shot send that ends with the session at the latest.
        drop(rt.spawn(async move {
            let _ = peer.send_notification(note.into()).await;
        }));
    }
}

/// Records that a session is gone: once, and only if it is the current one.
fn note_death(book: &Mutex<Book>, server: &str, session: &Session, what: &str) {
    let mut book = lock(book);
    if book.generation != session.generation || book.status.state != McpState::Running {
        return;
    }
    let e = format!("{what}{}", tail_note(&session.stderr, "last stderr"));
    tracing::warn!(%server, error = %e, "MCP server died; the next call restarts it");
    book.status.state = McpState::Exited;
    book.status.last_error = Some(e);
}

/// Owns the SDK session: reports when it ends by itself, closes it (and so
/// the process) when asked to stop.
async fn monitor(
    running: RunningService<RoleClient, ClientConfig>,
    stop: CancellationToken,
    session: Session,
    server: String,
    book: Arc<Mutex<Book>>,
) {
    let cancel = running.cancellation_token();
    let ended = running.waiting();
    tokio::pin!(ended);
    tokio::select! {
        _ = &mut ended => {
            session.alive.store(false, Ordering::SeqCst);
            if !stop.is_cancelled() {
                note_death(&book, &server, &session, "the server exited");
            }
        }
        _ = stop.cancelled() => {
            session.alive.store(false, Ordering::SeqCst);
            cancel.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(10), ended).await;
        }
    }
}

async fn read_stderr(server: String, pipe: tokio::process::ChildStderr, tail: StderrTail) {
    let mut reader = tokio::io::BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let mut text = String::from_utf8_lossy(&line).trim_end().to_string();
                tracing::debug!(%server, "stderr: {text}");
                if text.len() > 500 {
                    let mut cut = 500;
                    while !text.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    text.truncate(cut);
                }
                let mut tail = lock(&tail);
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(text);
            }
        }
    }
}

/// ` (label: last lines)` of a server's stderr, or nothing.
fn tail_note(stderr: &Mutex<VecDeque<String>>, label: &str) -> String {
    let tail = lock(stderr);
    let mut lines: Vec<&str> = tail
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .map(String::as_str)
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    lines.reverse();
    format!(" ({label}: {})", lines.join(" | "))
}
