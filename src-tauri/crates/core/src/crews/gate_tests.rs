//! Unit tests of the expert gate with scores computed by hand (the
//! arithmetic is spelled out next to each expected value).

use super::*;
use crate::agents::{AgentSkill, Autonomy, LearnedFrom};

fn agent(name: &str, role: &str, caps: &[&str]) -> Agent {
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    Agent {
        id: format!("id-{name}"),
        name: name.into(),
        role: role.into(),
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
        autonomy: Autonomy::Autopilot,
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

fn skill(name: &str, proficiency: f64, used: u32, success: f64) -> AgentSkill {
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    AgentSkill {
        id: format!("s-{name}"),
        agent_id: "x".into(),
        skill_name: name.into(),
        proficiency,
        times_used: used,
        success_rate: success,
        learned_from: LearnedFrom::Practice,
        examples: vec![],
        last_used_at: None,
        created_at: t,
        updated_at: t,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_stemmer_joins_word_forms() {
    assert_eq!(
        terms("Writing summaries of SQL queries"),
        ["writ", "summar", "sql", "quer"]
    );
    assert_eq!(stem("planning"), "plan");
    assert_eq!(stem("researcher"), "research");
    assert_eq!(stem("reporting"), "report");
    assert_eq!(stem("business"), "business", "an 'ss' ending keeps its s");
    assert_eq!(terms("data_analysis"), ["data", "analysi"]);
    // "summary" → "summar" and "summarization" → "summar": equal stems.
    assert!(related(&stem("summary"), &stem("summarization")));
    // "analysi" and "analyz": five shared letters.
    assert!(related(&stem("analysis"), &stem("analyze")));
    assert!(!related("plan", "planet"));
}

#[test]
fn tfidf_cosine_matches_the_hand_computed_value() {
    // Two documents: {sql, data} and {writ, prose}; query {sql, report}.
    // N = 2. idf(sql) = ln(3/2)+1 (df 1); idf(report) = ln(3/1)+1 (df 0).
    let i1 = (3.0f64 / 2.0).ln() + 1.0;
    let i0 = 3.0f64.ln() + 1.0;
    // doc 1: sql·i1, data·i1 → dot with the query = i1²;
    // |q| = √(i1² + i0²), |d1| = √(2·i1²).
    let expected = i1 * i1 / ((i1 * i1 + i0 * i0).sqrt() * (2.0 * i1 * i1).sqrt());
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let got = tfidf_cosine(
        &v(&["sql", "report"]),
        &[v(&["sql", "data"]), v(&["writ", "prose"])],
    );
    assert!(close(got[0], expected), "{got:?} vs {expected}");
    assert!(close(got[0], 0.393_469_936_594_951), "{}", got[0]);
    assert_eq!(got[1], 0.0, "no shared term");
    // Identical texts are fully similar; an empty query is similar to nothing.
    let same = tfidf_cosine(&v(&["a1", "b1"]), &[v(&["a1", "b1"])]);
    assert!(close(same[0], 1.0));
    assert_eq!(tfidf_cosine(&[], &[v(&["a1"])]), vec![0.0]);
}

/// Ana (analyst: sql_query, data_analysis, reporting; a proven sql_query
/// skill; free), Wes (writer: writing, summarization, editing; busy at
/// capacity 1), Bo (analyst: data_analysis; one task of capacity 2).
fn team() -> Vec<Agent> {
    let mut ana = agent(
        "Ana",
        "analyst",
        &["sql_query", "data_analysis", "reporting"],
    );
    ana.skills = vec![skill("sql_query", 0.8, 4, 1.0)];
    let wes = agent("Wes", "writer", &["writing", "summarization", "editing"]);
    let mut bo = agent("Bo", "analyst", &["data_analysis"]);
    bo.max_concurrent_tasks = 2;
    vec![ana, wes, bo]
}

const REQUEST: &str = "Query the sales data and write a report";

fn ranking(agents: &[Agent]) -> Vec<ExpertScore> {
    let loads = [0, 1, 1];
    let cands: Vec<Candidate<'_>> = agents
        .iter()
        .zip(loads)
        .map(|(agent, load)| Candidate { agent, load })
        .collect();
    score_all(REQUEST, &[], &cands)
}

#[test]
fn each_signal_and_the_weighted_total_match_the_hand_computation() {
    // Request terms: quer, sal, data, writ, report.
    assert_eq!(terms(REQUEST), ["quer", "sal", "data", "writ", "report"]);
    let agents = team();
    let r = ranking(&agents);
    let by = |n: &str| r.iter().find(|s| s.agent_name == n).cloned().unwrap();
    let (ana, wes, bo) = (by("Ana"), by("Wes"), by("Bo"));

    // Capability: Ana 3 of 3 (quer, data, report); Wes 1 of 3 (writ); Bo 1 of 1.
    assert!(
        close(ana.capability, 1.0) && close(wes.capability, 1.0 / 3.0) && close(bo.capability, 1.0)
    );
    assert_eq!(ana.matched, ["sql_query", "data_analysis", "reporting"]);
    assert_eq!(wes.matched, ["writing"]);

    // Semantic. Profiles (N = 3):
    //   Ana: analyst, sql×2, quer×2, data, analysi, report (skill name adds sql, quer)
    //   Wes: writ×2, summar, edit
    //   Bo:  analyst, data, analysi
    // idf: df 0 → ln(4)+1 (sal); df 1 → ln(2)+1 (quer, writ, report, sql, …);
    //      df 2 → ln(4/3)+1 (analyst, data, analysi).
    let i0 = 4.0f64.ln() + 1.0;
    let i1 = 2.0f64.ln() + 1.0;
    let i2 = (4.0f64 / 3.0).ln() + 1.0;
    let qn = (3.0 * i1 * i1 + i0 * i0 + i2 * i2).sqrt();
    let sem_ana = (3.0 * i1 * i1 + i2 * i2) / (qn * (3.0 * i2 * i2 + 9.0 * i1 * i1).sqrt());
    let sem_wes = (2.0 * i1 * i1) / (qn * 6.0f64.sqrt() * i1);
    let sem_bo = (i2 * i2) / (qn * 3.0f64.sqrt() * i2);
    assert!(
        close(ana.semantic, sem_ana),
        "{} vs {sem_ana}",
        ana.semantic
    );
    assert!(
        close(wes.semantic, sem_wes),
        "{} vs {sem_wes}",
        wes.semantic
    );
    assert!(close(bo.semantic, sem_bo), "{} vs {sem_bo}", bo.semantic);

    // Performance: Ana's sql_query skill (0.8 + 1.0) / 2; the others have no history.
    assert!(
        close(ana.performance, 0.9) && close(wes.performance, 0.5) && close(bo.performance, 0.5)
    );
    // Availability: Ana 1 − 0/1; Wes 1 − 1/1; Bo 1 − 1/2.
    assert!(
        close(ana.availability, 1.0) && close(wes.availability, 0.0) && close(bo.availability, 0.5)
    );

    let total_ana = 0.40 * 1.0 + 0.25 * sem_ana + 0.20 * 0.9 + 0.15 * 1.0;
    let total_wes = 0.40 / 3.0 + 0.25 * sem_wes + 0.20 * 0.5 + 0.15 * 0.0;
    let total_bo = 0.40 * 1.0 + 0.25 * sem_bo + 0.20 * 0.5 + 0.15 * 0.5;
    assert!(close(ana.confidence, total_ana) && close(ana.confidence, 0.845_744_530_499_110_4));
    assert!(close(wes.confidence, total_wes) && close(wes.confidence, 0.319_864_202_476_937_2));
    assert!(close(bo.confidence, total_bo) && close(bo.confidence, 0.621_533_959_302_193_8));
    // Ranked best first.
    let names: Vec<&str> = r.iter().map(|s| s.agent_name.as_str()).collect();
    assert_eq!(names, ["Ana", "Bo", "Wes"]);
}

#[test]
fn a_paused_or_disabled_agent_has_no_availability() {
    let mut a = agent("P", "x", &[]);
    a.status = AgentStatus::Paused;
    assert_eq!(availability(&a, 0), 0.0);
    a.status = AgentStatus::Idle;
    a.enabled = false;
    assert_eq!(availability(&a, 0), 0.0);
    a.enabled = true;
    a.max_concurrent_tasks = 4;
    assert!(close(availability(&a, 1), 0.75));
}

#[test]
fn required_capabilities_score_the_share_the_agent_has() {
    let caps: Vec<String> = vec!["sql_query".into(), "reporting".into()];
    let req: Vec<String> = vec!["sql_query".into(), "report".into(), "video".into()];
    // sql_query by label, "report" by its word, "video" missing: 2 of 3.
    let (s, had) = capability_match(&caps, &[], &req);
    assert!(close(s, 2.0 / 3.0));
    assert_eq!(had, ["sql_query", "report"]);
}

fn cfg(strategy: Strategy, k: u32, threshold: f64) -> RoutingConfig {
    RoutingConfig {
        strategy,
        k,
        threshold,
        aggregator_agent_id: None,
    }
}

#[test]
fn strategies_pick_by_rank_and_threshold() {
    let agents = team();
    let r = ranking(&agents);
    let ids = |names: &[&str]| names.iter().map(|n| format!("id-{n}")).collect::<Vec<_>>();

    // Threshold 0.5: Ana (0.846) and Bo (0.622) pass, Wes (0.320) does not.
    let s = select(&r, &cfg(Strategy::Top1, 2, 0.5));
    assert_eq!((s.chosen, s.below_threshold), (ids(&["Ana"]), false));
    let s = select(&r, &cfg(Strategy::TopK, 2, 0.5));
    assert_eq!(s.chosen, ids(&["Ana", "Bo"]));
    // k = 3 still leaves Wes out: he is below the threshold.
    let s = select(&r, &cfg(Strategy::Ensemble, 3, 0.5));
    assert_eq!(s.chosen, ids(&["Ana", "Bo"]));
    // Threshold 0.7: only Ana.
    let s = select(&r, &cfg(Strategy::TopK, 3, 0.7));
    assert_eq!(s.chosen, ids(&["Ana"]));
    // Nobody reaches 0.9: the best is taken, flagged.
    let s = select(&r, &cfg(Strategy::TopK, 2, 0.9));
    assert_eq!((s.chosen, s.below_threshold), (ids(&["Ana"]), true));
    // CASCADE orders everyone; the engine walks down while confidence is low.
    let s = select(&r, &cfg(Strategy::Cascade, 1, 0.9));
    assert_eq!(s.chosen, ids(&["Ana", "Bo", "Wes"]));
}

#[test]
fn routing_config_reads_the_crew_strategy_and_refuses_bad_values() {
    let c = RoutingConfig::from_value(
        &serde_json::json!({"strategy": "CASCADE", "threshold": 0.7, "k": 3}),
    )
    .unwrap();
    assert_eq!((c.strategy, c.k, c.threshold), (Strategy::Cascade, 3, 0.7));
    assert_eq!(
        RoutingConfig::from_value(&serde_json::json!({})).unwrap(),
        RoutingConfig::default()
    );
    let e = RoutingConfig::from_value(&serde_json::json!({"strategy": "best"})).unwrap_err();
    assert!(
        e.to_string().contains("top_1, top_k, ensemble, cascade"),
        "{e}"
    );
    assert!(RoutingConfig::from_value(&serde_json::json!({"threshold": 2})).is_err());
    assert!(RoutingConfig::from_value(&serde_json::json!({"k": 0})).is_err());
}
