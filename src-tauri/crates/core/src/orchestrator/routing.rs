//! Routing: which agent takes a task. The assigned agent if any; otherwise
//! the best by capability overlap (as in seed 000's TaskDispatcher: share of
//! the required capabilities the agent has), then skill proficiency and
//! success rate on those capabilities, then current load (least busy). A
//! retry avoids agents that already failed the task when another fits.

use std::collections::HashMap;

use crate::agents::{Agent, AgentStatus};
use crate::tasks::Task;
use crate::Id;

/// An agent as the scheduler sees it right now.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub agent: &'a Agent,
    /// Tasks it runs now.
    pub load: u32,
    /// It can take one more (capacity, not paused, not restarting, provider available).
    pub available: bool,
}

/// Share of `required` capabilities the agent has (1.0 when nothing is required).
pub fn capability_score(agent: &Agent, required: &[String]) -> f64 {
    if required.is_empty() {
        return 1.0;
    }
    let have = required
        .iter()
        .filter(|c| agent.capabilities.contains(c))
        .count();
    have as f64 / required.len() as f64
}

/// Mean proficiency and success rate of the agent's skills named like the
/// required capabilities (0 when it has none of them).
fn skill_score(agent: &Agent, required: &[String]) -> f64 {
    let skills: Vec<_> = agent
        .skills
        .iter()
        .filter(|s| required.contains(&s.skill_name))
        .collect();
    if skills.is_empty() {
        return 0.0;
    }
    skills
        .iter()
        .map(|s| (s.proficiency + s.success_rate) / 2.0)
        .sum::<f64>()
        / skills.len() as f64
}

/// The best candidate for a task, or `None` when no suitable agent is free now.
/// Agents with no required capability at all are never chosen (unless the task requires none).
pub fn choose<'a>(task: &Task, candidates: &[Candidate<'a>]) -> Option<&'a Agent> {
    if let Some(assigned) = task.assigned_agent_id.as_deref() {
        // An assigned task waits for its agent.
        return candidates
            .iter()
            .find(|c| c.agent.id == assigned && c.available)
            .map(|c| c.agent);
    }
    let eligible = |c: &&Candidate<'a>| {
        c.agent.enabled
            && c.agent.status != AgentStatus::Paused
            && (task.required_capabilities.is_empty()
                || capability_score(c.agent, &task.required_capabilities) > 0.0)
    };
    let fresh: Vec<&Candidate<'a>> = candidates
        .iter()
        .filter(eligible)
        .filter(|c| !task.failed_agents.contains(&c.agent.id))
        .collect();
    // Retry elsewhere when another agent fits; fall back to the ones that failed.
    let pool: Vec<&Candidate<'a>> = if fresh.is_empty() {
        candidates.iter().filter(eligible).collect()
    } else {
        fresh
    };
    let best = pool.iter().max_by(|a, b| {
        let ka = (
            capability_score(a.agent, &task.required_capabilities),
            skill_score(a.agent, &task.required_capabilities),
        );
        let kb = (
            capability_score(b.agent, &task.required_capabilities),
            skill_score(b.agent, &task.required_capabilities),
        );
        ka.0.total_cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            // Among equals, one that can start now; then the least busy; then the older agent.
            .then(a.available.cmp(&b.available))
            .then(b.load.cmp(&a.load))
            .then(b.agent.created_at.cmp(&a.agent.created_at))
    })?;
    // The best agent is busy: wait for it rather than give the task to a worse fit.
    best.available.then_some(best.agent)
}

/// Loads by agent id, for building candidates.
pub type Loads = HashMap<Id, u32>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{AgentSkill, LearnedFrom};

    fn agent(id: &str, caps: &[&str], created: i64) -> Agent {
        let t = chrono::DateTime::from_timestamp(created, 0).unwrap_or_default();
        Agent {
            id: id.into(),
            name: id.into(),
            role: String::new(),
            description: String::new(),
            system_prompt: String::new(),
            personality: serde_json::json!({}),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            allowed_tools: vec![],
            provider: None,
            model: None,
            temperature: 0.7,
            max_steps: 8,
            max_delegation_depth: 2,
            autonomy: crate::agents::Autonomy::Autopilot,
            tool_autonomy: Default::default(),
            approve_final_output: false,
            template: None,
            enabled: true,
            status: AgentStatus::Idle,
            last_heartbeat: None,
            max_concurrent_tasks: 1,
            skills: vec![],
            created_at: t,
            updated_at: t,
        }
    }

    fn task(caps: &[&str]) -> Task {
        let mut t: Task = serde_json::from_value(serde_json::json!({
            "id": "t", "title": "t", "objective": "", "task_type": "execute", "priority": 5, "status": "queued",
            "crew_id": null, "crew_run_id": null, "workflow_run_id": null, "workflow_step": null, "assigned_agent_id": null, "routed_agent_id": null,
            "required_capabilities": [], "created_by": "human", "parent_task_id": null, "delegation_depth": 0, "depends_on": [],
            "input": null, "output": null, "confidence": null, "error": null, "requires_approval": false, "attempts": 0,
            "max_attempts": 3, "next_attempt_at": null, "failed_agents": [], "tokens_in": 0, "tokens_out": 0, "cost": 0.0,
            "max_cost": null, "max_tokens": null, "started_at": null, "completed_at": null, "deadline": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        t.required_capabilities = caps.iter().map(|c| c.to_string()).collect();
        t
    }

    fn cands<'a>(agents: &'a [Agent], loads: &[u32]) -> Vec<Candidate<'a>> {
        agents
            .iter()
            .zip(loads)
            .map(|(a, l)| Candidate {
                agent: a,
                load: *l,
                available: *l < 1,
            })
            .collect()
    }

    #[test]
    fn seed_000_scenario_the_analyst_gets_the_data_analysis_task() {
        let agents = [
            agent("analyst", &["sql_query", "data_analysis"], 1),
            agent("writer", &["summarization", "writing"], 2),
        ];
        let c = cands(&agents, &[0, 0]);
        assert_eq!(
            choose(&task(&["data_analysis"]), &c).map(|a| a.id.as_str()),
            Some("analyst")
        );
        assert_eq!(
            choose(&task(&["writing"]), &c).map(|a| a.id.as_str()),
            Some("writer")
        );
        assert_eq!(
            choose(&task(&["video_editing"]), &c),
            None,
            "nobody has the capability"
        );
    }

    #[test]
    fn skills_break_ties_and_load_balances_equals() {
        let mut a = agent("a", &["writing"], 1);
        let b = agent("b", &["writing"], 2);
        let agents = [a.clone(), b.clone()];
        // Equal agents: the less busy one.
        let c = vec![
            Candidate {
                agent: &agents[0],
                load: 1,
                available: true,
            },
            Candidate {
                agent: &agents[1],
                load: 0,
                available: true,
            },
        ];
        assert_eq!(
            choose(&task(&["writing"]), &c).map(|a| a.id.as_str()),
            Some("b")
        );
        // A proven skill wins over load.
        a.skills = vec![AgentSkill {
            id: "s".into(),
            agent_id: "a".into(),
            skill_name: "writing".into(),
            proficiency: 0.9,
            times_used: 10,
            success_rate: 0.9,
            learned_from: LearnedFrom::Practice,
            examples: vec![],
            last_used_at: None,
            created_at: a.created_at,
            updated_at: a.created_at,
        }];
        let agents = [a, b];
        let c = vec![
            Candidate {
                agent: &agents[0],
                load: 1,
                available: true,
            },
            Candidate {
                agent: &agents[1],
                load: 0,
                available: true,
            },
        ];
        assert_eq!(
            choose(&task(&["writing"]), &c).map(|a| a.id.as_str()),
            Some("a")
        );
    }

    #[test]
    fn retries_avoid_agents_that_failed_when_another_fits() {
        let agents = [agent("a", &["writing"], 1), agent("b", &["writing"], 2)];
        let c = cands(&agents, &[0, 0]);
        let mut t = task(&["writing"]);
        t.failed_agents = vec!["a".into()];
        assert_eq!(choose(&t, &c).map(|a| a.id.as_str()), Some("b"));
        t.failed_agents = vec!["a".into(), "b".into()];
        assert!(
            choose(&t, &c).is_some(),
            "when all failed, it still runs somewhere"
        );
    }

    #[test]
    fn assigned_tasks_wait_for_their_agent() {
        let agents = [agent("a", &["writing"], 1), agent("b", &["writing"], 2)];
        let mut t = task(&[]);
        t.assigned_agent_id = Some("a".into());
        assert_eq!(choose(&t, &cands(&agents, &[1, 0])), None);
        assert_eq!(
            choose(&t, &cands(&agents, &[0, 0])).map(|a| a.id.as_str()),
            Some("a")
        );
    }
}
