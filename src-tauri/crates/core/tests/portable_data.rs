//! Export and import of all data: a database with a record in every user
//! table exports to one file and imports into an empty data folder with
//! every row equal, no secret in the file and correct board totals; a
//! second import changes nothing; import merges by key; a clash, a task
//! running here, or a malformed or unknown-version file is refused with a
//! clear reason and leaves the database exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/helpers.rs"]
mod helpers;

use std::collections::BTreeMap;
use std::path::Path;

use ensemble_core::agents::{AgentInput, SkillInput};
use ensemble_core::approvals::NewApproval;
use ensemble_core::chat::{ChatRole, ChatStatus, SessionInput};
use ensemble_core::crews::{CrewInput, MemberInput, RelationKind, RelationshipInput};
use ensemble_core::messages::NewMessage;
use ensemble_core::portable_data::{
    exported_tables, parse_document, DataDocument, NOT_EXPORTED, VERSION,
};
use ensemble_core::providers::{ProviderInput, ProviderKind};
use ensemble_core::runs::{self, DecisionKind, NewStep, RunStatus, StepAction};
use ensemble_core::secrets::SecretStore;
use ensemble_core::settings::{SettingsPatch, SqlDatabase};
use ensemble_core::tasks::{NewTask, TaskFilter, TaskStatus};
use ensemble_core::workflows::{FailurePolicy, WorkflowDefinition, WorkflowInput, WorkflowStep};
use ensemble_core::{Core, CoreError};
use helpers::{core, fingerprint};
use serde_json::{json, Value};

const SECRET: &str = "sk-live-DO-NOT-EXPORT-4f2a9c";

fn task(core: &Core, title: &str, agent: Option<&str>, parent: Option<&str>) -> String {
    core.tasks()
        .create(NewTask {
            title: title.into(),
            assigned_agent_id: agent.map(str::to_string),
            parent_task_id: parent.map(str::to_string),
            priority: Some(7),
            ..Default::default()
        })
        .unwrap()
        .id
}

/// A record in every user table, made through the services where they
/// exist (raw rows only for tables no service writes outside a run).
fn populate(c: &Core) {
    c.providers()
        .create(ProviderInput {
            name: Some("openai".into()),
            kind: Some(ProviderKind::OpenAiCompatible),
            base_url: Some("https://api.openai.com/v1".into()),
            api_key_ref: Some("openai-key".into()),
            default_model: Some("gpt-4o-mini".into()),
            ..Default::default()
        })
        .unwrap();
    SecretStore::file_only(c.data_dir())
        .set("openai-key", SECRET)
        .unwrap();
    let ada = c
        .agents()
        .create(AgentInput {
            name: Some("Ada".into()),
            template: Some("analyst".into()),
            skills: Some(vec![SkillInput {
                skill_name: "sql_query".into(),
                proficiency: Some(0.75),
                examples: Some(vec!["SELECT 1".into()]),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .unwrap()
        .id;
    let bob = c
        .agents()
        .create(AgentInput {
            name: Some("Bob".into()),
            template: Some("writer".into()),
            provider: Some("openai".into()),
            ..Default::default()
        })
        .unwrap()
        .id;
    let crew = c
        .crews()
        .create(CrewInput {
            name: Some("Reports".into()),
            members: Some(vec![
                MemberInput {
                    agent_id: ada.clone(),
                    role: Some("analyst".into()),
                },
                MemberInput {
                    agent_id: bob.clone(),
                    role: None,
                },
            ]),
            ..Default::default()
        })
        .unwrap()
        .id;
    c.crews()
        .add_relationship(
            &crew,
            RelationshipInput {
                from_agent_id: ada.clone(),
                to_agent_id: bob.clone(),
                kind: Some(RelationKind::DelegatesTo),
                ..Default::default()
            },
        )
        .unwrap();
    let parent = task(c, "Quarterly report", Some(&ada), None);
    let child = task(c, "Pull the numbers", Some(&ada), Some(&parent));
    let writeup = task(c, "Write it up", Some(&bob), None);
    c.tasks().add_dependency(&writeup, &parent).unwrap();
    c.tasks()
        .set_status(&parent, TaskStatus::Cancelled)
        .unwrap();

    let (run_id, step_id, call_id) = c
        .write(|tx| {
            let run = runs::insert_run(tx, &child, Some(&ada), 1, &runs::RunState::default())?;
            let step = runs::insert_step(
                tx,
                &run.id,
                &NewStep {
                    thought: "Query the sales table".into(),
                    action: Some(StepAction {
                        tool: "sql_query".into(),
                        arguments: json!({"database": "sales", "query": "SELECT 1"}),
                        call_id: "c1".into(),
                    }),
                    tokens_in: 10,
                    tokens_out: 5,
                    duration_ms: 12,
                    ..Default::default()
                },
            )?;
            runs::insert_decision(
                tx,
                &run.id,
                Some(&step.id),
                DecisionKind::ToolCall,
                "numbers first",
                Some("sql_query"),
                Some(0.6),
            )?;
            let call = runs::journal_intend(
                tx,
                Some(&run.id),
                Some(&step.id),
                "sql_query",
                &json!({"query": "SELECT 1"}),
                "key-1",
                true,
            )?;
            runs::finish_run(tx, &run.id, RunStatus::Waiting, None)?;
            tx.execute(
                "INSERT INTO crew_runs (id, crew_id, status, input, process, created_at, updated_at)
                 VALUES ('crewrun-1', ?1, 'completed', 'go', 'sequential', '2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.678Z')",
                [&crew],
            )?;
            tx.execute(
                "INSERT INTO mcp_servers (id, name, command, created_at, updated_at)
                 VALUES ('mcp-1', 'files', 'npx', '2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.678Z')",
                [],
            )?;
            tx.execute(
                "INSERT INTO sql_sources (id, name, path, created_at, updated_at)
                 VALUES ('src-1', 'sales', '/data/sales.db', '2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.678Z')",
                [],
            )?;
            Ok((run.id, step.id, call.id))
        })
        .unwrap();
    c.approvals()
        .create(NewApproval {
            title: "Ada wants to run sql_query".into(),
            proposed_action: json!({"tool": "sql_query", "arguments": {"query": "SELECT 1"}}),
            task_id: Some(child.clone()),
            run_id: Some(run_id),
            step_id: Some(step_id),
            tool_call_id: Some(call_id),
            agent_id: Some(ada.clone()),
            ..Default::default()
        })
        .unwrap();
    c.messages()
        .send(NewMessage {
            crew_id: Some(crew.clone()),
            from_agent_id: Some(ada.clone()),
            to_agent_id: Some(bob.clone()),
            content: "The numbers are in.".into(),
            ..Default::default()
        })
        .unwrap();
    c.memory()
        .remember(
            Some(&crew),
            Some(&ada),
            "Sales peak in March.",
            "remember",
            None,
        )
        .unwrap();
    let session = c
        .chat()
        .create_session(SessionInput {
            title: Some("Ask Ada".into()),
            agent_id: Some(ada.clone()),
            ..Default::default()
        })
        .unwrap()
        .id;
    c.chat()
        .add_message(
            &session,
            ChatRole::User,
            "How were sales?",
            None,
            ChatStatus::Complete,
        )
        .unwrap();
    c.chat()
        .add_message(
            &session,
            ChatRole::Assistant,
            "Up 12%.",
            Some(&ada),
            ChatStatus::Complete,
        )
        .unwrap();
    let wf = c
        .workflows()
        .create(WorkflowInput {
            name: Some("Weekly".into()),
            definition: Some(WorkflowDefinition {
                steps: vec![WorkflowStep {
                    key: "collect".into(),
                    title: "Collect".into(),
                    agent_id: Some(ada.clone()),
                    capabilities: vec![],
                    prompt: "Collect {{input}}".into(),
                    depends_on: vec![],
                    condition: None,
                    priority: None,
                }],
                on_failure: FailurePolicy::Fail,
            }),
            ..Default::default()
        })
        .unwrap();
    c.workflows().start(&wf.id, json!("sales")).unwrap();
    c.update_settings(SettingsPatch {
        max_concurrent_tasks: Some(3),
        approval_expiry_hours: Some(48),
        paused: Some(true),
        default_provider: Some("openai".into()),
        web_fetch_allow_list: Some(vec!["localhost:8080".into()]),
        code_run_unsandboxed_with_approval: Some(true),
        sql_databases: Some(vec![SqlDatabase {
            name: "sales".into(),
            path: "/data/sales.db".into(),
        }]),
        ..Default::default()
    })
    .unwrap();
    c.reset_demo_data().unwrap();
}

fn export(c: &Core, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("export.json");
    c.export_data(&path).unwrap();
    path
}

/// Rows of a table comparable across databases: provider configs by name
/// (each folder seeds its own ids), settings by key and value.
fn comparable(doc: &DataDocument) -> BTreeMap<String, Vec<Value>> {
    doc.tables
        .iter()
        .map(|(t, rows)| {
            let mut rows: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    match t.as_str() {
                        "provider_configs" | "mcp_servers" | "sql_sources" => {
                            r.remove("id");
                            r.remove("created_at");
                            r.remove("updated_at");
                        }
                        "settings" => {
                            r.remove("created_at");
                            r.remove("updated_at");
                        }
                        _ => {}
                    }
                    Value::Object(r)
                })
                .collect();
            rows.sort_by_key(|v| v.to_string());
            (t.clone(), rows)
        })
        .collect()
}

fn board_totals(c: &Core) -> Vec<(TaskStatus, u64)> {
    c.tasks()
        .board(&TaskFilter::default(), 5)
        .unwrap()
        .into_iter()
        .map(|col| (col.status, col.total))
        .collect()
}

fn counted_by_status(c: &Core) -> Vec<(TaskStatus, u64)> {
    TaskStatus::ALL
        .iter()
        .map(|s| {
            let n: i64 = c
                .read(|conn| {
                    Ok(conn.query_row(
                        "SELECT count(*) FROM tasks WHERE status = ?1",
                        [s.as_str()],
                        |r| r.get(0),
                    )?)
                })
                .unwrap();
            (*s, n as u64)
        })
        .collect()
}

/// A full export imports into an empty data folder with every row equal, the
/// secret nowhere in the file, and the board's totals matching the tasks.
#[test]
fn export_then_import_recreates_every_row_without_secrets() {
    let src = core();
    populate(&src);
    let out = tempfile::tempdir().unwrap();
    let path = export(&src, out.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(SECRET), "the API key must not be exported");
    assert!(
        text.contains("\"api_key_ref\": \"openai-key\""),
        "only its name"
    );
    let doc = parse_document(text.as_bytes()).unwrap();
    assert_eq!(doc.format, "ensemble.data");
    assert_eq!(doc.version, VERSION);
    for t in exported_tables() {
        assert!(
            !doc.tables[t].is_empty(),
            "the fixture fills every table; {t} is empty"
        );
    }

    let dst = core();
    let summary = dst.import_data(&path).unwrap();
    assert!(summary.added > 30, "{summary:?}");
    assert_eq!(
        summary.tables["agents"].added,
        doc.tables["agents"].len() as u64
    );
    // Both folders seeded "ollama" and "embedded": matched by name, not doubled.
    assert_eq!(summary.tables["provider_configs"].updated, 2);
    assert_eq!(summary.tables["provider_configs"].added, 1);

    let back = dst.export_document().unwrap();
    assert_eq!(comparable(&back), comparable(&doc));
    assert!(!dst.data_dir().join("secrets").exists());
    assert_eq!(
        dst.providers()
            .get("openai")
            .unwrap()
            .api_key_ref
            .as_deref(),
        Some("openai-key")
    );

    // The board's totals (from task_counts) match the imported tasks.
    assert_eq!(board_totals(&dst), counted_by_status(&dst));
    assert_eq!(board_totals(&dst), board_totals(&src));
    let s = dst.settings().unwrap();
    assert_eq!(
        (s.max_concurrent_tasks, s.approval_expiry_hours, s.paused),
        (3, 48, true)
    );
    assert_eq!(s, src.settings().unwrap());
    assert_eq!(dst.demo_registry().unwrap(), src.demo_registry().unwrap());

    // Importing the same file again replaces every row with itself.
    let before = fingerprint(&dst);
    let again = dst.import_data(&path).unwrap();
    assert_eq!(again.added, 0, "{again:?}");
    assert_eq!(again.updated, summary.added + summary.updated);
    assert_eq!(
        comparable(&dst.export_document().unwrap()),
        comparable(&doc)
    );
    assert_eq!(board_totals(&dst), counted_by_status(&dst));
    // Only the settings records' updated_at and the recounted board totals' stamps move.
    let strip = |f: String| -> String {
        let mut out = Vec::new();
        let mut in_counts = false;
        for l in f.lines() {
            if l.starts_with("## ") {
                in_counts = l == "## task_counts";
            }
            if !in_counts
                && !l.starts_with("Text(\"app\")")
                && !l.starts_with("Text(\"demo_data\")")
            {
                out.push(l);
            }
        }
        out.join("\n")
    };
    assert_eq!(strip(fingerprint(&dst)), strip(before));
}

/// Import merges: the target keeps its own records, and a record the file
/// also has is replaced by the file's version.
#[test]
fn import_merges_by_id_and_keeps_what_the_file_does_not_have() {
    let src = core();
    let ada = helpers::agent(&src, "Ada", &["sql_query"]);
    task(&src, "From the file", Some(&ada), None);
    let out = tempfile::tempdir().unwrap();
    let path = export(&src, out.path());

    let dst = core();
    let own = helpers::agent(&dst, "Mine", &["writing"]);
    let own_task = task(&dst, "My own task", Some(&own), None);
    dst.import_data(&path).unwrap();
    dst.agents()
        .update(
            &ada,
            AgentInput {
                name: Some("Renamed here".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let s = dst.import_data(&path).unwrap();
    assert_eq!(s.tables["agents"].updated, 1);
    assert_eq!(
        dst.agents().get(&ada).unwrap().name,
        "Ada",
        "the file's version wins"
    );
    assert_eq!(dst.agents().get(&own).unwrap().name, "Mine");
    assert_eq!(dst.tasks().get(&own_task).unwrap().title, "My own task");
    assert_eq!(
        dst.tasks().board(&TaskFilter::default(), 5).unwrap()[0].total,
        2,
        "queued: the file's task and mine"
    );
}

fn refused(c: &Core, doc: &Value) -> CoreError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
    let before = fingerprint(c);
    let e = c.import_data(&path).unwrap_err();
    assert_eq!(
        fingerprint(c),
        before,
        "a refused import changes nothing ({e})"
    );
    e
}

/// A skill that clashes with one already here (same agent and name, other
/// id) refuses the whole file, naming the table and the record.
#[test]
fn a_clash_on_another_unique_key_refuses_the_whole_file() {
    let src = core();
    let ada = src
        .agents()
        .create(AgentInput {
            name: Some("Ada".into()),
            skills: Some(vec![SkillInput {
                skill_name: "research".into(),
                ..Default::default()
            }]),
            ..Default::default()
        })
        .unwrap()
        .id;
    let doc = serde_json::to_value(src.export_document().unwrap()).unwrap();
    let dst = core();
    let out = tempfile::tempdir().unwrap();
    let path = export(&src, out.path());
    dst.import_data(&path).unwrap();
    // Here the skill is written again: same name, new id.
    dst.agents()
        .update(
            &ada,
            AgentInput {
                skills: Some(vec![SkillInput {
                    skill_name: "research".into(),
                    proficiency: Some(0.9),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .unwrap();
    task(&dst, "Something new here", None, None);
    let e = refused(&dst, &doc);
    assert_eq!(e.code(), "CONFLICT", "{e}");
    assert!(e.to_string().contains("tables.agent_skills[0]"), "{e}");
    assert!(e.to_string().contains("nothing was imported"), "{e}");
}

/// Files that are not ours, of another version, or broken in any row are
/// refused with a reason that says what and where; nothing changes.
#[test]
fn malformed_and_unknown_version_files_are_refused_and_change_nothing() {
    let src = core();
    let ada = helpers::agent(&src, "Ada", &["sql_query"]);
    task(&src, "A task", Some(&ada), None);
    src.update_settings(SettingsPatch {
        max_concurrent_tasks: Some(4),
        ..Default::default()
    })
    .unwrap();
    let good = serde_json::to_value(src.export_document().unwrap()).unwrap();
    let dst = core();
    helpers::agent(&dst, "Already here", &[]);

    let with = |f: &dyn Fn(&mut Value)| {
        let mut d = good.clone();
        f(&mut d);
        d
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([1, 2]), "VALIDATION", "expected a JSON object"),
        (with(&|d| d["format"] = json!("ensemble.crew")), "VALIDATION", "its format is 'ensemble.crew'"),
        (with(&|d| { d.as_object_mut().unwrap().remove("format"); }), "VALIDATION", "no \"format\""),
        (with(&|d| d["version"] = json!(2)), "VALIDATION", "unsupported data file version 2; this Ensemble reads version 1 (the file comes from a newer Ensemble)"),
        (with(&|d| { d.as_object_mut().unwrap().remove("version"); }), "VALIDATION", "no version number"),
        (with(&|d| d["schema_version"] = json!(99)), "VALIDATION", "newer Ensemble (database schema 99"),
        (with(&|d| d["tables"]["secrets"] = json!([])), "VALIDATION", "unknown table 'secrets'"),
        (with(&|d| d["surprise"] = json!(1)), "VALIDATION", "unknown field `surprise`"),
        (with(&|d| d["tables"]["tasks"][0]["colour"] = json!("red")), "VALIDATION", "unknown column 'colour'"),
        (with(&|d| d["tables"]["tasks"][0]["priority"] = json!("high")), "VALIDATION", "tables.tasks[0].priority: expected an integer, got \"high\""),
        (with(&|d| d["tables"]["tasks"][0]["priority"] = json!(42)), "VALIDATION", "CHECK constraint failed"),
        (with(&|d| d["tables"]["tasks"][0]["title"] = Value::Null), "VALIDATION", "tables.tasks[0].title: must not be null"),
        (with(&|d| { d["tables"]["tasks"][0].as_object_mut().unwrap().remove("id"); }), "VALIDATION", "tables.tasks[0].id: is missing"),
        (with(&|d| d["tables"]["tasks"][0]["created_at"] = json!("yesterday")), "VALIDATION", "expected a timestamp"),
        (with(&|d| d["tables"]["agents"][0]["capabilities"] = json!("[not json")), "VALIDATION", "tables.agents[0].capabilities: expected JSON text"),
        (with(&|d| d["tables"]["tasks"][0]["status"] = json!("done")), "VALIDATION", "would not be readable (column status: task status: unknown task status 'done'"),
        (with(&|d| d["tables"]["tasks"][0]["assigned_agent_id"] = json!("ghost")), "VALIDATION", "refers to a record of agents that is neither in the file nor here"),
        (with(&|d| {
            let rows = d["tables"]["settings"].as_array_mut().unwrap();
            let app = rows.iter_mut().find(|r| r["key"] == "app").unwrap();
            app["value"] = json!("{\"max_concurrent_tasks\": 0}");
        }), "VALIDATION", "max_concurrent_tasks"),
    ];
    for (doc, code, needle) in cases {
        let e = refused(&dst, &doc);
        assert_eq!(e.code(), code, "{e}");
        assert!(
            e.to_string().contains(needle),
            "expected '{needle}' in: {e}"
        );
    }

    // Not JSON at all, and a file cut short.
    let dir = tempfile::tempdir().unwrap();
    let before = fingerprint(&dst);
    for (name, bytes) in [
        ("notes.txt", b"hello".to_vec()),
        (
            "cut.json",
            serde_json::to_vec(&good).unwrap()[..200].to_vec(),
        ),
        ("binary.json", vec![0xff, 0xfe, 0x00, 0x01]),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = dst.import_data(&p).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{name}: {e}");
    }
    let e = dst
        .import_data(&dir.path().join("missing.json"))
        .unwrap_err();
    assert_eq!(e.code(), "IO", "{e}");
    let e = dst.import_data(Path::new("relative.json")).unwrap_err();
    assert!(e.to_string().contains("not an absolute file path"), "{e}");
    assert_eq!(fingerprint(&dst), before);
}

/// A task this process is running is not replaced under the runner.
#[test]
fn a_task_running_here_is_not_replaced() {
    let src = core();
    let id = task(&src, "Long job", None, None);
    let doc = serde_json::to_value(src.export_document().unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = export(&src, out.path());
    let dst = core();
    dst.import_data(&path).unwrap();
    dst.tasks().set_status(&id, TaskStatus::Planning).unwrap();
    dst.tasks().set_status(&id, TaskStatus::Running).unwrap();
    let e = refused(&dst, &doc);
    assert_eq!(e.code(), "CONFLICT");
    assert!(e.to_string().contains("'Long job'"), "{e}");
    assert!(e.to_string().contains("is running here"), "{e}");
}

/// Work that was running where the file was made goes back to the queue
/// (its run marked interrupted), as after a restart.
#[test]
fn work_in_progress_in_the_file_is_requeued() {
    let src = core();
    let id = task(&src, "Was running", None, None);
    src.tasks().set_status(&id, TaskStatus::Planning).unwrap();
    src.tasks().set_status(&id, TaskStatus::Running).unwrap();
    src.write(|tx| runs::insert_run(tx, &id, None, 1, &runs::RunState::default()))
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let path = export(&src, out.path());
    let dst = core();
    let s = dst.import_data(&path).unwrap();
    assert_eq!(s.requeued, 1);
    assert_eq!(dst.tasks().get(&id).unwrap().status, TaskStatus::Queued);
    let runs = dst.runs().of_task(&id).unwrap();
    assert_eq!(runs[0].run.status, RunStatus::Interrupted);
    assert_eq!(board_totals(&dst), counted_by_status(&dst));
}

/// An export never lands on the database's own files, and needs an absolute path.
#[test]
fn export_refuses_the_database_files_and_relative_paths() {
    let c = core();
    helpers::agent(&c, "Ada", &[]);
    let before = fingerprint(&c);
    for name in ["ensemble.db", "ensemble.db-wal", "runner.lock"] {
        let e = c.export_data(&c.data_dir().join(name)).unwrap_err();
        assert!(
            e.to_string().contains("database's own files"),
            "{name}: {e}"
        );
    }
    let e = c
        .export_data(&c.data_dir().join("secrets").join("x.json"))
        .unwrap_err();
    assert!(e.to_string().contains("secrets folder"), "{e}");
    let e = c.export_data(Path::new("out.json")).unwrap_err();
    assert!(e.to_string().contains("not an absolute file path"), "{e}");
    let e = c.export_data(c.data_dir()).unwrap_err();
    assert!(e.to_string().contains("is a folder"), "{e}");
    assert_eq!(fingerprint(&c), before);
    assert_eq!(c.store().integrity_check().unwrap(), "ok");
    // The suggested place works, creating its folder.
    let p = ensemble_core::portable_data::default_export_path(c.data_dir());
    let s = c.export_data(&p).unwrap();
    assert!(p.is_file());
    assert_eq!(s.tables["agents"], 1);
}

/// Every table of the schema is exported or declared derived, so a table a
/// later migration adds cannot be forgotten silently.
#[test]
fn every_table_is_exported_or_declared_derived() {
    let c = core();
    let tables: Vec<String> = c
        .read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .unwrap();
    let mut known: Vec<String> = exported_tables()
        .into_iter()
        .chain(NOT_EXPORTED.iter().copied())
        .map(str::to_string)
        .collect();
    known.sort();
    assert_eq!(tables, known);
}
