//! `ensemble settings show|set` and `ensemble providers list|add`: the app's
//! settings and model providers from the command line, for headless use
//! (a server, a script, a benchmark), through the same checks as the
//! Settings view.

use std::sync::Arc;

use clap::Subcommand;
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::settings::SettingsPatch;
use ensemble_core::Core;

use super::{CliError, CliResult, Out};

#[derive(Debug, Subcommand)]
pub enum SettingsCmd {
    /// Print every setting
    Show,
    /// Change one setting: ensemble settings set web_fetch_allow_list '["127.0.0.1:8000"]'
    Set {
        /// The setting's name (as `settings show --json` prints it)
        key: String,
        /// Its new value as JSON (a bare word is taken as a string)
        value: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCmd {
    /// List the configured providers
    List,
    /// Add a provider: ensemble providers add llamacpp --kind openai_compatible --url http://127.0.0.1:8080/v1
    Add {
        name: String,
        /// ollama, openai_compatible or anthropic
        #[arg(long)]
        kind: String,
        #[arg(long)]
        url: String,
        /// The model agents use when they name none
        #[arg(long)]
        model: Option<String>,
        /// Requests at once
        #[arg(long)]
        max_concurrent: Option<i64>,
    },
}

pub fn run_settings(core: &Arc<Core>, out: &Out, cmd: SettingsCmd) -> CliResult {
    match cmd {
        SettingsCmd::Show => {
            let s = core.settings()?;
            if out.json {
                return out.json(&s);
            }
            let v = serde_json::to_value(&s).map_err(|e| CliError {
                message: format!("cannot encode the settings: {e}"),
                code: 1,
            })?;
            if let Some(map) = v.as_object() {
                for (k, v) in map {
                    out.text(&format!("{k} = {v}"));
                }
            }
            Ok(())
        }
        SettingsCmd::Set { key, value } => {
            let value = serde_json::from_str::<serde_json::Value>(&value)
                .unwrap_or(serde_json::Value::String(value));
            let known = serde_json::to_value(core.settings()?)
                .ok()
                .and_then(|v| v.as_object().map(|m| m.contains_key(&key)))
                .unwrap_or(false);
            if !known {
                return Err(CliError::usage(format!(
                    "unknown setting '{key}' (see 'ensemble settings show')"
                )));
            }
            let patch: SettingsPatch =
                serde_json::from_value(serde_json::json!({ key.clone(): value }))
                    .map_err(|e| CliError::usage(format!("{key}: not a valid value ({e})")))?;
            let s = core.update_settings(patch)?;
            if out.json {
                return out.json(&s);
            }
            out.text(&format!("{key} updated"));
            Ok(())
        }
    }
}

pub fn run_providers(core: &Arc<Core>, out: &Out, cmd: ProvidersCmd) -> CliResult {
    match cmd {
        ProvidersCmd::List => {
            let list = core.providers().list()?;
            if out.json {
                return out.json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.kind.to_string(),
                        p.base_url.clone(),
                        p.default_model.clone().unwrap_or_default(),
                        if p.enabled { "yes" } else { "no" }.to_string(),
                    ]
                })
                .collect();
            out.table(&["NAME", "KIND", "URL", "MODEL", "ENABLED"], &rows);
            Ok(())
        }
        ProvidersCmd::Add {
            name,
            kind,
            url,
            model,
            max_concurrent,
        } => {
            let kind: ProviderKind = kind.parse().map_err(ensemble_core::CoreError::from)?;
            let p = core.providers().create(ProviderInput {
                name: Some(name),
                kind: Some(kind),
                base_url: Some(url),
                default_model: model,
                max_concurrent,
                ..Default::default()
            })?;
            if out.json {
                return out.json(&p);
            }
            out.text(&format!("provider {} added ({})", p.name, p.kind));
            Ok(())
        }
    }
}
