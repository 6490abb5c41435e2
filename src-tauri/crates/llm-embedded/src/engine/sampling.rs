//! Picks each next token: the usual top-k / top-p / min-p / temperature chain,
//! and, when the request has a JSON schema, a grammar built from it that only
//! lets through tokens that keep the output valid.
//!
//! Checking a grammar against every token of a large vocabulary (Gemma's has
//! 262k) is slow, so the grammar is applied the way llama.cpp's own sampler
//! does it: sample without it first, check just that token, and only when the
//! grammar rejects it sample again over the grammar-filtered vocabulary.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

use super::Generation;
use crate::error::EngineError;

const DEFAULT_TEMPERATURE: f32 = 0.7;
/// Used with a JSON schema when the request sets no temperature: the grammar
/// guarantees the structure, a low temperature keeps the values sensible.
const DEFAULT_SCHEMA_TEMPERATURE: f32 = 0.2;
/// The grammar's start rule as `json_schema_to_grammar` writes it.
const GRAMMAR_ROOT: &str = "root";
/// llama.cpp's "pick a random seed" value.
const RANDOM_SEED: u32 = u32::MAX;

pub(super) struct Sampler {
    chain: LlamaSampler,
    grammar: Option<LlamaSampler>,
}

impl Sampler {
    pub(super) fn new(model: &LlamaModel, request: &Generation) -> Result<Self, EngineError> {
        let grammar = request
            .json_schema
            .as_ref()
            .map(|schema| {
                let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                    .map_err(|err| EngineError::Schema(err.to_string()))?;
                LlamaSampler::grammar(model, &grammar, GRAMMAR_ROOT)
                    .map_err(|err| EngineError::Schema(err.to_string()))
            })
            .transpose()?;

        let mut chain = Vec::new();
        // Small models loop on free text; in JSON the grammar already decides
        // which repeats are needed (quotes, commas), so no penalty there.
        if grammar.is_none() {
            chain.push(LlamaSampler::penalties(model.n_vocab(), 64, 1.1, 0.0, 0.0));
        }
        let default_temperature = if grammar.is_some() {
            DEFAULT_SCHEMA_TEMPERATURE
        } else {
            DEFAULT_TEMPERATURE
        };
        let temperature = request
            .temperature
            .filter(|t| t.is_finite())
            .unwrap_or(default_temperature)
            .clamp(0.0, 2.0);
        if temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.extend([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.95, 1),
                LlamaSampler::min_p(0.05, 1),
                LlamaSampler::temp(temperature),
                LlamaSampler::dist(RANDOM_SEED),
            ]);
        }
        Ok(Self {
            chain: LlamaSampler::chain_simple(chain),
            grammar,
        })
    }

    /// The next token, from the logits at `idx` of the last decoded batch.
    pub(super) fn sample(
        &mut self,
        ctx: &LlamaContext<'_>,
        idx: i32,
    ) -> Result<LlamaToken, EngineError> {
        let Some(grammar) = self.grammar.as_mut() else {
            // `sample` also accepts the token into the chain.
            return Ok(self.chain.sample(ctx, idx));
        };
        let mut candidates = ctx.token_data_array_ith(idx);
        candidates.apply_sampler(&mut self.chain);
        let token = match candidates.selected_token() {
            Some(token) if allows(grammar, token) => token,
            _ => {
                let mut candidates = ctx.token_data_array_ith(idx);
                candidates.apply_sampler(grammar);
                candidates.apply_sampler(&mut self.chain);
                candidates.selected_token().ok_or(EngineError::NoToken)?
            }
        };
        // Nothing was sampled through `LlamaSampler::sample` here, so both
        // samplers still need to learn the token (exactly once).
        grammar.accept(token);
        self.chain.accept(token);
        Ok(token)
    }
}

/// Whether the grammar, in its current state, lets `token` come next.
fn allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut single = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 0.0, 0.0)], false);
    single.apply_sampler(grammar);
    single.data.first().is_some_and(|d| d.logit().is_finite())
}
