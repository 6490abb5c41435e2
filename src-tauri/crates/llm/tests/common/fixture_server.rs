//! Protocol fixture: an in-process HTTP/1.1 server that answers with scripted
//! replies in a provider's documented wire format. It can split a stream into
//! arbitrary chunks (each flushed and delayed so the client sees separate
//! reads), drop the connection mid-stream, hang up at once, or stall
//! without answering. It records
//! every request so tests can check what reached the "provider".
//!
//! This never replaces the real-model tests; it checks the adapters' framing,
//! error mapping and resilience against the documented protocol.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A chunked response written piece by piece; with `drop_after`, the
    /// connection is closed before the final chunk (a broken stream).
    Stream {
        status: u16,
        content_type: String,
        chunks: Vec<Vec<u8>>,
        delay: Duration,
        drop_after: bool,
    },
    /// Close the connection without answering.
    Hangup,
    /// Read the request, then say nothing for this long before hanging up
    /// (a provider that accepted the connection and stalls).
    Stall(Duration),
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    /// A stream of `body` cut into pieces of `piece` bytes (UTF-8 may be split mid-character).
    pub fn stream_split(content_type: &str, body: &str, piece: usize) -> Self {
        let chunks = body
            .as_bytes()
            .chunks(piece.max(1))
            .map(|c| c.to_vec())
            .collect();
        Reply::Stream {
            status: 200,
            content_type: content_type.into(),
            chunks,
            delay: Duration::from_millis(2),
            drop_after: false,
        }
    }

    /// Like [`Reply::stream_split`] but cut into the given pieces.
    pub fn stream_pieces(content_type: &str, pieces: &[&str]) -> Self {
        Reply::Stream {
            status: 200,
            content_type: content_type.into(),
            chunks: pieces.iter().map(|p| p.as_bytes().to_vec()).collect(),
            delay: Duration::from_millis(2),
            drop_after: false,
        }
    }

    pub fn dropping(self) -> Self {
        match self {
            Reply::Stream {
                status,
                content_type,
                chunks,
                delay,
                ..
            } => Reply::Stream {
                status,
                content_type,
                chunks,
                delay,
                drop_after: true,
            },
            other => other,
        }
    }
}

type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

pub struct FixtureServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FixtureServer {
    /// Starts a server; `handler` gets each request and its 0-based number.
    pub async fn start(
        handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fixture server");
        let addr = listener.local_addr().expect("fixture addr");
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let reqs = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    break;
                };
                let handler = handler.clone();
                let reqs = reqs.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, handler, reqs).await;
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A URL on which nothing listens (connection refused).
pub async fn refused_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

async fn serve(
    mut sock: TcpStream,
    handler: Arc<Handler>,
    reqs: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let header_end = loop {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    let rec = Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    };
    let index = {
        let mut r = reqs.lock().unwrap_or_else(|p| p.into_inner());
        r.push(rec.clone());
        r.len() - 1
    };
    match handler(&rec, index) {
        Reply::Hangup => Ok(()),
        Reply::Stall(d) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            ));
            sock.write_all(out.as_bytes()).await?;
            sock.write_all(body.as_bytes()).await?;
            sock.flush().await
        }
        Reply::Stream {
            status,
            content_type,
            chunks,
            delay,
            drop_after,
        } => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                reason(status)
            );
            sock.write_all(head.as_bytes()).await?;
            sock.flush().await?;
            for c in chunks {
                sock.write_all(format!("{:x}\r\n", c.len()).as_bytes())
                    .await?;
                sock.write_all(&c).await?;
                sock.write_all(b"\r\n").await?;
                sock.flush().await?;
                tokio::time::sleep(delay).await;
            }
            if drop_after {
                // Close the connection without the terminating chunk: the
                // client sees the body end early.
                return Ok(());
            }
            sock.write_all(b"0\r\n\r\n").await?;
            sock.flush().await
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
