//! Provider faults: refused connections, silence, HTTP 500, a stream cut
//! short, malformed NDJSON, bad tool arguments, a chat stream that breaks off.

use super::*;

/// In-process server speaking Ollama's wire format, behind a URL where
/// nothing listens: connections are refused. The task fails (after its
/// attempts) with the URL in a readable error and a notice; once the
/// provider is pointed at a server that answers, its retry completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_refuses_connections() {
    let mut rig = Rig::new(None).await;
    let refused = fixture_server::refused_url().await;
    let cfg = rig.core.providers().get("fixture").unwrap();
    rig.core
        .providers()
        .update(
            &cfg.id,
            ProviderInput {
                base_url: Some(refused.clone()),
                ..Default::default()
            },
        )
        .unwrap();
    let mut notices = rig.core.events().subscribe_notices();
    let id = rig.task("refused", 2);
    rig.start();
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_eq!(t.attempts, 2);
    assert_readable(
        t.error.as_deref().unwrap(),
        &format!("cannot reach the provider at {refused}"),
    );
    let notice = tokio::time::timeout(LONG, async {
        loop {
            if let Ok(n) = notices.recv().await {
                if n.kind == NoticeKind::TaskFailed {
                    return n;
                }
            }
        }
    })
    .await
    .expect("a notice that the task failed");
    assert_eq!(notice.item_id.as_deref(), Some(id.as_str()));
    assert_readable(&notice.body, "cannot reach the provider");
    assert!(rig.server.recorded().is_empty());
    assert_eq!(rig.effect_count("refused"), 0);

    // The provider comes back (here: its URL is corrected).
    rig.core
        .providers()
        .update(
            &cfg.id,
            ProviderInput {
                base_url: Some(rig.server.url()),
                ..Default::default()
            },
        )
        .unwrap();
    rig.core.tasks().retry(&id).unwrap();
    rig.orch.nudge();
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("refused"), 1);
    println!("refused: {}", describe(&rig.core, &id));
    rig.still_works("refused").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that reads the request
/// and never answers (first the request that asks for the tool, then the
/// one after it, mid-stream). Each silent call times out with a readable
/// error and is retried; the task completes with its tool run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_times_out() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::Stall, Phase::Tool, 2);
    let id = rig.task("silent", 4);
    rig.start();
    rig.completed(&id).await;
    let errors = run_errors(&rig.core, &id);
    assert!(!errors.is_empty(), "the timeout is in the run trace");
    assert_readable(&errors[0], "no answer from the provider within 0.4 s");
    assert_eq!(rig.effect_count("silent"), 1);
    println!("stall: {}", describe(&rig.core, &id));

    rig.fault(Fault::StallMidStream, Phase::Answer, 1);
    let id = rig.task("stalls after its tool", 4);
    rig.completed(&id).await;
    let errors = run_errors(&rig.core, &id);
    assert_readable(
        errors.first().expect("the stall is in the run trace"),
        "the stream broke off: the provider sent nothing for 0.4 s",
    );
    assert_eq!(
        rig.effect_count("stalls after its tool"),
        1,
        "the retry must not run the tool again"
    );
    println!("stall mid-stream: {}", describe(&rig.core, &id));
    rig.still_works("timeout").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that answers HTTP 500
/// (Ollama's `{"error": …}` body) several times: before the tool call, and
/// after it (when retrying must not repeat the call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_returns_http_500() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::Http500, Phase::Tool, 3);
    let id = rig.task("five hundred", 4);
    rig.start();
    rig.completed(&id).await;
    let errors = run_errors(&rig.core, &id);
    assert_readable(
        errors.first().expect("the failure is in the run trace"),
        "the provider failed (HTTP 500): llama runner process has terminated: signal: killed",
    );
    assert_eq!(rig.effect_count("five hundred"), 1);
    println!("http 500: {}", describe(&rig.core, &id));

    rig.fault(Fault::Http500, Phase::Answer, 3);
    let id = rig.task("500 after its tool", 4);
    rig.completed(&id).await;
    assert_eq!(
        rig.effect_count("500 after its tool"),
        1,
        "the retry must not run the tool again"
    );
    println!("http 500 after the tool: {}", describe(&rig.core, &id));
    rig.still_works("http 500").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that sends a few tokens
/// and closes the connection before the stream's last line, right after
/// the tool ran: the run fails with a readable error, the retry continues
/// from the tool's result instead of running it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_drops_the_connection_mid_stream() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::DropMidStream, Phase::Answer, 2);
    let id = rig.task("dropped", 4);
    rig.start();
    let t = rig.completed(&id).await;
    assert_eq!(t.output.as_deref(), Some("done dropped"));
    let errors = run_errors(&rig.core, &id);
    assert_readable(
        errors.first().expect("the break is in the run trace"),
        "the stream broke off",
    );
    assert_eq!(
        rig.effect_count("dropped"),
        1,
        "the retry must not run the tool again"
    );
    println!("drop: {}", describe(&rig.core, &id));
    rig.still_works("drop").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format that puts a line which
/// is not JSON in the NDJSON stream. Ensemble cannot use such an answer:
/// the task fails at once (before its tool, or after it — the tool then
/// ran once), with the offending line quoted in a readable error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_sends_malformed_ndjson() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::Malformed, Phase::Tool, 1);
    let id = rig.task("garbled", 3);
    rig.start();
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_readable(
        t.error.as_deref().unwrap(),
        "the provider sent a response Ensemble cannot use: Ollama sent a line that is not JSON",
    );
    assert!(t
        .error
        .as_deref()
        .unwrap()
        .contains("this line is not json at all"));
    assert_eq!(rig.effect_count("garbled"), 0);
    // Retried by hand once the provider behaves: it completes.
    rig.core.tasks().retry(&id).unwrap();
    rig.orch.nudge();
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("garbled"), 1);

    rig.fault(Fault::Malformed, Phase::Answer, 1);
    let id = rig.task("garbled after its tool", 3);
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_readable(t.error.as_deref().unwrap(), "not JSON");
    assert_eq!(rig.effect_count("garbled after its tool"), 1);
    println!("malformed after the tool: {}", describe(&rig.core, &id));
    rig.still_works("malformed").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format whose model calls
/// `test_append` with arguments of the wrong types, then a tool that does
/// not exist: nothing runs, the model is told what was wrong (a readable
/// observation in the run trace) and its corrected call runs once. A model
/// that never corrects itself fails the task with the last problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_that_calls_tools_with_bad_arguments() {
    let mut rig = Rig::new(None).await;
    rig.fault(Fault::WrongTypes, Phase::Tool, 1);
    let id = rig.task("wrong types", 3);
    rig.start();
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("wrong types"), 1);
    let runs = rig.core.runs().of_task(&id).unwrap();
    assert_eq!(runs.len(), 1);
    let first = &runs[0].steps[0];
    let obs = first.observation.as_deref().unwrap();
    assert!(
        obs.starts_with("Error: invalid arguments for test_append"),
        "{obs}"
    );
    assert!(obs.contains("Nothing was run"), "{obs}");
    assert_eq!(
        runs[0].tool_calls.len(),
        1,
        "only the corrected call is journaled: {:?}",
        runs[0].tool_calls
    );

    rig.fault(Fault::UnknownTool, Phase::Tool, 1);
    let id = rig.task("unknown tool", 3);
    rig.completed(&id).await;
    assert_eq!(rig.effect_count("unknown tool"), 1);
    let runs = rig.core.runs().of_task(&id).unwrap();
    let obs = runs[0].steps[0].observation.as_deref().unwrap();
    assert_readable(
        obs,
        "Error: unknown tool 'delete_everything'; you may use: test_append",
    );

    // A model that keeps calling a tool that does not exist.
    rig.fault(Fault::UnknownTool, Phase::Tool, usize::MAX);
    let id = rig.task("never corrects itself", 1);
    let t = rig
        .wait(&id, "failed", |t| t.status == TaskStatus::Failed)
        .await;
    assert_readable(
        t.error.as_deref().unwrap(),
        "the model did not produce a valid step after 3 corrections (last problem: unknown tool 'delete_everything'",
    );
    assert_eq!(rig.effect_count("never corrects itself"), 0);
    rig.still_works("bad tool arguments").await;
    rig.stop().await;
}

/// In-process server speaking Ollama's wire format, for the chat engine: a
/// stream that breaks off keeps the partial answer with status `error` and a
/// readable error (sent to the window as an `error` event); the next message
/// of the same conversation is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_stream_that_breaks_off() {
    let rig = Rig::new(None).await;
    let chat = ChatEngine::new(rig.core.clone(), rig.hub.clone());
    let agent = rig
        .core
        .agents()
        .list(&Default::default(), Paging::default())
        .unwrap()
        .items
        .remove(0);
    rig.fault(Fault::DropMidStream, Phase::Answer, 1);
    let mut events = Vec::new();
    let broken = chat
        .send(
            ChatSendRequest {
                text: "Say hello".into(),
                agent_id: Some(agent.id.clone()),
                ..Default::default()
            },
            CancellationToken::new(),
            &mut |e| {
                events.push(e);
                true
            },
        )
        .await
        .unwrap();
    assert_eq!(broken.status, ChatStatus::Error);
    assert_eq!(broken.content, "Half an ans");
    let Some(ChatEvent::Error { error, .. }) = events.last() else {
        panic!("the stream must end with an error event: {events:?}");
    };
    assert_eq!(error.code, "STREAM_INTERRUPTED");
    assert_readable(&error.message, "the stream broke off");

    let answer = chat
        .send(
            ChatSendRequest {
                session_id: Some(broken.session_id.clone()),
                text: "Say hello again".into(),
                ..Default::default()
            },
            CancellationToken::new(),
            &mut |_| true,
        )
        .await
        .unwrap();
    assert_eq!(answer.status, ChatStatus::Complete);
    assert_eq!(answer.content, "Hello there.");
}
