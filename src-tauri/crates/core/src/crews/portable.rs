//! Crew import/export: a crew with its agents (every setting and skill),
//! their roles and order, the manager, the relationships and the crew's
//! settings, as one JSON or YAML document (`format: ensemble.crew`,
//! `version: 1`). Agents are referred to by a key (a slug of the name)
//! inside the document. Import reads either format, checks everything and
//! writes the agents, crew and relationships in one transaction: a bad file
//! is refused with the reason and the place, and nothing is imported.

use super::Crews;
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{
    insert_crew, insert_relationship, load_crew, Budget, CommStyle, Crew, CrewInput, MemberInput,
    Process, RelationKind, RelationshipInput,
};
use crate::agents::{insert_agent, load_agent, AgentInput, Autonomy, LearnedFrom, SkillInput};
use crate::error::{CoreError, Result};
use crate::text_enum;

pub const FORMAT: &str = "ensemble.crew";
pub const VERSION: u32 = 1;
/// The largest document accepted (characters).
pub const MAX_DOCUMENT: usize = 2 * 1024 * 1024;

text_enum! {
    pub enum ExportFormat ("export format") {
        Json = "json",
        Yaml = "yaml",
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CrewDocument {
    pub format: String,
    pub version: u32,
    pub crew: CrewSettings,
    pub agents: Vec<PortableAgent>,
    #[serde(default)]
    pub relationships: Vec<PortableRelationship>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct CrewSettings {
    pub name: String,
    #[serde(default)]
    pub goal: String,
    #[serde(default = "default_process")]
    pub process: Process,
    /// The manager's agent key.
    #[serde(default)]
    pub manager: Option<String>,
    #[serde(default = "empty_object")]
    pub strategy: serde_json::Value,
    #[serde(default = "empty_object")]
    pub shared_context: serde_json::Value,
    #[serde(default = "empty_object")]
    pub escalation_rules: serde_json::Value,
    #[serde(default)]
    pub budget: Budget,
    #[serde(default = "default_rounds")]
    pub max_rounds: u32,
}

fn default_process() -> Process {
    Process::Sequential
}

fn default_rounds() -> u32 {
    5
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct PortableSkill {
    pub skill_name: String,
    #[serde(default = "half")]
    pub proficiency: f64,
    #[serde(default = "training")]
    pub learned_from: LearnedFrom,
    #[serde(default)]
    pub examples: Vec<String>,
}

fn half() -> f64 {
    0.5
}

fn training() -> LearnedFrom {
    LearnedFrom::Training
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct PortableAgent {
    /// How relationships and the manager refer to this agent in the document.
    pub key: String,
    /// Role inside the crew.
    #[serde(default)]
    pub crew_role: String,
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default = "empty_object")]
    pub personality: serde_json::Value,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    #[serde(default = "default_steps")]
    pub max_steps: u32,
    #[serde(default = "default_depth")]
    pub max_delegation_depth: u32,
    #[serde(default = "default_autonomy")]
    pub autonomy: Autonomy,
    #[serde(default)]
    pub tool_autonomy: BTreeMap<String, Autonomy>,
    #[serde(default)]
    pub approve_final_output: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "one")]
    pub max_concurrent_tasks: u32,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub skills: Vec<PortableSkill>,
}

fn default_temperature() -> f64 {
    0.7
}
fn default_steps() -> u32 {
    8
}
fn default_depth() -> u32 {
    2
}
fn default_autonomy() -> Autonomy {
    Autonomy::Copilot
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct PortableRelationship {
    pub from: String,
    pub to: String,
    pub kind: RelationKind,
    #[serde(default = "half")]
    pub trust_level: f64,
    #[serde(default = "default_style")]
    pub communication_style: CommStyle,
    #[serde(default = "empty_object")]
    pub handoff_rules: serde_json::Value,
}

fn default_style() -> CommStyle {
    CommStyle::Async
}

/// A key for a name: lower-case letters and digits joined by '-', unique in `taken`.
fn key_for(name: &str, taken: &mut HashSet<String>) -> String {
    let base: String = name
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let base = if base.is_empty() {
        "agent".to_string()
    } else {
        base
    };
    let mut key = base.clone();
    let mut n = 2;
    while !taken.insert(key.clone()) {
        key = format!("{base}-{n}");
        n += 1;
    }
    key
}

/// Reads a document: JSON when it starts with '{', else YAML.
pub fn parse(text: &str) -> Result<CrewDocument> {
    if text.len() > MAX_DOCUMENT {
        return Err(CoreError::TooLarge {
            field: "crew file".into(),
            len: text.len(),
            max: MAX_DOCUMENT,
        });
    }
    let t = text.trim_start();
    if t.is_empty() {
        return Err(CoreError::validation("crew file", "the file is empty"));
    }
    let doc: CrewDocument = if t.starts_with('{') {
        serde_json::from_str(t).map_err(|e| {
            CoreError::validation("crew file", format!("not a valid crew file (JSON): {e}"))
        })?
    } else {
        serde_norway::from_str(t).map_err(|e| {
            CoreError::validation("crew file", format!("not a valid crew file (YAML): {e}"))
        })?
    };
    if doc.format != FORMAT {
        return Err(CoreError::validation(
            "format",
            format!(
                "expected \"{FORMAT}\", found \"{}\"; this is not an Ensemble crew file",
                doc.format
            ),
        ));
    }
    if doc.version != VERSION {
        return Err(CoreError::validation(
            "version",
            format!(
                "this Ensemble reads crew files of version {VERSION}, the file has version {}",
                doc.version
            ),
        ));
    }
    check_references(&doc)?;
    Ok(doc)
}

fn check_references(doc: &CrewDocument) -> Result<()> {
    if doc.agents.is_empty() {
        return Err(CoreError::validation(
            "agents",
            "a crew file needs at least one agent",
        ));
    }
    let mut keys = HashSet::new();
    for (i, a) in doc.agents.iter().enumerate() {
        if a.key.trim().is_empty() {
            return Err(CoreError::validation(
                format!("agents[{i}].key"),
                "must not be empty",
            ));
        }
        if !keys.insert(a.key.as_str()) {
            return Err(CoreError::validation(
                format!("agents[{i}].key"),
                format!("'{}' is used twice", a.key),
            ));
        }
    }
    if let Some(m) = &doc.crew.manager {
        if !keys.contains(m.as_str()) {
            return Err(CoreError::validation(
                "crew.manager",
                format!("no agent has the key '{m}'"),
            ));
        }
    }
    for (i, r) in doc.relationships.iter().enumerate() {
        for (end, k) in [("from", &r.from), ("to", &r.to)] {
            if !keys.contains(k.as_str()) {
                return Err(CoreError::validation(
                    format!("relationships[{i}].{end}"),
                    format!("no agent has the key '{k}'"),
                ));
            }
        }
    }
    Ok(())
}

/// Prefixes an error with where in the document it comes from.
fn at(place: String, e: CoreError) -> CoreError {
    match e {
        CoreError::Validation { field, message } => {
            CoreError::validation(format!("{place}.{field}"), message)
        }
        CoreError::TooLarge { field, len, max } => CoreError::TooLarge {
            field: format!("{place}.{field}"),
            len,
            max,
        },
        other => other,
    }
}

impl Crews<'_> {
    /// The crew as a document.
    pub fn export_document(&self, crew_id: &str) -> Result<CrewDocument> {
        self.core.read(|c| {
            let crew = load_crew(c, crew_id)?;
            let mut taken = HashSet::new();
            let mut key_of = BTreeMap::new();
            let mut agents = Vec::new();
            for m in &crew.members {
                let a = load_agent(c, &m.agent_id)?;
                let key = key_for(&a.name, &mut taken);
                key_of.insert(a.id.clone(), key.clone());
                agents.push(PortableAgent {
                    key,
                    crew_role: m.role.clone(),
                    name: a.name,
                    role: a.role,
                    description: a.description,
                    system_prompt: a.system_prompt,
                    personality: a.personality,
                    capabilities: a.capabilities,
                    allowed_tools: a.allowed_tools,
                    provider: a.provider,
                    model: a.model,
                    temperature: a.temperature,
                    max_steps: a.max_steps,
                    max_delegation_depth: a.max_delegation_depth,
                    autonomy: a.autonomy,
                    tool_autonomy: a.tool_autonomy,
                    approve_final_output: a.approve_final_output,
                    enabled: a.enabled,
                    max_concurrent_tasks: a.max_concurrent_tasks,
                    template: a.template,
                    skills: a
                        .skills
                        .into_iter()
                        .map(|s| PortableSkill {
                            skill_name: s.skill_name,
                            proficiency: s.proficiency,
                            learned_from: s.learned_from,
                            examples: s.examples,
                        })
                        .collect(),
                });
            }
            let key = |id: &str| {
                key_of.get(id).cloned().ok_or_else(|| {
                    CoreError::Internal(format!("agent {id} is related but not a member"))
                })
            };
            let relationships = crew
                .relationships
                .iter()
                .map(|r| {
                    Ok(PortableRelationship {
                        from: key(&r.from_agent_id)?,
                        to: key(&r.to_agent_id)?,
                        kind: r.kind,
                        trust_level: r.trust_level,
                        communication_style: r.communication_style,
                        handoff_rules: r.handoff_rules.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(CrewDocument {
                format: FORMAT.into(),
                version: VERSION,
                crew: CrewSettings {
                    name: crew.name,
                    goal: crew.goal,
                    process: crew.process,
                    manager: crew.manager_agent_id.as_deref().map(key).transpose()?,
                    strategy: crate::store::row::to_value(&crew.strategy)?,
                    shared_context: crew.shared_context,
                    escalation_rules: crew.escalation_rules,
                    budget: crew.budget,
                    max_rounds: crew.max_rounds,
                },
                agents,
                relationships,
            })
        })
    }

    /// The crew as JSON or YAML text.
    pub fn export(&self, crew_id: &str, format: ExportFormat) -> Result<String> {
        crate::validate::id("id", crew_id)?;
        let doc = self.export_document(crew_id)?;
        match format {
            ExportFormat::Json => serde_json::to_string_pretty(&doc)
                .map_err(|e| CoreError::Internal(format!("cannot write the crew as JSON: {e}"))),
            ExportFormat::Yaml => serde_norway::to_string(&doc)
                .map_err(|e| CoreError::Internal(format!("cannot write the crew as YAML: {e}"))),
        }
    }

    /// Imports a crew file (JSON or YAML): new agents, the crew and its
    /// relationships, all in one transaction.
    pub fn import(&self, text: &str) -> Result<Crew> {
        let doc = parse(text)?;
        let default_autonomy = self.core.settings()?.default_autonomy;
        self.core.write(|tx| {
            let mut ids: BTreeMap<&str, String> = BTreeMap::new();
            for (i, a) in doc.agents.iter().enumerate() {
                let input = AgentInput {
                    name: Some(a.name.clone()),
                    template: a.template.clone(),
                    role: Some(a.role.clone()),
                    description: Some(a.description.clone()),
                    system_prompt: Some(a.system_prompt.clone()),
                    personality: Some(a.personality.clone()),
                    capabilities: Some(a.capabilities.clone()),
                    allowed_tools: Some(a.allowed_tools.clone()),
                    provider: Some(a.provider.clone().unwrap_or_default()),
                    model: Some(a.model.clone().unwrap_or_default()),
                    temperature: Some(a.temperature),
                    max_steps: Some(i64::from(a.max_steps)),
                    max_delegation_depth: Some(i64::from(a.max_delegation_depth)),
                    autonomy: Some(a.autonomy),
                    tool_autonomy: Some(a.tool_autonomy.clone()),
                    approve_final_output: Some(a.approve_final_output),
                    enabled: Some(a.enabled),
                    max_concurrent_tasks: Some(i64::from(a.max_concurrent_tasks)),
                    skills: Some(
                        a.skills
                            .iter()
                            .map(|s| SkillInput {
                                skill_name: s.skill_name.clone(),
                                proficiency: Some(s.proficiency),
                                learned_from: Some(s.learned_from),
                                examples: Some(s.examples.clone()),
                            })
                            .collect(),
                    ),
                };
                let agent = insert_agent(tx, &input, default_autonomy)
                    .map_err(|e| at(format!("agents[{i}] ({})", a.key), e))?;
                ids.insert(a.key.as_str(), agent.id);
            }
            let id = |k: &str| {
                ids.get(k).cloned().ok_or_else(|| {
                    CoreError::validation("agents", format!("no agent has the key '{k}'"))
                })
            };
            let c = &doc.crew;
            let crew = insert_crew(
                tx,
                &CrewInput {
                    name: Some(c.name.clone()),
                    goal: Some(c.goal.clone()),
                    process: Some(c.process),
                    manager_agent_id: c.manager.as_deref().map(id).transpose()?,
                    strategy: Some(c.strategy.clone()),
                    shared_context: Some(c.shared_context.clone()),
                    escalation_rules: Some(c.escalation_rules.clone()),
                    budget: Some(c.budget.clone()),
                    max_rounds: Some(i64::from(c.max_rounds)),
                    members: Some(
                        doc.agents
                            .iter()
                            .map(|a| {
                                Ok(MemberInput {
                                    agent_id: id(&a.key)?,
                                    role: Some(a.crew_role.clone()),
                                })
                            })
                            .collect::<Result<Vec<_>>>()?,
                    ),
                },
            )
            .map_err(|e| at("crew".into(), e))?;
            for (i, r) in doc.relationships.iter().enumerate() {
                insert_relationship(
                    tx,
                    &crew.id,
                    &RelationshipInput {
                        from_agent_id: id(&r.from)?,
                        to_agent_id: id(&r.to)?,
                        kind: Some(r.kind),
                        trust_level: Some(r.trust_level),
                        communication_style: Some(r.communication_style),
                        handoff_rules: Some(r.handoff_rules.clone()),
                    },
                )
                .map_err(|e| at(format!("relationships[{i}]"), e))?;
            }
            load_crew(tx, &crew.id)
        })
    }
}
