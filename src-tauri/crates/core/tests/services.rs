//! The service layer on a temporary SQLite file: every validation rule gives a
//! clear error, a rejected write leaves the database exactly as it was, and
//! committed changes (only those) reach the event bus.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/helpers.rs"]
mod common;

use common::{agent, core, fingerprint};
use ensemble_core::agents::{AgentFilter, AgentInput, Autonomy};
use ensemble_core::approvals::{ApprovalStatus, Decision, NewApproval, Verdict};
use ensemble_core::chat::{ChatRole, ChatStatus, SessionInput};
use ensemble_core::crews::{CrewInput, MemberInput, Process, RelationKind, RelationshipInput};
use ensemble_core::messages::NewMessage;
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{NewTask, TaskFilter, TaskPatch, TaskStatus};
use ensemble_core::{ChangeOp, Entity, Paging};

fn task(core: &ensemble_core::Core, title: &str) -> String {
    core.tasks()
        .create(NewTask {
            title: title.into(),
            ..Default::default()
        })
        .unwrap()
        .id
}

// ---------------------------------------------------------------- names

#[test]
fn empty_names_are_refused() {
    let c = core();
    let before = fingerprint(&c);
    for name in ["", "   ", "\t"] {
        let e = c
            .agents()
            .create(AgentInput {
                name: Some(name.into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.code(), "VALIDATION");
        assert_eq!(e.to_string(), "name: must not be empty");
        let e = c
            .crews()
            .create(CrewInput {
                name: Some(name.into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "name: must not be empty");
        let e = c
            .tasks()
            .create(NewTask {
                title: name.into(),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "title: must not be empty");
    }
    let e = c.agents().create(AgentInput::default()).unwrap_err();
    assert_eq!(e.to_string(), "name: must not be empty");
    assert_eq!(fingerprint(&c), before);
}

#[test]
fn a_template_provides_the_name_and_fields() {
    let c = core();
    let a = c
        .agents()
        .create(AgentInput {
            template: Some("Analyst".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(a.name, "Analyst");
    assert_eq!(a.template.as_deref(), Some("analyst"));
    assert!(a.capabilities.contains(&"sql_query".to_string()));
    assert_eq!(a.autonomy, Autonomy::Copilot);
    let e = c
        .agents()
        .create(AgentInput {
            template: Some("astronaut".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        e.to_string().contains("unknown template 'astronaut'"),
        "{e}"
    );
    assert!(
        e.to_string().contains("researcher"),
        "lists the choices: {e}"
    );
}

// ---------------------------------------------------------------- priority

#[test]
fn priority_outside_one_to_ten_is_refused() {
    let c = core();
    let id = task(&c, "write report");
    let before = fingerprint(&c);
    for p in [0, 11, -3, 1000] {
        let e = c
            .tasks()
            .create(NewTask {
                title: "x".into(),
                priority: Some(p),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.code(), "VALIDATION");
        assert_eq!(
            e.to_string(),
            format!("priority: must be between 1 and 10 (10 is highest), got {p}")
        );
        let e = c
            .tasks()
            .update(
                &id,
                TaskPatch {
                    priority: Some(p),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.code(), "VALIDATION");
    }
    assert_eq!(fingerprint(&c), before);
    for p in [1, 10] {
        assert_eq!(
            c.tasks()
                .update(
                    &id,
                    TaskPatch {
                        priority: Some(p),
                        ..Default::default()
                    }
                )
                .unwrap()
                .priority as i64,
            p
        );
    }
}

// ---------------------------------------------------------------- unknown ids

#[test]
fn unknown_ids_are_refused_with_the_id() {
    let c = core();
    let e = c.agents().get("nope").unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        ("NOT_FOUND", "agent nope does not exist")
    );
    assert_eq!(
        c.tasks().get("t-missing").unwrap_err().to_string(),
        "task t-missing does not exist"
    );
    assert_eq!(c.agents().delete("nope").unwrap_err().code(), "NOT_FOUND");
    assert_eq!(c.tasks().cancel("nope").unwrap_err().code(), "NOT_FOUND");
    let before = fingerprint(&c);
    let e = c
        .tasks()
        .create(NewTask {
            title: "x".into(),
            assigned_agent_id: Some("ghost".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "agent ghost does not exist");
    let e = c
        .tasks()
        .create(NewTask {
            title: "x".into(),
            parent_task_id: Some("ghost".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "parent task ghost does not exist");
    let e = c
        .crews()
        .create(CrewInput {
            name: Some("c".into()),
            members: Some(vec![MemberInput {
                agent_id: "ghost".into(),
                role: None,
            }]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "agent ghost does not exist");
    assert_eq!(fingerprint(&c), before);
}

// ---------------------------------------------------------------- status moves

#[test]
fn illegal_status_moves_are_refused() {
    let c = core();
    let id = task(&c, "t");
    let e = c
        .tasks()
        .set_status(&id, TaskStatus::Completed)
        .unwrap_err();
    assert_eq!(e.code(), "ILLEGAL_TRANSITION");
    assert_eq!(e.to_string(), "a task cannot move from queued to completed");
    assert_eq!(
        c.tasks()
            .set_status(&id, TaskStatus::Running)
            .unwrap_err()
            .code(),
        "ILLEGAL_TRANSITION"
    );
    // The legal path of SPEC §2.
    for s in [
        TaskStatus::Planning,
        TaskStatus::Running,
        TaskStatus::AwaitingApproval,
        TaskStatus::Running,
        TaskStatus::Completed,
    ] {
        assert_eq!(c.tasks().set_status(&id, s).unwrap().status, s);
    }
    let done = c.tasks().get(&id).unwrap();
    assert!(done.started_at.is_some() && done.completed_at.is_some());
    let before = fingerprint(&c);
    assert_eq!(
        c.tasks().cancel(&id).unwrap_err().to_string(),
        "a task cannot move from completed to cancelled"
    );
    assert_eq!(
        c.tasks()
            .set_status(&id, TaskStatus::Queued)
            .unwrap_err()
            .code(),
        "ILLEGAL_TRANSITION"
    );
    assert_eq!(
        c.tasks()
            .update(
                &id,
                TaskPatch {
                    title: Some("new".into()),
                    ..Default::default()
                }
            )
            .unwrap_err()
            .code(),
        "VALIDATION"
    );
    assert_eq!(fingerprint(&c), before);
}

#[test]
fn failed_tasks_can_be_retried_and_cancel_reaches_subtasks() {
    let c = core();
    let id = task(&c, "t");
    for s in [
        TaskStatus::Planning,
        TaskStatus::Running,
        TaskStatus::Failed,
        TaskStatus::Queued,
    ] {
        c.tasks().set_status(&id, s).unwrap();
    }
    let sub = c
        .tasks()
        .create(NewTask {
            title: "sub".into(),
            parent_task_id: Some(id.clone()),
            ..Default::default()
        })
        .unwrap();
    let subsub = c
        .tasks()
        .create(NewTask {
            title: "subsub".into(),
            parent_task_id: Some(sub.id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.tasks().subtasks(&id).unwrap().len(), 1);
    c.tasks().cancel(&id).unwrap();
    assert_eq!(
        c.tasks().get(&sub.id).unwrap().status,
        TaskStatus::Cancelled
    );
    assert_eq!(
        c.tasks().get(&subsub.id).unwrap().status,
        TaskStatus::Cancelled
    );
    let e = c
        .tasks()
        .create(NewTask {
            title: "late".into(),
            parent_task_id: Some(id),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("subtasks can only be added to open tasks"),
        "{e}"
    );
}

// ---------------------------------------------------------------- relationships

#[test]
fn an_agent_cannot_be_related_to_itself() {
    let c = core();
    let a = agent(&c, "Ann", &[]);
    let crew = c
        .crews()
        .create(CrewInput {
            name: Some("crew".into()),
            members: Some(vec![MemberInput {
                agent_id: a.clone(),
                role: None,
            }]),
            ..Default::default()
        })
        .unwrap();
    let before = fingerprint(&c);
    let e = c
        .crews()
        .add_relationship(
            &crew.id,
            RelationshipInput {
                from_agent_id: a.clone(),
                to_agent_id: a.clone(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code(), "VALIDATION");
    assert_eq!(
        e.to_string(),
        "to_agent_id: an agent cannot be related to itself"
    );
    assert_eq!(fingerprint(&c), before);
}

#[test]
fn relationship_queries_answer_who_supervises_whom() {
    let c = core();
    let boss = agent(&c, "Boss", &["planning"]);
    let ana = agent(&c, "Ana", &["data_analysis"]);
    let wri = agent(&c, "Wri", &["writing"]);
    let outsider = agent(&c, "Out", &[]);
    let crew = c
        .crews()
        .create(CrewInput {
            name: Some("team".into()),
            process: Some(Process::Hierarchical),
            members: Some(
                [&boss, &ana, &wri]
                    .iter()
                    .map(|a| MemberInput {
                        agent_id: (*a).clone(),
                        role: None,
                    })
                    .collect(),
            ),
            manager_agent_id: Some(boss.clone()),
            ..Default::default()
        })
        .unwrap();
    let rel = |from: &str, to: &str, kind| {
        c.crews().add_relationship(
            &crew.id,
            RelationshipInput {
                from_agent_id: from.into(),
                to_agent_id: to.into(),
                kind: Some(kind),
                ..Default::default()
            },
        )
    };
    rel(&boss, &ana, RelationKind::Supervises).unwrap();
    rel(&wri, &boss, RelationKind::ReportsTo).unwrap();
    rel(&ana, &wri, RelationKind::DelegatesTo).unwrap();
    assert_eq!(
        rel(&boss, &ana, RelationKind::Supervises)
            .unwrap_err()
            .code(),
        "CONFLICT"
    );
    let e = rel(&boss, &outsider, RelationKind::Supervises).unwrap_err();
    assert!(e.to_string().contains("not a member of this crew"), "{e}");

    assert_eq!(
        c.crews().supervisor_of(&crew.id, &ana).unwrap().as_deref(),
        Some(boss.as_str())
    );
    assert_eq!(
        c.crews().supervisor_of(&crew.id, &wri).unwrap().as_deref(),
        Some(boss.as_str())
    );
    assert_eq!(c.crews().supervisor_of(&crew.id, &boss).unwrap(), None);
    let mut subs = c.crews().subordinates_of(&crew.id, &boss).unwrap();
    subs.sort();
    let mut expected = vec![ana.clone(), wri.clone()];
    expected.sort();
    assert_eq!(subs, expected);
    assert!(c.crews().may_delegate(&crew.id, &boss, &ana).unwrap());
    assert!(
        c.crews().may_delegate(&crew.id, &boss, &wri).unwrap(),
        "wri reports to boss"
    );
    assert!(c.crews().may_delegate(&crew.id, &ana, &wri).unwrap());
    assert!(!c.crews().may_delegate(&crew.id, &wri, &ana).unwrap());
    assert!(!c.crews().may_delegate(&crew.id, &ana, &boss).unwrap());

    // Removing a member drops its relationships.
    c.crews()
        .update(
            &crew.id,
            CrewInput {
                members: Some(vec![
                    MemberInput {
                        agent_id: boss.clone(),
                        role: None,
                    },
                    MemberInput {
                        agent_id: ana.clone(),
                        role: None,
                    },
                ]),
                ..Default::default()
            },
        )
        .unwrap();
    let crew = c.crews().get(&crew.id).unwrap();
    assert_eq!(crew.relationships.len(), 1);
    assert_eq!(
        crew.members
            .iter()
            .map(|m| m.agent_name.as_str())
            .collect::<Vec<_>>(),
        ["Boss", "Ana"]
    );
}

// ---------------------------------------------------------------- cycles

#[test]
fn a_dependency_cycle_is_refused_and_named() {
    let c = core();
    let a = task(&c, "Gather data");
    let b = c
        .tasks()
        .create(NewTask {
            title: "Analyse".into(),
            depends_on: Some(vec![a.clone()]),
            ..Default::default()
        })
        .unwrap()
        .id;
    let d = c
        .tasks()
        .create(NewTask {
            title: "Report".into(),
            depends_on: Some(vec![b.clone()]),
            ..Default::default()
        })
        .unwrap()
        .id;
    let before = fingerprint(&c);
    let e = c.tasks().add_dependency(&a, &d).unwrap_err();
    assert_eq!(e.code(), "CYCLE");
    assert_eq!(
        e.to_string(),
        "that would create a cycle: 'Gather data' → 'Report' → 'Analyse' → 'Gather data'"
    );
    let e = c.tasks().add_dependency(&a, &a).unwrap_err();
    assert_eq!(
        e.to_string(),
        "that would create a cycle: 'Gather data' depends on itself"
    );
    assert_eq!(fingerprint(&c), before);
    // A harmless extra edge is fine.
    assert_eq!(
        c.tasks().add_dependency(&d, &a).unwrap().depends_on.len(),
        2
    );
}

// ---------------------------------------------------------------- sizes

#[test]
fn oversize_text_is_refused() {
    let c = core();
    let before = fingerprint(&c);
    let e = c
        .tasks()
        .create(NewTask {
            title: "x".into(),
            objective: Some("a".repeat(100_001)),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code(), "TOO_LARGE");
    assert_eq!(
        e.to_string(),
        "objective is too long: 100001 characters, the limit is 100000"
    );
    let e = c
        .agents()
        .create(AgentInput {
            name: Some("n".repeat(201)),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "name is too long: 201 characters, the limit is 200"
    );
    let e = c
        .agents()
        .create(AgentInput {
            name: Some("ok".into()),
            system_prompt: Some("p".repeat(100_001)),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.code(), "TOO_LARGE");
    assert_eq!(fingerprint(&c), before);
}

#[test]
fn other_agent_fields_are_validated() {
    let c = core();
    let bad = [
        AgentInput {
            name: Some("a".into()),
            temperature: Some(3.0),
            ..Default::default()
        },
        AgentInput {
            name: Some("a".into()),
            max_steps: Some(0),
            ..Default::default()
        },
        AgentInput {
            name: Some("a".into()),
            max_delegation_depth: Some(4),
            ..Default::default()
        },
        AgentInput {
            name: Some("a".into()),
            personality: Some(serde_json::json!("cheerful")),
            ..Default::default()
        },
        AgentInput {
            name: Some("a".into()),
            capabilities: Some(vec!["has space".into()]),
            ..Default::default()
        },
        AgentInput {
            name: Some("a".into()),
            provider: Some("openai-somewhere".into()),
            ..Default::default()
        },
    ];
    let before = fingerprint(&c);
    for input in bad {
        let e = c.agents().create(input).unwrap_err();
        assert_eq!(e.code(), "VALIDATION", "{e}");
    }
    assert_eq!(fingerprint(&c), before);
}

// ---------------------------------------------------------------- atomicity

#[test]
fn a_rejected_write_leaves_the_database_unchanged() {
    let c = core();
    let a = task(&c, "exists");
    let ann = agent(&c, "Ann", &[]);
    let before = fingerprint(&c);
    // The task row is inserted before the second dependency fails: the whole write must roll back.
    let e = c
        .tasks()
        .create(NewTask {
            title: "new".into(),
            depends_on: Some(vec![a.clone(), "missing".into()]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "task missing does not exist");
    // Crew row and first member are written before the duplicate is noticed.
    let e = c
        .crews()
        .create(CrewInput {
            name: Some("c".into()),
            members: Some(vec![
                MemberInput {
                    agent_id: ann.clone(),
                    role: None,
                },
                MemberInput {
                    agent_id: ann.clone(),
                    role: None,
                },
            ]),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
    // The manager check runs after the crew and its members are written.
    let e = c
        .crews()
        .create(CrewInput {
            name: Some("c".into()),
            members: Some(vec![MemberInput {
                agent_id: ann.clone(),
                role: None,
            }]),
            manager_agent_id: Some(agent_not_member(&c)),
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("must be a member"), "{e}");
    // fingerprint differs only by the helper agent created above; compare after removing it
    let extra = c
        .agents()
        .list(
            &AgentFilter {
                search: Some("Outsider".into()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap();
    c.agents().delete(&extra.items[0].id).unwrap();
    assert_eq!(fingerprint(&c), before);
}

fn agent_not_member(c: &ensemble_core::Core) -> String {
    agent(c, "Outsider", &[])
}

// ---------------------------------------------------------------- corrupt rows

#[test]
fn a_corrupt_row_gives_a_clear_error_and_loses_nothing() {
    let c = core();
    let id = agent(&c, "Ann", &["x"]);
    c.store()
        .write(|tx| {
            Ok(tx.execute(
                "UPDATE agents SET capabilities = 'not json', autonomy = 'yolo' WHERE id = ?1",
                [&id],
            )?)
        })
        .unwrap();
    let e = c.agents().get(&id).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_RECORD");
    assert!(
        e.to_string()
            .starts_with(&format!("the stored agent {id} is unreadable")),
        "{e}"
    );
    assert!(c
        .agents()
        .list(&AgentFilter::default(), Paging::default())
        .is_err());
    // The row is still there and can be removed.
    let raw: String = c
        .read(|conn| {
            Ok(conn.query_row(
                "SELECT capabilities FROM agents WHERE id = ?1",
                [&id],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(raw, "not json");
    c.agents().delete(&id).unwrap();
    assert_eq!(
        c.agents()
            .list(&AgentFilter::default(), Paging::default())
            .unwrap()
            .total,
        0
    );
}

#[path = "services/inbox.rs"]
mod inbox;
#[path = "services/lists.rs"]
mod lists;
