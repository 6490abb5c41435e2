//! Crew templates and crew import/export: templates create their agents
//! from the agent templates; an exported crew (JSON or YAML) imports back
//! to an equal crew; a bad file is refused with a clear reason and leaves
//! the database exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/helpers.rs"]
mod helpers;

use ensemble_core::agents::{AgentInput, LearnedFrom, SkillInput};
use ensemble_core::crews::portable::{parse, ExportFormat};
use ensemble_core::crews::templates::{crew_templates, FromTemplate};
use ensemble_core::crews::{Budget, CrewInput, Process, RelationKind};
use ensemble_core::CoreError;
use helpers::{core, fingerprint};
use serde_json::json;

#[test]
fn templates_cover_the_processes_and_build_their_agents_from_agent_templates() {
    let all = crew_templates();
    assert!(all.len() >= 3);
    for p in [
        Process::Sequential,
        Process::PeerReview,
        Process::Hierarchical,
        Process::Consensus,
    ] {
        assert!(all.iter().any(|t| t.process == p), "no template for {p}");
    }
    let c = core();
    let crew = c
        .crews()
        .create_from_template(
            "content_team",
            FromTemplate {
                name: Some("Spring campaign".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(crew.name, "Spring campaign");
    assert_eq!(crew.process, Process::Hierarchical);
    assert_eq!(crew.template.as_deref(), Some("content_team"));
    let roles: Vec<(&str, &str)> = crew
        .members
        .iter()
        .map(|m| (m.agent_name.as_str(), m.role.as_str()))
        .collect();
    assert_eq!(
        roles,
        [
            ("Manager", "manager"),
            ("Researcher", "researcher"),
            ("Writer", "writer"),
            ("Content", "captions and titles")
        ]
    );
    let manager = c
        .agents()
        .get(crew.manager_agent_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(manager.name, "Manager");
    let from_template = ensemble_core::templates::agent_template("manager").unwrap();
    assert_eq!(manager.template.as_deref(), Some("manager"));
    assert_eq!(manager.capabilities, from_template.capabilities);
    assert_eq!(manager.system_prompt, from_template.system_prompt);
    assert_eq!(crew.relationships.len(), 3);
    assert!(crew
        .relationships
        .iter()
        .all(|r| r.kind == RelationKind::Supervises && r.from_agent_id == manager.id));
    // The supervisor query answers from the template's relationships.
    assert_eq!(
        c.crews()
            .supervisor_of(&crew.id, &crew.members[2].agent_id)
            .unwrap()
            .as_deref(),
        Some(manager.id.as_str())
    );

    let before = fingerprint(&c);
    let e = c
        .crews()
        .create_from_template("space_program", FromTemplate::default())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("expected one of: research_write_review, draft_and_review, content_team"),
        "{e}"
    );
    let e = c
        .crews()
        .create_from_template(
            "decision_panel",
            FromTemplate {
                provider: Some("nowhere".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("unknown provider 'nowhere'"), "{e}");
    assert_eq!(
        before,
        fingerprint(&c),
        "a refused template creates nothing"
    );
}

/// A crew with every kind of setting: skills, budget, context, strategy, relationships.
fn rich_crew(c: &ensemble_core::Core) -> String {
    let crew = c
        .crews()
        .create_from_template("research_write_review", FromTemplate::default())
        .unwrap();
    let writer = crew.members[1].agent_id.clone();
    c.agents()
        .update(
            &writer,
            AgentInput {
                temperature: Some(0.4),
                skills: Some(vec![SkillInput {
                    skill_name: "copywriting".into(),
                    proficiency: Some(0.8),
                    learned_from: Some(LearnedFrom::Feedback),
                    examples: Some(vec!["Short and clear.".into()]),
                }]),
                ..Default::default()
            },
        )
        .unwrap();
    c.crews()
        .update(
            &crew.id,
            CrewInput {
                budget: Some(Budget {
                    max_tokens: Some(5000),
                    max_cost: Some(0.5),
                    max_wall_secs: Some(600),
                }),
                shared_context: Some(json!({ "audience": "children", "tone": "warm" })),
                escalation_rules: Some(json!({ "on_failure": "supervisor" })),
                max_rounds: Some(4),
                ..Default::default()
            },
        )
        .unwrap();
    crew.id
}

#[test]
fn export_then_import_gives_an_equal_crew_in_json_and_yaml() {
    let c = core();
    let id = rich_crew(&c);
    for format in [ExportFormat::Json, ExportFormat::Yaml] {
        let text = c.crews().export(&id, format).unwrap();
        if format == ExportFormat::Yaml {
            assert!(text.starts_with("format: ensemble.crew\n"), "{text}");
        }
        let imported = c.crews().import(&text).unwrap();
        assert_ne!(imported.id, id);
        // Equal documents: every agent setting, skill, role, order, relationship and crew setting.
        assert_eq!(
            c.crews().export_document(&imported.id).unwrap(),
            c.crews().export_document(&id).unwrap()
        );
        assert_eq!(
            c.crews().export(&imported.id, format).unwrap(),
            text,
            "{format} round trip is exact"
        );
        // New agents, not the originals.
        let orig = c.crews().get(&id).unwrap();
        for (a, b) in imported.members.iter().zip(&orig.members) {
            assert_ne!(a.agent_id, b.agent_id);
            assert_eq!((&a.agent_name, &a.role), (&b.agent_name, &b.role));
        }
        let writer = c.agents().get(&imported.members[1].agent_id).unwrap();
        assert_eq!(writer.temperature, 0.4);
        let skill = writer
            .skills
            .iter()
            .find(|s| s.skill_name == "copywriting")
            .unwrap();
        assert_eq!(
            (skill.proficiency, skill.learned_from),
            (0.8, LearnedFrom::Feedback)
        );
        assert_eq!(imported.budget.max_tokens, Some(5000));
        assert_eq!(imported.relationships.len(), 3);
    }
}

fn refused(c: &ensemble_core::Core, text: &str) -> String {
    let before = fingerprint(c);
    let e = c.crews().import(text).unwrap_err();
    assert!(
        matches!(e, CoreError::Validation { .. } | CoreError::TooLarge { .. }),
        "{e:?}"
    );
    assert_eq!(
        before,
        fingerprint(c),
        "a refused file leaves nothing behind: {e}"
    );
    e.to_string()
}

#[test]
fn bad_crew_files_are_refused_clearly_and_nothing_is_half_imported() {
    let c = core();
    let id = rich_crew(&c);
    let good: serde_json::Value =
        serde_json::from_str(&c.crews().export(&id, ExportFormat::Json).unwrap()).unwrap();

    assert!(refused(&c, "").contains("the file is empty"));
    let e = refused(&c, "format: ensemble.crew\nagents: [unclosed\n");
    assert!(
        e.contains("not a valid crew file (YAML)") && e.contains("line"),
        "{e}"
    );
    let e = refused(&c, "{\"format\": \"ensemble.crew\",");
    assert!(e.contains("not a valid crew file (JSON)"), "{e}");

    let mut v = good.clone();
    v["format"] = json!("something.else");
    assert!(refused(&c, &v.to_string()).contains("this is not an Ensemble crew file"));
    let mut v = good.clone();
    v["version"] = json!(2);
    assert!(refused(&c, &v.to_string()).contains("crew files of version 1, the file has version 2"));
    let mut v = good.clone();
    v["crew"]["manger"] = json!("x");
    assert!(refused(&c, &v.to_string()).contains("unknown field `manger`"));
    let mut v = good.clone();
    v["relationships"][0]["to"] = json!("ghost");
    assert!(
        refused(&c, &v.to_string()).contains("relationships[0].to: no agent has the key 'ghost'")
    );
    let mut v = good.clone();
    v["crew"]["process"] = json!("anarchy");
    assert!(refused(&c, &v.to_string()).contains("unknown variant `anarchy`"));

    // The first agents are valid, the third is not: nothing of the file is kept.
    let mut v = good.clone();
    v["agents"][2]["temperature"] = json!(3.5);
    let e = refused(&c, &v.to_string());
    assert!(
        e.contains("agents[2] (reviewer).temperature: must be between 0 and 2"),
        "{e}"
    );
    // Valid agents, but the crew itself is bad (after the agents were written): rolled back.
    let mut v = good.clone();
    v["crew"]["max_rounds"] = json!(99);
    assert!(refused(&c, &v.to_string()).contains("crew.max_rounds"));
    let mut v = good.clone();
    v["crew"]["process"] = json!("routed");
    v["crew"]["strategy"] = json!({ "strategy": "coin_flip" });
    assert!(refused(&c, &v.to_string())
        .contains("crew.routing strategy: unknown routing strategy 'coin_flip'"));
    let mut v = good;
    v["agents"][0]["provider"] = json!("elsewhere");
    assert!(refused(&c, &v.to_string()).contains("unknown provider 'elsewhere'"));

    // parse() alone checks references without touching the database.
    assert!(
        parse("format: ensemble.crew\nversion: 1\ncrew: {name: X}\nagents: []\n")
            .unwrap_err()
            .to_string()
            .contains("at least one agent")
    );
}
