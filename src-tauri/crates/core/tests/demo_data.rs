//! "Reset demo data": a crew from a built-in template with skilled agents and
//! tasks in several board columns; a second reset replaces the demo set
//! instead of adding to it, never touches the user's own records, and keeps
//! (as the user's) a demo record the user's data uses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/helpers.rs"]
mod helpers;

use ensemble_core::agents::{Agent, AgentFilter};
use ensemble_core::chat::{ChatRole, ChatStatus, SessionInput};
use ensemble_core::crews::{Crew, CrewInput, MemberInput};
use ensemble_core::demo::{DemoCounts, DEMO_CREW_TEMPLATE};
use ensemble_core::tasks::{NewTask, Task, TaskFilter, TaskStatus};
use ensemble_core::{Core, Paging};
use helpers::{agent, core};

fn all_agents(c: &Core) -> Vec<Agent> {
    c.agents()
        .list(&AgentFilter::default(), Paging::default())
        .unwrap()
        .items
}

fn all_tasks(c: &Core) -> Vec<Task> {
    c.tasks()
        .list(&TaskFilter::default(), Paging::default())
        .unwrap()
        .items
}

fn column(c: &Core, status: TaskStatus) -> u64 {
    c.tasks()
        .board(&TaskFilter::default(), 50)
        .unwrap()
        .into_iter()
        .find(|col| col.status == status)
        .unwrap()
        .total
}

/// The demo set: the template's crew with its three agents plus an analyst,
/// every agent with skills, and tasks in four columns of the board.
#[test]
fn reset_creates_a_template_crew_with_skilled_agents_and_tasks_in_several_columns() {
    let c = core();
    let s = c.reset_demo_data().unwrap();
    assert_eq!(
        s.created,
        DemoCounts {
            agents: 4,
            crews: 1,
            tasks: 5
        }
    );
    assert_eq!(s.removed, DemoCounts::default());
    let crew = c.crews().get(&s.crew_id).unwrap();
    assert_eq!(crew.template.as_deref(), Some(DEMO_CREW_TEMPLATE));
    assert_eq!(crew.members.len(), 3);
    let agents = all_agents(&c);
    assert_eq!(agents.len(), 4);
    for a in &agents {
        assert!(a.skills.len() >= 2, "{} has skills", a.name);
        assert!(a
            .skills
            .iter()
            .all(|k| k.times_used > 0 && k.success_rate > 0.0));
    }
    assert_eq!(column(&c, TaskStatus::Queued), 2);
    assert_eq!(column(&c, TaskStatus::Completed), 1);
    assert_eq!(column(&c, TaskStatus::Failed), 1);
    assert_eq!(column(&c, TaskStatus::Cancelled), 1);
    let done = all_tasks(&c)
        .into_iter()
        .find(|t| t.status == TaskStatus::Completed)
        .unwrap();
    assert!(done.output.as_deref().unwrap_or("").contains("1."));
    let trace = c.runs().of_task(&done.id).unwrap();
    assert_eq!(trace.len(), 1);
    assert_eq!(trace[0].steps.len(), 2);
    assert!(trace[0].steps[1].is_final);
    // The failed task will not be retried on its own: its attempts are used up.
    let failed = all_tasks(&c)
        .into_iter()
        .find(|t| t.status == TaskStatus::Failed)
        .unwrap();
    assert_eq!(failed.attempts, failed.max_attempts);
    assert!(failed.error.unwrap().contains("SQL databases"));
}

struct UserData {
    agent: Agent,
    crew: Crew,
    task: Task,
    chat: String,
}

fn user_data(c: &Core) -> UserData {
    let mine = agent(c, "Mine", &["writing"]);
    let crew = c
        .crews()
        .create(CrewInput {
            name: Some("My crew".into()),
            members: Some(vec![MemberInput {
                agent_id: mine.clone(),
                role: None,
            }]),
            ..Default::default()
        })
        .unwrap();
    let task = c
        .tasks()
        .create(NewTask {
            title: "My task".into(),
            assigned_agent_id: Some(mine.clone()),
            crew_id: Some(crew.id.clone()),
            ..Default::default()
        })
        .unwrap();
    let chat = c
        .chat()
        .create_session(SessionInput {
            title: Some("My chat".into()),
            agent_id: Some(mine.clone()),
            ..Default::default()
        })
        .unwrap()
        .id;
    c.chat()
        .add_message(&chat, ChatRole::User, "hello", None, ChatStatus::Complete)
        .unwrap();
    UserData {
        agent: c.agents().get(&mine).unwrap(),
        crew: c.crews().get(&crew.id).unwrap(),
        task: c.tasks().get(&task.id).unwrap(),
        chat,
    }
}

fn assert_untouched(c: &Core, u: &UserData) {
    assert_eq!(c.agents().get(&u.agent.id).unwrap(), u.agent);
    assert_eq!(c.crews().get(&u.crew.id).unwrap(), u.crew);
    assert_eq!(c.tasks().get(&u.task.id).unwrap(), u.task);
    assert_eq!(
        c.chat().messages(&u.chat, Paging::default()).unwrap().total,
        1
    );
}

/// Resetting again replaces the demo set (same counts, new records), and the
/// user's agent, crew, task and chat stay exactly as they were.
#[test]
fn reset_again_replaces_the_demo_set_and_leaves_the_users_records_alone() {
    let c = core();
    let u = user_data(&c);
    let first = c.reset_demo_data().unwrap();
    let first_ids: Vec<String> = all_agents(&c).into_iter().map(|a| a.id).collect();
    let second = c.reset_demo_data().unwrap();
    assert_eq!(second.removed, first.created);
    assert_eq!(second.kept, DemoCounts::default());
    assert_eq!(second.created, first.created);
    assert!(
        c.crews().get(&first.crew_id).is_err(),
        "the old demo crew is gone"
    );
    let agents = all_agents(&c);
    assert_eq!(agents.len(), 1 + 4, "the user's agent and one demo set");
    for old in first_ids.iter().filter(|id| **id != u.agent.id) {
        assert!(
            agents.iter().all(|a| &a.id != old),
            "old demo agent {old} removed"
        );
    }
    assert_eq!(all_tasks(&c).len(), 1 + 5);
    assert_eq!(column(&c, TaskStatus::Queued), 1 + 2);
    assert_eq!(column(&c, TaskStatus::Completed), 1);
    let crews = c.crews().list(None, Paging::default()).unwrap();
    assert_eq!(crews.total, 2);
    assert_untouched(&c, &u);
    // The registry lists exactly the new set.
    let reg = c.demo_registry().unwrap();
    assert_eq!(
        reg.crews.iter().cloned().collect::<Vec<_>>(),
        vec![second.crew_id.clone()]
    );
    assert_eq!(reg.agents.len(), 4);
    assert!(!reg.agents.contains(&u.agent.id));
}

/// A demo agent the user put in their crew, a demo task the user's task
/// depends on, and a demo crew the user gave a task to are kept (and become
/// the user's); the user's records are not changed by the reset.
#[test]
fn demo_records_the_users_data_uses_are_kept() {
    let c = core();
    let first = c.reset_demo_data().unwrap();
    let demo_crew = c.crews().get(&first.crew_id).unwrap();
    let demo_agent = demo_crew.members[0].agent_id.clone();
    let outside_analyst = all_agents(&c)
        .into_iter()
        .find(|a| a.name.contains("analyst"))
        .unwrap();
    let demo_task = all_tasks(&c)
        .into_iter()
        .find(|t| t.status == TaskStatus::Completed)
        .unwrap();

    let my_crew = c
        .crews()
        .create(CrewInput {
            name: Some("Mine".into()),
            members: Some(vec![MemberInput {
                agent_id: outside_analyst.id.clone(),
                role: Some("numbers".into()),
            }]),
            ..Default::default()
        })
        .unwrap();
    let depends = c
        .tasks()
        .create(NewTask {
            title: "Builds on the demo research".into(),
            depends_on: Some(vec![demo_task.id.clone()]),
            ..Default::default()
        })
        .unwrap();
    let for_demo_crew = c
        .tasks()
        .create(NewTask {
            title: "A job for the demo crew".into(),
            crew_id: Some(first.crew_id.clone()),
            assigned_agent_id: Some(demo_agent.clone()),
            ..Default::default()
        })
        .unwrap();
    let my_crew = c.crews().get(&my_crew.id).unwrap();
    let depends = c.tasks().get(&depends.id).unwrap();
    let for_demo_crew = c.tasks().get(&for_demo_crew.id).unwrap();

    let s = c.reset_demo_data().unwrap();
    // Kept: the analyst (in my crew), the demo crew and its 3 agents (my task
    // belongs to it), the research task (mine depends on it).
    assert_eq!(
        s.kept,
        DemoCounts {
            agents: 4,
            crews: 1,
            tasks: 1
        },
        "{s:?}"
    );
    assert_eq!(
        s.removed,
        DemoCounts {
            agents: 0,
            crews: 0,
            tasks: 4
        }
    );
    assert_eq!(c.crews().get(&my_crew.id).unwrap(), my_crew);
    assert_eq!(c.tasks().get(&depends.id).unwrap(), depends);
    assert_eq!(c.tasks().get(&for_demo_crew.id).unwrap(), for_demo_crew);
    assert!(c.tasks().get(&demo_task.id).is_ok());
    assert!(c.crews().get(&first.crew_id).is_ok());
    // Kept records left the registry: a third reset does not remove them either.
    let reg = c.demo_registry().unwrap();
    assert!(!reg.agents.contains(&outside_analyst.id));
    assert!(!reg.crews.contains(&first.crew_id));
    assert!(!reg.tasks.contains(&demo_task.id));
    let third = c.reset_demo_data().unwrap();
    assert_eq!(third.kept, DemoCounts::default());
    assert!(c.crews().get(&first.crew_id).is_ok());
    assert_eq!(c.tasks().get(&depends.id).unwrap(), depends);
}
