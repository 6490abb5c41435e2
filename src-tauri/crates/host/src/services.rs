//! The long-lived services of one process (desktop app or CLI command): the
//! core, the provider hub with the embedded engine plugged in, the tools, the
//! agent runtime and the chat engine. Built once, shared by the IPC commands,
//! the CLI and the orchestrator.

use std::sync::Arc;

use ensemble_core::chat::engine::ChatEngine;
use ensemble_core::crews::engine::CrewEngine;
use ensemble_core::orchestrator::{Orchestrator, OrchestratorConfig};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::runtime::AgentRuntime;
use ensemble_core::tools::{code, mcp, sql, web, Tool, ToolRegistry};
use ensemble_core::Core;
use ensemble_llm_embedded::EmbeddedProvider;

#[derive(Clone)]
pub struct Services {
    pub core: Arc<Core>,
    pub hub: Arc<ProviderHub>,
    pub chat: Arc<ChatEngine>,
    pub tools: Arc<ToolRegistry>,
    pub runtime: Arc<AgentRuntime>,
    /// Drives crew runs (their members' work goes through the task queue).
    pub crews: Arc<CrewEngine>,
    /// The MCP servers whose tools are in `tools` (see [`Services::start`]).
    pub mcp: Option<Arc<mcp::McpHub>>,
    /// The embedded engine (also in `hub`), for what only it does: checking
    /// a GGUF file before it is used.
    pub embedded: Arc<EmbeddedProvider>,
}

/// How long each MCP server has to start and list its tools.
const MCP_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Every tool this process offers: the built-in ones, `code_run` as this
/// machine allows it, and `extra` (MCP servers' tools).
fn tool_registry(core: &Core, extra: Vec<Arc<dyn Tool>>) -> ToolRegistry {
    let mut tools = ToolRegistry::builtin();
    let settings = core.settings().unwrap_or_default();
    let local = code::all(settings.code_run_unsandboxed_with_approval)
        .into_iter()
        .chain(web::all())
        .chain(sql::all());
    for tool in local {
        tools.register(tool);
    }
    for tool in extra {
        tools.register(tool);
    }
    tools
}

impl Services {
    /// Services without MCP tools (commands that run no agent).
    pub fn new(core: Arc<Core>) -> Self {
        Self::with_tools(core, Vec::new())
    }

    /// Services with every tool, MCP servers' included (they are started
    /// here, each given a few seconds to answer).
    pub async fn start(core: Arc<Core>) -> Self {
        let configs = core.settings().map(|s| s.mcp_servers).unwrap_or_default();
        let options = mcp::McpOptions {
            start_timeout: MCP_START_TIMEOUT,
            ..mcp::McpOptions::default()
        };
        // Owned here (not the crate-wide list of `mcp::connect_all`), so each
        // process, and each app a test builds, reports its own servers.
        let hub = mcp::McpHub::connect(&configs, options).await;
        for status in hub.statuses() {
            if let Some(error) = &status.last_error {
                tracing::warn!(server = %status.server, %error, "MCP server not available");
            }
        }
        let mut services = Self::with_tools(core, hub.tools());
        services.mcp = Some(Arc::new(hub));
        services
    }

    /// The live status of each MCP server configured when these services
    /// started (none for services built without MCP).
    pub fn mcp_statuses(&self) -> Vec<mcp::McpStatus> {
        self.mcp.as_ref().map(|h| h.statuses()).unwrap_or_default()
    }

    /// Stops the MCP servers (closes their stdin, then terminates them).
    pub async fn shutdown_mcp(&self) {
        if let Some(hub) = &self.mcp {
            hub.shutdown().await;
        }
    }

    fn with_tools(core: Arc<Core>, extra: Vec<Arc<dyn Tool>>) -> Self {
        let hub = Arc::new(
            ProviderHub::new(core.clone()).with_connector(Arc::new(ensemble_llm::HttpConnector)),
        );
        let models = ensemble_core::paths::models_dir(core.data_dir());
        let embedded = Arc::new(
            EmbeddedProvider::new("embedded", models)
                .with_shared_dirs(ensemble_core::paths::shared_model_dirs()),
        );
        hub.set_embedded(embedded.clone());
        let chat = Arc::new(ChatEngine::new(core.clone(), hub.clone()));
        let tools = Arc::new(tool_registry(&core, extra));
        let runtime = Arc::new(AgentRuntime::new(core.clone(), hub.clone(), tools.clone()));
        let crews = CrewEngine::new(core.clone(), hub.clone());
        Self {
            core,
            hub,
            chat,
            tools,
            runtime,
            crews,
            mcp: None,
            embedded,
        }
    }

    /// Checks a GGUF file the user has (GGUF magic, an architecture
    /// llama.cpp knows) and makes it usable: a link in the data folder's
    /// `models/`.
    pub async fn add_model_file(
        &self,
        path: &std::path::Path,
    ) -> ensemble_core::Result<ensemble_core::model_files::ModelFile> {
        ensemble_core::validate::id("path", &path.to_string_lossy())?;
        let facts = self.embedded.inspect(path).await?;
        tracing::info!(path = %path.display(), architecture = %facts.architecture, "adding a model file");
        let dir = ensemble_core::paths::models_dir(self.core.data_dir());
        let source = path.to_path_buf();
        tokio::task::spawn_blocking(move || ensemble_core::model_files::link(&dir, &source))
            .await
            .map_err(|e| {
                ensemble_core::CoreError::Internal(format!("background call failed: {e}"))
            })?
    }

    /// An orchestrator over these services (the caller must hold the data
    /// folder's [`ensemble_core::orchestrator::RunnerLock`]; [`crate::Host`] takes it).
    pub fn orchestrator(&self) -> Arc<Orchestrator> {
        Orchestrator::new(
            self.core.clone(),
            self.hub.clone(),
            self.runtime.clone(),
            OrchestratorConfig::default(),
        )
    }
}
