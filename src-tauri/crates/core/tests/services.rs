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
    core.create_task(NewTask {
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
            .create_agent(AgentInput {
                name: Some(name.into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.code(), "VALIDATION");
        assert_eq!(e.to_string(), "name: must not be empty");
        let e = c
            .create_crew(CrewInput {
                name: Some(name.into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "name: must not be empty");
        let e = c
            .create_task(NewTask {
                title: name.into(),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "title: must not be empty");
    }
    let e = c.create_agent(AgentInput::default()).unwrap_err();
    assert_eq!(e.to_string(), "name: must not be empty");
    assert_eq!(fingerprint(&c), before);
}

#[test]
fn a_template_provides_the_name_and_fields() {
    let c = core();
    let a = c
        .create_agent(AgentInput {
            template: Some("Analyst".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(a.name, "Analyst");
    assert_eq!(a.template.as_deref(), Some("analyst"));
    assert!(a.capabilities.contains(&"sql_query".to_string()));
    assert_eq!(a.autonomy, Autonomy::Copilot);
    let e = c
        .create_agent(AgentInput {
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
            .create_task(NewTask {
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
            .update_task(
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
            c.update_task(
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
    let e = c.get_agent("nope").unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        ("NOT_FOUND", "agent nope does not exist")
    );
    assert_eq!(
        c.get_task("t-missing").unwrap_err().to_string(),
        "task t-missing does not exist"
    );
    assert_eq!(c.delete_agent("nope").unwrap_err().code(), "NOT_FOUND");
    assert_eq!(c.cancel_task("nope").unwrap_err().code(), "NOT_FOUND");
    let before = fingerprint(&c);
    let e = c
        .create_task(NewTask {
            title: "x".into(),
            assigned_agent_id: Some("ghost".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "agent ghost does not exist");
    let e = c
        .create_task(NewTask {
            title: "x".into(),
            parent_task_id: Some("ghost".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "parent task ghost does not exist");
    let e = c
        .create_crew(CrewInput {
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
    let e = c.set_task_status(&id, TaskStatus::Completed).unwrap_err();
    assert_eq!(e.code(), "ILLEGAL_TRANSITION");
    assert_eq!(e.to_string(), "a task cannot move from queued to completed");
    assert_eq!(
        c.set_task_status(&id, TaskStatus::Running)
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
        assert_eq!(c.set_task_status(&id, s).unwrap().status, s);
    }
    let done = c.get_task(&id).unwrap();
    assert!(done.started_at.is_some() && done.completed_at.is_some());
    let before = fingerprint(&c);
    assert_eq!(
        c.cancel_task(&id).unwrap_err().to_string(),
        "a task cannot move from completed to cancelled"
    );
    assert_eq!(
        c.set_task_status(&id, TaskStatus::Queued)
            .unwrap_err()
            .code(),
        "ILLEGAL_TRANSITION"
    );
    assert_eq!(
        c.update_task(
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
        c.set_task_status(&id, s).unwrap();
    }
    let sub = c
        .create_task(NewTask {
            title: "sub".into(),
            parent_task_id: Some(id.clone()),
            ..Default::default()
        })
        .unwrap();
    let subsub = c
        .create_task(NewTask {
            title: "subsub".into(),
            parent_task_id: Some(sub.id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.subtasks(&id).unwrap().len(), 1);
    c.cancel_task(&id).unwrap();
    assert_eq!(c.get_task(&sub.id).unwrap().status, TaskStatus::Cancelled);
    assert_eq!(
        c.get_task(&subsub.id).unwrap().status,
        TaskStatus::Cancelled
    );
    let e = c
        .create_task(NewTask {
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
        .create_crew(CrewInput {
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
        .create_crew(CrewInput {
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
        c.add_relationship(
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
        c.supervisor_of(&crew.id, &ana).unwrap().as_deref(),
        Some(boss.as_str())
    );
    assert_eq!(
        c.supervisor_of(&crew.id, &wri).unwrap().as_deref(),
        Some(boss.as_str())
    );
    assert_eq!(c.supervisor_of(&crew.id, &boss).unwrap(), None);
    let mut subs = c.subordinates_of(&crew.id, &boss).unwrap();
    subs.sort();
    let mut expected = vec![ana.clone(), wri.clone()];
    expected.sort();
    assert_eq!(subs, expected);
    assert!(c.may_delegate(&crew.id, &boss, &ana).unwrap());
    assert!(
        c.may_delegate(&crew.id, &boss, &wri).unwrap(),
        "wri reports to boss"
    );
    assert!(c.may_delegate(&crew.id, &ana, &wri).unwrap());
    assert!(!c.may_delegate(&crew.id, &wri, &ana).unwrap());
    assert!(!c.may_delegate(&crew.id, &ana, &boss).unwrap());

    // Removing a member drops its relationships.
    c.update_crew(
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
    let crew = c.get_crew(&crew.id).unwrap();
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
        .create_task(NewTask {
            title: "Analyse".into(),
            depends_on: Some(vec![a.clone()]),
            ..Default::default()
        })
        .unwrap()
        .id;
    let d = c
        .create_task(NewTask {
            title: "Report".into(),
            depends_on: Some(vec![b.clone()]),
            ..Default::default()
        })
        .unwrap()
        .id;
    let before = fingerprint(&c);
    let e = c.add_task_dependency(&a, &d).unwrap_err();
    assert_eq!(e.code(), "CYCLE");
    assert_eq!(
        e.to_string(),
        "that would create a cycle: 'Gather data' → 'Report' → 'Analyse' → 'Gather data'"
    );
    let e = c.add_task_dependency(&a, &a).unwrap_err();
    assert_eq!(
        e.to_string(),
        "that would create a cycle: 'Gather data' depends on itself"
    );
    assert_eq!(fingerprint(&c), before);
    // A harmless extra edge is fine.
    assert_eq!(c.add_task_dependency(&d, &a).unwrap().depends_on.len(), 2);
}

// ---------------------------------------------------------------- sizes

#[test]
fn oversize_text_is_refused() {
    let c = core();
    let before = fingerprint(&c);
    let e = c
        .create_task(NewTask {
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
        .create_agent(AgentInput {
            name: Some("n".repeat(201)),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "name is too long: 201 characters, the limit is 200"
    );
    let e = c
        .create_agent(AgentInput {
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
        let e = c.create_agent(input).unwrap_err();
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
        .create_task(NewTask {
            title: "new".into(),
            depends_on: Some(vec![a.clone(), "missing".into()]),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "task missing does not exist");
    // Crew row and first member are written before the duplicate is noticed.
    let e = c
        .create_crew(CrewInput {
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
        .create_crew(CrewInput {
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
        .list_agents(
            &AgentFilter {
                search: Some("Outsider".into()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap();
    c.delete_agent(&extra.items[0].id).unwrap();
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
    let e = c.get_agent(&id).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_RECORD");
    assert!(
        e.to_string()
            .starts_with(&format!("the stored agent {id} is unreadable")),
        "{e}"
    );
    assert!(c
        .list_agents(&AgentFilter::default(), Paging::default())
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
    c.delete_agent(&id).unwrap();
    assert_eq!(
        c.list_agents(&AgentFilter::default(), Paging::default())
            .unwrap()
            .total,
        0
    );
}

// ---------------------------------------------------------------- events

#[test]
fn committed_changes_are_published_and_rolled_back_ones_are_not() {
    let c = core();
    let mut rx = c.events().subscribe();
    let id = agent(&c, "Ann", &[]);
    let ev = rx.try_recv().unwrap();
    assert_eq!(
        (ev.entity, ev.op, ev.id.as_str()),
        (Entity::Agent, ChangeOp::Created, id.as_str())
    );
    let _ = c.create_task(NewTask {
        title: "x".into(),
        depends_on: Some(vec!["missing".into()]),
        ..Default::default()
    });
    assert!(
        rx.try_recv().is_err(),
        "a rolled-back write publishes nothing"
    );
    let t = task(&c, "t");
    let ev = rx.try_recv().unwrap();
    assert_eq!((ev.entity, ev.id), (Entity::Task, t));
}

// ---------------------------------------------------------------- lists

#[test]
fn lists_filter_and_page() {
    let c = core();
    for i in 0..25 {
        agent(
            &c,
            &format!("Agent {i:02}"),
            if i % 2 == 0 {
                &["writing"]
            } else {
                &["data_analysis"]
            },
        );
    }
    let page = c
        .list_agents(
            &AgentFilter::default(),
            Paging {
                limit: Some(10),
                offset: Some(20),
            },
        )
        .unwrap();
    assert_eq!((page.total, page.items.len()), (25, 5));
    assert_eq!(page.items[0].name, "Agent 20");
    let writers = c
        .list_agents(
            &AgentFilter {
                capability: Some("writing".into()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap();
    assert_eq!(writers.total, 13);
    let found = c
        .list_agents(
            &AgentFilter {
                search: Some("agent 07".into()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap();
    assert_eq!(found.items.len(), 1);

    for (i, p) in [3, 9, 5, 9].iter().enumerate() {
        c.create_task(NewTask {
            title: format!("t{i}"),
            priority: Some(*p),
            ..Default::default()
        })
        .unwrap();
    }
    let list = c
        .list_tasks(&TaskFilter::default(), Paging::default())
        .unwrap();
    let order: Vec<_> = list.items.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(order, ["t1", "t3", "t2", "t0"], "priority, then age");
    let board = c.task_board(&TaskFilter::default(), 2).unwrap();
    let queued = board
        .iter()
        .find(|col| col.status == TaskStatus::Queued)
        .unwrap();
    assert_eq!((queued.total, queued.tasks.len()), (4, 2));
    assert_eq!(board.len(), TaskStatus::ALL.len());
}

/// The board's column totals come from `task_counts`, kept by triggers; after
/// inserts, moves, cancels and deletes of top-level tasks and subtasks they
/// must equal a count of the tasks themselves, with and without subtasks.
#[test]
fn board_totals_follow_every_change() {
    let c = core();
    let mut ids: Vec<String> = Vec::new();
    for i in 0..12 {
        let parent: Option<String> = (i % 3 == 2).then(|| ids[i - 1].clone());
        let t = c
            .create_task(NewTask {
                title: format!("t{i}"),
                parent_task_id: parent,
                ..Default::default()
            })
            .unwrap();
        ids.push(t.id);
    }
    c.set_task_status(&ids[0], TaskStatus::Planning).unwrap();
    c.set_task_status(&ids[2], TaskStatus::Planning).unwrap();
    c.set_task_status(&ids[2], TaskStatus::Running).unwrap();
    c.cancel_task(&ids[3]).unwrap();
    c.cancel_task(&ids[5]).unwrap();
    c.delete_task(&ids[11]).unwrap();
    c.delete_task(&ids[4]).unwrap();
    for top_level in [None, Some(true)] {
        let filter = TaskFilter {
            top_level,
            ..Default::default()
        };
        let board = c.task_board(&filter, 3).unwrap();
        for col in &board {
            let f = TaskFilter {
                statuses: Some(vec![col.status]),
                top_level,
                ..Default::default()
            };
            let counted = c.list_tasks(&f, Paging::default()).unwrap().total;
            assert_eq!(
                col.total, counted,
                "{:?} top_level={top_level:?}",
                col.status
            );
            assert!(col.tasks.len() as u64 <= col.total.min(3));
        }
        let all: u64 = board.iter().map(|col| col.total).sum();
        let f = TaskFilter {
            top_level,
            ..Default::default()
        };
        assert_eq!(all, c.list_tasks(&f, Paging::default()).unwrap().total);
        assert!(all >= 6, "only {all} tasks left");
    }
}

// ---------------------------------------------------------------- approvals, messages, chat, settings

#[test]
fn approvals_are_decided_once_and_expire_to_rejected() {
    let c = core();
    let a = c
        .create_approval(NewApproval {
            title: "Run code_run".into(),
            proposed_action: serde_json::json!({"tool": "code_run", "arguments": {"code": "print(1)"}}),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.pending_approval_count().unwrap(), 1);
    let e = c
        .decide_approval(
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
        .decide_approval(
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
        c.decide_approval(
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
        .create_approval(NewApproval {
            title: "old".into(),
            proposed_action: serde_json::json!(null),
            expires_in_secs: Some(0),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(c.expire_approvals().unwrap(), vec![old.id.clone()]);
    let old = c.get_approval(&old.id).unwrap();
    assert_eq!(old.status, ApprovalStatus::Expired);
    assert!(old.comment.unwrap().contains("rejected by default"));
    assert_eq!(c.pending_approval_count().unwrap(), 0);
}

#[test]
fn messages_travel_on_their_channel() {
    let c = core();
    let a = agent(&c, "A", &[]);
    let b = agent(&c, "B", &[]);
    let crew = c
        .create_crew(CrewInput {
            name: Some("crew".into()),
            ..Default::default()
        })
        .unwrap();
    let m = c
        .send_message(NewMessage {
            from_agent_id: Some(a.clone()),
            to_agent_id: Some(b.clone()),
            content: "hi".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.channel, format!("direct:{a}:{b}"));
    let m = c
        .send_message(NewMessage {
            from_agent_id: Some(a.clone()),
            crew_id: Some(crew.id.clone()),
            content: "all".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(m.channel, format!("team:{}", crew.id));
    assert_eq!(
        c.send_message(NewMessage {
            content: "lost".into(),
            ..Default::default()
        })
        .unwrap_err()
        .code(),
        "VALIDATION"
    );
    assert_eq!(
        c.send_message(NewMessage {
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
        .create_chat_session(SessionInput {
            title: Some("Planning".into()),
            ..Default::default()
        })
        .unwrap();
    c.add_chat_message(&s.id, ChatRole::User, "hello", None, ChatStatus::Complete)
        .unwrap();
    let m = c
        .add_chat_message(&s.id, ChatRole::Assistant, "", None, ChatStatus::Streaming)
        .unwrap();
    let m = c
        .finish_chat_message(
            &m.id,
            "Hel",
            ChatStatus::Stopped,
            serde_json::json!({"tokens": 2}),
        )
        .unwrap();
    assert_eq!((m.content.as_str(), m.status), ("Hel", ChatStatus::Stopped));
    let msgs = c.chat_messages(&s.id, Paging::default()).unwrap();
    assert_eq!(msgs.items.len(), 2);
    assert_eq!(c.get_chat_session(&s.id).unwrap().message_count, 2);
    assert_eq!(
        c.add_chat_message(&s.id, ChatRole::User, "  ", None, ChatStatus::Complete)
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
        .list_providers()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["ollama", "embedded"]);
    let common::TestCore { core, dir } = c;
    core.update_provider(
        "ollama",
        ensemble_core::providers::ProviderInput {
            max_concurrent: Some(3),
            ..Default::default()
        },
    )
    .unwrap();
    drop(core);
    let again = ensemble_core::Core::open(dir.path()).unwrap();
    let providers = again.list_providers().unwrap();
    assert_eq!(providers.len(), 2);
    assert_eq!(
        providers[0].max_concurrent, 3,
        "the user's change is kept, not re-seeded"
    );
}
