//! Events and lists: what commits reaches the bus, lists filter and page,
//! board totals follow every change.

use super::*;

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
    let _ = c.tasks().create(NewTask {
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
        .agents()
        .list(
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
        .agents()
        .list(
            &AgentFilter {
                capability: Some("writing".into()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap();
    assert_eq!(writers.total, 13);
    let found = c
        .agents()
        .list(
            &AgentFilter {
                search: Some("agent 07".into()),
                ..Default::default()
            },
            Paging::default(),
        )
        .unwrap();
    assert_eq!(found.items.len(), 1);

    for (i, p) in [3, 9, 5, 9].iter().enumerate() {
        c.tasks()
            .create(NewTask {
                title: format!("t{i}"),
                priority: Some(*p),
                ..Default::default()
            })
            .unwrap();
    }
    let list = c
        .tasks()
        .list(&TaskFilter::default(), Paging::default())
        .unwrap();
    let order: Vec<_> = list.items.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(order, ["t1", "t3", "t2", "t0"], "priority, then age");
    let board = c.tasks().board(&TaskFilter::default(), 2).unwrap();
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
            .tasks()
            .create(NewTask {
                title: format!("t{i}"),
                parent_task_id: parent,
                ..Default::default()
            })
            .unwrap();
        ids.push(t.id);
    }
    c.tasks().set_status(&ids[0], TaskStatus::Planning).unwrap();
    c.tasks().set_status(&ids[2], TaskStatus::Planning).unwrap();
    c.tasks().set_status(&ids[2], TaskStatus::Running).unwrap();
    c.tasks().cancel(&ids[3]).unwrap();
    c.tasks().cancel(&ids[5]).unwrap();
    c.tasks().delete(&ids[11]).unwrap();
    c.tasks().delete(&ids[4]).unwrap();
    for top_level in [None, Some(true)] {
        let filter = TaskFilter {
            top_level,
            ..Default::default()
        };
        let board = c.tasks().board(&filter, 3).unwrap();
        for col in &board {
            let f = TaskFilter {
                statuses: Some(vec![col.status]),
                top_level,
                ..Default::default()
            };
            let counted = c.tasks().list(&f, Paging::default()).unwrap().total;
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
        assert_eq!(all, c.tasks().list(&f, Paging::default()).unwrap().total);
        assert!(all >= 6, "only {all} tasks left");
    }
}
