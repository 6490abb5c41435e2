//! Approvals, messages, chat and settings through the services.

use super::*;

// ---------------------------------------------------------------- approvals, messages, chat, settings

#[test]
fn approvals_are_decided_once_and_expire_to_rejected() {
    let c = core();
    let a = c
        .approvals().create(NewApproval {
            title: "Run code_run".into(),
            proposed_action: serde_json::json!({"tool": "code_run", "arguments": {"code": "print(1)"}}),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.approvals().pending_count().unwrap(), 1);
    let e = c
        .approvals()
        .decide(
            &a.id,
            Decision {
                verdict: Some(Verdict::Edit),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "edited_action: an edit needs the edited action"
    );
    let edited = serde_json::json!({"tool": "code_run", "arguments": {"code": "print(2)"}});
    let d = c
        .approvals()
        .decide(
            &a.id,
            Decision {
                verdict: Some(Verdict::Edit),
                edited_action: Some(edited.clone()),
                comment: Some("use 2".into()),
                decided_by: None,
            },
        )
        .unwrap();
    assert_eq!(
        (d.status, d.edited_action, d.decided_by.as_deref()),
        (ApprovalStatus::Edited, Some(edited), Some("human"))
    );
    assert_eq!(
        c.approvals()
            .decide(
                &a.id,
                Decision {
                    verdict: Some(Verdict::Approve),
                    ..Default::default()
                }
            )
            .unwrap_err()
            .code(),
        "CONFLICT"
    );

    let old = c
        .approvals()
        .create(NewApproval {
            title: "old".into(),
            proposed_action: serde_json::json!(null),
            expires_in_secs: Some(0),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.approvals().expire().unwrap(), vec![old.id.clone()]);
    let old = c.approvals().get(&old.id).unwrap();
    assert_eq!(old.status, ApprovalStatus::Expired);
    assert!(old.comment.unwrap().contains("rejected by default"));
    assert_eq!(c.approvals().pending_count().unwrap(), 0);
}

#[test]
fn messages_travel_on_their_channel() {
    let c = core();
    let a = agent(&c, "A", &[]);
    let b = agent(&c, "B", &[]);
    let crew = c
        .crews()
        .create(CrewInput {
            name: Some("crew".into()),
            ..Default::default()
        })
        .unwrap();
    let m = c
        .messages()
        .send(NewMessage {
            from_agent_id: Some(a.clone()),
            to_agent_id: Some(b.clone()),
            content: "hi".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.channel, format!("direct:{a}:{b}"));
    let m = c
        .messages()
        .send(NewMessage {
            from_agent_id: Some(a.clone()),
            crew_id: Some(crew.id.clone()),
            content: "all".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.channel, format!("team:{}", crew.id));
    assert_eq!(
        c.messages()
            .send(NewMessage {
                content: "lost".into(),
                ..Default::default()
            })
            .unwrap_err()
            .code(),
        "VALIDATION"
    );
    assert_eq!(
        c.messages()
            .send(NewMessage {
                crew_id: Some(crew.id.clone()),
                content: " ".into(),
                ..Default::default()
            })
            .unwrap_err()
            .code(),
        "VALIDATION"
    );
}

#[test]
fn chat_keeps_partial_messages_with_their_status() {
    let c = core();
    let s = c
        .chat()
        .create_session(SessionInput {
            title: Some("Planning".into()),
            ..Default::default()
        })
        .unwrap();
    c.chat()
        .add_message(&s.id, ChatRole::User, "hello", None, ChatStatus::Complete)
        .unwrap();
    let m = c
        .chat()
        .add_message(&s.id, ChatRole::Assistant, "", None, ChatStatus::Streaming)
        .unwrap();
    let m = c
        .chat()
        .finish_message(
            &m.id,
            "Hel",
            ChatStatus::Stopped,
            serde_json::json!({"tokens": 2}),
        )
        .unwrap();
    assert_eq!((m.content.as_str(), m.status), ("Hel", ChatStatus::Stopped));
    let msgs = c.chat().messages(&s.id, Paging::default()).unwrap();
    assert_eq!(msgs.items.len(), 2);
    assert_eq!(c.chat().get_session(&s.id).unwrap().message_count, 2);
    assert_eq!(
        c.chat()
            .add_message(&s.id, ChatRole::User, "  ", None, ChatStatus::Complete)
            .unwrap_err()
            .code(),
        "VALIDATION"
    );
}

#[test]
fn settings_are_validated_and_persist() {
    let c = core();
    assert_eq!(c.settings().unwrap().max_concurrent_tasks, 10);
    let s = c
        .update_settings(SettingsPatch {
            max_concurrent_tasks: Some(4),
            paused: Some(true),
            web_fetch_allow_list: Some(vec!["LocalHost:8080".into()]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((s.max_concurrent_tasks, s.paused), (4, true));
    assert_eq!(s.web_fetch_allow_list, ["localhost:8080"]);
    assert_eq!(
        c.update_settings(SettingsPatch {
            max_concurrent_tasks: Some(0),
            ..Default::default()
        })
        .unwrap_err()
        .code(),
        "VALIDATION"
    );
    assert_eq!(
        c.update_settings(SettingsPatch {
            web_fetch_allow_list: Some(vec!["http://x/y".into()]),
            ..Default::default()
        })
        .unwrap_err()
        .code(),
        "VALIDATION"
    );
    // A port out of range, as the Settings form says (same bounds).
    for bad in [
        "localhost:0",
        "localhost:65536",
        "localhost:",
        "[::1]:99999",
    ] {
        let e = c
            .update_settings(SettingsPatch {
                web_fetch_allow_list: Some(vec![bad.into()]),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.code(), "VALIDATION", "{bad}");
        assert!(
            e.to_string()
                .contains("the port must be a number from 1 to 65535"),
            "{bad}: {e}"
        );
    }
    let ok = c
        .update_settings(SettingsPatch {
            web_fetch_allow_list: Some(vec!["[::1]:8080".into(), "10.0.0.2:65535".into()]),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(ok.web_fetch_allow_list, ["[::1]:8080", "10.0.0.2:65535"]);
    assert_eq!(
        c.update_settings(SettingsPatch {
            default_provider: Some("nope".into()),
            ..Default::default()
        })
        .unwrap_err()
        .code(),
        "VALIDATION"
    );
    let common::TestCore { core, dir } = c;
    drop(core);
    let again = ensemble_core::Core::open(dir.path()).unwrap();
    assert_eq!(again.settings().unwrap().max_concurrent_tasks, 4);
    assert!(again.settings().unwrap().paused);
}

#[test]
fn default_providers_are_seeded_once() {
    let c = core();
    let names: Vec<_> = c
        .providers()
        .list()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["ollama", "embedded"]);
    let common::TestCore { core, dir } = c;
    core.providers()
        .update(
            "ollama",
            ensemble_core::providers::ProviderInput {
                max_concurrent: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
    drop(core);
    let again = ensemble_core::Core::open(dir.path()).unwrap();
    let providers = again.providers().list().unwrap();
    assert_eq!(providers.len(), 2);
    assert_eq!(
        providers[0].max_concurrent, 3,
        "the user's change is kept, not re-seeded"
    );
}
