//! The TypeScript types in `ui/src/bindings/` are generated from the Rust
//! types that cross IPC. This test regenerates them into a temporary folder and
//! fails when the committed files differ (stale or hand-edited). Run with
//! `UPDATE_BINDINGS=1` to rewrite them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ensemble_core::{
    agents, approvals, chat, core, crews, error, events, messages, providers, settings, tasks,
    templates, workflows,
};
use ts_rs::TS;

fn export_all(dir: &Path) -> Result<(), ts_rs::ExportError> {
    // 64-bit integers cross IPC as JSON numbers, not bigint.
    let cfg = ts_rs::Config::new()
        .with_out_dir(dir)
        .with_large_int("number");
    agents::Agent::export_all(&cfg)?;
    agents::AgentInput::export_all(&cfg)?;
    agents::AgentFilter::export_all(&cfg)?;
    templates::AgentTemplate::export_all(&cfg)?;
    tasks::Task::export_all(&cfg)?;
    tasks::NewTask::export_all(&cfg)?;
    tasks::TaskPatch::export_all(&cfg)?;
    tasks::TaskFilter::export_all(&cfg)?;
    tasks::BoardColumn::export_all(&cfg)?;
    crews::Crew::export_all(&cfg)?;
    crews::CrewInput::export_all(&cfg)?;
    crews::RelationshipInput::export_all(&cfg)?;
    approvals::Approval::export_all(&cfg)?;
    approvals::Decision::export_all(&cfg)?;
    approvals::NewApproval::export_all(&cfg)?;
    messages::Message::export_all(&cfg)?;
    messages::MessageFilter::export_all(&cfg)?;
    chat::ChatSession::export_all(&cfg)?;
    chat::ChatMessage::export_all(&cfg)?;
    chat::SessionInput::export_all(&cfg)?;
    workflows::Workflow::export_all(&cfg)?;
    workflows::WorkflowInput::export_all(&cfg)?;
    providers::ProviderConfig::export_all(&cfg)?;
    providers::ProviderInput::export_all(&cfg)?;
    settings::Settings::export_all(&cfg)?;
    settings::SettingsPatch::export_all(&cfg)?;
    events::Change::export_all(&cfg)?;
    error::ErrorPayload::export_all(&cfg)?;
    core::AppInfo::export_all(&cfg)?;
    core::TrayStatus::export_all(&cfg)?;
    ensemble_core::Page::<agents::Agent>::export_all(&cfg)?;
    ensemble_core::Paging::export_all(&cfg)?;
    chat::engine::ChatEvent::export_all(&cfg)?;
    chat::engine::ChatSendRequest::export_all(&cfg)?;
    providers::hub::ProvidersOverview::export_all(&cfg)?;
    providers::hub::ProviderStatus::export_all(&cfg)?;
    providers::hub::ModelsOverview::export_all(&cfg)?;
    providers::profile::ModelProfile::export_all(&cfg)?;
    ensemble_core::model_files::ModelFile::export_all(&cfg)?;
    ensemble_core::model_files::DownloadSpec::export_all(&cfg)?;
    ensemble_core::model_files::DownloadProgress::export_all(&cfg)?;
    providers::PullProgress::export_all(&cfg)?;
    providers::ModelInfo::export_all(&cfg)?;
    providers::ToolCall::export_all(&cfg)?;
    ensemble_core::secrets::SecretLocation::export_all(&cfg)?;
    ensemble_core::runs::RunTrace::export_all(&cfg)?;
    ensemble_core::tools::ToolDef::export_all(&cfg)?;
    ensemble_core::tools::ToolResult::export_all(&cfg)?;
    ensemble_core::tools::mcp::McpStatus::export_all(&cfg)?;
    ensemble_core::orchestrator::workflow::WorkflowRun::export_all(&cfg)?;
    ensemble_core::memory::MemoryEntry::export_all(&cfg)?;
    crews::run::CrewRun::export_all(&cfg)?;
    crews::gate::ExpertScore::export_all(&cfg)?;
    crews::gate::RoutingConfig::export_all(&cfg)?;
    crews::gate::Selection::export_all(&cfg)?;
    crews::templates::CrewTemplate::export_all(&cfg)?;
    crews::templates::FromTemplate::export_all(&cfg)?;
    crews::portable::CrewDocument::export_all(&cfg)?;
    crews::portable::ExportFormat::export_all(&cfg)?;
    events::Notice::export_all(&cfg)?;
    ensemble_core::portable_data::ExportSummary::export_all(&cfg)?;
    ensemble_core::portable_data::ImportSummary::export_all(&cfg)?;
    ensemble_core::demo::DemoSummary::export_all(&cfg)?;
    Ok(())
}

/// Every `.ts` file under `dir`, keyed by its path relative to `dir`.
fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "ts") {
                let rel = p
                    .strip_prefix(root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../ui/src/bindings")
}

#[test]
fn bindings_are_current() {
    let tmp = tempfile::tempdir().expect("temp dir");
    export_all(tmp.path()).expect("export bindings");
    let fresh = read_dir(tmp.path());
    assert!(
        fresh.len() > 20,
        "expected the whole domain to be exported, got {}",
        fresh.len()
    );
    let target = committed_dir();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(&target).expect("create bindings dir");
        for old in read_dir(&target).keys() {
            if !fresh.contains_key(old) {
                std::fs::remove_file(target.join(old)).expect("remove stale binding");
            }
        }
        for (name, text) in &fresh {
            let path = target.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create bindings subdir");
            }
            std::fs::write(path, text).expect("write binding");
        }
        return;
    }
    let committed = read_dir(&target);
    let mut problems = Vec::new();
    for (name, text) in &fresh {
        match committed.get(name) {
            None => problems.push(format!("missing {name}")),
            Some(c) if c != text => problems.push(format!("stale {name}")),
            _ => {}
        }
    }
    for name in committed.keys() {
        if !fresh.contains_key(name) {
            problems.push(format!("no longer generated: {name}"));
        }
    }
    assert!(
        problems.is_empty(),
        "ui/src/bindings is out of date ({}); regenerate with `make bindings` (UPDATE_BINDINGS=1 cargo test -p ensemble-core --test bindings)",
        problems.join(", ")
    );
}
