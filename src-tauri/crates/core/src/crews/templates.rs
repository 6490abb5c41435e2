//! Built-in crew templates: a ready team for a common way of working. A
//! template names its members by agent template (so each member is created
//! from the agent templates of `crate::templates`), their roles in the crew,
//! the manager, the relationships and the process settings. Creating a crew
//! from a template writes the agents, the crew and the relationships in one
//! transaction.

use super::Crews;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::gate::{RoutingConfig, Strategy};
use super::{
    insert_crew, insert_relationship, Budget, Crew, CrewInput, MemberInput, Process, RelationKind,
    RelationshipInput,
};
use crate::agents::{insert_agent, AgentInput};
use crate::error::{CoreError, Result};
use crate::validate;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct TemplateMember {
    /// The agent template the member is created from.
    pub agent_template: String,
    pub name: String,
    pub crew_role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CrewTemplate {
    pub key: String,
    pub name: String,
    pub description: String,
    pub process: Process,
    pub goal: String,
    pub members: Vec<TemplateMember>,
    /// The manager, by member name.
    pub manager: Option<String>,
    /// (from, kind, to) by member name.
    pub relationships: Vec<(String, RelationKind, String)>,
    pub max_rounds: u32,
    pub strategy: RoutingConfig,
}

/// Options when creating a crew from a template.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct FromTemplate {
    /// The crew's name (default: the template's).
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub goal: Option<String>,
    /// Provider and model for every member (default: the app's).
    #[ts(optional)]
    pub provider: Option<String>,
    #[ts(optional)]
    pub model: Option<String>,
    #[ts(optional)]
    pub budget: Option<Budget>,
}

fn m(agent_template: &str, name: &str, crew_role: &str) -> TemplateMember {
    TemplateMember {
        agent_template: agent_template.into(),
        name: name.into(),
        crew_role: crew_role.into(),
    }
}

fn rel(from: &str, kind: RelationKind, to: &str) -> (String, RelationKind, String) {
    (from.into(), kind, to.into())
}

/// All built-in crew templates.
pub fn crew_templates() -> Vec<CrewTemplate> {
    use RelationKind::*;
    vec![
        CrewTemplate {
            key: "research_write_review".into(),
            name: "Research, write, review".into(),
            description: "A pipeline: the researcher gathers facts, the writer turns them into a text, the reviewer checks and polishes it.".into(),
            process: Process::Sequential,
            goal: "Produce a well-sourced, reviewed text on the requested topic.".into(),
            members: vec![
                m("researcher", "Researcher", "researcher"),
                m("writer", "Writer", "writer"),
                m("reviewer", "Reviewer", "reviewer"),
            ],
            manager: None,
            relationships: vec![
                rel("Reviewer", Supervises, "Researcher"),
                rel("Reviewer", Supervises, "Writer"),
                rel("Researcher", DelegatesTo, "Writer"),
            ],
            max_rounds: 5,
            strategy: RoutingConfig::default(),
        },
        CrewTemplate {
            key: "draft_and_review".into(),
            name: "Draft and review".into(),
            description: "Peer review: the writer drafts, the reviewer critiques, until the reviewer approves (at most 5 rounds).".into(),
            process: Process::PeerReview,
            goal: "Deliver a draft the reviewer approves.".into(),
            members: vec![m("writer", "Writer", "author"), m("reviewer", "Reviewer", "reviewer")],
            manager: None,
            relationships: vec![rel("Reviewer", Supervises, "Writer")],
            max_rounds: 5,
            strategy: RoutingConfig::default(),
        },
        CrewTemplate {
            key: "content_team".into(),
            name: "Content team".into(),
            description: "Hierarchical: a manager plans the content, delegates research, writing and captions by capability, reviews and writes the report.".into(),
            process: Process::Hierarchical,
            goal: "Plan and produce the requested content, reviewed by the manager.".into(),
            members: vec![
                m("manager", "Manager", "manager"),
                m("researcher", "Researcher", "researcher"),
                m("writer", "Writer", "writer"),
                m("content", "Content", "captions and titles"),
            ],
            manager: Some("Manager".into()),
            relationships: vec![
                rel("Manager", Supervises, "Researcher"),
                rel("Manager", Supervises, "Writer"),
                rel("Manager", Supervises, "Content"),
            ],
            max_rounds: 3,
            strategy: RoutingConfig::default(),
        },
        CrewTemplate {
            key: "decision_panel".into(),
            name: "Decision panel".into(),
            description: "Consensus: an analyst, a researcher and a reviewer answer independently, then converge over rounds; the vote log shows who agreed.".into(),
            process: Process::Consensus,
            goal: "Reach a decision the whole panel agrees on, or show where it disagrees.".into(),
            members: vec![
                m("analyst", "Analyst", "panelist"),
                m("researcher", "Researcher", "panelist"),
                m("reviewer", "Reviewer", "panelist"),
            ],
            manager: None,
            relationships: vec![
                rel("Analyst", CollaboratesWith, "Researcher"),
                rel("Researcher", CollaboratesWith, "Reviewer"),
            ],
            max_rounds: 3,
            strategy: RoutingConfig::default(),
        },
        CrewTemplate {
            key: "expert_desk".into(),
            name: "Expert desk".into(),
            description: "Routed: the expert gate sends each request to the best-suited member; below the confidence threshold the next one tries (cascade).".into(),
            process: Process::Routed,
            goal: "Answer each request with the best-suited expert.".into(),
            members: vec![
                m("analyst", "Analyst", "data expert"),
                m("researcher", "Researcher", "research expert"),
                m("writer", "Writer", "writing expert"),
            ],
            manager: None,
            relationships: vec![],
            max_rounds: 5,
            strategy: RoutingConfig {
                strategy: Strategy::Cascade,
                threshold: 0.5,
                ..RoutingConfig::default()
            },
        },
    ]
}

pub fn crew_template(key: &str) -> Option<CrewTemplate> {
    let key = key.trim().to_lowercase();
    crew_templates().into_iter().find(|t| t.key == key)
}

pub fn crew_template_keys() -> String {
    crew_templates()
        .iter()
        .map(|t| t.key.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Crews<'_> {
    /// Creates a crew and its agents from a template, in one transaction.
    pub fn create_from_template(&self, key: &str, opts: FromTemplate) -> Result<Crew> {
        let default_autonomy = self.core.settings()?.default_autonomy;
        self.core
            .write(|tx| insert_crew_from_template(tx, key, &opts, default_autonomy))
    }
}

/// Writes a crew and its agents from a template inside an open transaction
/// (the demo data writes one as part of a larger write).
pub(crate) fn insert_crew_from_template(
    tx: &mut crate::store::Tx<'_>,
    key: &str,
    opts: &FromTemplate,
    default_autonomy: crate::agents::Autonomy,
) -> Result<Crew> {
    let t = crew_template(key).ok_or_else(|| {
        CoreError::validation(
            "template",
            format!(
                "unknown crew template '{}'; expected one of: {}",
                key.trim(),
                crew_template_keys()
            ),
        )
    })?;
    let name = match opts.name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(n) => validate::name("name", n)?,
        None => t.name.clone(),
    };
    let mut ids = Vec::new();
    for member in &t.members {
        let agent = insert_agent(
            tx,
            &AgentInput {
                name: Some(member.name.clone()),
                template: Some(member.agent_template.clone()),
                provider: opts.provider.clone(),
                model: opts.model.clone(),
                ..Default::default()
            },
            default_autonomy,
        )?;
        ids.push((member.name.clone(), agent.id));
    }
    let id_of = |n: &str| {
        ids.iter()
            .find(|(name, _)| name == n)
            .map(|(_, id)| id.clone())
            .ok_or_else(|| {
                CoreError::Internal(format!("template {} names an unknown member {n}", t.key))
            })
    };
    let crew = insert_crew(
        tx,
        &CrewInput {
            name: Some(name.clone()),
            goal: Some(opts.goal.clone().unwrap_or_else(|| t.goal.clone())),
            process: Some(t.process),
            manager_agent_id: t.manager.as_deref().map(id_of).transpose()?,
            strategy: Some(crate::store::row::to_value(&t.strategy)?),
            budget: opts.budget.clone(),
            max_rounds: Some(i64::from(t.max_rounds)),
            members: Some(
                t.members
                    .iter()
                    .zip(&ids)
                    .map(|(m, (_, id))| MemberInput {
                        agent_id: id.clone(),
                        role: Some(m.crew_role.clone()),
                    })
                    .collect(),
            ),
            ..Default::default()
        },
    )?;
    for (from, kind, to) in &t.relationships {
        insert_relationship(
            tx,
            &crew.id,
            &RelationshipInput {
                from_agent_id: id_of(from)?,
                to_agent_id: id_of(to)?,
                kind: Some(*kind),
                ..Default::default()
            },
        )?;
    }
    tx.execute(
        "UPDATE crews SET template = ?2 WHERE id = ?1",
        rusqlite::params![crew.id, t.key],
    )?;
    super::load_crew(tx, &crew.id)
}
