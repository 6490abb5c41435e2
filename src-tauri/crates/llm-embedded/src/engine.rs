//! The engine thread: the one place in the process that touches llama.cpp.
//!
//! llama.cpp's backend may be initialised once per process, a loaded model is
//! large, and generation is CPU-bound blocking work, so a single dedicated
//! thread owns the backend and the last loaded model, and serves requests one
//! after another from a queue. Every `EmbeddedProvider` in the process shares
//! it. Results travel back over a bounded tokio channel that the async side
//! reads as an `EventStream`.

mod generate;
mod sampling;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use ensemble_llm::{EventStream, FinishReason, ModelMessage, ProviderError, StreamEvent, Usage};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(crate) use self::generate::context_for;
use self::generate::{End, Session};
use crate::error::EngineError;

/// Events buffered between the engine and a slow reader; beyond this the
/// engine waits, so a stalled consumer cannot make it buffer a whole answer.
const CHANNEL_CAPACITY: usize = 64;

type EventSender = mpsc::Sender<Result<StreamEvent, ProviderError>>;

/// Loads performed by the engine since the process started (a model served
/// from the cache does not count).
static MODEL_LOADS: AtomicU64 = AtomicU64::new(0);

/// How one request went: where the time went and whether the model had to be
/// loaded for it. Filled in when a generation ends (finished or cancelled).
#[derive(Debug, Clone, PartialEq)]
pub struct RunStats {
    /// The model file that answered.
    pub model: PathBuf,
    /// False when the model was already loaded by an earlier request.
    pub loaded_model: bool,
    /// Time spent loading the model (zero when it was reused).
    pub load_time: Duration,
    pub prompt_tokens: u64,
    /// Prompt tokens the context still held from the previous request (the
    /// shared beginning of consecutive steps), not evaluated again.
    pub reused_tokens: u64,
    /// Time to evaluate the prompt.
    pub prompt_eval: Duration,
    pub output_tokens: u64,
    /// Time from the end of prompt evaluation to the last token.
    pub generation: Duration,
    /// `None` when the run was cancelled or its reader went away.
    pub finish: Option<FinishReason>,
}

/// What a request asks of the model.
#[derive(Debug, Clone)]
pub(crate) struct Generation {
    pub messages: Vec<ModelMessage>,
    pub json_schema: Option<serde_json::Value>,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    pub stop: Vec<String>,
    pub seed: Option<u32>,
    /// Text to continue as it is (no template, no frame).
    pub raw_prompt: Option<String>,
    /// A GBNF grammar (start rule `root`) the output must match.
    pub grammar: Option<String>,
}

/// A queued request.
struct Job {
    model: PathBuf,
    generation: Generation,
    cancel: CancellationToken,
    events: EventSender,
    stats: Arc<Mutex<Option<RunStats>>>,
}

/// What the engine thread is asked to do.
enum Request {
    Generate(Box<Job>),
    /// Read a GGUF file's facts without loading its weights.
    Inspect {
        path: PathBuf,
        reply: tokio::sync::oneshot::Sender<Result<GgufFacts, ProviderError>>,
    },
}

/// What llama.cpp reads from a GGUF file's metadata and vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufFacts {
    /// `general.architecture`: one llama.cpp knows (it refuses the others).
    pub architecture: String,
    /// `general.name`, when the file has one.
    pub name: Option<String>,
    /// The context the model was trained for.
    pub context_train: u32,
    /// Whether the file brings a chat template (instruct models do; base
    /// models such as the default Gemma 3 270M do not).
    pub chat_template: bool,
}

/// Asks the engine thread for a file's facts (see [`GgufFacts`]).
pub(crate) async fn inspect(path: PathBuf) -> Result<GgufFacts, ProviderError> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    engine_queue()?
        .send(Request::Inspect { path, reply })
        .map_err(|_| ProviderError::Unavailable {
            detail: "the embedded engine has stopped; restart Ensemble".to_owned(),
        })?;
    answer.await.map_err(|_| ProviderError::Unavailable {
        detail: "the embedded engine stopped while reading the model".to_owned(),
    })?
}

/// Reads a file's facts with a vocabulary-only load (no weights).
fn read_facts(backend: &LlamaBackend, path: &Path) -> Result<GgufFacts, ProviderError> {
    let params = LlamaModelParams::default().with_vocab_only(true);
    let model = LlamaModel::load_from_file(backend, path, &params).map_err(|err| {
        ProviderError::Unavailable {
            detail: format!(
                "llama.cpp cannot load {} ({err}): an unknown architecture or a damaged file",
                path.display()
            ),
        }
    })?;
    let architecture = model
        .meta_val_str("general.architecture")
        .unwrap_or_default();
    let name = model
        .meta_val_str("general.name")
        .ok()
        .filter(|n| !n.trim().is_empty());
    // A vocabulary-only load leaves the hyperparameters unread: the
    // metadata has the trained context as `<architecture>.context_length`.
    let context_train = match model.n_ctx_train() {
        0 => model
            .meta_val_str(&format!("{architecture}.context_length"))
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        n => n,
    };
    Ok(GgufFacts {
        architecture,
        name,
        context_train,
        chat_template: model.chat_template(None).is_ok(),
    })
}

/// Total model loads in this process; lets callers (and tests) see that a
/// loaded model is reused.
pub(crate) fn model_loads() -> u64 {
    MODEL_LOADS.load(Ordering::Relaxed)
}

/// Queues a generation on the engine thread and returns its event stream.
/// Errors that happen on the engine (load failure, prompt too long…) arrive
/// as the stream's only item.
pub(crate) fn start(
    model: PathBuf,
    generation: Generation,
    cancel: CancellationToken,
    stats: Arc<Mutex<Option<RunStats>>>,
) -> Result<EventStream, ProviderError> {
    let (events, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let job = Job {
        model,
        generation,
        cancel: cancel.clone(),
        events,
        stats,
    };
    engine_queue()?
        .send(Request::Generate(Box::new(job)))
        .map_err(|_| ProviderError::Unavailable {
            detail: "the embedded engine has stopped; restart Ensemble".to_owned(),
        })?;
    Ok(event_stream(receiver, cancel))
}

/// The stream the caller reads. Cancellation is answered here as well as on
/// the engine: the reader gets `Err(Cancelled)` at once, even while the
/// engine is still finishing the token it was computing, and dropping the
/// receiver then tells the engine to stop.
fn event_stream(
    receiver: mpsc::Receiver<Result<StreamEvent, ProviderError>>,
    cancel: CancellationToken,
) -> EventStream {
    let state = Some((receiver, cancel));
    Box::pin(futures::stream::unfold(state, |state| async move {
        let (mut receiver, cancel) = state?;
        tokio::select! {
            biased;
            () = cancel.cancelled() => Some((Err(ProviderError::Cancelled), None)),
            event = receiver.recv() => match event? {
                Ok(event @ StreamEvent::Finish(_)) => Some((Ok(event), None)),
                Ok(event) => Some((Ok(event), Some((receiver, cancel)))),
                Err(err) => Some((Err(err), None)),
            },
        }
    }))
}

/// The engine thread's queue, starting the thread on first use.
fn engine_queue() -> Result<&'static std_mpsc::Sender<Request>, ProviderError> {
    static QUEUE: OnceLock<Result<std_mpsc::Sender<Request>, String>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (sender, jobs) = std_mpsc::channel();
            // The thread lives as long as the process: it owns llama.cpp's
            // once-per-process backend, so there is nothing to join.
            std::thread::Builder::new()
                .name("ensemble-llm".to_owned())
                .spawn(move || run(jobs))
                .map(|_| sender)
                .map_err(|err| format!("cannot start the embedded engine thread: {err}"))
        })
        .as_ref()
        .map_err(|detail| ProviderError::Unavailable {
            detail: detail.clone(),
        })
}

/// A loaded model, with what identifies its file so a replaced file (a
/// re-download) is loaded afresh.
struct LoadedModel {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    model: LlamaModel,
}

impl LoadedModel {
    /// Whether `path` names the file this model was loaded from, unchanged.
    fn is(&self, path: &Path) -> bool {
        let Ok(canonical) = std::fs::canonicalize(path) else {
            return false;
        };
        let Ok(meta) = std::fs::metadata(&canonical) else {
            return false;
        };
        canonical == self.path && meta.len() == self.len && meta.modified().ok() == self.modified
    }
}

/// Answers an inspection request (a panic inside llama.cpp's wrappers is
/// reported, not spread).
fn answer_inspect(
    backend: &Result<LlamaBackend, EngineError>,
    path: &Path,
    reply: tokio::sync::oneshot::Sender<Result<GgufFacts, ProviderError>>,
) {
    let facts = match backend {
        Ok(backend) => std::panic::catch_unwind(AssertUnwindSafe(|| read_facts(backend, path)))
            .unwrap_or_else(|_| {
                Err(ProviderError::bad(
                    "the embedded engine failed reading the model",
                ))
            }),
        Err(err) => Err(ProviderError::Unavailable {
            detail: err.to_string(),
        }),
    };
    let _ = reply.send(facts);
}

fn run(jobs: std_mpsc::Receiver<Request>) {
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
    let backend = cpu_check()
        .and_then(|()| LlamaBackend::init().map_err(|err| EngineError::Backend(err.to_string())));
    let mut next: Option<Job> = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(Request::Generate(job)) => *job,
                Ok(Request::Inspect { path, reply }) => {
                    answer_inspect(&backend, &path, reply);
                    continue;
                }
                Err(_) => return,
            },
        };
        let backend_ref = &backend;
        let backend = match backend_ref {
            Ok(backend) => backend,
            Err(err) => {
                fail(
                    &job,
                    ProviderError::Unavailable {
                        detail: err.to_string(),
                    },
                );
                continue;
            }
        };
        if job.events.is_closed() {
            continue;
        }
        if job.cancel.is_cancelled() {
            fail(&job, ProviderError::Cancelled);
            continue;
        }
        let load_started = Instant::now();
        let loaded = match load(backend, &job.model, &job.cancel) {
            Ok(loaded) => loaded,
            Err(err) => {
                fail(&job, err.into());
                continue;
            }
        };
        next = serve_model(
            backend_ref,
            backend,
            &loaded,
            job,
            load_started.elapsed(),
            &jobs,
        );
        // The model (and its context) is freed here, before another loads:
        // two models need not fit in memory together.
    }
}

/// Serves `first` and then every following request for the same model file
/// with one context, so consecutive steps reuse its cache. Returns the first
/// request for another model (None when the queue closed, or after a panic,
/// so the next request loads the model afresh).
fn serve_model(
    backend_result: &Result<LlamaBackend, EngineError>,
    backend: &LlamaBackend,
    loaded: &LoadedModel,
    first: Job,
    load_time: Duration,
    jobs: &std_mpsc::Receiver<Request>,
) -> Option<Job> {
    let mut session: Option<Session<'_>> = None;
    let mut job = first;
    let mut load_time = Some(load_time);
    loop {
        // A panic inside llama-cpp-2's wrappers must not take the engine down
        // for every later request: report it on this request and drop the
        // model, whose state is then unknown.
        let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
            serve(backend, loaded, &mut session, &job, load_time.take())
        }));
        if served.is_err() {
            tracing::error!(model = %job.model.display(), "the embedded engine failed unexpectedly");
            fail(
                &job,
                ProviderError::bad("the embedded engine failed unexpectedly; try again"),
            );
            return None;
        }
        let next = loop {
            match jobs.recv().ok()? {
                Request::Generate(next) => break *next,
                // Reading another file's facts leaves this model and its
                // cache as they are.
                Request::Inspect { path, reply } => answer_inspect(backend_result, &path, reply),
            }
        };
        if !loaded.is(&next.model) {
            return Some(next);
        }
        job = next;
    }
}

/// The CPU features llama.cpp is compiled for here: llama-cpp-sys-2 turns
/// off `GGML_NATIVE`, and ggml then enables the x86-64-v3 level (AVX, AVX2,
/// FMA, F16C, BMI2) by default. Checked before llama.cpp runs any of its
/// code, so an older CPU gets a clear reason instead of a crash.
fn cpu_check() -> Result<(), EngineError> {
    #[cfg(target_arch = "x86_64")]
    {
        let missing: Vec<&str> = [
            ("AVX2", std::arch::is_x86_feature_detected!("avx2")),
            ("FMA", std::arch::is_x86_feature_detected!("fma")),
            ("F16C", std::arch::is_x86_feature_detected!("f16c")),
        ]
        .into_iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| name)
        .collect();
        if !missing.is_empty() {
            return Err(EngineError::Backend(format!(
                "this CPU lacks {} (the embedded engine needs an x86-64-v3 CPU, 2013 or later); use Ollama or another provider",
                missing.join(", ")
            )));
        }
    }
    Ok(())
}

/// Why an event could not be delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undelivered {
    /// The request was cancelled while the reader was not keeping up.
    Cancelled,
    /// The reader dropped the stream.
    ReaderGone,
}

/// Hands one event to the reader. When the channel is full this waits for
/// room, but gives up as soon as the request is cancelled, so a reader that
/// stopped reading cannot hold the engine.
pub(crate) fn deliver(
    events: &EventSender,
    cancel: &CancellationToken,
    event: Result<StreamEvent, ProviderError>,
) -> Result<(), Undelivered> {
    use futures::future::{select, Either};
    use mpsc::error::TrySendError;

    let event = match events.try_send(event) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Closed(_)) => return Err(Undelivered::ReaderGone),
        Err(TrySendError::Full(event)) => event,
    };
    // Neither future needs a tokio runtime, so a plain executor can wait here.
    let send = std::pin::pin!(events.send(event));
    let cancelled = std::pin::pin!(cancel.cancelled());
    match futures::executor::block_on(select(send, cancelled)) {
        Either::Left((Ok(()), _)) => Ok(()),
        Either::Left((Err(_), _)) => Err(Undelivered::ReaderGone),
        Either::Right(_) => Err(Undelivered::Cancelled),
    }
}

/// Reports a failure as the stream's last item (best effort: the reader may
/// be gone).
fn fail(job: &Job, err: ProviderError) {
    let _ = deliver(&job.events, &job.cancel, Err(err));
}

fn serve<'m>(
    backend: &LlamaBackend,
    loaded: &'m LoadedModel,
    session: &mut Option<Session<'m>>,
    job: &Job,
    load_time: Option<Duration>,
) {
    if job.events.is_closed() {
        return;
    }
    if job.cancel.is_cancelled() {
        fail(job, ProviderError::Cancelled);
        return;
    }
    if session.is_none() {
        match Session::new(backend, &loaded.model) {
            Ok(s) => *session = Some(s),
            Err(err) => {
                fail(job, err.into());
                return;
            }
        }
    }
    let Some(active) = session.as_mut() else {
        return;
    };
    let outcome = match generate::run(
        active,
        &loaded.model,
        &job.generation,
        &job.cancel,
        &job.events,
    ) {
        Ok(outcome) => outcome,
        Err(err) => {
            tracing::debug!(model = %job.model.display(), error = %err, "embedded generation failed");
            fail(job, err.into());
            return;
        }
    };
    let finish = match &outcome.end {
        End::Finished(reason) => Some(reason.clone()),
        End::Cancelled | End::ReaderGone => None,
    };
    let stats = RunStats {
        model: job.model.clone(),
        loaded_model: load_time.is_some(),
        load_time: load_time.unwrap_or(Duration::ZERO),
        prompt_tokens: outcome.prompt_tokens,
        reused_tokens: outcome.reused_tokens,
        prompt_eval: outcome.prompt_eval,
        output_tokens: outcome.output_tokens,
        generation: outcome.generation,
        finish,
    };
    tracing::debug!(
        model = %job.model.display(),
        loaded_model = stats.loaded_model,
        prompt_tokens = stats.prompt_tokens,
        reused_tokens = stats.reused_tokens,
        output_tokens = stats.output_tokens,
        prompt_eval_ms = stats.prompt_eval.as_millis(),
        generation_ms = stats.generation.as_millis(),
        end = ?outcome.end,
        "embedded generation ended"
    );
    // Recorded before the finish is sent, so a caller that has seen the
    // finish also sees this run's stats.
    if let Ok(mut slot) = job.stats.lock() {
        *slot = Some(stats);
    }
    match outcome.end {
        End::Finished(reason) => {
            let usage = Usage {
                input_tokens: outcome.prompt_tokens,
                output_tokens: outcome.output_tokens,
                cached_input_tokens: outcome.reused_tokens,
            };
            for event in [StreamEvent::Usage(usage), StreamEvent::Finish(reason)] {
                if deliver(&job.events, &job.cancel, Ok(event)).is_err() {
                    break;
                }
            }
        }
        End::Cancelled => fail(job, ProviderError::Cancelled),
        End::ReaderGone => {}
    }
}

/// Loads the model at `path`.
fn load(
    backend: &LlamaBackend,
    path: &Path,
    cancel: &CancellationToken,
) -> Result<LoadedModel, EngineError> {
    let load_error = |detail: String| EngineError::Load {
        path: path.to_path_buf(),
        detail,
    };
    let canonical = std::fs::canonicalize(path).map_err(|e| load_error(e.to_string()))?;
    let meta = std::fs::metadata(&canonical).map_err(|e| load_error(e.to_string()))?;
    let started = Instant::now();
    let abort = cancel.clone();
    // Returning false from the progress callback aborts a long load when the
    // request is cancelled.
    let params = LlamaModelParams::default().with_progress_callback(move |_| !abort.is_cancelled());
    let model = LlamaModel::load_from_file(backend, &canonical, &params).map_err(|err| {
        if cancel.is_cancelled() {
            EngineError::Cancelled
        } else {
            load_error(format!(
                "{err} (is it a valid GGUF model llama.cpp supports?)"
            ))
        }
    })?;
    MODEL_LOADS.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        model = %canonical.display(),
        size_bytes = meta.len(),
        load_ms = started.elapsed().as_millis(),
        "embedded model loaded"
    );
    Ok(LoadedModel {
        path: canonical,
        len: meta.len(),
        modified: meta.modified().ok(),
        model,
    })
}
