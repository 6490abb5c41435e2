//! Resilience around any provider: retries with exponential backoff and
//! jitter for failures before the first token, and a circuit breaker per
//! provider (opens after repeated failures, half-opens after a cool-down to
//! let one trial through, closes on success). Once tokens flow, a failure is
//! not retried (the caller already showed them): it ends the stream with an
//! error event and counts against the breaker. A provider that stays silent
//! too long (before its first event, or between two) times out instead of
//! holding its caller forever.
//!
//! Time is `tokio::time`, so tests drive it with a paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use super::{
    ChatRequest, EventStream, ModelFacts, ModelInfo, Provider, ProviderError, ProviderKind,
    PullProgress, StreamEvent,
};

/// How often and how patiently to retry a call that failed before its first token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the error is returned.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` (attempt ≥ 1): `base · 2^(attempt-1)`
    /// capped at `max_delay`, with "equal jitter" (half fixed, half random) so
    /// clients that failed together do not retry together.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_delay);
        let half = exp / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// A random number in [0, 1) for jitter (no cryptographic needs).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// What Settings shows about a provider's breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct BreakerStatus {
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// Seconds until an open breaker lets a trial request through.
    #[ts(type = "number | null")]
    pub retry_in_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub threshold: u32,
    /// How long it stays open before a trial.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: 5,
            cool_down: Duration::from_secs(30),
        }
    }
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    opened_at: Option<Instant>,
    trial_in_flight: bool,
}

/// A per-provider circuit breaker.
#[derive(Debug)]
pub struct Breaker {
    name: String,
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(name: impl Into<String>, config: BreakerConfig) -> Self {
        Self {
            name: name.into(),
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                opened_at: None,
                trial_in_flight: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks to send a request. Refused while open (and while a half-open trial is out).
    pub fn acquire(self: &Arc<Self>) -> Result<Permit, ProviderError> {
        let mut g = self.lock();
        let now = Instant::now();
        match g.state {
            BreakerState::Closed => {}
            BreakerState::Open => {
                let until = g
                    .opened_at
                    .map(|t| t + self.config.cool_down)
                    .unwrap_or(now);
                if now < until {
                    return Err(ProviderError::CircuitOpen {
                        provider: self.name.clone(),
                        retry_in: until - now,
                    });
                }
                g.state = BreakerState::HalfOpen;
                g.trial_in_flight = true;
                tracing::info!(provider = %self.name, "circuit half-open: sending a trial request");
            }
            BreakerState::HalfOpen => {
                if g.trial_in_flight {
                    return Err(ProviderError::CircuitOpen {
                        provider: self.name.clone(),
                        retry_in: Duration::from_secs(1),
                    });
                }
                g.trial_in_flight = true;
            }
        }
        Ok(Permit {
            breaker: self.clone(),
            resolved: false,
        })
    }

    fn success(&self) {
        let mut g = self.lock();
        if g.state != BreakerState::Closed {
            tracing::info!(provider = %self.name, "circuit closed: provider recovered");
        }
        g.state = BreakerState::Closed;
        g.failures = 0;
        g.opened_at = None;
        g.trial_in_flight = false;
    }

    fn failure(&self) {
        let mut g = self.lock();
        g.failures = g.failures.saturating_add(1);
        g.trial_in_flight = false;
        let open = match g.state {
            BreakerState::HalfOpen => true,
            BreakerState::Closed => g.failures >= self.config.threshold,
            BreakerState::Open => false,
        };
        if open {
            tracing::warn!(provider = %self.name, failures = g.failures, "circuit open: pausing requests to this provider");
            g.state = BreakerState::Open;
            g.opened_at = Some(Instant::now());
        }
    }

    fn release(&self) {
        self.lock().trial_in_flight = false;
    }

    pub fn status(&self) -> BreakerStatus {
        let g = self.lock();
        let retry_in_secs = match (g.state, g.opened_at) {
            (BreakerState::Open, Some(t)) => {
                let until = t + self.config.cool_down;
                Some(until.saturating_duration_since(Instant::now()).as_secs())
            }
            _ => None,
        };
        BreakerStatus {
            state: g.state,
            consecutive_failures: g.failures,
            retry_in_secs,
        }
    }

    /// Whether a request would be let through now (the scheduler waits otherwise).
    pub fn is_available(&self) -> bool {
        let g = self.lock();
        match g.state {
            BreakerState::Closed => true,
            BreakerState::HalfOpen => !g.trial_in_flight,
            BreakerState::Open => g
                .opened_at
                .is_none_or(|t| Instant::now() >= t + self.config.cool_down),
        }
    }
}

/// Permission to send one request; reports its outcome to the breaker. A
/// permit dropped without an outcome (the caller stopped early) frees the
/// half-open trial slot without counting either way.
#[derive(Debug)]
pub struct Permit {
    breaker: Arc<Breaker>,
    resolved: bool,
}

impl Permit {
    pub fn succeed(mut self) {
        self.resolved = true;
        self.breaker.success();
    }

    pub fn fail(mut self) {
        self.resolved = true;
        self.breaker.failure();
    }

    /// Records the outcome of an error: provider faults count, request errors do not.
    pub fn settle(self, error: &ProviderError) {
        if error.is_provider_fault() {
            self.fail();
        } else if !matches!(error, ProviderError::Cancelled) {
            // The provider answered (e.g. "model not found"): it is up.
            self.succeed();
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.resolved {
            self.breaker.release();
        }
    }
}

/// How long a provider may stay silent, before its first event or between
/// two, before the call fails. Generous: a local model may take minutes to
/// load and to read a long prompt before its first token.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(300);

/// A provider with retries, a circuit breaker and a stall timeout.
pub struct Resilient {
    inner: Arc<dyn Provider>,
    breaker: Arc<Breaker>,
    policy: RetryPolicy,
    stall: Duration,
}

impl Resilient {
    pub fn new(inner: Arc<dyn Provider>, breaker: Arc<Breaker>, policy: RetryPolicy) -> Self {
        Self {
            inner,
            breaker,
            policy,
            stall: DEFAULT_STALL_TIMEOUT,
        }
    }

    /// Replaces [`DEFAULT_STALL_TIMEOUT`].
    pub fn with_stall_timeout(mut self, stall: Duration) -> Self {
        self.stall = stall.max(Duration::from_millis(1));
        self
    }

    pub fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    async fn wait(&self, delay: Duration, cancel: &CancellationToken) -> Result<(), ProviderError> {
        tokio::select! {
            _ = cancel.cancelled() => Err(ProviderError::Cancelled),
            _ = tokio::time::sleep(delay) => Ok(()),
        }
    }

    /// Decides whether to retry `error` after `attempt` attempts, and after how long.
    fn retry_delay(&self, error: &ProviderError, attempt: u32) -> Option<Duration> {
        if !error.is_retryable() || attempt >= self.policy.max_attempts {
            return None;
        }
        let backoff = self.policy.delay(attempt, jitter());
        match error {
            ProviderError::RateLimited {
                retry_after: Some(after),
            } => (*after <= self.policy.max_retry_after).then(|| (*after).max(backoff)),
            _ => Some(backoff),
        }
    }
}

#[async_trait]
impl Provider for Resilient {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }

    fn supports_tools(&self) -> bool {
        self.inner.supports_tools()
    }

    fn supports_raw_prompt(&self) -> bool {
        self.inner.supports_raw_prompt()
    }

    fn supports_grammar(&self) -> bool {
        self.inner.supports_grammar()
    }

    async fn model_facts(&self, model: &str) -> Result<ModelFacts, ProviderError> {
        self.inner.model_facts(model).await
    }

    async fn list_models(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        self.inner.list_models().await
    }

    async fn health(&self) -> Result<(), ProviderError> {
        self.inner.health().await
    }

    async fn pull(
        &self,
        model: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
        cancel: CancellationToken,
    ) -> Result<(), ProviderError> {
        self.inner.pull(model, progress, cancel).await
    }

    async fn chat(
        &self,
        request: ChatRequest,
        cancel: CancellationToken,
    ) -> Result<EventStream, ProviderError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let permit = self.breaker.acquire()?;
            // The first event must come within the stall timeout, counted
            // from the request (connecting and the response head included).
            let deadline = Instant::now() + self.stall;
            let timed_out = ProviderError::Timeout { after: self.stall };
            let started =
                tokio::time::timeout_at(deadline, self.inner.chat(request.clone(), cancel.clone()))
                    .await;
            let failure = match started {
                Err(_) => timed_out,
                Ok(Err(e)) => e,
                Ok(Ok(mut stream)) => {
                    let first = tokio::select! {
                        _ = cancel.cancelled() => return Err(ProviderError::Cancelled),
                        f = tokio::time::timeout_at(deadline, stream.next()) => f,
                    };
                    match first {
                        Err(_) => timed_out,
                        Ok(Some(Ok(ev))) => return Ok(track(ev, stream, permit, self.stall)),
                        Ok(Some(Err(e))) => e,
                        Ok(None) => ProviderError::Interrupted {
                            detail: "the provider closed the stream without an answer".into(),
                        },
                    }
                }
            };
            if matches!(failure, ProviderError::Cancelled) {
                return Err(failure);
            }
            permit.settle(&failure);
            match self.retry_delay(&failure, attempt) {
                Some(delay) => {
                    tracing::info!(provider = %self.inner.name(), attempt, ?delay, error = %failure, "retrying before the first token");
                    self.wait(delay, &cancel).await?;
                }
                None => return Err(failure),
            }
        }
    }
}

/// Re-emits `first` then the rest of `stream`, reporting the outcome to the
/// breaker; a silence longer than `stall` ends it with an error.
fn track(first: StreamEvent, stream: EventStream, permit: Permit, stall: Duration) -> EventStream {
    let mut permit = Some(permit);
    let rest = futures::stream::unfold(Some(stream), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(stall, stream.next()).await {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((
                Err(ProviderError::Interrupted {
                    detail: format!(
                        "the provider sent nothing for {}",
                        super::types::seconds(stall)
                    ),
                }),
                None,
            )),
        }
    });
    futures::stream::once(async move { Ok(first) })
        .chain(rest)
        .map(move |item| {
            match &item {
                Ok(StreamEvent::Finish(_)) => {
                    if let Some(p) = permit.take() {
                        p.succeed();
                    }
                }
                Err(e) => {
                    if let Some(p) = permit.take() {
                        p.settle(e);
                    }
                }
                _ => {}
            }
            item
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(30),
        };
        let lows: Vec<_> = (1..=6).map(|a| p.delay(a, 0.0)).collect();
        let highs: Vec<_> = (1..=6).map(|a| p.delay(a, 1.0)).collect();
        assert_eq!(lows[0], Duration::from_millis(50));
        assert_eq!(highs[0], Duration::from_millis(100));
        assert_eq!(highs[1], Duration::from_millis(200));
        assert_eq!(highs[2], Duration::from_millis(400));
        assert_eq!(highs[4], Duration::from_secs(1), "capped");
        assert_eq!(highs[5], Duration::from_secs(1), "capped");
        for a in 1..=6 {
            let j = p.delay(a, jitter());
            assert!(j >= lows[a as usize - 1] && j <= highs[a as usize - 1]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_half_opens_and_closes() {
        let b = Arc::new(Breaker::new(
            "p",
            BreakerConfig {
                threshold: 3,
                cool_down: Duration::from_secs(10),
            },
        ));
        for _ in 0..3 {
            b.acquire().map(Permit::fail).unwrap();
        }
        assert_eq!(b.status().state, BreakerState::Open);
        assert!(matches!(
            b.acquire(),
            Err(ProviderError::CircuitOpen { .. })
        ));
        assert!(!b.is_available());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(b.is_available());
        let trial = b.acquire().unwrap();
        assert_eq!(b.status().state, BreakerState::HalfOpen);
        assert!(b.acquire().is_err(), "one trial at a time");
        trial.fail();
        assert_eq!(
            b.status().state,
            BreakerState::Open,
            "a failed trial reopens"
        );
        tokio::time::advance(Duration::from_secs(11)).await;
        b.acquire().unwrap().succeed();
        assert_eq!(
            b.status(),
            BreakerStatus {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                retry_in_secs: None
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_trial_frees_the_slot() {
        let b = Arc::new(Breaker::new(
            "p",
            BreakerConfig {
                threshold: 1,
                cool_down: Duration::from_secs(1),
            },
        ));
        b.acquire().unwrap().fail();
        tokio::time::advance(Duration::from_secs(2)).await;
        drop(b.acquire().unwrap());
        assert!(b.acquire().is_ok());
    }
}
