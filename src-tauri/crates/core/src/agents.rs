//! Agents and their skills: create (optionally from a template), read, update,
//! delete and list with filters and paging.

use std::collections::BTreeMap;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{self, query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};

text_enum! {
    /// How much an agent may do without a human (SPEC §2).
    pub enum Autonomy ("autonomy") {
        Manual = "manual",
        Copilot = "copilot",
        Autopilot = "autopilot",
    }
}

text_enum! {
    /// Runtime status reported by the agent's worker.
    pub enum AgentStatus ("agent status") {
        Idle = "idle",
        Busy = "busy",
        Paused = "paused",
        Error = "error",
        Offline = "offline",
    }
}

text_enum! {
    pub enum LearnedFrom ("learned_from") {
        Training = "training",
        Observation = "observation",
        Practice = "practice",
        Feedback = "feedback",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct AgentSkill {
    pub id: Id,
    pub agent_id: Id,
    pub skill_name: String,
    pub proficiency: f64,
    pub times_used: u32,
    pub success_rate: f64,
    pub learned_from: LearnedFrom,
    pub examples: Vec<String>,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Agent {
    pub id: Id,
    pub name: String,
    pub role: String,
    pub description: String,
    pub system_prompt: String,
    pub personality: serde_json::Value,
    pub capabilities: Vec<String>,
    pub allowed_tools: Vec<String>,
    /// Provider config name; `None` = the app default.
    pub provider: Option<String>,
    /// Model name; `None` = the provider's default.
    pub model: Option<String>,
    pub temperature: f64,
    pub max_steps: u32,
    pub max_delegation_depth: u32,
    pub autonomy: Autonomy,
    /// Per-tool overrides of `autonomy`.
    pub tool_autonomy: BTreeMap<String, Autonomy>,
    /// In copilot mode, also ask before the final answer is delivered.
    pub approve_final_output: bool,
    pub template: Option<String>,
    pub enabled: bool,
    pub status: AgentStatus,
    pub last_heartbeat: Option<Timestamp>,
    pub max_concurrent_tasks: u32,
    pub skills: Vec<AgentSkill>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Agent {
    /// The first line of the agent's instructions: its own system prompt, or
    /// "You are <name>, a <role>." (`fallback_role` when it has none).
    pub fn identity(&self, fallback_role: &str) -> String {
        let own = self.system_prompt.trim();
        if !own.is_empty() {
            return own.to_string();
        }
        let role = if self.role.is_empty() {
            fallback_role
        } else {
            &self.role
        };
        format!("You are {}, a {role}.", self.name)
    }

    /// "\nStyle — tone: warm, verbosity: concise." from the personality's
    /// text traits; empty when it has none.
    pub fn style_line(&self) -> String {
        let traits: Vec<String> = self
            .personality
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}: {v}")))
                    .collect()
            })
            .unwrap_or_default();
        if traits.is_empty() {
            String::new()
        } else {
            format!("\nStyle — {}.", traits.join(", "))
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct SkillInput {
    pub skill_name: String,
    #[ts(optional)]
    pub proficiency: Option<f64>,
    #[ts(optional)]
    pub learned_from: Option<LearnedFrom>,
    #[ts(optional)]
    pub examples: Option<Vec<String>>,
}

/// Fields to create or change an agent. On create, `name` is required and
/// unset fields come from the template (if any) or the defaults; on update,
/// unset fields are left as they are. An empty `provider`/`model` means "app default".
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AgentInput {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub template: Option<String>,
    #[ts(optional)]
    pub role: Option<String>,
    #[ts(optional)]
    pub description: Option<String>,
    #[ts(optional)]
    pub system_prompt: Option<String>,
    #[ts(optional)]
    pub personality: Option<serde_json::Value>,
    #[ts(optional)]
    pub capabilities: Option<Vec<String>>,
    #[ts(optional)]
    pub allowed_tools: Option<Vec<String>>,
    #[ts(optional)]
    pub provider: Option<String>,
    #[ts(optional)]
    pub model: Option<String>,
    #[ts(optional)]
    pub temperature: Option<f64>,
    #[ts(optional)]
    pub max_steps: Option<i64>,
    #[ts(optional)]
    pub max_delegation_depth: Option<i64>,
    #[ts(optional)]
    pub autonomy: Option<Autonomy>,
    #[ts(optional)]
    pub tool_autonomy: Option<BTreeMap<String, Autonomy>>,
    #[ts(optional)]
    pub approve_final_output: Option<bool>,
    #[ts(optional)]
    pub enabled: Option<bool>,
    #[ts(optional)]
    pub max_concurrent_tasks: Option<i64>,
    #[ts(optional)]
    pub skills: Option<Vec<SkillInput>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AgentFilter {
    /// Matches name, role or description (case-insensitive substring).
    #[ts(optional)]
    pub search: Option<String>,
    #[ts(optional)]
    pub role: Option<String>,
    #[ts(optional)]
    pub capability: Option<String>,
    #[ts(optional)]
    pub enabled: Option<bool>,
    #[ts(optional)]
    pub status: Option<AgentStatus>,
}

/// The hard cap on delegation depth (SPEC §2).
pub const MAX_DELEGATION_DEPTH: u32 = 3;

const COLS: &str = "id, name, role, description, system_prompt, personality, capabilities, \
    allowed_tools, provider, model, temperature, max_steps, max_delegation_depth, autonomy, \
    tool_autonomy, approve_final_output, template, enabled, status, last_heartbeat, \
    max_concurrent_tasks, created_at, updated_at";

fn agent_from_row(r: &rusqlite::Row<'_>) -> Result<Agent> {
    let c = RowCtx::new(r, "agent")?;
    Ok(Agent {
        id: c.get("id")?,
        name: c.get("name")?,
        role: c.get("role")?,
        description: c.get("description")?,
        system_prompt: c.get("system_prompt")?,
        personality: c.json("personality")?,
        capabilities: c.json("capabilities")?,
        allowed_tools: c.json("allowed_tools")?,
        provider: c.get("provider")?,
        model: c.get("model")?,
        temperature: c.get("temperature")?,
        max_steps: c.u32("max_steps")?,
        max_delegation_depth: c.u32("max_delegation_depth")?,
        autonomy: c.parse("autonomy")?,
        tool_autonomy: c.json("tool_autonomy")?,
        approve_final_output: c.bool("approve_final_output")?,
        template: c.get("template")?,
        enabled: c.bool("enabled")?,
        status: c.parse("status")?,
        last_heartbeat: c.ts_opt("last_heartbeat")?,
        max_concurrent_tasks: c.u32("max_concurrent_tasks")?,
        skills: Vec::new(),
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn skill_from_row(r: &rusqlite::Row<'_>) -> Result<AgentSkill> {
    let c = RowCtx::new(r, "agent skill")?;
    Ok(AgentSkill {
        id: c.get("id")?,
        agent_id: c.get("agent_id")?,
        skill_name: c.get("skill_name")?,
        proficiency: c.get("proficiency")?,
        times_used: c.u32("times_used")?,
        success_rate: c.get("success_rate")?,
        learned_from: c.parse("learned_from")?,
        examples: c.json("examples")?,
        last_used_at: c.ts_opt("last_used_at")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

/// Reads one agent with its skills.
pub fn load_agent(conn: &Connection, id: &str) -> Result<Agent> {
    let sql = format!("SELECT {COLS} FROM agents WHERE id = ?1");
    let mut agent = query_one(conn, &sql, [id], agent_from_row)?
        .ok_or_else(|| CoreError::not_found("agent", id))?;
    agent.skills = load_skills(conn, id)?;
    Ok(agent)
}

fn load_skills(conn: &Connection, agent_id: &str) -> Result<Vec<AgentSkill>> {
    query_all(
        conn,
        "SELECT * FROM agent_skills WHERE agent_id = ?1 ORDER BY skill_name",
        [agent_id],
        skill_from_row,
    )
}

/// Validated, complete field values of an agent.
struct Fields {
    name: String,
    role: String,
    description: String,
    system_prompt: String,
    personality: serde_json::Value,
    capabilities: Vec<String>,
    allowed_tools: Vec<String>,
    provider: Option<String>,
    model: Option<String>,
    temperature: f64,
    max_steps: u32,
    max_delegation_depth: u32,
    autonomy: Autonomy,
    tool_autonomy: BTreeMap<String, Autonomy>,
    approve_final_output: bool,
    template: Option<String>,
    enabled: bool,
    max_concurrent_tasks: u32,
}

fn empty_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Applies `input` over `base` and validates every field.
fn merge(base: Fields, input: &AgentInput) -> Result<Fields> {
    let personality = input.personality.clone().unwrap_or(base.personality);
    if !personality.is_object() {
        return Err(CoreError::validation(
            "personality",
            "must be an object such as {\"tone\": \"friendly\"}",
        ));
    }
    let temperature = input.temperature.unwrap_or(base.temperature);
    if !(0.0..=2.0).contains(&temperature) || temperature.is_nan() {
        return Err(CoreError::validation(
            "temperature",
            format!("must be between 0 and 2, got {temperature}"),
        ));
    }
    let mut tool_autonomy = BTreeMap::new();
    for (tool, level) in input.tool_autonomy.clone().unwrap_or(base.tool_autonomy) {
        let key = validate::labels("tool_autonomy", &[tool])?;
        if let Some(k) = key.into_iter().next() {
            tool_autonomy.insert(k, level);
        }
    }
    Ok(Fields {
        name: match &input.name {
            Some(n) => validate::name("name", n)?,
            None => base.name,
        },
        role: validate::short_text("role", input.role.as_deref().unwrap_or(&base.role))?
            .trim()
            .to_string(),
        description: validate::short_text(
            "description",
            input.description.as_deref().unwrap_or(&base.description),
        )?,
        system_prompt: validate::text(
            "system_prompt",
            input
                .system_prompt
                .as_deref()
                .unwrap_or(&base.system_prompt),
        )?,
        personality,
        capabilities: validate::labels(
            "capabilities",
            input.capabilities.as_deref().unwrap_or(&base.capabilities),
        )?,
        allowed_tools: validate::labels(
            "allowed_tools",
            input
                .allowed_tools
                .as_deref()
                .unwrap_or(&base.allowed_tools),
        )?,
        provider: match &input.provider {
            Some(p) => empty_to_none(Some(validate::name_or_empty("provider", p)?)),
            None => base.provider,
        },
        model: match &input.model {
            Some(m) => empty_to_none(Some(validate::name_or_empty("model", m)?)),
            None => base.model,
        },
        temperature,
        max_steps: match input.max_steps {
            Some(v) => validate::range_u32("max_steps", v, 1, 100)?,
            None => base.max_steps,
        },
        max_delegation_depth: match input.max_delegation_depth {
            Some(v) => validate::range_u32("max_delegation_depth", v, 0, MAX_DELEGATION_DEPTH)?,
            None => base.max_delegation_depth,
        },
        autonomy: input.autonomy.unwrap_or(base.autonomy),
        tool_autonomy,
        approve_final_output: input
            .approve_final_output
            .unwrap_or(base.approve_final_output),
        template: base.template,
        enabled: input.enabled.unwrap_or(base.enabled),
        max_concurrent_tasks: match input.max_concurrent_tasks {
            Some(v) => validate::range_u32("max_concurrent_tasks", v, 1, 64)?,
            None => base.max_concurrent_tasks,
        },
    })
}

fn defaults(template: Option<&str>, default_autonomy: Autonomy) -> Result<Fields> {
    let mut f = Fields {
        name: String::new(),
        role: String::new(),
        description: String::new(),
        system_prompt: String::new(),
        personality: serde_json::json!({}),
        capabilities: Vec::new(),
        allowed_tools: Vec::new(),
        provider: None,
        model: None,
        temperature: 0.7,
        max_steps: 8,
        max_delegation_depth: 2,
        autonomy: default_autonomy,
        tool_autonomy: BTreeMap::new(),
        approve_final_output: false,
        template: None,
        enabled: true,
        max_concurrent_tasks: 1,
    };
    if let Some(key) = template.map(str::trim).filter(|k| !k.is_empty()) {
        let t = crate::templates::agent_template(key).ok_or_else(|| {
            CoreError::validation(
                "template",
                format!(
                    "unknown template '{key}'; expected one of: {}",
                    crate::templates::agent_template_keys()
                ),
            )
        })?;
        f.name = t.name;
        f.role = t.role;
        f.description = t.description;
        f.system_prompt = t.system_prompt;
        f.personality = t.personality;
        f.capabilities = t.capabilities;
        f.allowed_tools = t.allowed_tools;
        f.autonomy = t.autonomy;
        f.template = Some(t.key);
    }
    Ok(f)
}

fn fields_of(a: &Agent) -> Fields {
    Fields {
        name: a.name.clone(),
        role: a.role.clone(),
        description: a.description.clone(),
        system_prompt: a.system_prompt.clone(),
        personality: a.personality.clone(),
        capabilities: a.capabilities.clone(),
        allowed_tools: a.allowed_tools.clone(),
        provider: a.provider.clone(),
        model: a.model.clone(),
        temperature: a.temperature,
        max_steps: a.max_steps,
        max_delegation_depth: a.max_delegation_depth,
        autonomy: a.autonomy,
        tool_autonomy: a.tool_autonomy.clone(),
        approve_final_output: a.approve_final_output,
        template: a.template.clone(),
        enabled: a.enabled,
        max_concurrent_tasks: a.max_concurrent_tasks,
    }
}

pub(crate) fn write_skills(tx: &Tx<'_>, agent_id: &str, skills: &[SkillInput]) -> Result<()> {
    tx.execute("DELETE FROM agent_skills WHERE agent_id = ?1", [agent_id])?;
    let now = time::now_sql();
    for s in skills {
        let names = validate::labels("skills", std::slice::from_ref(&s.skill_name))?;
        let Some(name) = names.into_iter().next() else {
            return Err(CoreError::validation("skills", "a skill needs a name"));
        };
        let proficiency = validate::unit_interval("proficiency", s.proficiency.unwrap_or(0.5))?;
        let examples = s.examples.clone().unwrap_or_default();
        for e in &examples {
            validate::short_text("examples", e)?;
        }
        tx.execute(
            "INSERT INTO agent_skills (id, agent_id, skill_name, proficiency, learned_from, examples, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT (agent_id, skill_name) DO UPDATE SET proficiency = excluded.proficiency,
                 learned_from = excluded.learned_from, examples = excluded.examples, updated_at = excluded.updated_at",
            params![new_id(), agent_id, name, proficiency, s.learned_from.unwrap_or(LearnedFrom::Training), to_json(&examples)?, now],
        )?;
    }
    Ok(())
}

fn check_provider(tx: &Tx<'_>, provider: Option<&str>) -> Result<()> {
    let Some(p) = provider else { return Ok(()) };
    let known: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM provider_configs WHERE name = ?1)",
        [p],
        |r| r.get(0),
    )?;
    if !known {
        let names: Vec<String> = query_all(
            tx,
            "SELECT name FROM provider_configs ORDER BY name",
            [],
            |r| Ok(r.get::<_, String>(0)?),
        )?;
        return Err(CoreError::validation(
            "provider",
            format!(
                "unknown provider '{p}'; configured providers: {}",
                names.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Inserts a validated agent inside an open transaction (services that
/// create agents as part of a larger write: crew templates, crew import).
pub fn insert_agent(
    tx: &mut Tx<'_>,
    input: &AgentInput,
    default_autonomy: Autonomy,
) -> Result<Agent> {
    let base = defaults(input.template.as_deref(), default_autonomy)?;
    if input.name.is_none() && base.name.is_empty() {
        return Err(CoreError::validation("name", "must not be empty"));
    }
    let f = merge(base, input)?;
    let id = new_id();
    check_provider(tx, f.provider.as_deref())?;
    let now = time::now_sql();
    tx.execute(
        &format!("INSERT INTO agents ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, 'idle', NULL, ?19, ?20, ?20)"),
        params![
            id, f.name, f.role, f.description, f.system_prompt, to_json(&f.personality)?,
            to_json(&f.capabilities)?, to_json(&f.allowed_tools)?, f.provider, f.model,
            f.temperature, f.max_steps, f.max_delegation_depth, f.autonomy,
            to_json(&f.tool_autonomy)?, f.approve_final_output, f.template, f.enabled,
            f.max_concurrent_tasks, now
        ],
    )?;
    if let Some(skills) = &input.skills {
        write_skills(tx, &id, skills)?;
    }
    tx.changed(Entity::Agent, ChangeOp::Created, &id);
    load_agent(tx, &id)
}

/// The agents room: agent records, their skills and status: `core.agents()`.
#[derive(Clone, Copy)]
pub struct Agents<'a> {
    pub(crate) core: &'a Core,
}

impl Agents<'_> {
    pub fn create(&self, input: AgentInput) -> Result<Agent> {
        let default_autonomy = self.core.settings()?.default_autonomy;
        self.core
            .write(|tx| insert_agent(tx, &input, default_autonomy))
    }

    pub fn get(&self, id: &str) -> Result<Agent> {
        self.core.read(|c| load_agent(c, id))
    }

    pub fn update(&self, id: &str, input: AgentInput) -> Result<Agent> {
        if input.template.is_some() {
            return Err(CoreError::validation(
                "template",
                "a template applies only when an agent is created",
            ));
        }
        self.core.write(|tx| {
            let current = load_agent(tx, id)?;
            let f = merge(fields_of(&current), &input)?;
            check_provider(tx, f.provider.as_deref())?;
            tx.execute(
                "UPDATE agents SET name = ?2, role = ?3, description = ?4, system_prompt = ?5, personality = ?6,
                    capabilities = ?7, allowed_tools = ?8, provider = ?9, model = ?10, temperature = ?11,
                    max_steps = ?12, max_delegation_depth = ?13, autonomy = ?14, tool_autonomy = ?15,
                    approve_final_output = ?16, enabled = ?17, max_concurrent_tasks = ?18, updated_at = ?19
                 WHERE id = ?1",
                params![
                    id, f.name, f.role, f.description, f.system_prompt, to_json(&f.personality)?,
                    to_json(&f.capabilities)?, to_json(&f.allowed_tools)?, f.provider, f.model,
                    f.temperature, f.max_steps, f.max_delegation_depth, f.autonomy,
                    to_json(&f.tool_autonomy)?, f.approve_final_output, f.enabled,
                    f.max_concurrent_tasks, time::now_sql()
                ],
            )?;
            if let Some(skills) = &input.skills {
                write_skills(tx, id, skills)?;
            }
            tx.changed(Entity::Agent, ChangeOp::Updated, id);
            load_agent(tx, id)
        })
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        self.core.write(|tx| {
            let n = tx.execute("DELETE FROM agents WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(CoreError::not_found("agent", id));
            }
            tx.changed(Entity::Agent, ChangeOp::Deleted, id);
            Ok(())
        })
    }

    pub fn list(&self, filter: &AgentFilter, paging: Paging) -> Result<Page<Agent>> {
        let mut clauses = Vec::new();
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(s) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            args.push(Box::new(format!("%{}%", s.to_lowercase())));
            let n = args.len();
            clauses.push(format!(
                "(lower(name) LIKE ?{n} OR lower(role) LIKE ?{n} OR lower(description) LIKE ?{n})"
            ));
        }
        if let Some(role) = &filter.role {
            args.push(Box::new(role.trim().to_lowercase()));
            clauses.push(format!("lower(role) = ?{}", args.len()));
        }
        if let Some(cap) = &filter.capability {
            args.push(Box::new(cap.trim().to_lowercase()));
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM json_each(agents.capabilities) WHERE value = ?{})",
                args.len()
            ));
        }
        if let Some(enabled) = filter.enabled {
            args.push(Box::new(enabled));
            clauses.push(format!("enabled = ?{}", args.len()));
        }
        if let Some(status) = filter.status {
            args.push(Box::new(status));
            clauses.push(format!("status = ?{}", args.len()));
        }
        let wher = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let (limit, offset) = (paging.limit(), paging.offset());
        self.core.store().read_tx(|c| {
            let params = rusqlite::params_from_iter(args.iter());
            let total: u64 = c.query_row(&format!("SELECT count(*) FROM agents {wher}"), params, |r| r.get(0))?;
            let sql = format!(
                "SELECT {COLS} FROM agents {wher} ORDER BY lower(name), id LIMIT {limit} OFFSET {offset}"
            );
            let mut items = query_all(c, &sql, rusqlite::params_from_iter(args.iter()), agent_from_row)?;
            for a in &mut items {
                a.skills = load_skills(c, &a.id)?;
            }
            Ok(Page { items, total, limit, offset })
        })
    }

    /// Sets an agent's runtime status and heartbeat (used by its worker).
    pub fn set_status(&self, id: &str, status: AgentStatus) -> Result<()> {
        self.core.write(|tx| {
            let now = time::now_sql();
            let n = tx.execute(
                "UPDATE agents SET status = ?2, last_heartbeat = ?3, updated_at = ?3 WHERE id = ?1",
                params![id, status, now],
            )?;
            if n == 0 {
                return Err(CoreError::not_found("agent", id));
            }
            tx.changed(Entity::Agent, ChangeOp::Updated, id);
            Ok(())
        })
    }
}

/// Whether the agent exists (for foreign-key checks with a clear message).
pub fn ensure_agent(conn: &Connection, id: &str) -> Result<()> {
    if row::exists(conn, "agents", id)? {
        Ok(())
    } else {
        Err(CoreError::not_found("agent", id))
    }
}
