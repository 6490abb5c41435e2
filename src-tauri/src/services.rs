//! The long-lived services of one process (desktop app or CLI command): the
//! core, the provider hub with the embedded engine plugged in, the tools, the
//! agent runtime and the chat engine. Built once, shared by the IPC commands,
//! the CLI and the orchestrator.

use std::sync::Arc;

use ensemble_core::chat::engine::ChatEngine;
use ensemble_core::orchestrator::{Orchestrator, OrchestratorConfig};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::runtime::AgentRuntime;
use ensemble_core::tools::ToolRegistry;
use ensemble_core::Core;
use ensemble_llm_embedded::EmbeddedProvider;

#[derive(Clone)]
pub struct Services {
    pub core: Arc<Core>,
    pub hub: Arc<ProviderHub>,
    pub chat: Arc<ChatEngine>,
    pub tools: Arc<ToolRegistry>,
    pub runtime: Arc<AgentRuntime>,
}

impl Services {
    pub fn new(core: Arc<Core>) -> Self {
        let hub = Arc::new(ProviderHub::new(core.clone()));
        let models = ensemble_core::paths::models_dir(core.data_dir());
        hub.set_embedded(Arc::new(EmbeddedProvider::new("embedded", models)));
        let chat = Arc::new(ChatEngine::new(core.clone(), hub.clone()));
        let tools = Arc::new(ToolRegistry::builtin());
        let runtime = Arc::new(AgentRuntime::new(core.clone(), hub.clone(), tools.clone()));
        Self {
            core,
            hub,
            chat,
            tools,
            runtime,
        }
    }

    /// An orchestrator over these services (the caller must hold the data
    /// folder's [`ensemble_core::orchestrator::RunnerLock`]).
    pub fn orchestrator(&self) -> Arc<Orchestrator> {
        Orchestrator::new(
            self.core.clone(),
            self.hub.clone(),
            self.runtime.clone(),
            OrchestratorConfig::default(),
        )
    }
}
