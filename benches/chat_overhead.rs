//! Benchmark (not a test): the time the app adds between a provider's delta
//! and its `tauri::ipc::Channel` send — through the chat engine (select loop,
//! partial-answer persistence) and the Channel's serialisation — with an
//! instant in-process provider, so nothing but Ensemble's own path is timed.
//!
//! Run: `cargo bench --bench chat_overhead` (prints p50/p90/p99 in µs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ensemble_core::chat::engine::{ChatEngine, ChatEvent, ChatSendRequest};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::providers::{
    ChatRequest, EventStream, FinishReason, ModelInfo, Provider, ProviderError, ProviderInput,
    ProviderKind, StreamEvent,
};
use ensemble_core::settings::SettingsPatch;
use ensemble_core::Core;
use futures::StreamExt;
use tauri::ipc::{Channel, InvokeResponseBody};
use tokio_util::sync::CancellationToken;

const DELTAS: usize = 20_000;

fn clock() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Yields deltas whose text is the moment they were produced (ns since `clock()`).
struct Stamping;

#[async_trait]
impl Provider for Stamping {
    fn name(&self) -> &str {
        "bench"
    }
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAiCompatible
    }
    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        Ok(vec![])
    }
    async fn chat(
        &self,
        _r: ChatRequest,
        _c: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let s = futures::stream::iter(0..=DELTAS).map(|i| {
            if i == DELTAS {
                Ok(StreamEvent::Finish(FinishReason::Stop))
            } else {
                Ok(StreamEvent::Delta(format!(
                    "{} ",
                    clock().elapsed().as_nanos()
                )))
            }
        });
        Ok(s.boxed())
    }
}

fn percentile(sorted: &[u128], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx] as f64 / 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Arc::new(Core::open(dir.path()).expect("core"));
    core.providers()
        .create(ProviderInput {
            name: Some("bench".into()),
            kind: Some(ProviderKind::OpenAiCompatible),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            default_model: Some("instant".into()),
            ..Default::default()
        })
        .expect("provider");
    core.update_settings(SettingsPatch {
        default_provider: Some("bench".into()),
        ..Default::default()
    })
    .expect("settings");
    let hub = Arc::new(ProviderHub::new(core.clone()));
    hub.inject("bench", Arc::new(Stamping));
    let engine = ChatEngine::new(core, hub);

    let latencies: Arc<Mutex<Vec<u128>>> = Arc::new(Mutex::new(Vec::with_capacity(DELTAS)));
    let lat = latencies.clone();
    let channel: Channel<ChatEvent> = Channel::new(move |body: InvokeResponseBody| {
        let now = clock().elapsed().as_nanos();
        if let InvokeResponseBody::Json(json) = body {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&json) {
                if let Some(t) = v["data"]["text"]
                    .as_str()
                    .and_then(|t| t.trim().parse::<u128>().ok())
                {
                    lat.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(now.saturating_sub(t));
                }
            }
        }
        Ok(())
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let mut sink = move |e: ChatEvent| channel.send(e).is_ok();
    let msg = rt
        .block_on(engine.send(
            ChatSendRequest {
                text: "bench".into(),
                ..Default::default()
            },
            CancellationToken::new(),
            &mut sink,
        ))
        .expect("send");
    let wall = started.elapsed();
    let mut l = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    l.sort_unstable();
    assert_eq!(l.len(), DELTAS, "every delta reached the channel");
    println!(
        "chat_overhead: {DELTAS} deltas through ChatEngine -> tauri::ipc::Channel (status {:?})",
        msg.status
    );
    println!(
        "  delta -> Channel send latency: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&l, 0.50),
        percentile(&l, 0.90),
        percentile(&l, 0.99),
        percentile(&l, 1.0)
    );
    println!(
        "  throughput: {:.0} deltas/s ({:?} wall)",
        DELTAS as f64 / wall.as_secs_f64(),
        wall.max(Duration::from_nanos(1))
    );
}
