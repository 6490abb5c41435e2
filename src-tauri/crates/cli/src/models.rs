//! `ensemble models list|probe`: every provider's models with what they can
//! do as agents (the stored probe verdict), and running the capability
//! probe — three native tool-call cases, a JSON-schema answer, streaming
//! and speed — on one model, one provider's models, or all of them.

use std::sync::Arc;

use clap::Subcommand;
use ensemble_core::providers::hub::ModelsOverview;
use ensemble_core::providers::profile::ModelProfile;
use ensemble_core::Core;
use tokio_util::sync::CancellationToken;

use super::output::clip;
use super::run::runtime;
use super::{CliError, CliResult, Out};
use ensemble_host::Services;

#[derive(Debug, Subcommand)]
pub enum ModelsCmd {
    /// List every provider's models with their verdict as agents
    List,
    /// Probe what models really do: native tool calls, JSON-schema output,
    /// streaming, tokens per second (all models of all providers unless
    /// narrowed down)
    Probe {
        /// Only this provider's models (its config name)
        #[arg(long)]
        provider: Option<String>,
        /// Only this model (of --provider, else of the default provider)
        #[arg(long)]
        model: Option<String>,
    },
    /// The GGUF files the embedded engine can use
    Files,
    /// Add a GGUF file you have elsewhere (checked, then linked into the data folder)
    Add {
        /// The .gguf file
        path: std::path::PathBuf,
    },
    /// Download a GGUF file for the embedded engine (resumes an interrupted one)
    Download {
        /// An http(s) URL of a .gguf file
        url: String,
        /// The sha256 it must have (the file is deleted if it differs)
        #[arg(long)]
        sha256: Option<String>,
        /// Save it under this name (default: the URL's file name)
        #[arg(long)]
        name: Option<String>,
    },
}

pub fn run(core: &Arc<Core>, out: &Out, cmd: ModelsCmd) -> CliResult {
    let rt = runtime()?;
    rt.block_on(async move {
        let services = Services::new(core.clone());
        match cmd {
            ModelsCmd::List => {
                let overview = services.hub.models_overview().await?;
                if out.json {
                    return out.json(&overview);
                }
                print_list(out, &overview);
                Ok(())
            }
            ModelsCmd::Probe { provider, model } => probe(&services, out, provider, model).await,
            ModelsCmd::Files => {
                let files = ensemble_core::model_files::list(services.embedded.model_dirs());
                if out.json {
                    return out.json(&files);
                }
                let rows: Vec<Vec<String>> = files
                    .iter()
                    .map(|f| {
                        vec![
                            f.name.clone(),
                            format!("{:.1} MB", f.size_bytes as f64 / 1e6),
                            if f.shared {
                                "installed"
                            } else if f.linked {
                                "linked"
                            } else {
                                "data folder"
                            }
                            .to_string(),
                            f.path.clone(),
                        ]
                    })
                    .collect();
                out.table(&["NAME", "SIZE", "FROM", "PATH"], &rows);
                Ok(())
            }
            ModelsCmd::Add { path } => {
                let f = services.add_model_file(&path).await?;
                if out.json {
                    return out.json(&f);
                }
                out.text(&format!(
                    "{} is ready for the embedded engine ({})",
                    f.name, f.path
                ));
                Ok(())
            }
            ModelsCmd::Download { url, sha256, name } => {
                let spec = ensemble_core::model_files::DownloadSpec {
                    url,
                    sha256,
                    file_name: name,
                };
                let dir = ensemble_core::paths::models_dir(core.data_dir());
                let cancel = tokio_util::sync::CancellationToken::new();
                let on_ctrl_c = cancel.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        on_ctrl_c.cancel();
                    }
                });
                let report = |p: ensemble_core::model_files::DownloadProgress| {
                    let total = p
                        .total
                        .map(|t| format!(" of {:.1} MB", t as f64 / 1e6))
                        .unwrap_or_default();
                    eprint!(
                        "\r{}: {} {:.1} MB{total}   ",
                        p.file_name,
                        p.phase,
                        p.downloaded as f64 / 1e6
                    );
                };
                let result =
                    ensemble_core::model_files::download(&dir, &spec, &report, &cancel).await;
                eprintln!();
                let f = result.map_err(|e| match e {
                    ensemble_core::CoreError::Provider(
                        ensemble_core::providers::ProviderError::Cancelled,
                    ) => CliError {
                        message: "download stopped; run the same command again to resume it".into(),
                        code: 130,
                    },
                    other => other.into(),
                })?;
                if out.json {
                    return out.json(&f);
                }
                out.text(&format!("{} downloaded to {}", f.name, f.path));
                Ok(())
            }
        }
    })
}

fn print_list(out: &Out, overview: &ModelsOverview) {
    let rows: Vec<Vec<String>> = overview
        .models
        .iter()
        .map(|m| {
            let (verdict, probed) = match &m.profile {
                Some(p) => (
                    p.verdict.clone(),
                    format!("{} ({})", p.probed_at.format("%Y-%m-%d"), p.source),
                ),
                None => ("not probed".to_string(), "-".to_string()),
            };
            vec![
                m.provider.clone(),
                m.model.name.clone(),
                clip(&verdict, 70),
                probed,
            ]
        })
        .collect();
    if rows.is_empty() {
        out.text("No models: start Ollama, or put a .gguf file in the data folder's models/.");
    } else {
        out.table(&["PROVIDER", "MODEL", "AGENTS", "PROBED"], &rows);
    }
    for (provider, error) in &overview.unreachable {
        out.text(&format!(
            "{provider}: not reachable ({})",
            clip(&error.message, 100)
        ));
    }
}

fn print_profile(out: &Out, p: &ModelProfile) {
    out.text(&format!("{} / {}: {}", p.provider, p.model, p.verdict));
    for c in &p.cases {
        out.text(&format!(
            "  {} {:<22} {:>6} ms  {}",
            if c.passed { "pass" } else { "FAIL" },
            c.name,
            c.ms,
            clip(&c.detail, 90)
        ));
    }
    let figure = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    out.text(&format!(
        "  context {} tokens, prompt {} tok/s, generation {} tok/s",
        p.context_length.map_or("-".to_string(), |c| c.to_string()),
        figure(p.prompt_tokens_per_sec),
        figure(p.generation_tokens_per_sec)
    ));
}

async fn probe(
    services: &Services,
    out: &Out,
    provider: Option<String>,
    model: Option<String>,
) -> CliResult {
    // What to probe: one model, or every model of the chosen providers.
    let targets: Vec<(Option<String>, Option<String>)> = match (&provider, &model) {
        (_, Some(_)) => vec![(provider.clone(), model.clone())],
        _ => {
            let overview = services.hub.models_overview().await?;
            if let Some(p) = &provider {
                services.core.providers().get(p)?;
                if let Some((_, e)) = overview.unreachable.iter().find(|(n, _)| n == p) {
                    return Err(CliError {
                        message: format!("{p} is not reachable: {}", e.message),
                        code: 1,
                    });
                }
            }
            overview
                .models
                .into_iter()
                .filter(|m| provider.as_ref().is_none_or(|p| *p == m.provider))
                .map(|m| (Some(m.provider), Some(m.model.name)))
                .collect()
        }
    };
    if targets.is_empty() {
        return Err(CliError {
            message:
                "no model to probe: start Ollama, or put a .gguf file in the data folder's models/"
                    .into(),
            code: 1,
        });
    }
    let cancel = CancellationToken::new();
    let mut profiles = Vec::new();
    let mut failed = Vec::new();
    for (p, m) in targets {
        match services
            .hub
            .probe_model(p.as_deref(), m.as_deref(), cancel.clone())
            .await
        {
            Ok(profile) => {
                if !out.json {
                    print_profile(out, &profile);
                }
                profiles.push(profile);
            }
            Err(e) => {
                let what = format!(
                    "{}{}",
                    p.as_deref().map(|p| format!("{p} / ")).unwrap_or_default(),
                    m.as_deref().unwrap_or("default model")
                );
                if !out.json {
                    out.text(&format!("{what}: cannot probe: {e}"));
                }
                failed.push(format!("{what}: {e}"));
            }
        }
    }
    if out.json {
        out.json(&profiles)?;
    }
    if profiles.is_empty() {
        return Err(CliError {
            message: failed.join("; "),
            code: 1,
        });
    }
    Ok(())
}
