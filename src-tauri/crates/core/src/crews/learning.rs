//! Skills learn from crew work: a member's outcome (its work finished or
//! failed) and every review of it (a reviewer's verdict, the manager
//! accepting or sending back a subtask, a cascade answer judged confident
//! enough) move the proficiency and success rate of the skills it used.
//! The expert gate's past-performance signal reads them back.
//!
//! Proficiency moves toward 1 on success and toward 0 on failure by a rate
//! (0.1 for practice, 0.2 for a review's feedback, which is the stronger
//! signal); success rate is the running mean of outcomes.

use rusqlite::params;

use crate::agents::{Agent, LearnedFrom};
use crate::error::Result;
use crate::events::{ChangeOp, Entity};
use crate::store::Tx;
use crate::time;

pub const PRACTICE_RATE: f64 = 0.1;
pub const FEEDBACK_RATE: f64 = 0.2;

/// The skills a piece of work exercised: the agent's capabilities the
/// request mentions; all of its capabilities when it mentions none; its
/// role when it has no capabilities.
pub fn skills_for(agent: &Agent, request: &str) -> Vec<String> {
    let terms = super::gate::terms(request);
    let (_, matched) = super::gate::capability_match(&agent.capabilities, &terms, &[]);
    if !matched.is_empty() {
        return matched;
    }
    if !agent.capabilities.is_empty() {
        return agent.capabilities.clone();
    }
    let role = agent.role.trim().to_lowercase().replace(' ', "_");
    vec![if role.is_empty() {
        "general".to_string()
    } else {
        role
    }]
}

/// Records one outcome on each of `skills` of the agent.
pub fn record(
    tx: &mut Tx<'_>,
    agent_id: &str,
    skills: &[String],
    success: bool,
    from: LearnedFrom,
) -> Result<()> {
    let rate = match from {
        LearnedFrom::Feedback => FEEDBACK_RATE,
        _ => PRACTICE_RATE,
    };
    let target = if success { 1.0 } else { 0.0 };
    let outcome = if success { 1.0 } else { 0.0 };
    let now = time::now_sql();
    for skill in skills {
        // A new skill starts from the neutral 0.5 and takes this first outcome.
        let first = 0.5 + rate * (target - 0.5);
        tx.execute(
            "INSERT INTO agent_skills (id, agent_id, skill_name, proficiency, times_used, success_rate, learned_from, last_used_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7, ?7, ?7)
             ON CONFLICT (agent_id, skill_name) DO UPDATE SET
                proficiency = min(1.0, max(0.0, proficiency + ?8 * (?9 - proficiency))),
                success_rate = (success_rate * times_used + ?5) / (times_used + 1),
                times_used = times_used + 1,
                last_used_at = ?7, updated_at = ?7",
            params![crate::new_id(), agent_id, skill, first, outcome, from, now, rate, target],
        )?;
    }
    if !skills.is_empty() {
        tx.changed(Entity::Agent, ChangeOp::Updated, agent_id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::AgentInput;
    use crate::Core;

    #[test]
    fn outcomes_and_reviews_move_proficiency_and_success_rate() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).unwrap();
        let a = core
            .agents()
            .create(AgentInput {
                name: Some("W".into()),
                capabilities: Some(vec!["writing".into(), "editing".into()]),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(skills_for(&a, "Write a poem"), ["writing"]);
        assert_eq!(skills_for(&a, "Cook dinner"), ["writing", "editing"]);
        let skills = vec!["writing".to_string()];
        // Practice success: 0.5 + 0.1·(1 − 0.5) = 0.55, success rate 1/1.
        core.write(|tx| record(tx, &a.id, &skills, true, LearnedFrom::Practice))
            .unwrap();
        // Feedback failure: 0.55 + 0.2·(0 − 0.55) = 0.44, success rate 1/2.
        core.write(|tx| record(tx, &a.id, &skills, false, LearnedFrom::Feedback))
            .unwrap();
        let s = core.agents().get(&a.id).unwrap().skills;
        let w = s.iter().find(|s| s.skill_name == "writing").unwrap();
        assert!((w.proficiency - 0.44).abs() < 1e-9, "{}", w.proficiency);
        assert!((w.success_rate - 0.5).abs() < 1e-9);
        assert_eq!(w.times_used, 2);
        assert_eq!(
            w.learned_from,
            LearnedFrom::Practice,
            "the first source is kept"
        );
    }
}
