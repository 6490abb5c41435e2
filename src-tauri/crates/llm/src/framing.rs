//! Turning a byte stream into protocol frames: newline-delimited JSON lines
//! (Ollama) and server-sent events (OpenAI, Anthropic). Frames may arrive
//! split anywhere, even inside a multi-byte character; bytes are buffered
//! until a frame is complete and only then decoded as UTF-8.

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};

use super::ProviderError;

/// Longest frame accepted; a provider sending more without a newline is broken.
const MAX_FRAME: usize = 4 * 1024 * 1024;

/// Splits a byte stream into lines (without the trailing `\n`/`\r\n`); the
/// last line is emitted even without a final newline. A transport error
/// mid-stream becomes [`ProviderError::Interrupted`].
pub fn lines<E: std::fmt::Display + Send + 'static>(
    body: BoxStream<'static, Result<Bytes, E>>,
) -> BoxStream<'static, Result<String, ProviderError>> {
    let state = (body, Vec::<u8>::new(), false);
    futures::stream::unfold(state, |(mut body, mut buf, mut done)| async move {
        loop {
            if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                let item = String::from_utf8(line)
                    .map_err(|_| ProviderError::bad("a line of the stream is not valid UTF-8"));
                return Some((item, (body, buf, done)));
            }
            if done {
                if buf.is_empty() {
                    return None;
                }
                let rest = std::mem::take(&mut buf);
                let item = String::from_utf8(rest)
                    .map_err(|_| ProviderError::bad("the end of the stream is not valid UTF-8"));
                return Some((item, (body, buf, done)));
            }
            match body.next().await {
                Some(Ok(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    if buf.len() > MAX_FRAME {
                        done = true;
                        buf.clear();
                        return Some((
                            Err(ProviderError::bad("a frame of the stream exceeds 4 MB")),
                            (body, buf, done),
                        ));
                    }
                }
                Some(Err(e)) => {
                    // Whatever was buffered is an incomplete frame: drop it and report.
                    buf.clear();
                    done = true;
                    return Some((
                        Err(ProviderError::Interrupted {
                            detail: e.to_string(),
                        }),
                        (body, buf, done),
                    ));
                }
                None => done = true,
            }
        }
    })
    .boxed()
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (empty when absent).
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Groups lines into server-sent events (a blank line ends an event;
/// comments and `id:`/`retry:` fields are ignored).
pub fn sse_events(
    lines: BoxStream<'static, Result<String, ProviderError>>,
) -> BoxStream<'static, Result<SseEvent, ProviderError>> {
    let state = (lines, String::new(), Vec::<String>::new(), false);
    futures::stream::unfold(
        state,
        |(mut lines, mut event, mut data, mut done)| async move {
            loop {
                if done {
                    return None;
                }
                match lines.next().await {
                    Some(Ok(line)) => {
                        if line.is_empty() {
                            if data.is_empty() && event.is_empty() {
                                continue;
                            }
                            let ev = SseEvent {
                                event: std::mem::take(&mut event),
                                data: std::mem::take(&mut data).join("\n"),
                            };
                            return Some((Ok(ev), (lines, event, data, done)));
                        }
                        if line.starts_with(':') {
                            continue;
                        }
                        let (field, value) = match line.split_once(':') {
                            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                            None => (line.as_str(), ""),
                        };
                        match field {
                            "event" => event = value.to_string(),
                            "data" => data.push(value.to_string()),
                            _ => {}
                        }
                    }
                    Some(Err(e)) => {
                        done = true;
                        return Some((Err(e), (lines, event, data, done)));
                    }
                    None => {
                        done = true;
                        if data.is_empty() && event.is_empty() {
                            return None;
                        }
                        let ev = SseEvent {
                            event: std::mem::take(&mut event),
                            data: std::mem::take(&mut data).join("\n"),
                        };
                        return Some((Ok(ev), (lines, event, data, done)));
                    }
                }
            }
        },
    )
    .boxed()
}

/// The body of a response as a byte stream for [`lines`].
pub fn body_stream(res: reqwest::Response) -> BoxStream<'static, Result<Bytes, reqwest::Error>> {
    res.bytes_stream().boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<&'static [u8]>) -> BoxStream<'static, Result<Bytes, String>> {
        futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
    }

    #[tokio::test]
    async fn lines_survive_splits_inside_characters() {
        let text = "{\"a\":\"héllo\"}\n{\"b\":\"wörld 🌍\"}\r\nlast";
        let bytes = text.as_bytes();
        // Split at every position, including inside multi-byte characters.
        for cut in 1..bytes.len() {
            let (a, b) = bytes.split_at(cut);
            let s: BoxStream<'static, Result<Bytes, String>> = futures::stream::iter(vec![
                Ok(Bytes::copy_from_slice(a)),
                Ok(Bytes::copy_from_slice(b)),
            ])
            .boxed();
            let got: Vec<String> = lines(s).map(|l| l.unwrap_or_default()).collect().await;
            assert_eq!(
                got,
                ["{\"a\":\"héllo\"}", "{\"b\":\"wörld 🌍\"}", "last"],
                "cut at {cut}"
            );
        }
    }

    #[tokio::test]
    async fn a_transport_error_ends_with_interrupted() {
        let s: BoxStream<'static, Result<Bytes, String>> = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"one\ntw")),
            Err("connection reset".to_string()),
        ])
        .boxed();
        let got: Vec<_> = lines(s).collect().await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_deref().ok(), Some("one"));
        assert!(matches!(got[1], Err(ProviderError::Interrupted { .. })));
    }

    #[tokio::test]
    async fn sse_events_are_grouped() {
        let s = chunks(vec![
            b": keep-alive\n\nevent: message_start\ndata: {\"x\":",
            b"1}\n\ndata: a\ndata: b\n\n",
            b"data: [DONE]\n\n",
        ]);
        let got: Vec<SseEvent> = sse_events(lines(s))
            .map(|e| {
                e.unwrap_or(SseEvent {
                    event: "ERR".into(),
                    data: String::new(),
                })
            })
            .collect()
            .await;
        assert_eq!(
            got,
            vec![
                SseEvent {
                    event: "message_start".into(),
                    data: "{\"x\":1}".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "a\nb".into()
                },
                SseEvent {
                    event: String::new(),
                    data: "[DONE]".into()
                },
            ]
        );
    }
}
