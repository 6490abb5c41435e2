//! Model providers. This module owns their stored configuration (kind, base
//! URL, a reference to the API key, default model, concurrency, cost table);
//! secrets themselves are never stored in SQLite. The provider interface is
//! `ensemble-llm`'s, re-exported here; its HTTP adapters are not part of the
//! core (the host hands the hub a [`Connector`]). The submodules are what
//! Ensemble adds around them: the hub that builds and shares providers, the
//! per-model probe and the profiles it records.

pub mod hub;
pub mod probe;
pub mod profile;

pub use ensemble_llm::types::*;
pub use ensemble_llm::{
    framing, http, resilience, types, Connector, ProviderKind, UnknownProviderKind,
};

use std::collections::BTreeMap;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, query_one, to_json, RowCtx};
use crate::time::{self, Timestamp};
use crate::{new_id, validate, Core, Id};

/// Price of a model in dollars per million tokens (local models cost $0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct ModelCost {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProviderConfig {
    pub id: Id,
    pub name: String,
    pub kind: ProviderKind,
    /// Endpoint (empty for the embedded engine).
    pub base_url: String,
    /// Name of the secret in the OS keyring (or the private key file); never the key.
    pub api_key_ref: Option<String>,
    pub default_model: Option<String>,
    pub max_concurrent: u32,
    pub cost_table: BTreeMap<String, ModelCost>,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct ProviderInput {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub kind: Option<ProviderKind>,
    #[ts(optional)]
    pub base_url: Option<String>,
    #[ts(optional)]
    pub api_key_ref: Option<String>,
    #[ts(optional)]
    pub default_model: Option<String>,
    #[ts(optional)]
    pub max_concurrent: Option<i64>,
    #[ts(optional)]
    pub cost_table: Option<BTreeMap<String, ModelCost>>,
    #[ts(optional)]
    pub enabled: Option<bool>,
}

pub const DEFAULT_OLLAMA_URL: &str = "http://127.0.0.1:11434";

/// The Ollama endpoint: `OLLAMA_HOST` (with or without scheme/port) or the default.
pub fn ollama_url_from_env() -> String {
    match std::env::var("OLLAMA_HOST") {
        Ok(h) if !h.trim().is_empty() => {
            let h = h.trim().trim_end_matches('/');
            let with_scheme = if h.starts_with("http://") || h.starts_with("https://") {
                h.to_string()
            } else {
                format!("http://{h}")
            };
            let host_part = with_scheme.split("://").nth(1).unwrap_or("");
            if host_part.contains(':') && !host_part.ends_with(']') {
                with_scheme
            } else {
                format!("{with_scheme}:11434")
            }
        }
        _ => DEFAULT_OLLAMA_URL.to_string(),
    }
}

fn check_url(kind: ProviderKind, url: &str) -> Result<String> {
    let u = url.trim().trim_end_matches('/').to_string();
    if !kind.needs_url() {
        return Ok(u);
    }
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .ok_or_else(|| {
            CoreError::validation(
                "base_url",
                format!("'{url}' must start with http:// or https://"),
            )
        })?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(CoreError::validation(
            "base_url",
            format!("'{url}' has no host"),
        ));
    }
    validate::max_len("base_url", &u, 2048)?;
    Ok(u)
}

fn provider_from_row(r: &rusqlite::Row<'_>) -> Result<ProviderConfig> {
    let c = RowCtx::new(r, "provider")?;
    Ok(ProviderConfig {
        id: c.get("id")?,
        name: c.get("name")?,
        kind: c.parse("kind")?,
        base_url: c.get("base_url")?,
        api_key_ref: c.get("api_key_ref")?,
        default_model: c.get("default_model")?,
        max_concurrent: c.u32("max_concurrent")?,
        cost_table: c.json("cost_table")?,
        enabled: c.bool("enabled")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

pub fn load_provider(conn: &Connection, id_or_name: &str) -> Result<ProviderConfig> {
    query_one(
        conn,
        "SELECT * FROM provider_configs WHERE id = ?1 OR name = ?1",
        [id_or_name],
        provider_from_row,
    )?
    .ok_or_else(|| CoreError::not_found("provider", id_or_name))
}

fn check_costs(table: &BTreeMap<String, ModelCost>) -> Result<()> {
    for (model, c) in table {
        validate::name("cost_table", model)?;
        for v in [c.input_per_mtok, c.output_per_mtok] {
            if v.is_nan() || v < 0.0 {
                return Err(CoreError::validation(
                    "cost_table",
                    format!("prices for '{model}' must be zero or more"),
                ));
            }
        }
    }
    Ok(())
}

/// The stored provider configurations (keys stay in the keyring): `core.providers()`.
#[derive(Clone, Copy)]
pub struct Providers<'a> {
    pub(crate) core: &'a Core,
}

impl Providers<'_> {
    /// First start: an Ollama provider (from `OLLAMA_HOST`) and the embedded engine.
    pub(crate) fn seed_default_providers(&self) -> Result<()> {
        let count: i64 = self.core.read(|c| {
            Ok(c.query_row("SELECT count(*) FROM provider_configs", [], |r| r.get(0))?)
        })?;
        if count > 0 {
            return Ok(());
        }
        self.core.write(|tx| {
            let now = time::now_sql();
            for (name, kind, url, model, max) in [
                ("ollama", ProviderKind::Ollama, ollama_url_from_env(), None, 2),
                ("embedded", ProviderKind::Embedded, String::new(), Some(crate::paths::DEFAULT_MODEL_FILE), 1),
            ] {
                tx.execute(
                    "INSERT OR IGNORE INTO provider_configs (id, name, kind, base_url, default_model, max_concurrent, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                    params![new_id(), name, kind.as_str(), url, model, max, now],
                )?;
                tx.changed(Entity::Provider, ChangeOp::Created, name);
            }
            Ok(())
        })
    }

    pub fn list(&self) -> Result<Vec<ProviderConfig>> {
        self.core.read(|c| {
            query_all(
                c,
                "SELECT * FROM provider_configs ORDER BY created_at, rowid",
                [],
                provider_from_row,
            )
        })
    }

    pub fn get(&self, id_or_name: &str) -> Result<ProviderConfig> {
        self.core.read(|c| load_provider(c, id_or_name))
    }

    pub fn create(&self, input: ProviderInput) -> Result<ProviderConfig> {
        let name = validate::labels("name", &[input.name.clone().unwrap_or_default()])?
            .into_iter()
            .next()
            .ok_or_else(|| CoreError::validation("name", "must not be empty"))?;
        let kind = input.kind.ok_or_else(|| {
            CoreError::validation(
                "kind",
                format!("is required; one of {}", ProviderKind::choices()),
            )
        })?;
        let url = check_url(kind, input.base_url.as_deref().unwrap_or(""))?;
        let costs = input.cost_table.clone().unwrap_or_default();
        check_costs(&costs)?;
        let max = validate::range_u32("max_concurrent", input.max_concurrent.unwrap_or(2), 1, 64)?;
        let key_ref = input
            .api_key_ref
            .as_deref()
            .map(|k| validate::name_or_empty("api_key_ref", k))
            .transpose()?;
        let model = input
            .default_model
            .as_deref()
            .map(|m| validate::name_or_empty("default_model", m))
            .transpose()?;
        let id = new_id();
        self.core.write(|tx| {
            let taken: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM provider_configs WHERE name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            if taken {
                return Err(CoreError::Conflict(format!("a provider named '{name}' already exists")));
            }
            let now = time::now_sql();
            tx.execute(
                "INSERT INTO provider_configs (id, name, kind, base_url, api_key_ref, default_model, max_concurrent, cost_table, enabled, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
                params![id, name, kind.as_str(), url, key_ref.filter(|k| !k.is_empty()), model.filter(|m| !m.is_empty()),
                    max, to_json(&costs)?, input.enabled.unwrap_or(true), now],
            )?;
            tx.changed(Entity::Provider, ChangeOp::Created, &id);
            load_provider(tx, &id)
        })
    }

    pub fn update(&self, id_or_name: &str, input: ProviderInput) -> Result<ProviderConfig> {
        self.core.write(|tx| {
            let cur = load_provider(tx, id_or_name)?;
            if input.kind.is_some_and(|k| k != cur.kind) {
                return Err(CoreError::validation("kind", "the kind of a provider cannot change; add a new provider"));
            }
            if input.name.as_deref().is_some_and(|n| n != cur.name) {
                return Err(CoreError::validation("name", "a provider cannot be renamed; agents refer to it by name"));
            }
            let url = match &input.base_url {
                Some(u) => check_url(cur.kind, u)?,
                None => cur.base_url.clone(),
            };
            let costs = input.cost_table.clone().unwrap_or(cur.cost_table.clone());
            check_costs(&costs)?;
            let max = match input.max_concurrent {
                Some(v) => validate::range_u32("max_concurrent", v, 1, 64)?,
                None => cur.max_concurrent,
            };
            let key_ref = match &input.api_key_ref {
                Some(k) => Some(validate::name_or_empty("api_key_ref", k)?).filter(|k| !k.is_empty()),
                None => cur.api_key_ref.clone(),
            };
            let model = match &input.default_model {
                Some(m) => Some(validate::name_or_empty("default_model", m)?).filter(|m| !m.is_empty()),
                None => cur.default_model.clone(),
            };
            tx.execute(
                "UPDATE provider_configs SET base_url = ?2, api_key_ref = ?3, default_model = ?4, max_concurrent = ?5,
                    cost_table = ?6, enabled = ?7, updated_at = ?8 WHERE id = ?1",
                params![cur.id, url, key_ref, model, max, to_json(&costs)?, input.enabled.unwrap_or(cur.enabled), time::now_sql()],
            )?;
            if url != cur.base_url {
                // Another server: what was measured on the old one says nothing.
                tx.execute("DELETE FROM model_profiles WHERE provider = ?1", [&cur.name])?;
            }
            tx.changed(Entity::Provider, ChangeOp::Updated, &cur.id);
            load_provider(tx, &cur.id)
        })
    }

    pub fn delete(&self, id_or_name: &str) -> Result<()> {
        self.core.write(|tx| {
            let cur = load_provider(tx, id_or_name)?;
            let used: i64 = tx.query_row(
                "SELECT count(*) FROM agents WHERE provider = ?1",
                [&cur.name],
                |r| r.get(0),
            )?;
            if used > 0 {
                return Err(CoreError::Conflict(format!(
                    "{used} agent(s) use provider '{}'; point them elsewhere first",
                    cur.name
                )));
            }
            tx.execute("DELETE FROM provider_configs WHERE id = ?1", [&cur.id])?;
            tx.execute(
                "DELETE FROM model_profiles WHERE provider = ?1",
                [&cur.name],
            )?;
            tx.changed(Entity::Provider, ChangeOp::Deleted, &cur.id);
            Ok(())
        })
    }
}
