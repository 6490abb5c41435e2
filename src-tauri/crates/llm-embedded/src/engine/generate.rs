//! One generation on a loaded model: render and tokenize the conversation,
//! evaluate what the context does not hold yet, then sample token by token,
//! streaming each piece of text as it is decoded. The caller reports usage
//! and the finish.
//!
//! The context outlives a request ([`Session`]): consecutive steps of an
//! agent's run share their prompt's beginning (instructions, tools, earlier
//! steps), so only the tokens after the common prefix are evaluated again.
//! Another conversation simply has a short common prefix and overwrites the
//! rest of the cache.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use ensemble_llm::{FinishReason, StreamEvent};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio_util::sync::CancellationToken;

use super::sampling::Sampler;
use super::{deliver, EventSender, Generation, Undelivered};
use crate::error::EngineError;
use crate::prompt;
use crate::repetition::Repetition;
use crate::stops::{Filtered, StopFilter};
use crate::utf8::Utf8Buffer;

/// Context window used per request, unless the model was trained on less:
/// enough for an agent step's conversation while keeping the KV cache small.
const MAX_CONTEXT: u32 = 4096;
/// Tokens evaluated per llama.cpp call while reading the prompt.
const PROMPT_BATCH: u32 = 512;
const DEFAULT_MAX_TOKENS: u32 = 512;

/// How a generation ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum End {
    Finished(FinishReason),
    Cancelled,
    ReaderGone,
}

impl From<Undelivered> for End {
    fn from(why: Undelivered) -> Self {
        match why {
            Undelivered::Cancelled => End::Cancelled,
            Undelivered::ReaderGone => End::ReaderGone,
        }
    }
}

/// What a generation did and what it cost.
#[derive(Debug)]
pub(super) struct Outcome {
    pub end: End,
    pub prompt_tokens: u64,
    /// Prompt tokens whose evaluation was kept from the previous request.
    pub reused_tokens: u64,
    pub output_tokens: u64,
    pub prompt_eval: Duration,
    pub generation: Duration,
}

/// The context the engine gives a model trained for `train` tokens.
pub(crate) fn context_for(train: u32) -> u32 {
    MAX_CONTEXT.min(train).max(1)
}

/// A llama.cpp context kept between requests on one model, and the tokens
/// its KV cache holds at positions `0..cached.len()`.
pub(super) struct Session<'m> {
    ctx: LlamaContext<'m>,
    cached: Vec<LlamaToken>,
}

impl<'m> Session<'m> {
    pub(super) fn new(backend: &LlamaBackend, model: &'m LlamaModel) -> Result<Self, EngineError> {
        let n_ctx = context_for(model.n_ctx_train());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = i32::try_from(threads).unwrap_or(i32::MAX);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(PROMPT_BATCH)
            .with_n_ubatch(PROMPT_BATCH)
            .with_n_threads(threads)
            .with_n_threads_batch(threads)
            // Gemma 3 keeps only a sliding window for most layers unless
            // told otherwise, and such a cache cannot be cut back to a
            // prefix: with the full cache, the next step reuses it.
            .with_swa_full(true);
        Ok(Self {
            ctx: model.new_context(backend, params)?,
            cached: Vec::new(),
        })
    }

    /// Forgets what the cache holds (after an error left it unknown).
    fn reset(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
    }

    /// Keeps the cache's first `keep` tokens and drops the rest; returns how
    /// many were kept (none when llama.cpp cannot cut this cache).
    fn keep_prefix(&mut self, keep: usize) -> usize {
        if keep >= self.cached.len() {
            return self.cached.len();
        }
        let cut = u32::try_from(keep)
            .ok()
            .and_then(|p0| self.ctx.clear_kv_cache_seq(Some(0), Some(p0), None).ok())
            .unwrap_or(false);
        if cut {
            self.cached.truncate(keep);
            keep
        } else {
            self.reset();
            0
        }
    }
}

/// Tokens at the start of `a` and `b` that are the same.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

pub(super) fn run(
    session: &mut Session<'_>,
    model: &LlamaModel,
    request: &Generation,
    cancel: &CancellationToken,
    events: &EventSender,
) -> Result<Outcome, EngineError> {
    // Build the sampler first so an unusable schema fails before any work.
    let base = model.chat_template(None).is_err();
    let sampler = Sampler::new(model, request, base)?;
    let rendered = match &request.raw_prompt {
        Some(text) => prompt::Rendered {
            text: text.replace('\0', ""),
            stops: &[],
            trim_start: false,
        },
        None => prompt::render(model, &request.messages, request.json_schema.is_some()),
    };
    tracing::trace!(prompt = %rendered.text, "rendered prompt");
    let prompt = tokenize(model, &rendered.text)?;
    let n_ctx = session.ctx.n_ctx();
    if prompt.len() >= n_ctx as usize {
        return Err(EngineError::PromptTooLong {
            prompt: prompt.len(),
            n_ctx,
        });
    }
    // The last prompt token is always evaluated again: its logits give the
    // first token of the answer.
    let reuse = common_prefix(&session.cached, &prompt).min(prompt.len() - 1);
    let reused = session.keep_prefix(reuse);

    // Until sampling starts, the only way to end early is a cancellation.
    let mut outcome = Outcome {
        end: End::Cancelled,
        prompt_tokens: prompt.len() as u64,
        reused_tokens: reused as u64,
        output_tokens: 0,
        prompt_eval: Duration::ZERO,
        generation: Duration::ZERO,
    };
    let started = Instant::now();
    let mut batch = LlamaBatch::new(PROMPT_BATCH as usize, 1);
    let evaluated = match evaluate_prompt(session, &mut batch, &prompt, reused, cancel) {
        Ok(done) => done,
        Err(err) => {
            session.reset();
            return Err(err);
        }
    };
    if !evaluated {
        return Ok(outcome);
    }
    outcome.prompt_eval = started.elapsed();

    let mut stops: Vec<String> = rendered.stops.iter().map(|s| s.to_string()).collect();
    stops.extend(request.stop.iter().filter(|s| !s.is_empty()).cloned());
    let mut decoding = Decoding {
        session,
        batch,
        sampler,
        text: Utf8Buffer::default(),
        stops: StopFilter::new(stops, rendered.trim_start),
        repetition: Repetition::default(),
        max_tokens: u64::from(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
        generated: 0,
    };
    let started = Instant::now();
    let end = decoding.run(model, prompt.len(), cancel, events);
    outcome.generation = started.elapsed();
    outcome.output_tokens = decoding.generated;
    if end.is_err() {
        decoding.session.reset();
    }
    outcome.end = end?;
    Ok(outcome)
}

/// Tokenizes the rendered prompt, adding the model's BOS token where it wants
/// one, but only once: some chat templates already write it.
fn tokenize(model: &LlamaModel, text: &str) -> Result<Vec<LlamaToken>, EngineError> {
    let vocab = model.vocab();
    let mut tokens = vocab.tokenize(text.as_bytes(), true, true);
    if vocab.should_add_bos()
        && tokens.len() >= 2
        && tokens[0] == vocab.bos()
        && tokens[1] == vocab.bos()
    {
        tokens.remove(0);
    }
    if tokens.is_empty() {
        return Err(EngineError::EmptyPrompt);
    }
    Ok(tokens)
}

/// Evaluates the prompt from `from` on (what comes before is in the cache)
/// in batches, asking for logits only after its last token (the only place
/// the next token is sampled from). Returns false when cancelled part-way;
/// what was evaluated until then stays in the cache.
fn evaluate_prompt(
    session: &mut Session<'_>,
    batch: &mut LlamaBatch<'_>,
    prompt: &[LlamaToken],
    from: usize,
    cancel: &CancellationToken,
) -> Result<bool, EngineError> {
    let last = prompt.len().saturating_sub(1);
    let mut pos = from;
    for chunk in prompt[from..].chunks(PROMPT_BATCH as usize) {
        if cancel.is_cancelled() {
            return Ok(false);
        }
        batch.clear();
        for (i, token) in chunk.iter().enumerate() {
            batch.add(*token, position(pos + i), &[0], pos + i == last)?;
        }
        session.ctx.decode(batch)?;
        session.cached.extend_from_slice(chunk);
        pos += chunk.len();
    }
    Ok(true)
}

/// The token-by-token half of a generation.
struct Decoding<'s, 'm> {
    session: &'s mut Session<'m>,
    batch: LlamaBatch<'m>,
    sampler: Sampler,
    text: Utf8Buffer,
    stops: StopFilter,
    repetition: Repetition,
    max_tokens: u64,
    generated: u64,
}

impl Decoding<'_, '_> {
    /// Samples until the model ends its answer, a limit is reached, it
    /// starts repeating itself, or the request is cancelled.
    fn run(
        &mut self,
        model: &LlamaModel,
        prompt_len: usize,
        cancel: &CancellationToken,
        events: &EventSender,
    ) -> Result<End, EngineError> {
        let vocab = model.vocab();
        let n_ctx = self.session.ctx.n_ctx() as usize;
        let mut pos = prompt_len;
        // Index of the logits to sample from within the last decoded batch.
        let mut logits_at = self.batch.n_tokens() - 1;
        let reason = loop {
            if cancel.is_cancelled() {
                return Ok(End::Cancelled);
            }
            if events.is_closed() {
                return Ok(End::ReaderGone);
            }
            if self.generated >= self.max_tokens {
                break FinishReason::Length;
            }
            let token = self.sampler.sample(&self.session.ctx, logits_at)?;
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            self.generated += 1;
            if self.repetition.push(token) {
                // The same block three times in a row: a small model does
                // not get out of such a loop by itself.
                break FinishReason::Repetition;
            }
            let piece = self.text.push(&vocab.token_to_piece(token, false, None));
            let (text, stopped) = match self.stops.push(&piece) {
                Filtered::Continue(text) => (text, false),
                Filtered::Stop(text) => (text, true),
            };
            if let Err(why) = send_text(events, cancel, text) {
                return Ok(why.into());
            }
            if stopped {
                return Ok(End::Finished(FinishReason::Stop));
            }
            if self.generated >= self.max_tokens {
                break FinishReason::Length;
            }
            // The context is full: there is no room to evaluate this token.
            if pos >= n_ctx {
                break FinishReason::Length;
            }
            self.batch.clear();
            self.batch.add(token, position(pos), &[0], true)?;
            self.session.ctx.decode(&mut self.batch)?;
            self.session.cached.push(token);
            pos += 1;
            logits_at = 0;
        };
        let rest = self.text.finish();
        let rest = match self.stops.push(&rest) {
            Filtered::Continue(text) => text + &self.stops.finish(),
            Filtered::Stop(text) => text,
        };
        Ok(match send_text(events, cancel, rest) {
            Ok(()) => End::Finished(reason),
            Err(why) => why.into(),
        })
    }
}

/// Sends a piece of the answer unless it is empty.
fn send_text(
    events: &EventSender,
    cancel: &CancellationToken,
    text: String,
) -> Result<(), Undelivered> {
    if text.is_empty() {
        return Ok(());
    }
    deliver(events, cancel, Ok(StreamEvent::Delta(text)))
}

/// Positions are bounded by the context size (at most 4096), far inside i32.
fn position(pos: usize) -> i32 {
    i32::try_from(pos).unwrap_or(i32::MAX)
}
