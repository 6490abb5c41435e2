//! HTTP plumbing shared by the HTTP providers: the client, and the mapping
//! of transport failures and HTTP statuses to [`ProviderError`]s that carry
//! what the caller needs (URL, model, retry-after…).

use std::time::Duration;

use super::ProviderError;

/// Time to establish a connection; generation itself may take long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client for model providers. Local endpoints never go through a proxy.
pub fn client(base_url: &str) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("Ensemble/", env!("CARGO_PKG_VERSION")));
    if is_local(base_url) {
        b = b.no_proxy();
    }
    b.build().unwrap_or_else(|_| reqwest::Client::new())
}

fn is_local(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    matches!(host, "localhost" | "127.0.0.1" | "[" | "0.0.0.0") || host.starts_with("127.")
}

/// Maps a transport error (no HTTP status) to a provider error.
pub fn transport_error(url: &str, e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        return ProviderError::Timeout {
            after: CONNECT_TIMEOUT,
        };
    }
    if e.is_connect() {
        return ProviderError::Unreachable {
            url: url.to_string(),
            detail: root_cause(e),
        };
    }
    if e.is_body() || e.is_decode() {
        return ProviderError::Interrupted {
            detail: root_cause(e),
        };
    }
    ProviderError::Unreachable {
        url: url.to_string(),
        detail: root_cause(e),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// `Retry-After` in seconds (the HTTP-date form is rare from model APIs).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Maps a non-success HTTP response to a provider error. `model` is the
/// model the request named (for "model not found").
pub fn status_error(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    model: &str,
) -> ProviderError {
    let detail = error_text(body);
    match status {
        404 => ProviderError::ModelNotFound {
            model: model.to_string(),
        },
        401 | 403 => ProviderError::Auth { detail },
        408 => ProviderError::Timeout {
            after: Duration::from_secs(0),
        },
        429 => ProviderError::RateLimited {
            retry_after: retry_after(headers),
        },
        s if s >= 500 => ProviderError::Server { status: s, detail },
        s => {
            let lower = detail.to_lowercase();
            if refuses_tools(&lower) {
                ProviderError::ToolsUnsupported {
                    model: model.to_string(),
                    detail,
                }
            } else if lower.contains("model")
                && (lower.contains("not found") || lower.contains("does not exist"))
            {
                ProviderError::ModelNotFound {
                    model: model.to_string(),
                }
            } else {
                ProviderError::BadResponse {
                    detail: format!("HTTP {s}: {detail}"),
                }
            }
        }
    }
}

/// A 4xx that refuses the request's `tools` rather than the request: Ollama
/// says "<model> does not support tools" (also inside `error.message` over
/// /v1); llama.cpp's server without `--jinja` says "tools param requires
/// --jinja flag"; vLLM without a tool parser says "\"auto\" tool choice
/// requires --enable-auto-tool-choice and --tool-call-parser to be set".
pub fn refuses_tools(lower: &str) -> bool {
    lower.contains("does not support tools")
        || lower.contains("tools param requires")
        || lower.contains("tool choice requires")
        || (lower.contains("tool")
            && (lower.contains("not supported") || lower.contains("unsupported")))
}

/// The human part of an error body: `{"error": "..."}`, `{"error": {"message": "..."}}`, or the text.
pub fn error_text(body: &str) -> String {
    let clipped: String = body.chars().take(500).collect();
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => v
            .get("error")
            .and_then(|e| {
                e.as_str().map(str::to_string).or_else(|| {
                    e.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
            })
            .or_else(|| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or(clipped),
        Err(_) => clipped.trim().to_string(),
    }
}

/// Sends a request, mapping transport failures and error statuses.
pub async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    model: &str,
) -> Result<reqwest::Response, ProviderError> {
    let res = req.send().await.map_err(|e| transport_error(url, &e))?;
    let status = res.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(res);
    }
    let headers = res.headers().clone();
    let body = res.text().await.unwrap_or_default();
    Err(status_error(status, &headers, &body, model))
}
