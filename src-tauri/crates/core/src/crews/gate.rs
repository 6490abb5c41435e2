//! The expert gate (SPEC §4): for a request, a weighted score per agent from
//! four signals, and the selection strategies that pick who answers.
//!
//! | signal | weight | how |
//! |---|---|---|
//! | capability / keyword match | 0.40 | share of the agent's capabilities the request mentions (or, for work with required capabilities, share of those the agent has) |
//! | semantic similarity | 0.25 | cosine of TF-IDF vectors of the request and the agent's profile (role, description, capabilities, skills) |
//! | past performance | 0.20 | mean of proficiency and success rate of the agent's relevant skills; 0.5 with no evidence |
//! | availability / load | 0.15 | 1 − load ÷ capacity; 0 when disabled, paused, erroring or offline |
//!
//! The semantic signal is lexical: no embedding model ships with the app,
//! so TF-IDF cosine over stemmed terms stands in for embedding similarity.
//! Words match across forms through a small suffix stemmer ("writing" and
//! "write" → "writ") and, for keywords, a shared prefix of five letters
//! ("summary" ~ "summarization").

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::agents::{Agent, AgentStatus};
use crate::error::{CoreError, Result};
use crate::{text_enum, Id};

pub const W_CAPABILITY: f64 = 0.40;
pub const W_SEMANTIC: f64 = 0.25;
pub const W_PERFORMANCE: f64 = 0.20;
pub const W_AVAILABILITY: f64 = 0.15;

/// Past performance when an agent has no relevant history yet.
pub const PRIOR_PERFORMANCE: f64 = 0.5;
pub const DEFAULT_THRESHOLD: f64 = 0.5;
pub const DEFAULT_K: u32 = 2;

text_enum! {
    /// How the gate's ranking becomes the agents that answer.
    pub enum Strategy ("routing strategy") {
        /// The best agent answers.
        Top1 = "top_1",
        /// The best k agents answer; their answers are listed with attribution.
        TopK = "top_k",
        /// The best k agents answer; an aggregator synthesises one answer with attribution.
        Ensemble = "ensemble",
        /// The best agent answers; while its confidence is below the threshold the next one tries.
        Cascade = "cascade",
    }
}

/// One agent's score for one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ExpertScore {
    pub agent_id: Id,
    pub agent_name: String,
    pub capability: f64,
    pub semantic: f64,
    pub performance: f64,
    pub availability: f64,
    /// The weighted total, 0–1: the gate's confidence in this agent.
    pub confidence: f64,
    /// The capabilities that matched the request.
    pub matched: Vec<String>,
}

impl ExpertScore {
    pub fn weighted(capability: f64, semantic: f64, performance: f64, availability: f64) -> f64 {
        W_CAPABILITY * capability
            + W_SEMANTIC * semantic
            + W_PERFORMANCE * performance
            + W_AVAILABILITY * availability
    }
}

/// The routed process's settings, read from the crew's `strategy` object:
/// `{"strategy": "top_k", "k": 2, "threshold": 0.5, "aggregator_agent_id": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct RoutingConfig {
    pub strategy: Strategy,
    pub k: u32,
    pub threshold: f64,
    pub aggregator_agent_id: Option<Id>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::Top1,
            k: DEFAULT_K,
            threshold: DEFAULT_THRESHOLD,
            aggregator_agent_id: None,
        }
    }
}

impl RoutingConfig {
    /// Reads the crew's `strategy` object; unknown values are refused with the accepted ones named.
    pub fn from_value(v: &serde_json::Value) -> Result<Self> {
        let mut cfg = Self::default();
        let Some(obj) = v.as_object() else {
            return Ok(cfg);
        };
        if let Some(s) = obj.get("strategy").filter(|s| !s.is_null()) {
            let text = s.as_str().ok_or_else(|| {
                CoreError::validation(
                    "strategy.strategy",
                    format!("must be one of: {}", Strategy::choices()),
                )
            })?;
            cfg.strategy = text.trim().to_lowercase().parse()?;
        }
        if let Some(k) = obj.get("k").filter(|k| !k.is_null()) {
            let k = k.as_u64().filter(|k| (1..=16).contains(k)).ok_or_else(|| {
                CoreError::validation("strategy.k", "must be a whole number from 1 to 16")
            })?;
            cfg.k = k as u32;
        }
        if let Some(t) = obj.get("threshold").filter(|t| !t.is_null()) {
            let t = t
                .as_f64()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| {
                    CoreError::validation("strategy.threshold", "must be a number from 0 to 1")
                })?;
            cfg.threshold = t;
        }
        if let Some(a) = obj.get("aggregator_agent_id").and_then(|a| a.as_str()) {
            if !a.trim().is_empty() {
                cfg.aggregator_agent_id = Some(a.trim().to_string());
            }
        }
        Ok(cfg)
    }
}

/// Who answers, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Selection {
    pub chosen: Vec<Id>,
    /// No agent reached the threshold: the best one was taken anyway.
    pub below_threshold: bool,
}

/// An agent as the gate sees it: the agent and the tasks it runs now.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub agent: &'a Agent,
    pub load: u32,
}

const STOPWORDS: &[&str] = &[
    "a", "about", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
    "can", "could", "do", "does", "each", "for", "from", "give", "had", "has", "have", "how", "i",
    "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our",
    "please", "should", "so", "some", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "to", "up", "us", "was", "we", "what", "when", "which",
    "who", "why", "will", "with", "would", "you", "your",
];

/// Suffixes removed by [`stem`], longest first; one is removed at most.
const SUFFIXES: &[&str] = &[
    "izations", "ization", "isations", "isation", "ations", "ation", "izing", "ising", "ized",
    "ised", "izes", "ises", "ize", "ise", "ings", "ing", "ers", "er", "ies", "es", "ed", "ly", "s",
    "e", "y",
];

/// A light suffix stemmer: removes the first matching suffix of [`SUFFIXES`]
/// when at least three letters remain ("ss" endings keep their "s"), then
/// undoubles a final double consonant ("planning" → "plann" → "plan").
pub fn stem(word: &str) -> String {
    let w = word.to_lowercase();
    for suffix in SUFFIXES {
        if *suffix == "s" && w.ends_with("ss") {
            continue;
        }
        if let Some(base) = w.strip_suffix(suffix) {
            if base.chars().count() >= 3 {
                let b: Vec<char> = base.chars().collect();
                let n = b.len();
                if n >= 4 && b[n - 1] == b[n - 2] && !"aeiouls".contains(b[n - 1]) {
                    return b[..n - 1].iter().collect();
                }
                return base.to_string();
            }
        }
    }
    w
}

/// The stemmed content words of a text (underscores split words, so a
/// capability like `data_analysis` gives "data" and "analysi").
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 2 && !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// Two stems name the same thing: equal, or sharing their first five letters.
pub fn related(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    common >= 5
}

/// The capability signal and the capabilities that matched. With
/// `required` capabilities: the share of them the agent has (by label, or
/// by every word of the label). Without: the share of the agent's
/// capabilities that the request mentions.
pub fn capability_match(
    caps: &[String],
    request: &[String],
    required: &[String],
) -> (f64, Vec<String>) {
    if !required.is_empty() {
        let cap_terms: Vec<Vec<String>> = caps.iter().map(|c| terms(c)).collect();
        let had: Vec<String> = required
            .iter()
            .filter(|r| {
                caps.contains(r) || {
                    let rt = terms(r);
                    !rt.is_empty()
                        && cap_terms
                            .iter()
                            .any(|ct| rt.iter().all(|t| ct.iter().any(|c| related(t, c))))
                }
            })
            .cloned()
            .collect();
        return (had.len() as f64 / required.len() as f64, had);
    }
    if caps.is_empty() {
        return (0.0, Vec::new());
    }
    let matched: Vec<String> = caps
        .iter()
        .filter(|c| {
            terms(c)
                .iter()
                .any(|t| request.iter().any(|r| related(t, r)))
        })
        .cloned()
        .collect();
    (matched.len() as f64 / caps.len() as f64, matched)
}

/// Term counts of a text.
fn counts(terms: &[String]) -> BTreeMap<&str, f64> {
    let mut m = BTreeMap::new();
    for t in terms {
        *m.entry(t.as_str()).or_insert(0.0) += 1.0;
    }
    m
}

/// Cosine similarity of the query's and each document's TF-IDF vectors.
/// Term frequency is the raw count; idf(t) = ln((1 + N) / (1 + df(t))) + 1
/// over the N documents (smoothed, as scikit-learn does), so a term every
/// document has still counts a little and an unseen query term weighs most.
pub fn tfidf_cosine(query: &[String], docs: &[Vec<String>]) -> Vec<f64> {
    let n = docs.len() as f64;
    let doc_counts: Vec<BTreeMap<&str, f64>> = docs.iter().map(|d| counts(d)).collect();
    let q = counts(query);
    let idf = |t: &str| {
        let df = doc_counts.iter().filter(|d| d.contains_key(t)).count() as f64;
        ((1.0 + n) / (1.0 + df)).ln() + 1.0
    };
    let qv: BTreeMap<&str, f64> = q.iter().map(|(t, c)| (*t, c * idf(t))).collect();
    let qn = qv.values().map(|v| v * v).sum::<f64>().sqrt();
    doc_counts
        .iter()
        .map(|d| {
            let dv: BTreeMap<&str, f64> = d.iter().map(|(t, c)| (*t, c * idf(t))).collect();
            let dn = dv.values().map(|v| v * v).sum::<f64>().sqrt();
            if qn == 0.0 || dn == 0.0 {
                return 0.0;
            }
            let dot: f64 = qv
                .iter()
                .filter_map(|(t, w)| dv.get(t).map(|x| w * x))
                .sum();
            dot / (qn * dn)
        })
        .collect()
}

/// What the semantic signal compares the request with.
pub fn profile(agent: &Agent) -> String {
    let mut s = format!("{} {}", agent.role, agent.description);
    for c in &agent.capabilities {
        s.push(' ');
        s.push_str(c);
    }
    for sk in &agent.skills {
        s.push(' ');
        s.push_str(&sk.skill_name);
    }
    s
}

/// Mean of proficiency and success rate over the agent's skills that relate
/// to the request (or to the matched capabilities); over all its used skills
/// when none relates; [`PRIOR_PERFORMANCE`] without any history. A skill never
/// used counts with its proficiency alone.
pub fn performance(agent: &Agent, request: &[String], matched: &[String]) -> f64 {
    let value = |s: &crate::agents::AgentSkill| {
        if s.times_used > 0 {
            (s.proficiency + s.success_rate) / 2.0
        } else {
            s.proficiency
        }
    };
    let relevant: Vec<f64> = agent
        .skills
        .iter()
        .filter(|s| {
            matched.contains(&s.skill_name)
                || terms(&s.skill_name)
                    .iter()
                    .any(|t| request.iter().any(|r| related(t, r)))
        })
        .map(value)
        .collect();
    let pool = if relevant.is_empty() {
        agent
            .skills
            .iter()
            .filter(|s| s.times_used > 0)
            .map(value)
            .collect()
    } else {
        relevant
    };
    if pool.is_empty() {
        return PRIOR_PERFORMANCE;
    }
    pool.iter().sum::<f64>() / pool.len() as f64
}

/// 1 − load ÷ capacity, and 0 for an agent that cannot work now.
pub fn availability(agent: &Agent, load: u32) -> f64 {
    if !agent.enabled
        || matches!(
            agent.status,
            AgentStatus::Paused | AgentStatus::Error | AgentStatus::Offline
        )
    {
        return 0.0;
    }
    let cap = agent.max_concurrent_tasks.max(1) as f64;
    (1.0 - load as f64 / cap).max(0.0)
}

/// Scores every candidate for the request, best first (ties: capability,
/// then name, then id). `required`: capabilities the work needs (may be empty).
pub fn score_all(
    request: &str,
    required: &[String],
    candidates: &[Candidate<'_>],
) -> Vec<ExpertScore> {
    let mut q = terms(request);
    for r in required {
        q.extend(terms(r));
    }
    let profiles: Vec<Vec<String>> = candidates
        .iter()
        .map(|c| terms(&profile(c.agent)))
        .collect();
    let semantic = tfidf_cosine(&q, &profiles);
    let mut out: Vec<ExpertScore> = candidates
        .iter()
        .zip(semantic)
        .map(|(c, sem)| {
            let (cap, matched) = capability_match(&c.agent.capabilities, &q, required);
            let perf = performance(c.agent, &q, &matched);
            let avail = availability(c.agent, c.load);
            ExpertScore {
                agent_id: c.agent.id.clone(),
                agent_name: c.agent.name.clone(),
                capability: cap,
                semantic: sem,
                performance: perf,
                availability: avail,
                confidence: ExpertScore::weighted(cap, sem, perf, avail),
                matched,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(b.capability.total_cmp(&a.capability))
            .then(a.agent_name.cmp(&b.agent_name))
            .then(a.agent_id.cmp(&b.agent_id))
    });
    out
}

/// Picks who answers from a ranking (best first). TOP_1, TOP_K and ENSEMBLE
/// take agents at or above the threshold (at most k); when none reaches it,
/// the best one is taken and the selection says so. CASCADE orders every
/// agent: the engine asks them in turn while confidence stays below the threshold.
pub fn select(ranking: &[ExpertScore], cfg: &RoutingConfig) -> Selection {
    let above: Vec<&ExpertScore> = ranking
        .iter()
        .filter(|s| s.confidence >= cfg.threshold)
        .collect();
    let below_threshold = above.is_empty();
    let best = || {
        ranking
            .first()
            .map(|s| vec![s.agent_id.clone()])
            .unwrap_or_default()
    };
    let chosen = match cfg.strategy {
        Strategy::Cascade => ranking.iter().map(|s| s.agent_id.clone()).collect(),
        Strategy::Top1 if !below_threshold => vec![above[0].agent_id.clone()],
        Strategy::TopK | Strategy::Ensemble if !below_threshold => above
            .iter()
            .take(cfg.k.max(1) as usize)
            .map(|s| s.agent_id.clone())
            .collect(),
        _ => best(),
    };
    Selection {
        chosen,
        below_threshold,
    }
}

/// Distinct stems of a text, for quick membership tests.
pub fn term_set(text: &str) -> HashSet<String> {
    terms(text).into_iter().collect()
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
