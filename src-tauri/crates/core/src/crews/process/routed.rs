//! Routed: the expert gate scores every member for the request and the
//! crew's strategy picks who answers (see [`crate::crews::gate`]):
//! TOP_1 the best; TOP_K the best k, answers listed with attribution;
//! ENSEMBLE the best k, then an aggregator (the strategy's
//! `aggregator_agent_id`, else the crew's manager, else the best-scoring
//! member) synthesises one answer naming its sources; CASCADE the best
//! first, passing the request on while the answer's confidence (the
//! agent's own, else the gate's) stays below the threshold.

use std::sync::Arc;

use serde_json::json;

use super::brief_for;
use crate::agents::{Agent, AgentStatus, LearnedFrom};
use crate::crews::engine::work::{work, work_all, WorkSpec};
use crate::crews::engine::{clip, turn, Finish, Flow, Halt, RunCtx, CLIP};
use crate::crews::gate::{self, Candidate, ExpertScore, RoutingConfig, Strategy};
use crate::crews::run::StopReason;
use crate::messages::MessageKind;
use crate::tasks::TaskType;

fn spec(ctx: &RunCtx, agent: &Agent, note: &str) -> WorkSpec {
    WorkSpec {
        agent_id: agent.id.clone(),
        title: format!("{} · answer by {}", ctx.crew.name, agent.name),
        objective: format!(
            "{}\nThe expert gate chose you for this request. {note}Answer it.",
            brief_for(ctx, agent)
        ),
        capabilities: Vec::new(),
        task_type: TaskType::Generate,
    }
}

fn score_of<'a>(ranking: &'a [ExpertScore], id: &str) -> Option<&'a ExpertScore> {
    ranking.iter().find(|s| s.agent_id == id)
}

pub(crate) async fn run(ctx: &Arc<RunCtx>) -> Flow<Finish> {
    let cfg = &ctx.crew.strategy;
    let members: Vec<Agent> = ctx.members().into_iter().cloned().collect();
    let aggregator_id = cfg
        .aggregator_agent_id
        .clone()
        .or_else(|| ctx.crew.manager_agent_id.clone())
        .filter(|id| ctx.agents.contains_key(id));
    // The aggregator synthesises; it does not also answer (unless it is alone).
    let experts: Vec<&Agent> = members
        .iter()
        .filter(|a| a.enabled && a.status != AgentStatus::Paused)
        .filter(|a| {
            cfg.strategy != Strategy::Ensemble
                || Some(&a.id) != aggregator_id.as_ref()
                || members.len() == 1
        })
        .collect();
    if experts.is_empty() {
        return Err(Halt::Fail(
            "no member can answer: all are disabled or paused".into(),
        ));
    }
    let load = ctx.loads().await?;
    let cands: Vec<Candidate<'_>> = experts
        .iter()
        .map(|a| Candidate {
            agent: a,
            load: load.get(&a.id).copied().unwrap_or(0),
        })
        .collect();
    let ranking = gate::score_all(&ctx.input, &[], &cands);
    let selection = gate::select(&ranking, cfg);
    ctx.set_state(
        "routing",
        json!({ "config": cfg, "scores": ranking, "selection": selection }),
    )
    .await?;
    let scores: Vec<String> = ranking
        .iter()
        .map(|s| format!("{} {:.2}", s.agent_name, s.confidence))
        .collect();
    let chosen_names: Vec<String> = selection
        .chosen
        .iter()
        .filter_map(|id| ctx.agents.get(id).map(|a| a.name.clone()))
        .collect();
    ctx.say(
        None,
        None,
        MessageKind::StatusUpdate,
        &format!(
            "Expert gate ({}, threshold {:.2}): {} → {}{}",
            cfg.strategy,
            cfg.threshold,
            scores.join(", "),
            chosen_names.join(" → "),
            if selection.below_threshold { " (no agent reached the threshold; taking the best)" } else { "" }
        ),
        json!({ "scores": ranking, "chosen": selection.chosen, "below_threshold": selection.below_threshold }),
        None,
    )
    .await?;
    let chosen: Vec<Agent> = selection
        .chosen
        .iter()
        .map(|id| ctx.agent(id).cloned())
        .collect::<Flow<Vec<Agent>>>()?;
    if cfg.strategy == Strategy::Cascade {
        return cascade(ctx, cfg, &ranking, &chosen).await;
    }
    for a in &chosen {
        let conf = score_of(&ranking, &a.id)
            .map(|s| s.confidence)
            .unwrap_or(0.0);
        ctx.say(
            None,
            Some(&a.id),
            MessageKind::Request,
            &format!(
                "Request for you (gate confidence {conf:.2}): {}",
                clip(&ctx.input, 2000)
            ),
            json!({ "confidence": conf }),
            None,
        )
        .await?;
    }
    let results = work_all(ctx, chosen.iter().map(|a| spec(ctx, a, "")).collect()).await?;
    let mut answers = Vec::new();
    for (a, r) in chosen.iter().zip(&results) {
        ctx.say(
            Some(&a.id),
            None,
            MessageKind::Response,
            &r.output,
            json!({ "escalated": r.escalated }),
            Some((&r.task.id, true)),
        )
        .await?;
        ctx.output(a, "answer", 1, Some(&r.task.id), &r.output, r.confidence)
            .await?;
        answers.push((a.clone(), r.output.clone()));
    }
    match cfg.strategy {
        Strategy::Top1 => Ok(Finish {
            report: answers
                .into_iter()
                .next()
                .map(|(_, o)| o)
                .unwrap_or_default(),
            reason: StopReason::Completed,
        }),
        Strategy::Ensemble => ensemble(ctx, aggregator_id.as_deref(), &ranking, &answers).await,
        _ => Ok(Finish {
            report: answers
                .iter()
                .map(|(a, o)| format!("**{}** ({}):\n{}", a.name, ctx.role_of(a), o))
                .collect::<Vec<_>>()
                .join("\n\n"),
            reason: StopReason::Completed,
        }),
    }
}

async fn ensemble(
    ctx: &RunCtx,
    aggregator: Option<&str>,
    ranking: &[ExpertScore],
    answers: &[(Agent, String)],
) -> Flow<Finish> {
    let agg_id = aggregator
        .map(str::to_string)
        .or_else(|| ranking.first().map(|s| s.agent_id.clone()))
        .ok_or_else(|| Halt::Fail("no aggregator for the ensemble".into()))?;
    let agg = ctx.agent(&agg_id)?.clone();
    let listing: Vec<String> = answers
        .iter()
        .map(|(a, o)| format!("### {} ({})\n{}", a.name, ctx.role_of(a), clip(o, CLIP / 2)))
        .collect();
    let names: Vec<String> = answers.iter().map(|(a, _)| a.name.clone()).collect();
    let prompt = format!(
        "Synthesise one answer to the request from the experts' answers below, keeping what is right in each and \
         resolving disagreements. Name in `sources` the experts you drew on ({}).\nRequest: {}\n\n{}",
        names.join(", "),
        ctx.input,
        listing.join("\n\n")
    );
    let v = turn::ask(
        ctx,
        &agg,
        "synthesis",
        &prompt,
        json!({
            "type": "object",
            "properties": {
                "answer": { "type": "string", "minLength": 1, "maxLength": 4000 },
                "sources": { "type": "array", "maxItems": 16, "items": { "type": "string", "maxLength": 80 } }
            },
            "required": ["answer", "sources"]
        }),
    )
    .await?;
    let answer = turn::text(&v, "answer");
    let mut sources: Vec<String> = v
        .get("sources")
        .and_then(|s| s.as_array())
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str())
                .filter(|x| names.iter().any(|n| n.eq_ignore_ascii_case(x.trim())))
                .map(|x| x.trim().to_string())
                .collect()
        })
        .unwrap_or_default();
    if sources.is_empty() {
        // Attribution is not optional: credit every answer the synthesis saw.
        sources = names.clone();
    }
    let report = format!("{answer}\n\nSources: {}", sources.join(", "));
    ctx.say(
        Some(&agg.id),
        None,
        MessageKind::Response,
        &report,
        json!({ "synthesis": true, "sources": sources }),
        None,
    )
    .await?;
    ctx.output(&agg, "synthesis", 1, None, &report, None)
        .await?;
    Ok(Finish {
        report,
        reason: StopReason::Completed,
    })
}

async fn cascade(
    ctx: &RunCtx,
    cfg: &RoutingConfig,
    ranking: &[ExpertScore],
    order: &[Agent],
) -> Flow<Finish> {
    let mut best: Option<(String, f64)> = None;
    let mut note = String::new();
    for (i, a) in order.iter().enumerate() {
        let gate_conf = score_of(ranking, &a.id)
            .map(|s| s.confidence)
            .unwrap_or(0.0);
        if i == 0 {
            ctx.say(
                None,
                Some(&a.id),
                MessageKind::Request,
                &format!(
                    "Request for you (gate confidence {gate_conf:.2}): {}",
                    clip(&ctx.input, 2000)
                ),
                json!({ "confidence": gate_conf }),
                None,
            )
            .await?;
        }
        let r = work(ctx, spec(ctx, a, &note)).await?;
        // The agent's own confidence in its answer; the gate's when it gave none.
        let conf = r.confidence.unwrap_or(gate_conf);
        ctx.say(
            Some(&a.id),
            None,
            MessageKind::Response,
            &r.output,
            json!({ "confidence": conf, "escalated": r.escalated }),
            Some((&r.task.id, true)),
        )
        .await?;
        ctx.output(
            a,
            &format!("answer {}", i + 1),
            i as u32 + 1,
            Some(&r.task.id),
            &r.output,
            Some(conf),
        )
        .await?;
        let confident = conf >= cfg.threshold;
        ctx.learn(a, &ctx.input, confident, LearnedFrom::Feedback)
            .await?;
        if confident {
            return Ok(Finish {
                report: r.output,
                reason: StopReason::Completed,
            });
        }
        if best.as_ref().is_none_or(|(_, c)| conf > *c) {
            best = Some((r.output.clone(), conf));
        }
        if let Some(next) = order.get(i + 1) {
            ctx.say(
                Some(&a.id),
                Some(&next.id),
                MessageKind::Escalation,
                &format!(
                    "My confidence {conf:.2} is below the threshold {:.2}; passing the request on to {}.",
                    cfg.threshold, next.name
                ),
                json!({ "answer": clip(&r.output, CLIP), "confidence": conf }),
                None,
            )
            .await?;
            note = format!(
                "{} answered before you with confidence {conf:.2}, below the crew's threshold; their answer:\n---\n{}\n---\nImprove on it. ",
                a.name,
                clip(&r.output, CLIP / 2)
            );
        }
    }
    Ok(Finish {
        report: best.map(|(o, _)| o).unwrap_or_default(),
        reason: StopReason::CascadeExhausted,
    })
}
