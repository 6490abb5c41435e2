//! One generation on a loaded model: render and tokenize the conversation,
//! evaluate the prompt in batches, then sample token by token, streaming each
//! piece of text as it is decoded. The caller reports usage and the finish.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use ensemble_core::providers::{FinishReason, StreamEvent};
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
    pub output_tokens: u64,
    pub prompt_eval: Duration,
    pub generation: Duration,
}

pub(super) fn run(
    backend: &LlamaBackend,
    model: &LlamaModel,
    request: &Generation,
    cancel: &CancellationToken,
    events: &EventSender,
) -> Result<Outcome, EngineError> {
    // Build the sampler first so an unusable schema fails before any work.
    let sampler = Sampler::new(model, request)?;
    let rendered = prompt::render(model, &request.messages);
    tracing::trace!(prompt = %rendered.text, "rendered prompt");
    let prompt = tokenize(model, &rendered.text)?;
    let n_ctx = MAX_CONTEXT.min(model.n_ctx_train()).max(1);
    if prompt.len() >= n_ctx as usize {
        return Err(EngineError::PromptTooLong {
            prompt: prompt.len(),
            n_ctx,
        });
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = i32::try_from(threads).unwrap_or(i32::MAX);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(PROMPT_BATCH)
        .with_n_ubatch(PROMPT_BATCH)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = model.new_context(backend, params)?;

    // Until sampling starts, the only way to end early is a cancellation.
    let mut outcome = Outcome {
        end: End::Cancelled,
        prompt_tokens: prompt.len() as u64,
        output_tokens: 0,
        prompt_eval: Duration::ZERO,
        generation: Duration::ZERO,
    };
    let started = Instant::now();
    let mut batch = LlamaBatch::new(PROMPT_BATCH as usize, 1);
    if !evaluate_prompt(&mut ctx, &mut batch, &prompt, cancel)? {
        return Ok(outcome);
    }
    outcome.prompt_eval = started.elapsed();

    let mut decoding = Decoding {
        ctx,
        batch,
        sampler,
        text: Utf8Buffer::default(),
        stops: StopFilter::new(rendered.stops, rendered.trim_start),
        max_tokens: u64::from(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
        generated: 0,
    };
    let started = Instant::now();
    let end = decoding.run(model, prompt.len(), cancel, events);
    outcome.generation = started.elapsed();
    outcome.output_tokens = decoding.generated;
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

/// Evaluates the prompt in batches, asking for logits only after its last
/// token (the only place the next token is sampled from). Returns false when
/// cancelled part-way.
fn evaluate_prompt(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    prompt: &[LlamaToken],
    cancel: &CancellationToken,
) -> Result<bool, EngineError> {
    let last = prompt.len().saturating_sub(1);
    for (chunk_index, chunk) in prompt.chunks(PROMPT_BATCH as usize).enumerate() {
        if cancel.is_cancelled() {
            return Ok(false);
        }
        batch.clear();
        let offset = chunk_index * PROMPT_BATCH as usize;
        for (i, token) in chunk.iter().enumerate() {
            let pos = offset + i;
            batch.add(*token, position(pos), &[0], pos == last)?;
        }
        ctx.decode(batch)?;
    }
    Ok(true)
}

/// The token-by-token half of a generation.
struct Decoding<'m> {
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'m>,
    sampler: Sampler,
    text: Utf8Buffer,
    stops: StopFilter,
    max_tokens: u64,
    generated: u64,
}

impl Decoding<'_> {
    /// Samples until the model ends its answer, a limit is reached, or the
    /// request is cancelled.
    fn run(
        &mut self,
        model: &LlamaModel,
        prompt_len: usize,
        cancel: &CancellationToken,
        events: &EventSender,
    ) -> Result<End, EngineError> {
        let vocab = model.vocab();
        let n_ctx = self.ctx.n_ctx() as usize;
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
            let token = self.sampler.sample(&self.ctx, logits_at)?;
            if vocab.is_eog(token) {
                break FinishReason::Stop;
            }
            self.generated += 1;
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
            self.ctx.decode(&mut self.batch)?;
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
