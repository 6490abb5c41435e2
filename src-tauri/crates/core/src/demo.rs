//! Demo data: a small, realistic set to explore the app with — a crew from
//! the "Research, write, review" template whose three agents have skills,
//! a standalone analyst, and tasks in several board columns (a completed
//! one with its run trace, two queued ones that depend on it, a failed and a
//! cancelled one). The queued tasks are real work: the runner takes them
//! unless work is paused.
//!
//! The ids of what reset created are kept in the settings table under
//! [`REGISTRY_KEY`]; nothing else marks a demo record, so the user's own
//! records can never be mistaken for demo ones. A reset removes the
//! previous demo records first, with what belongs to them (runs,
//! approvals, messages, the demo crew's runs and the tasks they queued,
//! subtasks), then writes a fresh set, all in one transaction.
//!
//! It never deletes or changes the user's own records: a demo record that
//! the user's data uses — a demo agent in one of their crews, assigned to one
//! of their tasks, answering in one of their chats or named by a workflow; a
//! demo crew one of their tasks belongs to; a demo task one of their tasks
//! depends on or is a subtask of — is kept, leaves the registry and is the
//! user's from then on. The summary says how many were kept.

use std::collections::BTreeSet;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::agents::SkillInput;
use crate::crews::templates::{insert_crew_from_template, FromTemplate};
use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::runs::{self, DecisionKind, NewStep, RunStatus, StepAction};
use crate::store::row::{query_all, to_json};
use crate::store::Tx;
use crate::tasks::{self, insert_task, NewTask, PastEnd, TaskLinks, TaskType};
use crate::{time, Core, Id};

/// The settings key holding the ids of the demo records.
pub const REGISTRY_KEY: &str = "demo_data";
/// The crew template the demo crew comes from.
pub const DEMO_CREW_TEMPLATE: &str = "research_write_review";

/// The ids of the records the last reset created (and still demo).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Registry {
    pub agents: BTreeSet<Id>,
    pub crews: BTreeSet<Id>,
    pub tasks: BTreeSet<Id>,
}

/// How many records of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DemoCounts {
    pub agents: u32,
    pub crews: u32,
    pub tasks: u32,
}

/// What a reset did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DemoSummary {
    /// Demo records of the previous reset that were removed.
    pub removed: DemoCounts,
    /// Demo records of the previous reset kept because the user's data uses them.
    pub kept: DemoCounts,
    pub created: DemoCounts,
    pub crew_id: Id,
}

pub(crate) fn read_registry(conn: &rusqlite::Connection) -> Result<Registry> {
    let text: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [REGISTRY_KEY],
            |r| r.get(0),
        )
        .optional()?;
    match text {
        None => Ok(Registry::default()),
        Some(t) => serde_json::from_str(&t).map_err(|e| CoreError::Corrupt {
            entity: "settings",
            id: REGISTRY_KEY.to_string(),
            detail: e.to_string(),
        }),
    }
}

fn write_registry(tx: &Tx<'_>, reg: &Registry) -> Result<()> {
    tx.execute(
        "INSERT INTO settings (key, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![REGISTRY_KEY, to_json(reg)?, time::now_sql()],
    )?;
    Ok(())
}

/// Adds an imported registry to this one, so the imported demo records stay
/// demo records and this database's stay too.
pub(crate) fn merge_registry(tx: &Tx<'_>, imported: &str) -> Result<()> {
    let other: Registry = serde_json::from_str(imported).map_err(|e| {
        CoreError::validation(REGISTRY_KEY, format!("unreadable demo registry: {e}"))
    })?;
    let mut reg = read_registry(tx)?;
    reg.agents.extend(other.agents);
    reg.crews.extend(other.crews);
    reg.tasks.extend(other.tasks);
    write_registry(tx, &reg)
}

fn ids_json(ids: &BTreeSet<Id>) -> Result<String> {
    to_json(ids)
}

fn existing(tx: &Tx<'_>, table: &str, ids: &BTreeSet<Id>) -> Result<BTreeSet<Id>> {
    Ok(query_all(
        tx,
        &format!("SELECT id FROM {table} WHERE id IN (SELECT value FROM json_each(?1))"),
        [ids_json(ids)?],
        |r| Ok(r.get::<_, String>(0)?),
    )?
    .into_iter()
    .collect())
}

/// `seeds` with every task below them (subtasks, recursively).
fn with_subtasks(tx: &Tx<'_>, seeds: &BTreeSet<Id>) -> Result<BTreeSet<Id>> {
    Ok(query_all(
        tx,
        "WITH RECURSIVE tree(id) AS (
             SELECT value FROM json_each(?1)
             UNION SELECT t.id FROM tasks t JOIN tree ON t.parent_task_id = tree.id
         ) SELECT id FROM tree WHERE id IN (SELECT id FROM tasks)",
        [ids_json(seeds)?],
        |r| Ok(r.get::<_, String>(0)?),
    )?
    .into_iter()
    .collect())
}

/// What a reset removes: the demo records, minus those the user's data uses.
struct Plan {
    agents: BTreeSet<Id>,
    crews: BTreeSet<Id>,
    /// Registered demo tasks still removed (for the counts).
    registered_tasks: BTreeSet<Id>,
    /// Every task removed: registered ones, the demo crew's run tasks, subtasks.
    tasks: BTreeSet<Id>,
}

fn exists_sql(tx: &Tx<'_>, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<bool> {
    Ok(tx.query_row(&format!("SELECT EXISTS ({sql})"), args, |r| r.get(0))?)
}

fn plan(tx: &Tx<'_>, reg: &Registry) -> Result<Plan> {
    let mut agents = existing(tx, "agents", &reg.agents)?;
    let mut crews = existing(tx, "crews", &reg.crews)?;
    let mut registered = existing(tx, "tasks", &reg.tasks)?;
    // Tasks kept because the user's data uses them (with what is above and below them).
    let mut kept_tasks: BTreeSet<Id> = BTreeSet::new();
    loop {
        let crews_j = ids_json(&crews)?;
        let run_tasks: BTreeSet<Id> = query_all(
            tx,
            "SELECT t.id FROM tasks t JOIN crew_runs r ON t.crew_run_id = r.id
             WHERE r.crew_id IN (SELECT value FROM json_each(?1))",
            [&crews_j],
            |r| Ok(r.get::<_, String>(0)?),
        )?
        .into_iter()
        .collect();
        let seeds: BTreeSet<Id> = registered.union(&run_tasks).cloned().collect();
        let keep_tree = with_subtasks(tx, &kept_tasks)?;
        let tasks: BTreeSet<Id> = with_subtasks(tx, &seeds)?
            .difference(&keep_tree)
            .cloned()
            .collect();
        let tasks_j = ids_json(&tasks)?;
        let mut changed = false;

        // Demo tasks the user's tasks depend on, or hang below a user's task.
        for t in &tasks {
            let used = exists_sql(
                tx,
                "SELECT 1 FROM task_dependencies WHERE depends_on_id = ?1
                   AND task_id NOT IN (SELECT value FROM json_each(?2))",
                &[t, &tasks_j],
            )? || exists_sql(
                tx,
                "SELECT 1 FROM tasks WHERE id = ?1 AND parent_task_id IS NOT NULL
                   AND parent_task_id NOT IN (SELECT value FROM json_each(?2))",
                &[t, &tasks_j],
            )?;
            if used && kept_tasks.insert(t.clone()) {
                // Its ancestors stay too (deleting one would take it along).
                let mut cur = t.clone();
                while let Some(p) = tx
                    .query_row(
                        "SELECT parent_task_id FROM tasks WHERE id = ?1",
                        [&cur],
                        |r| r.get::<_, Option<String>>(0),
                    )
                    .optional()?
                    .flatten()
                {
                    kept_tasks.insert(p.clone());
                    cur = p;
                }
                changed = true;
            }
        }
        for t in &kept_tasks {
            changed |= registered.remove(t);
        }

        // Demo crews the user's tasks belong to.
        let mut kept_crews = Vec::new();
        for c in &crews {
            if exists_sql(
                tx,
                "SELECT 1 FROM tasks WHERE crew_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))",
                &[c, &tasks_j],
            )? {
                kept_crews.push(c.clone());
            }
        }
        for c in kept_crews {
            crews.remove(&c);
            // Its members, manager and relationships stay with it.
            for a in query_all(
                tx,
                "SELECT agent_id FROM crew_members WHERE crew_id = ?1
                 UNION SELECT manager_agent_id FROM crews WHERE id = ?1 AND manager_agent_id IS NOT NULL
                 UNION SELECT from_agent_id FROM relationships WHERE crew_id = ?1
                 UNION SELECT to_agent_id FROM relationships WHERE crew_id = ?1",
                [&c],
                |r| Ok(r.get::<_, String>(0)?),
            )? {
                agents.remove(&a);
            }
            changed = true;
        }

        // Demo agents the user's records use.
        let crews_j = ids_json(&crews)?;
        let mut kept_agents = Vec::new();
        for a in &agents {
            let args: [&dyn rusqlite::ToSql; 3] = [a, &crews_j, &tasks_j];
            let checks = [
                "SELECT 1 FROM crew_members WHERE agent_id = ?1 AND crew_id NOT IN (SELECT value FROM json_each(?2))",
                "SELECT 1 FROM crews WHERE manager_agent_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))",
                "SELECT 1 FROM relationships WHERE (from_agent_id = ?1 OR to_agent_id = ?1) AND crew_id NOT IN (SELECT value FROM json_each(?2))",
                "SELECT 1 FROM tasks WHERE (assigned_agent_id = ?1 OR routed_agent_id = ?1) AND id NOT IN (SELECT value FROM json_each(?3))",
                "SELECT 1 FROM runs WHERE agent_id = ?1 AND task_id NOT IN (SELECT value FROM json_each(?3))",
                "SELECT 1 FROM approvals WHERE agent_id = ?1
                   AND (task_id IS NULL OR task_id NOT IN (SELECT value FROM json_each(?3)))
                   AND (crew_run_id IS NULL OR crew_run_id NOT IN (SELECT id FROM crew_runs WHERE crew_id IN (SELECT value FROM json_each(?2))))",
                "SELECT 1 FROM messages WHERE (from_agent_id = ?1 OR to_agent_id = ?1)
                   AND (crew_id IS NULL OR crew_id NOT IN (SELECT value FROM json_each(?2)))
                   AND (task_id IS NULL OR task_id NOT IN (SELECT value FROM json_each(?3)))",
                "SELECT 1 FROM team_memory WHERE agent_id = ?1 AND (crew_id IS NULL OR crew_id NOT IN (SELECT value FROM json_each(?2)))",
                "SELECT 1 FROM chat_sessions WHERE agent_id = ?1",
                "SELECT 1 FROM chat_messages WHERE agent_id = ?1",
                "SELECT 1 FROM workflows WHERE instr(definition, ?1) > 0",
            ];
            for sql in checks {
                // Each check names only the parameters it uses.
                let n = if sql.contains("?3") {
                    3
                } else if sql.contains("?2") {
                    2
                } else {
                    1
                };
                if exists_sql(tx, sql, &args[..n])? {
                    kept_agents.push(a.clone());
                    break;
                }
            }
        }
        for a in kept_agents {
            agents.remove(&a);
            changed = true;
        }
        if !changed {
            return Ok(Plan {
                agents,
                crews,
                registered_tasks: registered,
                tasks,
            });
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn remove(tx: &mut Tx<'_>, p: &Plan) -> Result<()> {
    let tasks_j = ids_json(&p.tasks)?;
    let crews_j = ids_json(&p.crews)?;
    // Messages about demo tasks outside a crew would only lose their task link.
    tx.execute(
        "DELETE FROM messages WHERE task_id IN (SELECT value FROM json_each(?1))
           AND (crew_id IS NULL OR crew_id IN (SELECT value FROM json_each(?2)))",
        [&tasks_j, &crews_j],
    )?;
    // Subtasks go with their parents (ON DELETE CASCADE), runs, approvals
    // and journals with their tasks.
    tx.execute(
        "DELETE FROM tasks WHERE id IN (SELECT value FROM json_each(?1))",
        [&tasks_j],
    )?;
    tx.execute(
        "DELETE FROM crews WHERE id IN (SELECT value FROM json_each(?1))",
        [&crews_j],
    )?;
    tx.execute(
        "DELETE FROM agents WHERE id IN (SELECT value FROM json_each(?1))",
        [ids_json(&p.agents)?],
    )?;
    for id in &p.tasks {
        tx.changed(Entity::Task, ChangeOp::Deleted, id);
    }
    for id in &p.crews {
        tx.changed(Entity::Crew, ChangeOp::Deleted, id);
    }
    for id in &p.agents {
        tx.changed(Entity::Agent, ChangeOp::Deleted, id);
    }
    Ok(())
}

fn skill(name: &str, proficiency: f64, examples: &[&str]) -> SkillInput {
    SkillInput {
        skill_name: name.to_string(),
        proficiency: Some(proficiency),
        learned_from: None,
        examples: Some(examples.iter().map(|e| e.to_string()).collect()),
    }
}

/// Gives an agent its demo name and skills, with some practice behind them.
fn dress_agent(
    tx: &mut Tx<'_>,
    id: &str,
    name: &str,
    skills: &[SkillInput],
    used: u32,
) -> Result<()> {
    let now = time::now_sql();
    tx.execute(
        "UPDATE agents SET name = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, name, now],
    )?;
    crate::agents::write_skills(tx, id, skills)?;
    tx.execute(
        "UPDATE agent_skills SET times_used = ?2, success_rate = 0.8 + 0.05 * (proficiency > 0.75),
            learned_from = 'practice', last_used_at = ?3
         WHERE agent_id = ?1",
        params![id, used, now],
    )?;
    tx.changed(Entity::Agent, ChangeOp::Updated, id);
    Ok(())
}

struct Created {
    agents: Vec<Id>,
    crew: Id,
    tasks: Vec<Id>,
}

fn create(tx: &mut Tx<'_>) -> Result<Created> {
    let autonomy = crate::settings::read_settings(tx)?.default_autonomy;
    let crew = insert_crew_from_template(
        tx,
        DEMO_CREW_TEMPLATE,
        &FromTemplate {
            name: Some("Demo · Weekly newsletter".into()),
            goal: Some(
                "Research this week's news on local-first AI, write a 300-word newsletter \
                 intro, and check every fact in it."
                    .into(),
            ),
            ..Default::default()
        },
        autonomy,
    )?;
    let member = |tx: &Tx<'_>, template: &str| -> Result<Id> {
        for m in &crew.members {
            let t: Option<String> = tx.query_row(
                "SELECT template FROM agents WHERE id = ?1",
                [&m.agent_id],
                |r| r.get(0),
            )?;
            if t.as_deref() == Some(template) {
                return Ok(m.agent_id.clone());
            }
        }
        Err(CoreError::Internal(format!(
            "the demo crew has no {template}"
        )))
    };
    let researcher = member(tx, "researcher")?;
    let writer = member(tx, "writer")?;
    let reviewer = member(tx, "reviewer")?;
    dress_agent(
        tx,
        &researcher,
        "Rhea (demo researcher)",
        &[
            skill(
                "research",
                0.82,
                &["Find three independent sources for each claim."],
            ),
            skill(
                "summarization",
                0.74,
                &["Five bullet points, one line each."],
            ),
        ],
        14,
    )?;
    dress_agent(
        tx,
        &writer,
        "Wren (demo writer)",
        &[
            skill(
                "writing",
                0.86,
                &["Open with the reader's problem, not the product."],
            ),
            skill("editing", 0.63, &[]),
        ],
        11,
    )?;
    dress_agent(
        tx,
        &reviewer,
        "Reed (demo reviewer)",
        &[
            skill(
                "fact_checking",
                0.79,
                &["Every number needs a source link."],
            ),
            skill("review", 0.81, &[]),
        ],
        9,
    )?;
    let analyst = crate::agents::insert_agent(
        tx,
        &crate::agents::AgentInput {
            name: Some("Ada (demo analyst)".into()),
            template: Some("analyst".into()),
            ..Default::default()
        },
        autonomy,
    )?
    .id;
    dress_agent(
        tx,
        &analyst,
        "Ada (demo analyst)",
        &[
            skill(
                "sql_query",
                0.71,
                &["SELECT count(*) FROM signups WHERE week = ?"],
            ),
            skill("data_analysis", 0.77, &[]),
            skill("reporting", 0.58, &[]),
        ],
        6,
    )?;

    let new_task =
        |title: &str, objective: &str, kind: TaskType, priority: i64, agent: &str| NewTask {
            title: title.into(),
            objective: Some(objective.into()),
            task_type: Some(kind),
            priority: Some(priority),
            crew_id: Some(crew.id.clone()),
            assigned_agent_id: Some(agent.to_string()),
            ..Default::default()
        };
    let links = TaskLinks::default();
    let research = insert_task(
        tx,
        &new_task(
            "Research: local-first AI tools this week",
            "Collect the five most relevant news items on local-first AI tools from the past week, with a source for each.",
            TaskType::Research,
            7,
            &researcher,
        ),
        &links,
    )?;
    complete_with_trace(tx, &research.id, &researcher)?;
    let draft = insert_task(
        tx,
        &NewTask {
            depends_on: Some(vec![research.id.clone()]),
            required_capabilities: Some(vec!["writing".into()]),
            ..new_task(
                "Draft the newsletter intro",
                "Write a 300-word intro for this week's newsletter from the research notes. Friendly, concrete, no hype.",
                TaskType::Generate,
                6,
                &writer,
            )
        },
        &links,
    )?;
    let check = insert_task(
        tx,
        &NewTask {
            depends_on: Some(vec![draft.id.clone()]),
            ..new_task(
                "Fact-check the intro",
                "Check every claim and number in the draft against the research notes; end with APPROVED or CHANGES REQUESTED.",
                TaskType::Review,
                5,
                &reviewer,
            )
        },
        &links,
    )?;
    let signups = insert_task(
        tx,
        &NewTask {
            crew_id: None,
            ..new_task(
                "Weekly sign-up numbers",
                "Count last week's sign-ups per channel from the 'signups' database and compare with the week before.",
                TaskType::Analyze,
                4,
                &analyst,
            )
        },
        &links,
    )?;
    tasks::write_past_end(
        tx,
        &signups.id,
        PastEnd::Failed {
            agent: &analyst,
            error: "sql_query: no database named 'signups' is registered; add it in Settings → SQL databases",
        },
    )?;
    let feedback = insert_task(
        tx,
        &NewTask {
            crew_id: None,
            ..new_task(
                "Summarise last quarter's reader feedback",
                "Group the survey answers by theme and list the three most requested topics.",
                TaskType::Analyze,
                3,
                &analyst,
            )
        },
        &links,
    )?;
    tasks::write_past_end(tx, &feedback.id, PastEnd::Cancelled)?;
    Ok(Created {
        agents: vec![researcher, writer, reviewer, analyst],
        crew: crew.id,
        tasks: vec![research.id, draft.id, check.id, signups.id, feedback.id],
    })
}

/// Completes the research task with a short run trace: a plan, one
/// web_fetch and the final answer.
fn complete_with_trace(tx: &mut Tx<'_>, task_id: &str, agent: &str) -> Result<()> {
    let run = runs::insert_run(tx, task_id, Some(agent), 1, &runs::RunState::default())?;
    let plan = runs::insert_step(
        tx,
        &run.id,
        &NewStep {
            thought:
                "I will look for this week's announcements first, then pick the five most relevant."
                    .into(),
            action: Some(StepAction {
                tool: "web_fetch".into(),
                arguments: serde_json::json!({ "url": "https://news.ycombinator.com/", "method": "GET" }),
                call_id: "demo-call-1".into(),
            }),
            observation: Some(
                "(demo) 30 headlines; 4 mention local models, 2 mention offline-first apps.".into(),
            ),
            tokens_in: 412,
            tokens_out: 61,
            duration_ms: 2_300,
            ..Default::default()
        },
    )?;
    runs::insert_decision(
        tx,
        &run.id,
        Some(&plan.id),
        DecisionKind::ToolCall,
        "The front page is the quickest overview of what people discussed this week.",
        Some("web_fetch"),
        Some(0.7),
    )?;
    let answer = "1. A 270M-parameter model now runs on a phone at 40 tokens/s.\n\
                  2. Two note-taking apps shipped offline sync.\n\
                  3. llama.cpp added a faster grammar engine.\n\
                  4. A survey: 61% of developers prefer local models for private data.\n\
                  5. An open benchmark for on-device agents was published.";
    let last = runs::insert_step(
        tx,
        &run.id,
        &NewStep {
            thought: "I have five items with sources; that answers the task.".into(),
            is_final: true,
            final_answer: Some(answer.into()),
            tokens_in: 980,
            tokens_out: 142,
            duration_ms: 4_100,
            ..Default::default()
        },
    )?;
    runs::insert_decision(
        tx,
        &run.id,
        Some(&last.id),
        DecisionKind::Complete,
        "Five relevant items, each with a source.",
        None,
        Some(0.82),
    )?;
    tx.execute(
        "UPDATE runs SET tokens_in = 1392, tokens_out = 203 WHERE id = ?1",
        [&run.id],
    )?;
    runs::finish_run(tx, &run.id, RunStatus::Completed, None)?;
    tasks::write_past_end(
        tx,
        task_id,
        PastEnd::Completed {
            agent,
            output: answer,
            confidence: 0.82,
            tokens_in: 1392,
            tokens_out: 203,
        },
    )?;
    Ok(())
}

impl Core {
    /// Removes the previous demo records (except those the user's data
    /// uses) and writes a fresh demo set, in one transaction.
    pub fn reset_demo_data(&self) -> Result<DemoSummary> {
        self.write(|tx| {
            let reg = read_registry(tx)?;
            let p = plan(tx, &reg)?;
            let before = DemoCounts {
                agents: count(existing(tx, "agents", &reg.agents)?.len()),
                crews: count(existing(tx, "crews", &reg.crews)?.len()),
                tasks: count(existing(tx, "tasks", &reg.tasks)?.len()),
            };
            let removed = DemoCounts {
                agents: count(p.agents.len()),
                crews: count(p.crews.len()),
                tasks: count(p.registered_tasks.len()),
            };
            remove(tx, &p)?;
            let made = create(tx)?;
            write_registry(
                tx,
                &Registry {
                    agents: made.agents.iter().cloned().collect(),
                    crews: [made.crew.clone()].into_iter().collect(),
                    tasks: made.tasks.iter().cloned().collect(),
                },
            )?;
            crate::portable_data::recount_task_board(tx)?;
            Ok(DemoSummary {
                kept: DemoCounts {
                    agents: before.agents.saturating_sub(removed.agents),
                    crews: before.crews.saturating_sub(removed.crews),
                    tasks: before.tasks.saturating_sub(removed.tasks),
                },
                removed,
                created: DemoCounts {
                    agents: count(made.agents.len()),
                    crews: 1,
                    tasks: count(made.tasks.len()),
                },
                crew_id: made.crew,
            })
        })
    }

    /// The ids of the current demo records.
    pub fn demo_registry(&self) -> Result<Registry> {
        self.read(read_registry)
    }
}
