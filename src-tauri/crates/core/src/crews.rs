//! Crews (teams of agents): members in order, a process, an optional manager,
//! relationships between members, budgets; and the relationship queries
//! "who supervises X", "whom does X supervise", "may X delegate to Y".
//! Running a crew lives in the submodules: the stored runs ([`run`]), the
//! engine and its processes ([`engine`], [`process`]), the expert gate
//! ([`gate`]), learning from outcomes ([`learning`]), crew templates
//! ([`templates`]) and import/export ([`portable`]).

pub mod engine;
pub mod gate;
pub mod learning;
pub mod portable;
pub mod process;
pub mod run;
pub mod templates;

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::{self, query_all, query_one, to_json, RowCtx};
use crate::store::Tx;
use crate::time::{self, Timestamp};
use crate::{new_id, text_enum, validate, Core, Id, Page, Paging};
pub use gate::RoutingConfig;

text_enum! {
    /// How a crew works together (SPEC §4).
    pub enum Process ("process") {
        Sequential = "sequential",
        Hierarchical = "hierarchical",
        PeerReview = "peer_review",
        Consensus = "consensus",
        Routed = "routed",
    }
}

text_enum! {
    pub enum CrewStatus ("crew status") {
        Idle = "idle",
        Planning = "planning",
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Stopped = "stopped",
    }
}

text_enum! {
    pub enum RelationKind ("relationship type") {
        Supervises = "supervises",
        DelegatesTo = "delegates_to",
        CollaboratesWith = "collaborates_with",
        ReportsTo = "reports_to",
        Consults = "consults",
    }
}

text_enum! {
    pub enum CommStyle ("communication style") {
        Sync = "sync",
        Async = "async",
        Broadcast = "broadcast",
    }
}

/// Caps per crew run; a run stops cleanly when one is reached.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Budget {
    #[ts(type = "number | null")]
    pub max_tokens: Option<u64>,
    pub max_cost: Option<f64>,
    #[ts(type = "number | null")]
    pub max_wall_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct CrewMember {
    pub agent_id: Id,
    pub agent_name: String,
    pub position: u32,
    /// Role inside this crew (e.g. "author", "reviewer"); may differ from the agent's role.
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Relationship {
    pub id: Id,
    pub crew_id: Id,
    pub from_agent_id: Id,
    pub to_agent_id: Id,
    pub kind: RelationKind,
    pub trust_level: f64,
    pub communication_style: CommStyle,
    pub handoff_rules: serde_json::Value,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Crew {
    pub id: Id,
    pub name: String,
    pub goal: String,
    pub process: Process,
    pub manager_agent_id: Option<Id>,
    /// How the routed process picks who answers (the defaults for the
    /// other processes, which do not read it).
    pub strategy: RoutingConfig,
    pub shared_context: serde_json::Value,
    pub escalation_rules: serde_json::Value,
    pub budget: Budget,
    pub max_rounds: u32,
    pub status: CrewStatus,
    pub template: Option<String>,
    pub members: Vec<CrewMember>,
    pub relationships: Vec<Relationship>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct MemberInput {
    pub agent_id: Id,
    #[ts(optional)]
    pub role: Option<String>,
}

/// Fields to create or change a crew; on update, unset fields stay. `members`
/// replaces the member list (in order). An empty `manager_agent_id` clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct CrewInput {
    #[ts(optional)]
    pub name: Option<String>,
    #[ts(optional)]
    pub goal: Option<String>,
    #[ts(optional)]
    pub process: Option<Process>,
    #[ts(optional)]
    pub manager_agent_id: Option<String>,
    /// The routing settings as JSON (`{"strategy": "top_k", "k": 2, …}`),
    /// read by [`RoutingConfig::from_value`], which names a bad field;
    /// missing keys take their defaults.
    #[ts(optional)]
    pub strategy: Option<serde_json::Value>,
    #[ts(optional)]
    pub shared_context: Option<serde_json::Value>,
    #[ts(optional)]
    pub escalation_rules: Option<serde_json::Value>,
    #[ts(optional)]
    pub budget: Option<Budget>,
    #[ts(optional)]
    pub max_rounds: Option<i64>,
    #[ts(optional)]
    pub members: Option<Vec<MemberInput>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct RelationshipInput {
    pub from_agent_id: Id,
    pub to_agent_id: Id,
    #[ts(optional)]
    pub kind: Option<RelationKind>,
    #[ts(optional)]
    pub trust_level: Option<f64>,
    #[ts(optional)]
    pub communication_style: Option<CommStyle>,
    #[ts(optional)]
    pub handoff_rules: Option<serde_json::Value>,
}

const COLS: &str = "id, name, goal, process, manager_agent_id, strategy, shared_context, \
    escalation_rules, budget, max_rounds, status, template, created_at, updated_at";

fn crew_from_row(r: &rusqlite::Row<'_>) -> Result<Crew> {
    let c = RowCtx::new(r, "crew")?;
    Ok(Crew {
        id: c.get("id")?,
        name: c.get("name")?,
        goal: c.get("goal")?,
        process: c.parse("process")?,
        manager_agent_id: c.get("manager_agent_id")?,
        strategy: c.json_via("strategy", RoutingConfig::from_value)?,
        shared_context: c.json("shared_context")?,
        escalation_rules: c.json("escalation_rules")?,
        budget: c.json("budget")?,
        max_rounds: c.u32("max_rounds")?,
        status: c.parse("status")?,
        template: c.get("template")?,
        members: Vec::new(),
        relationships: Vec::new(),
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn relationship_from_row(r: &rusqlite::Row<'_>) -> Result<Relationship> {
    let c = RowCtx::new(r, "relationship")?;
    Ok(Relationship {
        id: c.get("id")?,
        crew_id: c.get("crew_id")?,
        from_agent_id: c.get("from_agent_id")?,
        to_agent_id: c.get("to_agent_id")?,
        kind: c.parse("kind")?,
        trust_level: c.get("trust_level")?,
        communication_style: c.parse("communication_style")?,
        handoff_rules: c.json("handoff_rules")?,
        created_at: c.ts("created_at")?,
        updated_at: c.ts("updated_at")?,
    })
}

fn fill(conn: &Connection, crew: &mut Crew) -> Result<()> {
    crew.members = query_all(
        conn,
        "SELECT m.agent_id, a.name, m.position, m.role FROM crew_members m JOIN agents a ON a.id = m.agent_id
         WHERE m.crew_id = ?1 ORDER BY m.position",
        [&crew.id],
        |r| {
            Ok(CrewMember {
                agent_id: r.get(0)?,
                agent_name: r.get(1)?,
                position: r.get(2)?,
                role: r.get(3)?,
            })
        },
    )?;
    crew.relationships = query_all(
        conn,
        "SELECT * FROM relationships WHERE crew_id = ?1 ORDER BY created_at, id",
        [&crew.id],
        relationship_from_row,
    )?;
    Ok(())
}

pub fn load_crew(conn: &Connection, id: &str) -> Result<Crew> {
    let sql = format!("SELECT {COLS} FROM crews WHERE id = ?1");
    let mut crew = query_one(conn, &sql, [id], crew_from_row)?
        .ok_or_else(|| CoreError::not_found("crew", id))?;
    fill(conn, &mut crew)?;
    Ok(crew)
}

fn json_object(field: &str, v: Option<&serde_json::Value>) -> Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_object() => {
            let text = to_json(v)?;
            validate::max_len(field, &text, validate::MAX_TEXT)?;
            Ok(Some(text))
        }
        Some(_) => Err(CoreError::validation(field, "must be an object")),
    }
}

/// The routing settings a caller gives, checked when they are written (not
/// first when the crew runs).
fn routing(v: Option<&serde_json::Value>) -> Result<Option<RoutingConfig>> {
    let Some(v) = v else { return Ok(None) };
    json_object("strategy", Some(v))?;
    RoutingConfig::from_value(v).map(Some)
}

fn check_budget(b: &Budget) -> Result<()> {
    if let Some(c) = b.max_cost {
        if c.is_nan() || c < 0.0 {
            return Err(CoreError::validation(
                "budget.max_cost",
                "must be zero or more",
            ));
        }
    }
    Ok(())
}

fn write_members(tx: &Tx<'_>, crew_id: &str, members: &[MemberInput]) -> Result<()> {
    if members.len() > validate::MAX_LIST {
        return Err(CoreError::validation(
            "members",
            format!("at most {} members", validate::MAX_LIST),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for m in members {
        crate::agents::ensure_agent(tx, &m.agent_id)?;
        if !seen.insert(m.agent_id.clone()) {
            return Err(CoreError::validation(
                "members",
                format!("agent {} is listed twice", m.agent_id),
            ));
        }
    }
    tx.execute("DELETE FROM crew_members WHERE crew_id = ?1", [crew_id])?;
    // Relationships only make sense between members.
    tx.execute(
        "DELETE FROM relationships WHERE crew_id = ?1 AND (from_agent_id NOT IN (SELECT value FROM json_each(?2))
            OR to_agent_id NOT IN (SELECT value FROM json_each(?2)))",
        params![crew_id, to_json(&members.iter().map(|m| &m.agent_id).collect::<Vec<_>>())?],
    )?;
    let now = time::now_sql();
    for (i, m) in members.iter().enumerate() {
        let role = validate::short_text("role", m.role.as_deref().unwrap_or(""))?;
        tx.execute(
            "INSERT INTO crew_members (crew_id, agent_id, position, role, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![crew_id, m.agent_id, i as i64, role.trim(), now],
        )?;
    }
    Ok(())
}

fn check_manager(tx: &Tx<'_>, crew_id: &str, manager: Option<&str>) -> Result<()> {
    let Some(m) = manager else { return Ok(()) };
    crate::agents::ensure_agent(tx, m)?;
    let member: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM crew_members WHERE crew_id = ?1 AND agent_id = ?2)",
        params![crew_id, m],
        |r| r.get(0),
    )?;
    if !member {
        return Err(CoreError::validation(
            "manager_agent_id",
            "the manager must be a member of the crew",
        ));
    }
    Ok(())
}

/// Inserts a validated crew (with its members and manager) inside an open
/// transaction (crew templates and imports create several records at once).
pub fn insert_crew(tx: &mut Tx<'_>, input: &CrewInput) -> Result<Crew> {
    let name = validate::name("name", input.name.as_deref().unwrap_or(""))?;
    let goal = validate::text("goal", input.goal.as_deref().unwrap_or(""))?;
    let max_rounds = validate::range_u32("max_rounds", input.max_rounds.unwrap_or(5), 1, 50)?;
    let budget = input.budget.clone().unwrap_or_default();
    check_budget(&budget)?;
    let strategy = routing(input.strategy.as_ref())?.unwrap_or_default();
    let id = new_id();
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO crews (id, name, goal, process, strategy, shared_context, escalation_rules, budget, max_rounds, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            id, name, goal, input.process.unwrap_or(Process::Sequential),
            to_json(&strategy)?,
            json_object("shared_context", input.shared_context.as_ref())?.unwrap_or_else(|| "{}".into()),
            json_object("escalation_rules", input.escalation_rules.as_ref())?.unwrap_or_else(|| "{}".into()),
            to_json(&budget)?, max_rounds, now
        ],
    )?;
    if let Some(members) = &input.members {
        write_members(tx, &id, members)?;
    }
    let manager = input
        .manager_agent_id
        .as_deref()
        .filter(|m| !m.trim().is_empty());
    check_manager(tx, &id, manager)?;
    tx.execute(
        "UPDATE crews SET manager_agent_id = ?2 WHERE id = ?1",
        params![id, manager],
    )?;
    tx.changed(Entity::Crew, ChangeOp::Created, &id);
    load_crew(tx, &id)
}

/// Adds a relationship between two members inside an open transaction.
pub fn insert_relationship(
    tx: &mut Tx<'_>,
    crew_id: &str,
    input: &RelationshipInput,
) -> Result<Relationship> {
    if input.from_agent_id == input.to_agent_id {
        return Err(CoreError::validation(
            "to_agent_id",
            "an agent cannot be related to itself",
        ));
    }
    let trust = validate::unit_interval("trust_level", input.trust_level.unwrap_or(0.5))?;
    let rules =
        json_object("handoff_rules", input.handoff_rules.as_ref())?.unwrap_or_else(|| "{}".into());
    let id = new_id();
    if !row::exists(tx, "crews", crew_id)? {
        return Err(CoreError::not_found("crew", crew_id));
    }
    for agent in [&input.from_agent_id, &input.to_agent_id] {
        crate::agents::ensure_agent(tx, agent)?;
        let member: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM crew_members WHERE crew_id = ?1 AND agent_id = ?2)",
            params![crew_id, agent],
            |r| r.get(0),
        )?;
        if !member {
            return Err(CoreError::validation(
                "relationship",
                format!("agent {agent} is not a member of this crew"),
            ));
        }
    }
    let kind = input.kind.unwrap_or(RelationKind::CollaboratesWith);
    let dup: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM relationships WHERE crew_id = ?1 AND from_agent_id = ?2 AND to_agent_id = ?3 AND kind = ?4)",
        params![crew_id, input.from_agent_id, input.to_agent_id, kind],
        |r| r.get(0),
    )?;
    if dup {
        return Err(CoreError::Conflict(format!(
            "that {kind} relationship already exists"
        )));
    }
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO relationships (id, crew_id, from_agent_id, to_agent_id, kind, trust_level, communication_style, handoff_rules, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        params![id, crew_id, input.from_agent_id, input.to_agent_id, kind, trust,
            input.communication_style.unwrap_or(CommStyle::Async), rules, now],
    )?;
    tx.changed(Entity::Crew, ChangeOp::Updated, crew_id);
    query_one(
        tx,
        "SELECT * FROM relationships WHERE id = ?1",
        [&id],
        relationship_from_row,
    )?
    .ok_or_else(|| CoreError::not_found("relationship", &id))
}

/// The crews room: crews, members, relationships, their runs, templates and documents: `core.crews()`.
#[derive(Clone, Copy)]
pub struct Crews<'a> {
    pub(crate) core: &'a Core,
}

impl Crews<'_> {
    pub fn create(&self, input: CrewInput) -> Result<Crew> {
        self.core.write(|tx| insert_crew(tx, &input))
    }

    pub fn get(&self, id: &str) -> Result<Crew> {
        self.core.read(|c| load_crew(c, id))
    }

    pub fn update(&self, id: &str, input: CrewInput) -> Result<Crew> {
        self.core.write(|tx| {
            let cur = load_crew(tx, id)?;
            let name = match &input.name {
                Some(n) => validate::name("name", n)?,
                None => cur.name.clone(),
            };
            let goal = match &input.goal {
                Some(g) => validate::text("goal", g)?,
                None => cur.goal.clone(),
            };
            let max_rounds = match input.max_rounds {
                Some(v) => validate::range_u32("max_rounds", v, 1, 50)?,
                None => cur.max_rounds,
            };
            let budget = input.budget.clone().unwrap_or(cur.budget.clone());
            check_budget(&budget)?;
            if let Some(members) = &input.members {
                write_members(tx, id, members)?;
            }
            let manager = match &input.manager_agent_id {
                Some(m) if m.trim().is_empty() => None,
                Some(m) => Some(m.clone()),
                None => cur.manager_agent_id.clone(),
            };
            check_manager(tx, id, manager.as_deref())?;
            tx.execute(
                "UPDATE crews SET name = ?2, goal = ?3, process = ?4, manager_agent_id = ?5, strategy = ?6,
                    shared_context = ?7, escalation_rules = ?8, budget = ?9, max_rounds = ?10, updated_at = ?11
                 WHERE id = ?1",
                params![
                    id, name, goal, input.process.unwrap_or(cur.process), manager,
                    to_json(&routing(input.strategy.as_ref())?.unwrap_or(cur.strategy.clone()))?,
                    json_object("shared_context", input.shared_context.as_ref())?.unwrap_or(to_json(&cur.shared_context)?),
                    json_object("escalation_rules", input.escalation_rules.as_ref())?.unwrap_or(to_json(&cur.escalation_rules)?),
                    to_json(&budget)?, max_rounds, time::now_sql()
                ],
            )?;
            tx.changed(Entity::Crew, ChangeOp::Updated, id);
            load_crew(tx, id)
        })
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        self.core.write(|tx| {
            let n = tx.execute("DELETE FROM crews WHERE id = ?1", [id])?;
            if n == 0 {
                return Err(CoreError::not_found("crew", id));
            }
            tx.changed(Entity::Crew, ChangeOp::Deleted, id);
            Ok(())
        })
    }

    pub fn list(&self, search: Option<&str>, paging: Paging) -> Result<Page<Crew>> {
        let (limit, offset) = (paging.limit(), paging.offset());
        let pattern = format!("%{}%", search.unwrap_or("").trim().to_lowercase());
        self.core.store().read_tx(|c| {
            let total: u64 = c.query_row(
                "SELECT count(*) FROM crews WHERE lower(name) LIKE ?1 OR lower(goal) LIKE ?1",
                [&pattern],
                |r| r.get(0),
            )?;
            let sql = format!(
                "SELECT {COLS} FROM crews WHERE lower(name) LIKE ?1 OR lower(goal) LIKE ?1
                 ORDER BY lower(name), id LIMIT {limit} OFFSET {offset}"
            );
            let mut items = query_all(c, &sql, [&pattern], crew_from_row)?;
            for crew in &mut items {
                fill(c, crew)?;
            }
            Ok(Page {
                items,
                total,
                limit,
                offset,
            })
        })
    }

    pub fn add_relationship(
        &self,
        crew_id: &str,
        input: RelationshipInput,
    ) -> Result<Relationship> {
        self.core
            .write(|tx| insert_relationship(tx, crew_id, &input))
    }

    pub fn remove_relationship(&self, relationship_id: &str) -> Result<()> {
        self.core.write(|tx| {
            let crew: Option<String> = query_one(
                tx,
                "SELECT crew_id FROM relationships WHERE id = ?1",
                [relationship_id],
                |r| Ok(r.get(0)?),
            )?;
            let crew = crew.ok_or_else(|| CoreError::not_found("relationship", relationship_id))?;
            tx.execute("DELETE FROM relationships WHERE id = ?1", [relationship_id])?;
            tx.changed(Entity::Crew, ChangeOp::Updated, crew);
            Ok(())
        })
    }

    /// Who supervises `agent` in the crew: an explicit `supervises` edge to it,
    /// or its own `reports_to` edge.
    pub fn supervisor_of(&self, crew_id: &str, agent_id: &str) -> Result<Option<Id>> {
        self.core.read(|c| supervisor_of(c, crew_id, agent_id))
    }

    /// Whom `agent` supervises in the crew.
    pub fn subordinates_of(&self, crew_id: &str, agent_id: &str) -> Result<Vec<Id>> {
        self.core.read(|c| {
            query_all(
                c,
                "SELECT to_agent_id FROM relationships WHERE crew_id = ?1 AND from_agent_id = ?2 AND kind = 'supervises'
                 UNION SELECT from_agent_id FROM relationships WHERE crew_id = ?1 AND to_agent_id = ?2 AND kind = 'reports_to'
                 ORDER BY 1",
                params![crew_id, agent_id],
                |r| Ok(r.get(0)?),
            )
        })
    }

    /// Whether `from` may hand work to `to` in the crew: it supervises `to`,
    /// has a `delegates_to` edge to it, or `to` reports to it.
    pub fn may_delegate(&self, crew_id: &str, from: &str, to: &str) -> Result<bool> {
        self.core.read(|c| may_delegate(c, crew_id, from, to))
    }
}

pub fn supervisor_of(c: &Connection, crew_id: &str, agent_id: &str) -> Result<Option<Id>> {
    query_one(
        c,
        "SELECT from_agent_id FROM relationships WHERE crew_id = ?1 AND to_agent_id = ?2 AND kind = 'supervises'
         UNION ALL SELECT to_agent_id FROM relationships WHERE crew_id = ?1 AND from_agent_id = ?2 AND kind = 'reports_to'
         LIMIT 1",
        params![crew_id, agent_id],
        |r| Ok(r.get(0)?),
    )
}

pub fn may_delegate(c: &Connection, crew_id: &str, from: &str, to: &str) -> Result<bool> {
    if from == to {
        return Ok(false);
    }
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM relationships WHERE crew_id = ?1 AND (
            (from_agent_id = ?2 AND to_agent_id = ?3 AND kind IN ('supervises', 'delegates_to'))
            OR (from_agent_id = ?3 AND to_agent_id = ?2 AND kind = 'reports_to')))",
        params![crew_id, from, to],
        |r| r.get(0),
    )?)
}
