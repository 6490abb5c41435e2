//! The host of one process on a temporary data folder, with a scripted
//! model (ensemble-llm's test provider) behind an OpenAI-compatible config:
//! one runner per data folder, waiting for an idle queue, and a shutdown
//! that releases the runner lock and leaves no background work behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ensemble_core::agents::AgentInput;
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{NewTask, TaskStatus};
use ensemble_core::Core;
use ensemble_host::{Host, RunnerMode, Services};
use ensemble_llm::scripted::{Reply, ScriptedProvider};

const GRACE: Duration = Duration::from_secs(5);

/// A data folder whose default model is a scripted one that answers "done".
fn core() -> (Arc<Core>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(dir.path()).unwrap());
    core.providers()
        .create(ProviderInput {
            name: Some("scripted".into()),
            kind: Some(ProviderKind::OpenAiCompatible),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            default_model: Some("script".into()),
            ..Default::default()
        })
        .unwrap();
    core.update_settings(SettingsPatch {
        default_provider: Some("scripted".into()),
        ..Default::default()
    })
    .unwrap();
    (core, dir)
}

async fn host(core: Arc<Core>) -> Arc<Host> {
    let services = Services::new(core);
    services.hub.inject(
        "scripted",
        Arc::new(ScriptedProvider::from_fn("scripted", |_, _| {
            Reply::text("done")
        })),
    );
    Host::with_services(services).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_runner_per_data_folder_and_the_lock_is_released_at_shutdown() {
    let (core, _dir) = core();
    let first = host(core.clone()).await;
    let second = host(core.clone()).await;
    assert!(first.take_runner().unwrap());
    assert!(first.take_runner().unwrap(), "taking it again is a no-op");
    assert_eq!(first.runner_mode(), (RunnerMode::Here, None));
    assert!(first.orchestrator().is_some());

    assert!(!second.take_runner().unwrap());
    assert_eq!(second.runner_mode(), (RunnerMode::OtherProcess, None));
    assert!(second.orchestrator().is_none());

    first.shutdown(GRACE).await;
    assert!(first.is_shutting_down());
    assert_eq!(first.runner_mode().0, RunnerMode::Stopped);
    assert!(
        !first.take_runner().unwrap(),
        "a host that shut down does not run again"
    );
    assert!(second.take_runner().unwrap(), "the lock was released");
    second.shutdown(GRACE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_idle_returns_once_the_queue_is_done() {
    let (core, _dir) = core();
    core.agents()
        .create(AgentInput {
            name: Some("Ada".into()),
            ..Default::default()
        })
        .unwrap();
    let ids: Vec<String> = (0..3)
        .map(|i| {
            core.tasks()
                .create(NewTask {
                    title: format!("Task {i}"),
                    ..Default::default()
                })
                .unwrap()
                .id
        })
        .collect();
    assert!(!core.tasks().queue_is_idle().unwrap());
    let host = host(core.clone()).await;
    assert!(host.take_runner().unwrap());
    tokio::time::timeout(Duration::from_secs(60), host.wait_idle())
        .await
        .expect("the queue went idle")
        .unwrap();
    for id in &ids {
        let t = core.tasks().get(id).unwrap();
        assert_eq!(t.status, TaskStatus::Completed, "{t:?}");
        assert_eq!(t.output.as_deref(), Some("done"));
    }
    assert!(core.tasks().queue_is_idle().unwrap());
    host.shutdown(GRACE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_aborts_background_work_that_does_not_end_by_itself() {
    let (core, _dir) = core();
    let host = host(core).await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    host.spawn(async move {
        // Holds the sender until it is dropped by an abort.
        let _tx = tx;
        std::future::pending::<()>().await;
    });
    host.shutdown(GRACE).await;
    assert!(
        rx.await.is_err(),
        "the task was aborted and dropped its sender"
    );
}
