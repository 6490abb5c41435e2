//! The chat engine and the provider hub with a scripted model (exact control
//! over every delta, pause and failure) and, for the default choice, an
//! Ollama protocol fixture: stored messages, statuses, stop, failures, the
//! agent's prompt/provider/model, history, and "Ollama when it answers,
//! otherwise the embedded engine".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../llm/tests/common/fixture_server.rs"]
mod fixture;
#[path = "common/helpers.rs"]
mod helpers;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ensemble_core::agents::AgentInput;
use ensemble_core::chat::engine::{ChatEngine, ChatEvent, ChatSendRequest};
use ensemble_core::chat::{ChatRole, ChatStatus};
use ensemble_core::providers::hub::ProviderHub;
use ensemble_core::providers::{ProviderError, ProviderInput, ProviderKind, Role};
use ensemble_core::settings::SettingsPatch;
use ensemble_core::{Core, Paging};
use ensemble_llm::scripted::{Reply, ScriptedProvider};
use tokio_util::sync::CancellationToken;

struct Env {
    core: Arc<Core>,
    engine: Arc<ChatEngine>,
    _dir: tempfile::TempDir,
}

/// A core whose default provider is a scripted model (configured as "scripted").
fn env(model: Arc<ScriptedProvider>) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(dir.path()).unwrap());
    core.providers()
        .create(ProviderInput {
            name: Some("scripted".into()),
            kind: Some(ProviderKind::OpenAiCompatible),
            base_url: Some("http://127.0.0.1:9/v1".into()),
            default_model: Some("script-1".into()),
            ..Default::default()
        })
        .unwrap();
    core.update_settings(SettingsPatch {
        default_provider: Some("scripted".into()),
        ..Default::default()
    })
    .unwrap();
    let hub = Arc::new(
        ProviderHub::with_secrets(
            core.clone(),
            ensemble_core::secrets::SecretStore::file_only(dir.path()),
        )
        .with_connector(Arc::new(ensemble_llm::HttpConnector)),
    );
    hub.inject("scripted", model);
    let engine = Arc::new(ChatEngine::new(core.clone(), hub.clone()));
    Env {
        core,
        engine,
        _dir: dir,
    }
}

async fn send(
    env: &Env,
    req: ChatSendRequest,
) -> (Vec<ChatEvent>, ensemble_core::chat::ChatMessage) {
    let events: Arc<Mutex<Vec<ChatEvent>>> = Arc::default();
    let ev2 = events.clone();
    let mut sink = move |e: ChatEvent| {
        ev2.lock().unwrap().push(e);
        true
    };
    let msg = env
        .engine
        .send(req, CancellationToken::new(), &mut sink)
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    (events, msg)
}

fn ask(text: &str) -> ChatSendRequest {
    ChatSendRequest {
        text: text.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_answer_streams_as_deltas_and_is_stored_complete() {
    let model = ScriptedProvider::new(
        "scripted",
        vec![Reply::text("Paris is the capital of France.")],
    )
    .arc();
    let env = env(model.clone());
    let (events, msg) = send(&env, ask("What is the capital of France?")).await;
    assert!(
        matches!(events.first(), Some(ChatEvent::Started { provider, model, .. }) if provider == "scripted" && model == "script-1")
    );
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Delta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(deltas.len() >= 5, "{deltas:?}");
    assert_eq!(deltas.concat(), "Paris is the capital of France.");
    assert!(
        matches!(events.last(), Some(ChatEvent::Finish { message }) if message.status == ChatStatus::Complete)
    );
    assert_eq!(msg.status, ChatStatus::Complete);
    assert_eq!(msg.content, "Paris is the capital of France.");
    assert_eq!(msg.metadata["tokens"]["output"], 6);

    let session = env.core.chat().get_session(&msg.session_id).unwrap();
    assert_eq!(session.title, "What is the capital of France?");
    let stored = env
        .core
        .chat()
        .messages(&msg.session_id, Paging::default())
        .unwrap()
        .items;
    assert_eq!(
        stored.iter().map(|m| m.role).collect::<Vec<_>>(),
        [ChatRole::User, ChatRole::Assistant]
    );
}

#[tokio::test]
async fn stop_keeps_the_partial_answer_as_stopped() {
    let model = ScriptedProvider::new(
        "scripted",
        vec![Reply::slow_text(
            "one two three four five six seven eight nine ten",
            Duration::from_millis(40),
        )],
    )
    .arc();
    let env = env(model);
    let engine = env.engine.clone();
    let events: Arc<Mutex<Vec<ChatEvent>>> = Arc::default();
    let ev2 = events.clone();
    let mut sink = move |e: ChatEvent| {
        if let ChatEvent::Delta { .. } = e {
            let n = ev2
                .lock()
                .unwrap()
                .iter()
                .filter(|e| matches!(e, ChatEvent::Delta { .. }))
                .count();
            if n == 2 {
                let id = ev2.lock().unwrap().iter().find_map(|e| match e {
                    ChatEvent::Started { message_id, .. } => Some(message_id.clone()),
                    _ => None,
                });
                assert!(engine.stop(&id.unwrap()));
            }
        }
        ev2.lock().unwrap().push(e);
        true
    };
    let msg = env
        .engine
        .send(ask("count"), CancellationToken::new(), &mut sink)
        .await
        .unwrap();
    assert_eq!(msg.status, ChatStatus::Stopped);
    assert_eq!(msg.content, "one two three ");
    let stored = env
        .core
        .chat()
        .messages(&msg.session_id, Paging::default())
        .unwrap()
        .items;
    assert_eq!(stored[1].status, ChatStatus::Stopped);
    assert_eq!(stored[1].content, "one two three ");
    assert!(!env.engine.stop(&msg.id), "nothing runs any more");
}

#[tokio::test]
async fn a_reader_that_goes_away_stops_the_generation() {
    let model = ScriptedProvider::new(
        "scripted",
        vec![Reply::slow_text(
            "a b c d e f g h",
            Duration::from_millis(20),
        )],
    )
    .arc();
    let env = env(model);
    let mut deltas = 0;
    let mut sink = move |e: ChatEvent| {
        if matches!(e, ChatEvent::Delta { .. }) {
            deltas += 1;
            return deltas < 3;
        }
        true
    };
    let msg = env
        .engine
        .send(ask("go"), CancellationToken::new(), &mut sink)
        .await
        .unwrap();
    assert_eq!(msg.status, ChatStatus::Stopped);
    assert_eq!(msg.content, "a b c ");
}

#[tokio::test]
async fn a_failure_mid_stream_keeps_the_partial_text_as_error() {
    let model = ScriptedProvider::new(
        "scripted",
        vec![Reply::broken_after(
            "The plan has three ",
            ProviderError::Interrupted {
                detail: "connection reset".into(),
            },
        )],
    )
    .arc();
    let env = env(model);
    let (events, msg) = send(&env, ask("plan")).await;
    match events.last() {
        Some(ChatEvent::Error { error, message }) => {
            assert_eq!(error.code, "STREAM_INTERRUPTED");
            assert!(error.message.contains("connection reset"));
            assert_eq!(
                message.as_ref().map(|m| m.content.as_str()),
                Some("The plan has three ")
            );
        }
        other => panic!("expected an error event, got {other:?}"),
    }
    assert_eq!(
        (msg.status, msg.content.as_str()),
        (ChatStatus::Error, "The plan has three ")
    );
    assert_eq!(msg.metadata["error"]["code"], "STREAM_INTERRUPTED");
}

#[tokio::test]
async fn a_provider_that_refuses_gives_an_error_message_not_a_crash() {
    let model = ScriptedProvider::new(
        "scripted",
        vec![Reply::Refuse(ProviderError::ModelNotFound {
            model: "script-1".into(),
        })],
    )
    .arc();
    let env = env(model);
    let (events, msg) = send(&env, ask("hi")).await;
    assert!(
        matches!(events.last(), Some(ChatEvent::Error { error, .. }) if error.code == "MODEL_NOT_FOUND")
    );
    assert_eq!(msg.status, ChatStatus::Error);
    // Bad input is refused before anything is stored.
    let err = env
        .engine
        .send(ask("   "), CancellationToken::new(), &mut |_| true)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "VALIDATION");
    let err = env
        .engine
        .send(
            ChatSendRequest {
                session_id: Some("ghost".into()),
                text: "x".into(),
                ..Default::default()
            },
            CancellationToken::new(),
            &mut |_| true,
        )
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "chat session ghost does not exist");
}

#[tokio::test]
async fn an_agent_answers_with_its_prompt_provider_model_and_the_history() {
    let model = ScriptedProvider::new(
        "scripted",
        vec![Reply::text("First answer."), Reply::text("Second answer.")],
    )
    .arc();
    let env = env(model.clone());
    // The agent names its own provider and model.
    env.core
        .update_settings(SettingsPatch {
            default_provider: Some(String::new()),
            ..Default::default()
        })
        .unwrap();
    let agent = env
        .core
        .agents()
        .create(AgentInput {
            name: Some("Ada".into()),
            system_prompt: Some("You are Ada, a precise analyst.".into()),
            provider: Some("scripted".into()),
            model: Some("analyst-model".into()),
            temperature: Some(0.1),
            ..Default::default()
        })
        .unwrap();
    let (events, first) = send(
        &env,
        ChatSendRequest {
            agent_id: Some(agent.id.clone()),
            text: "Q1".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(
        matches!(&events[0], ChatEvent::Started { agent_name: Some(n), model, .. } if n == "Ada" && model == "analyst-model")
    );
    assert_eq!(first.agent_id.as_deref(), Some(agent.id.as_str()));
    let (_, _) = send(
        &env,
        ChatSendRequest {
            session_id: Some(first.session_id.clone()),
            text: "Q2".into(),
            ..Default::default()
        },
    )
    .await;

    let reqs = model.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].model, "analyst-model");
    assert_eq!(reqs[0].temperature, Some(0.1));
    assert_eq!(reqs[0].messages[0].role, Role::System);
    assert!(reqs[0].messages[0]
        .content
        .starts_with("You are Ada, a precise analyst."));
    let second: Vec<(Role, &str)> = reqs[1]
        .messages
        .iter()
        .skip(1)
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(
        second,
        [
            (Role::User, "Q1"),
            (Role::Assistant, "First answer."),
            (Role::User, "Q2")
        ]
    );
}

#[tokio::test]
async fn interrupted_answers_are_marked_on_recovery() {
    let env = env(ScriptedProvider::new("scripted", vec![]).arc());
    let s = env.core.chat().create_session(Default::default()).unwrap();
    let m = env
        .core
        .chat()
        .add_message(
            &s.id,
            ChatRole::Assistant,
            "half an ans",
            None,
            ChatStatus::Streaming,
        )
        .unwrap();
    assert_eq!(env.core.recover_interrupted_chats().unwrap(), 1);
    let stored = env
        .core
        .chat()
        .messages(&s.id, Paging::default())
        .unwrap()
        .items;
    assert_eq!(stored[0].id, m.id);
    assert_eq!(
        (stored[0].status, stored[0].content.as_str()),
        (ChatStatus::Error, "half an ans")
    );
    assert_eq!(stored[0].metadata["error"]["code"], "INTERRUPTED");
}

// ---------------------------------------------------------------- default provider

fn hub_env() -> (Arc<Core>, Arc<ProviderHub>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let core = Arc::new(Core::open(dir.path()).unwrap());
    let hub = Arc::new(
        ProviderHub::with_secrets(
            core.clone(),
            ensemble_core::secrets::SecretStore::file_only(dir.path()),
        )
        .with_connector(Arc::new(ensemble_llm::HttpConnector)),
    );
    hub.set_embedded(
        ScriptedProvider::new("embedded", vec![])
            .with_kind(ProviderKind::Embedded)
            .without_tools()
            .arc(),
    );
    (core, hub, dir)
}

#[tokio::test]
async fn ollama_is_the_default_when_it_answers_otherwise_the_embedded_engine() {
    let (core, hub, _dir) = hub_env();
    // Nothing listens where Ollama is configured.
    let refused = fixture::refused_url().await;
    core.providers()
        .update(
            "ollama",
            ProviderInput {
                base_url: Some(refused.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    let choice = hub.default_choice().await.unwrap();
    assert_eq!(choice.provider, "embedded");
    assert!(
        choice
            .reason
            .contains(&format!("Ollama did not answer at {refused}")),
        "{}",
        choice.reason
    );
    let r = hub.resolve(None, None).await.unwrap();
    assert_eq!(
        (r.provider_name.as_str(), r.model.as_str()),
        ("embedded", "gemma-3-270m-q4_k_m.gguf")
    );

    // Now an Ollama answers (protocol fixture).
    let server = fixture::FixtureServer::start(|_, _| {
        fixture::Reply::json(200, serde_json::json!({"models": [{"name": "llama3.2:latest", "modified_at": "2026-11-01T00:00:00Z", "size": 1}]}))
    })
    .await;
    core.providers()
        .update(
            "ollama",
            ProviderInput {
                base_url: Some(server.url()),
                ..Default::default()
            },
        )
        .unwrap();
    hub.refresh_default();
    let choice = hub.default_choice().await.unwrap();
    assert_eq!(choice.provider, "ollama");
    let r = hub.resolve(None, None).await.unwrap();
    assert_eq!(r.model, "llama3.2:latest", "the first model Ollama lists");
    // Settings may pin a provider and model.
    core.update_settings(SettingsPatch {
        default_provider: Some("embedded".into()),
        default_model: Some("other.gguf".into()),
        ..Default::default()
    })
    .unwrap();
    let r = hub.resolve(None, None).await.unwrap();
    assert_eq!(
        (r.provider_name.as_str(), r.model.as_str()),
        ("embedded", "other.gguf")
    );
    // An agent's own choice wins.
    let r = hub.resolve(Some("ollama"), Some("qwen2.5")).await.unwrap();
    assert_eq!(
        (r.provider_name.as_str(), r.model.as_str()),
        ("ollama", "qwen2.5")
    );

    let overview = hub.overview().await.unwrap();
    assert_eq!(overview.default.provider, "embedded");
    let ollama = overview
        .providers
        .iter()
        .find(|p| p.config.name == "ollama")
        .unwrap();
    assert!(ollama.reachable);
    assert_eq!(ollama.models[0].name, "llama3.2:latest");
    assert!(!ollama.active);
}

#[tokio::test]
async fn api_keys_live_outside_the_database() {
    let (core, hub, dir) = hub_env();
    core.providers()
        .create(ProviderInput {
            name: Some("anthropic".into()),
            kind: Some(ProviderKind::Anthropic),
            base_url: Some("https://api.anthropic.com".into()),
            ..Default::default()
        })
        .unwrap();
    let at = hub
        .set_api_key("anthropic", "sk-ant-secret-value-123")
        .unwrap();
    assert_eq!(at, ensemble_core::secrets::SecretLocation::File);
    let cfg = core.providers().get("anthropic").unwrap();
    assert_eq!(cfg.api_key_ref.as_deref(), Some("provider-anthropic"));
    let db = std::fs::read(dir.path().join("ensemble.db")).unwrap();
    let wal = std::fs::read(dir.path().join("ensemble.db-wal")).unwrap_or_default();
    let needle = b"sk-ant-secret-value-123";
    assert!(
        !db.windows(needle.len()).any(|w| w == needle),
        "the key is not in the database file"
    );
    assert!(
        !wal.windows(needle.len()).any(|w| w == needle),
        "the key is not in the WAL"
    );
    assert_eq!(
        hub.secrets().get("provider-anthropic").unwrap().as_deref(),
        Some("sk-ant-secret-value-123")
    );
    let status = hub.overview().await.unwrap();
    assert!(
        status
            .providers
            .iter()
            .find(|p| p.config.name == "anthropic")
            .unwrap()
            .has_api_key
    );
}

/// Chat auto-routing (issue 6): a session created with `auto_route` lets the
/// expert gate pick, per message, the agent that answers — seed 000's
/// analyst for a data question, the writer for a writing request — and an
/// explicit agent still wins.
#[tokio::test]
async fn auto_routed_chat_asks_the_agent_the_gate_ranks_best() {
    let model = Arc::new(ScriptedProvider::from_fn("scripted", |_, _| {
        Reply::text("On it.")
    }));
    let env = env(model.clone());
    let analyst = env
        .core
        .agents()
        .create(AgentInput {
            name: Some("Ana".into()),
            role: Some("data analyst".into()),
            capabilities: Some(vec!["sql_query".into(), "data_analysis".into()]),
            system_prompt: Some("You are Ana.".into()),
            ..Default::default()
        })
        .unwrap();
    let writer = env
        .core
        .agents()
        .create(AgentInput {
            name: Some("Wren".into()),
            role: Some("writer".into()),
            capabilities: Some(vec!["summarization".into(), "writing".into()]),
            system_prompt: Some("You are Wren.".into()),
            ..Default::default()
        })
        .unwrap();
    let (events, first) = send(
        &env,
        ChatSendRequest {
            text: "Run a data analysis of last quarter's sales with an SQL query".into(),
            auto_route: Some(true),
            ..Default::default()
        },
    )
    .await;
    assert!(
        matches!(&events[0], ChatEvent::Started { agent_name: Some(n), .. } if n == "Ana"),
        "{:?}",
        events[0]
    );
    assert_eq!(first.agent_id.as_deref(), Some(analyst.id.as_str()));
    let session = first.session_id.clone();
    let (_, second) = send(
        &env,
        ChatSendRequest {
            session_id: Some(session.clone()),
            text: "Write a short summary of the findings for the newsletter".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(second.agent_id.as_deref(), Some(writer.id.as_str()));
    let (_, third) = send(
        &env,
        ChatSendRequest {
            session_id: Some(session),
            text: "Write it as a data analysis instead".into(),
            agent_id: Some(writer.id.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        third.agent_id.as_deref(),
        Some(writer.id.as_str()),
        "an explicit agent wins"
    );
    let prompts: Vec<String> = model
        .requests()
        .iter()
        .map(|r| r.messages[0].content.clone())
        .collect();
    assert!(prompts[0].contains("You are Ana."), "{}", prompts[0]);
    assert!(prompts[1].contains("You are Wren."), "{}", prompts[1]);
}
