//! The embedded model engine: llama.cpp in-process on a GGUF file, as an
//! `ensemble_llm::Provider`.
//!
//! [`EmbeddedProvider`] is the public face: it finds models in a folder (or at
//! an absolute path), and hands each chat request to the engine thread
//! (`engine`), the one place in the process that talks to llama.cpp. The
//! engine keeps the last model loaded, renders the conversation with the
//! model's chat template (`prompt`), constrains JSON answers with a grammar
//! built from the request's schema, and streams the answer back as it is
//! sampled.

mod engine;
mod error;
mod models;
mod prompt;
mod provider;
mod repetition;
mod stops;
mod utf8;

pub use engine::{GgufFacts, RunStats};
pub use provider::EmbeddedProvider;
