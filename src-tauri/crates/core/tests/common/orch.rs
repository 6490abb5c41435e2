//! A running orchestrator on a temporary data folder with a scripted model:
//! the harness for the scheduling, workflow, delegation and durability tests.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::orchestrator::{Orchestrator, OrchestratorConfig, TaskRetry};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::providers::resilience::{BreakerConfig, RetryPolicy};
use ensemble_core::providers::{ChatRequest, ProviderInput, ProviderKind, Role};
use ensemble_core::runtime::AgentRuntime;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{NewTask, Task, TaskStatus};
use ensemble_core::tools::ToolRegistry;
use ensemble_core::Core;
use ensemble_llm::scripted::ScriptedProvider;

pub struct Env {
    pub core: Arc<Core>,
    pub hub: Arc<ProviderHub>,
    pub model: Arc<ScriptedProvider>,
    pub orch: Arc<Orchestrator>,
    pub handle: Option<tokio::task::JoinHandle<()>>,
    pub dir: tempfile::TempDir,
}

pub fn fast_config() -> OrchestratorConfig {
    OrchestratorConfig {
        aging_minutes: 10.0,
        retry: TaskRetry {
            base: Duration::from_millis(40),
            max: Duration::from_millis(200),
        },
        heartbeat: Duration::from_millis(100),
        poll: Duration::from_millis(50),
        restart_backoff: Duration::from_millis(100),
        shutdown_grace: Duration::from_millis(500),
    }
}

/// The built-in tools, the local ones the app registers (`code_run` as
/// this machine allows it, `web_fetch`, `sql_query`) and the test tools
/// (without needing the env switch). An agent gets only those it allows.
pub fn registry(dir: &std::path::Path) -> ToolRegistry {
    use ensemble_core::tools::{code, sql, web};
    let mut r = ToolRegistry::builtin();
    for t in code::all(false)
        .into_iter()
        .chain(web::all())
        .chain(sql::all())
        .chain(ensemble_core::tools::testing::with_dir(Some(
            dir.to_path_buf(),
        )))
    {
        r.register(t);
    }
    r
}

/// Core + hub (provider "scripted" as the default) without an orchestrator.
pub fn core_with_model(
    model: Arc<ScriptedProvider>,
    breaker: BreakerConfig,
) -> (Arc<Core>, Arc<ProviderHub>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Arc::new(Core::open(dir.path()).expect("core"));
    core.providers()
        .create(ProviderInput {
            name: Some("scripted".into()),
            kind: Some(ProviderKind::OpenAiCompatible),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            default_model: Some("script".into()),
            max_concurrent: Some(64),
            ..Default::default()
        })
        .expect("provider");
    core.update_settings(SettingsPatch {
        default_provider: Some("scripted".into()),
        ..Default::default()
    })
    .expect("settings");
    let hub = Arc::new(
        ProviderHub::with_secrets(
            core.clone(),
            ensemble_core::secrets::SecretStore::file_only(dir.path()),
        )
        .with_connector(Arc::new(ensemble_llm::HttpConnector))
        .with_policy(
            RetryPolicy {
                max_attempts: 1,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(20),
                max_retry_after: Duration::from_secs(1),
            },
            breaker,
        ),
    );
    hub.inject("scripted", model);
    (core, hub, dir)
}

impl Env {
    pub fn new(model: ScriptedProvider) -> Self {
        Self::with(model, fast_config(), BreakerConfig::default())
    }

    pub fn with(
        model: ScriptedProvider,
        config: OrchestratorConfig,
        breaker: BreakerConfig,
    ) -> Self {
        let model = Arc::new(model);
        let (core, hub, dir) = core_with_model(model.clone(), breaker);
        let tools = Arc::new(registry(dir.path()));
        let runtime = Arc::new(AgentRuntime::new(core.clone(), hub.clone(), tools));
        let orch = Orchestrator::new(core.clone(), hub.clone(), runtime, config);
        Self {
            core,
            hub,
            model,
            orch,
            handle: None,
            dir,
        }
    }

    pub fn start(&mut self) {
        let o = self.orch.clone();
        self.handle = Some(tokio::spawn(async move {
            o.run().await.expect("orchestrator run");
        }));
    }

    pub async fn stop(&mut self) {
        self.orch.shutdown();
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
    }

    pub fn agent(&self, name: &str, caps: &[&str], max_concurrent: i64) -> String {
        self.core
            .agents()
            .create(AgentInput {
                name: Some(name.into()),
                system_prompt: Some(format!("You are {name}.")),
                capabilities: Some(caps.iter().map(|c| c.to_string()).collect()),
                autonomy: Some(Autonomy::Autopilot),
                max_concurrent_tasks: Some(max_concurrent),
                ..Default::default()
            })
            .expect("agent")
            .id
    }

    pub fn task(&self, title: &str, priority: i64, caps: &[&str]) -> Task {
        self.core
            .tasks()
            .create(NewTask {
                title: title.into(),
                priority: Some(priority),
                required_capabilities: Some(caps.iter().map(|c| c.to_string()).collect()),
                ..Default::default()
            })
            .expect("task")
    }

    /// A task given to `agent` by hand (no routing).
    pub fn task_for(&self, agent: &str, title: &str) -> String {
        self.core
            .tasks()
            .create(NewTask {
                title: title.into(),
                assigned_agent_id: Some(agent.into()),
                ..Default::default()
            })
            .expect("task")
            .id
    }

    pub fn set(&self, patch: SettingsPatch) {
        self.core.update_settings(patch).expect("settings");
    }

    /// Waits until every listed task reached a final status.
    pub async fn wait_final(&self, ids: &[String], timeout: Duration) -> Vec<Task> {
        let end = Instant::now() + timeout;
        loop {
            let tasks: Vec<Task> = ids
                .iter()
                .map(|i| self.core.tasks().get(i).expect("task"))
                .collect();
            if tasks.iter().all(|t| t.status.is_final()) {
                return tasks;
            }
            if Instant::now() > end {
                panic!(
                    "tasks not final after {timeout:?}: {:?}",
                    tasks
                        .iter()
                        .map(|t| (t.title.clone(), t.status, t.error.clone()))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The first pending item of the approval inbox, waiting for one to appear.
    pub async fn pending_approval(&self, timeout: Duration) -> ensemble_core::approvals::Approval {
        let end = Instant::now() + timeout;
        loop {
            let p = self
                .core
                .approvals()
                .list(
                    Some(ensemble_core::approvals::ApprovalStatus::Pending),
                    ensemble_core::Paging::default(),
                )
                .unwrap();
            if let Some(a) = p.items.into_iter().next() {
                return a;
            }
            assert!(Instant::now() < end, "nothing reached the approval inbox");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn wait_status(&self, id: &str, status: TaskStatus, timeout: Duration) -> Task {
        let end = Instant::now() + timeout;
        loop {
            let t = self.core.tasks().get(id).expect("task");
            if t.status == status {
                return t;
            }
            if Instant::now() > end {
                panic!(
                    "task '{}' is {} (error {:?}), expected {status}",
                    t.title, t.status, t.error
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The task title a request is about ("Task: …" opens the task's message;
/// in JSON steps a worked example's "Task (an example): …" comes first).
pub fn task_title(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .find(|m| m.role == Role::User && m.content.starts_with("Task: "))
        .and_then(|m| m.content.lines().next())
        .and_then(|l| l.strip_prefix("Task: "))
        .unwrap_or("")
        .to_string()
}

/// The agent a request comes from ("You are <name>." system prompt).
pub fn agent_name(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .find(|m| m.role == Role::System)
        .and_then(|m| m.content.strip_prefix("You are "))
        .and_then(|r| r.split('.').next())
        .unwrap_or("")
        .to_string()
}
