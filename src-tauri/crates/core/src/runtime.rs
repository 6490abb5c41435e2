//! The agent runtime: the ReAct loop that executes one run of a task —
//! think → act (tool call) → observe, until a final answer or `max_steps`.
//! Native tool calling where the provider has it; otherwise each step is JSON
//! constrained by a schema. Arguments are validated against the tool's schema
//! before anything runs; a bad step is fed back to the model, never executed.
//! Every step, decision and tool call is stored as it happens, so a run can
//! park (approval, subtasks, a question to the human) or be interrupted by a
//! crash and later resume from its last completed step.

pub mod act;
pub mod guided;
pub mod prompt;
mod rules;
pub mod step;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::agents::{Agent, Autonomy};
use crate::approvals::{ApprovalKind, NewApproval};
use crate::error::{CoreError, Result};
use crate::providers::hub::{ProviderHub, Resolved};
use crate::providers::profile::{ModelProfile, ProfileSource, ToolsMode};
use crate::providers::{
    collect, ChatRequest, FinishReason, ModelFacts, ProviderError, ProviderKind, Usage,
};
use crate::runs::{self, DecisionKind, NewStep, Run, RunStep};
use crate::tasks::{Task, TaskStatus};
use crate::tools::{ToolDef, ToolRegistry};

use self::rules::{
    call_to_correct, known_addresses, name_the_databases, repeats_itself, tools_still_required,
};
use crate::Core;

/// One claimed run of a task, as the orchestrator hands it to an executor.
#[derive(Debug, Clone)]
pub struct Job {
    pub task: Task,
    pub run: Run,
    pub agent: Agent,
}

/// How a run ended (or paused).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed {
        output: String,
        confidence: Option<f64>,
    },
    /// `retryable`: the failure may go away (provider trouble), so the task is retried with backoff.
    Failed {
        error: String,
        retryable: bool,
    },
    /// Waiting for an approval, subtasks or a human's answer; resumes later.
    Parked {
        status: TaskStatus,
    },
    /// Not run now (e.g. the provider's breaker is open); back to the queue as is.
    Requeue {
        reason: String,
    },
    Cancelled,
}

#[async_trait]
pub trait Executor: Send + Sync {
    async fn execute(&self, job: Job, cancel: CancellationToken) -> Outcome;
}

/// Most consecutive invalid steps before the run gives up.
const MAX_REPAIRS: u32 = 3;
/// Tokens a native-tool step may use: a tool call, or a full final answer.
const NATIVE_STEP_TOKENS: u32 = 1024;
/// The cap of a plain-text answer of a JSON-step model without tools.
const DIRECT_ANSWER_TOKENS: u32 = 512;
/// Where a step's answer ends if the model goes on to write the next turn
/// itself (small models without an end-of-turn token do).
const STEP_STOPS: &[&str] = &["\nUser:", "\nObservation from"];
/// How long the first task on a model waits for the provider to say whether
/// the model takes tools.
const FACTS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The warmest a JSON-step model (a small local one, as a rule) is sampled.
/// Measured on the default 270M model over the competence suite, three
/// runs each: greedy (0.0) changed nothing measurable — 10 to 12 of 32
/// answers right and 95-97% of steps valid, against 10 to 12 and 93-100%
/// at 0.3 — and was not even repeatable (llama.cpp's sums differ with what
/// the cache holds). A step that loops is retried warmer ([`REROLL_WARMER`]).
const JSON_STEP_TEMPERATURE: f32 = 0.3;

/// How much warmer the retry of a step that looped is sampled.
const REROLL_WARMER: f32 = 0.4;

/// A seed for a retry, different from the default one.
fn reroll_seed() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7);
    nanos | 1
}

fn facts_context(
    facts: &std::result::Result<
        std::result::Result<ModelFacts, ProviderError>,
        tokio::time::error::Elapsed,
    >,
) -> Option<u64> {
    match facts {
        Ok(Ok(f)) => f.context_length,
        _ => None,
    }
}

pub struct AgentRuntime {
    core: Arc<Core>,
    hub: Arc<ProviderHub>,
    tools: Arc<ToolRegistry>,
}

/// What `run` needs besides the job.
pub(crate) struct Ctx {
    pub job: Job,
    pub resolved: Resolved,
    pub tools: Vec<ToolDef>,
    pub json_steps: bool,
    /// Steps on a base model: made by the runtime from short prompts
    /// ([`guided`]) instead of asked for whole.
    pub guided: bool,
    /// The databases `sql_query` may read (name and file).
    pub databases: Vec<crate::settings::SqlDatabase>,
    pub memory: Vec<String>,
    pub dependencies: Vec<(String, String)>,
    pub steps: Vec<RunStep>,
    pub cancel: CancellationToken,
    pub repairs: u32,
    /// Set when this step's last generation looped: the retry's seed.
    pub reroll: Option<u32>,
}

fn fail(error: impl Into<String>) -> Outcome {
    Outcome::Failed {
        error: error.into(),
        retryable: false,
    }
}

fn from_core(e: CoreError) -> Outcome {
    match e {
        CoreError::Provider(p) => from_provider(p),
        // The store refused a write (locked, disk full): retried later,
        // from the last step it recorded.
        other if other.is_transient_storage() => Outcome::Failed {
            error: other.to_string(),
            retryable: true,
        },
        other => fail(other.to_string()),
    }
}

fn from_provider(e: ProviderError) -> Outcome {
    match e {
        ProviderError::Cancelled => Outcome::Cancelled,
        ProviderError::CircuitOpen { .. } => Outcome::Requeue {
            reason: e.to_string(),
        },
        other => Outcome::Failed {
            retryable: other.is_retryable(),
            error: other.to_string(),
        },
    }
}

impl AgentRuntime {
    pub fn new(core: Arc<Core>, hub: Arc<ProviderHub>, tools: Arc<ToolRegistry>) -> Self {
        Self { core, hub, tools }
    }

    pub fn tools(&self) -> &Arc<ToolRegistry> {
        &self.tools
    }

    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    async fn prepare(&self, job: Job, cancel: CancellationToken) -> Result<Ctx> {
        let resolved = self
            .hub
            .resolve(job.agent.provider.as_deref(), job.agent.model.as_deref())
            .await?;
        let mut tools = self.tools.allowed(&job.agent.allowed_tools);
        let json_steps =
            !resolved.provider.supports_tools() || self.json_steps_for(&resolved).await;
        let (task_id, crew_id, run_id) = (
            job.task.id.clone(),
            job.task.crew_id.clone(),
            job.run.id.clone(),
        );
        let (provider, model) = (resolved.provider_name.clone(), resolved.model.clone());
        let (memory, dependencies, steps, databases) = self
            .core
            .call(move |c| {
                c.write(|tx| runs::set_run_model(tx, &run_id, &provider, &model))?;
                let memory = c
                    .memory()
                    .team(crew_id.as_deref(), 30)?
                    .into_iter()
                    .map(|m| m.content)
                    .collect();
                let task = c.tasks().get(&task_id)?;
                let mut deps = Vec::new();
                for d in &task.depends_on {
                    let t = c.tasks().get(d)?;
                    deps.push((t.title, t.output.unwrap_or_default()));
                }
                let steps = c.read(|conn| runs::run_steps(conn, &run_id))?;
                let databases = c.settings()?.sql_databases;
                Ok((memory, deps, steps, databases))
            })
            .await?;
        let names: Vec<String> = databases.iter().map(|d| d.name.clone()).collect();
        name_the_databases(&mut tools, &names);
        let guided = json_steps && self.hub.is_base_model(&resolved).await;
        Ok(Ctx {
            job,
            resolved,
            tools,
            json_steps,
            guided,
            databases,
            memory,
            dependencies,
            steps,
            cancel,
            repairs: 0,
            reroll: None,
        })
    }

    /// Whether steps on this model go through JSON instead of native tool
    /// calls: its stored profile says so; or, for a model met for the first
    /// time, the provider says it has no tool support (Ollama's
    /// `capabilities`, asked within a second or two), which is stored. A model
    /// the provider says nothing about starts with native tools (a refusal or
    /// a call written as text is handled during the run) and is probed in the
    /// background, so the first task does not wait for the probe; a provider
    /// that does not answer is not probed.
    async fn json_steps_for(&self, resolved: &Resolved) -> bool {
        let (provider, model) = (resolved.provider_name.clone(), resolved.model.clone());
        let stored = self
            .core
            .call(move |c| c.model_profile(&provider, &model))
            .await;
        match stored {
            Ok(Some(p)) => return p.json_steps(),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the model profile; using native tools");
                return false;
            }
        }
        let facts = tokio::time::timeout(
            FACTS_TIMEOUT,
            resolved.provider.model_facts(&resolved.model),
        )
        .await;
        match facts {
            Ok(Ok(ModelFacts {
                tools: Some(native),
                ..
            })) => {
                let (mode, reason) = if native {
                    (ToolsMode::Native, String::new())
                } else {
                    (
                        ToolsMode::JsonSteps,
                        "the provider does not list tool support for this model".to_string(),
                    )
                };
                let mut profile = ModelProfile::learned(
                    &resolved.provider_name,
                    &resolved.model,
                    mode,
                    reason,
                    ProfileSource::Capabilities,
                );
                profile.context_length = facts_context(&facts);
                if let Err(e) = self
                    .core
                    .call(move |c| c.save_model_profile(&profile))
                    .await
                {
                    tracing::warn!(error = %e, "cannot store the model profile");
                }
                !native
            }
            // The provider answered but did not say (an OpenAI-compatible
            // server, an older Ollama): probe it while the task goes on.
            Ok(Ok(_)) => {
                if matches!(
                    resolved.provider.kind(),
                    ProviderKind::Ollama | ProviderKind::OpenAiCompatible
                ) {
                    self.hub
                        .probe_in_background(&resolved.provider_name, &resolved.model);
                }
                false
            }
            // It did not answer: nothing to learn now (the step will say why).
            _ => false,
        }
    }

    /// Records a step (and optionally a decision) and keeps it in the context.
    pub(crate) async fn record(
        &self,
        ctx: &mut Ctx,
        step: NewStep,
        decision: Option<(DecisionKind, String, Option<String>, Option<f64>)>,
    ) -> Result<RunStep> {
        let run_id = ctx.job.run.id.clone();
        let cost = self.cost(ctx, step.tokens_in, step.tokens_out);
        let st = self
            .core
            .call(move |c| {
                c.write(|tx| {
                    let st = runs::insert_step(tx, &run_id, &step)?;
                    if cost > 0.0 {
                        runs::add_cost(tx, &run_id, cost)?;
                    }
                    if let Some((kind, reasoning, action, confidence)) = decision {
                        runs::insert_decision(
                            tx,
                            &run_id,
                            Some(&st.id),
                            kind,
                            &reasoning,
                            action.as_deref(),
                            confidence,
                        )?;
                    }
                    Ok(st)
                })
            })
            .await?;
        ctx.steps.push(st.clone());
        Ok(st)
    }

    /// Dollars for these tokens from the provider's cost table (local models cost nothing).
    fn cost(&self, ctx: &Ctx, tokens_in: u64, tokens_out: u64) -> f64 {
        if ctx.resolved.provider.kind() == ProviderKind::Embedded
            || ctx.resolved.provider.kind() == ProviderKind::Ollama
        {
            return 0.0;
        }
        match self.core.providers().get(&ctx.resolved.provider_name) {
            Ok(cfg) => cfg
                .cost_table
                .get(&ctx.resolved.model)
                .map(|c| {
                    (tokens_in as f64 * c.input_per_mtok + tokens_out as f64 * c.output_per_mtok)
                        / 1_000_000.0
                })
                .unwrap_or(0.0),
            Err(_) => 0.0,
        }
    }

    /// Stops a run that went over its task's caps.
    fn over_budget(&self, ctx: &Ctx) -> Option<String> {
        let t = &ctx.job.task;
        // What every run of the task has used so far, this one included (a
        // resumed run's earlier steps are in the task's rolled-up total and
        // in the run's own: read once, from the runs).
        let (tokens, cost) = self.core.runs().task_usage(&t.id).ok()?;
        if let Some(cap) = t.max_tokens {
            if tokens >= cap {
                return Some(format!(
                    "stopped: the task's token cap ({cap}) was reached ({tokens} tokens used)"
                ));
            }
        }
        if let Some(cap) = t.max_cost {
            if cost >= cap {
                return Some(format!(
                    "stopped: the task's cost cap (${cap:.4}) was reached (${cost:.4} spent)"
                ));
            }
        }
        None
    }

    async fn run(&self, mut ctx: Ctx) -> Outcome {
        if let Some(done) = match act::resume(self, &mut ctx).await {
            Ok(o) => o,
            Err(e) => return from_core(e),
        } {
            return done;
        }
        loop {
            if ctx.cancel.is_cancelled() {
                return Outcome::Cancelled;
            }
            let max = ctx.job.agent.max_steps as usize;
            if ctx.steps.len() >= max {
                return fail(format!(
                    "stopped after {max} steps without a final answer (the agent's max_steps)"
                ));
            }
            if let Some(reason) = self.over_budget(&ctx) {
                return fail(reason);
            }
            let started = Instant::now();
            // On a base model the runtime makes the step from short prompts;
            // a tool it has no prompt for gets a JSON step that calls it.
            let mut forced: Option<ToolDef> = None;
            if ctx.guided {
                match self.guided_step(&ctx).await {
                    Ok(guided::Guided::Step { step, usage }) => {
                        ctx.reroll = None;
                        let ms = started.elapsed().as_millis() as u64;
                        match self.take(&mut ctx, Ok(step), "", usage, ms).await {
                            Some(outcome) => return outcome,
                            None => continue,
                        }
                    }
                    Ok(guided::Guided::JsonStep(tool)) => forced = Some(tool),
                    Ok(guided::Guided::Looped { tail }) => {
                        if ctx.reroll.is_some() {
                            return fail(format!(
                                "the model kept repeating itself, twice (…{tail}); a larger model may do better"
                            ));
                        }
                        tracing::info!(run = %ctx.job.run.id, "the model repeated itself; retrying the step");
                        ctx.reroll = Some(reroll_seed());
                        continue;
                    }
                    Ok(guided::Guided::GiveUp(reason)) => return fail(reason),
                    Err(e) => return from_provider(e),
                }
            }
            // A JSON-step model with no tool to call answers in plain text:
            // the step format leaves it nothing to choose but the answer, and
            // on a small base model the JSON wrapper cost the answer itself
            // (the 270M model answered "haiku" to "Write a haiku", "Yes" to
            // "name a bakery"), while the plain answer gets the engine's
            // few-shot frame.
            let direct = ctx.json_steps && ctx.tools.is_empty();
            // A failed call to correct is sampled warmer: sampled as usual
            // (and greedy all the more) the model wrote the same failing
            // call again, word for word.
            let to_correct = (ctx.json_steps && !direct)
                .then(|| call_to_correct(&ctx).cloned())
                .flatten();
            let correcting = to_correct.is_some();
            let request = ChatRequest {
                model: ctx.resolved.model.clone(),
                messages: prompt::messages(&prompt::PromptInput {
                    agent: &ctx.job.agent,
                    task: &ctx.job.task,
                    tools: &ctx.tools,
                    json_steps: ctx.json_steps && !direct,
                    memory: &ctx.memory,
                    dependencies: &ctx.dependencies,
                    steps: &ctx.steps,
                }),
                tools: if ctx.json_steps {
                    Vec::new()
                } else {
                    ctx.tools.iter().map(ToolDef::spec).collect()
                },
                json_schema: (ctx.json_steps && !direct).then(|| {
                    let required = tools_still_required(&ctx);
                    let mut schema = if let Some(tool) = &forced {
                        step::schema_without_finish(std::slice::from_ref(tool))
                    } else if repeats_itself(&ctx.steps) {
                        step::schema(&[])
                    } else if let Some(tool) = &to_correct {
                        step::schema_without_finish(std::slice::from_ref(tool))
                    } else if required.is_empty() {
                        step::schema(&ctx.tools)
                    } else {
                        step::schema_without_finish(&required[..1])
                    };
                    step::only_addresses(&mut schema, &known_addresses(&ctx));
                    schema
                }),
                temperature: Some(
                    if ctx.json_steps {
                        (ctx.job.agent.temperature as f32).min(JSON_STEP_TEMPERATURE)
                    } else {
                        ctx.job.agent.temperature as f32
                    } + if ctx.reroll.is_some() || correcting {
                        REROLL_WARMER
                    } else {
                        0.0
                    },
                ),
                seed: ctx.reroll.or_else(|| correcting.then(reroll_seed)),
                max_tokens: None,
                stop: STEP_STOPS.iter().map(|s| s.to_string()).collect(),
                raw_prompt: None,
                grammar: None,
            };
            // Every step carries a cap: a JSON step the size its bounded
            // strings allow, a native step room for a full final answer.
            let request = ChatRequest {
                max_tokens: Some(match &request.json_schema {
                    Some(schema) => step::max_tokens(schema),
                    None if direct => DIRECT_ANSWER_TOKENS,
                    None => NATIVE_STEP_TOKENS,
                }),
                ..request
            };
            let answer = match ctx
                .resolved
                .provider
                .chat(request, ctx.cancel.clone())
                .await
            {
                Ok(stream) => collect(stream).await.map_err(|(e, _partial)| e),
                Err(e) => Err(e),
            };
            let got = match answer {
                Ok(c) => c,
                Err(ProviderError::ToolsUnsupported { detail, .. }) if !ctx.json_steps => {
                    // The provider will not take tools for this model: the
                    // same step again, as JSON, and remember it.
                    tracing::info!(
                        provider = %ctx.resolved.provider_name,
                        model = %ctx.resolved.model,
                        %detail,
                        "the model does not take tool calls; switching to JSON steps"
                    );
                    let (provider, model) = (
                        ctx.resolved.provider_name.clone(),
                        ctx.resolved.model.clone(),
                    );
                    if let Err(e) = self
                        .core
                        .call(move |c| {
                            c.learn_tools_unsupported(&provider, &model, &detail)
                                .map(|_| ())
                        })
                        .await
                    {
                        tracing::warn!(error = %e, "cannot store the model profile");
                    }
                    ctx.json_steps = true;
                    continue;
                }
                Err(e) => return from_provider(e),
            };
            let call_id = format!("call_{}", ctx.steps.len());
            // A JSON step cut short (it looped, or ran to its token cap) after
            // a whole call: the call stands.
            let cut_short = matches!(
                got.finish,
                Some(FinishReason::Repetition | FinishReason::Length)
            );
            let salvaged = (cut_short && ctx.json_steps && !direct)
                .then(|| {
                    step::parse(&got.text, &call_id)
                        .ok()
                        .or_else(|| step::salvage_call(&got.text, &call_id))
                })
                .flatten();
            if salvaged.is_none() && got.finish == Some(FinishReason::Repetition) {
                let shown: String = got
                    .text
                    .chars()
                    .rev()
                    .take(80)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                if ctx.reroll.is_some() {
                    return fail(format!(
                        "the model kept repeating itself, twice (…{}); a larger model may do better",
                        shown.trim()
                    ));
                }
                // Once more with another seed and a warmer temperature.
                tracing::info!(run = %ctx.job.run.id, "the model repeated itself; retrying the step");
                ctx.reroll = Some(reroll_seed());
                continue;
            }
            ctx.reroll = None;
            let usage = got.usage;
            let ms = started.elapsed().as_millis() as u64;
            let parsed = if let Some(step) = salvaged {
                Ok(step)
            } else if ctx.json_steps && !direct {
                step::parse(&got.text, &call_id)
            } else if let Some(finish) = direct
                .then(|| step::parse(&got.text, &call_id).ok())
                .flatten()
                .filter(|s| matches!(s, step::Step::Finish { .. }))
            {
                // A model that answered with a finish step all the same.
                Ok(finish)
            } else if let Some(call) = got.tool_calls.first() {
                Ok(step::Step::Act {
                    thought: got.text.trim().to_string(),
                    tool: call.name.clone(),
                    arguments: call.arguments.clone(),
                    call_id: if call.id.is_empty() {
                        call_id
                    } else {
                        call.id.clone()
                    },
                })
            } else if let Some((tool, arguments)) = step::text_tool_call(
                &got.text,
                &ctx.tools
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>(),
            ) {
                // The model wrote its call as text (`<tool_call>…`, a bare
                // JSON object naming a tool): it is a call, not an answer.
                Ok(step::Step::Act {
                    thought: "(tool call written as text)".to_string(),
                    tool,
                    arguments,
                    call_id,
                })
            } else {
                Ok(step::Step::Finish {
                    thought: String::new(),
                    answer: got.text.trim().to_string(),
                    confidence: None,
                })
            };
            if let Some(outcome) = self.take(&mut ctx, parsed, &got.text, usage, ms).await {
                return outcome;
            }
        }
    }

    /// Takes a step the model made (or sends back one it could not make);
    /// `Some` when the run stops here.
    async fn take(
        &self,
        ctx: &mut Ctx,
        parsed: std::result::Result<step::Step, step::StepError>,
        raw: &str,
        usage: Usage,
        ms: u64,
    ) -> Option<Outcome> {
        let outcome = match parsed {
            Err(problem) => {
                self.repair(ctx, raw, None, &problem.to_string(), usage, ms)
                    .await
            }
            Ok(step::Step::Act {
                thought,
                tool,
                arguments,
                call_id,
            }) => act::act(self, ctx, thought, tool, arguments, call_id, usage, ms).await,
            Ok(step::Step::Finish {
                thought,
                answer,
                confidence,
            }) => act::finish(self, ctx, thought, answer, confidence, usage, ms).await,
        };
        match outcome {
            Ok(None) => None,
            Ok(o @ Some(_)) => o,
            Err(e) => Some(from_core(e)),
        }
    }

    /// Records an invalid step with the problem as its observation, so the
    /// model can fix it; gives up after `MAX_REPAIRS` in a row.
    pub(crate) async fn repair(
        &self,
        ctx: &mut Ctx,
        raw: &str,
        action: Option<runs::StepAction>,
        problem: &str,
        usage: Usage,
        ms: u64,
    ) -> Result<Option<Outcome>> {
        ctx.repairs += 1;
        let thought: String = raw.chars().take(2000).collect();
        let observation =
            format!("Error: {problem}. Nothing was run. Reply with a corrected step.");
        self.record(
            ctx,
            NewStep {
                thought,
                action,
                observation: Some(observation),
                tokens_in: usage.input_tokens,
                tokens_cached: usage.cached_input_tokens,
                tokens_out: usage.output_tokens,
                duration_ms: ms,
                ..Default::default()
            },
            None,
        )
        .await?;
        if ctx.repairs > MAX_REPAIRS {
            return Ok(Some(fail(format!(
                "the model did not produce a valid step after {MAX_REPAIRS} corrections (last problem: {problem})"
            ))));
        }
        Ok(None)
    }

    /// Creates an approval request for the run's current step.
    pub(crate) async fn request_approval(
        &self,
        ctx: &Ctx,
        step_id: &str,
        kind: ApprovalKind,
        title: String,
        proposed: serde_json::Value,
        tool_call_id: Option<String>,
    ) -> Result<()> {
        let input = NewApproval {
            title,
            kind: Some(kind),
            proposed_action: proposed,
            task_id: Some(ctx.job.task.id.clone()),
            run_id: Some(ctx.job.run.id.clone()),
            step_id: Some(step_id.to_string()),
            tool_call_id,
            agent_id: Some(ctx.job.agent.id.clone()),
            crew_run_id: ctx.job.task.crew_run_id.clone(),
            expires_in_secs: None,
        };
        self.core
            .call(move |c| c.approvals().create(input).map(|_| ()))
            .await
    }

    pub(crate) fn autonomy_for(&self, agent: &Agent, tool: &str) -> Autonomy {
        agent
            .tool_autonomy
            .get(tool)
            .copied()
            .unwrap_or(agent.autonomy)
    }
}

#[async_trait]
impl Executor for AgentRuntime {
    async fn execute(&self, job: Job, cancel: CancellationToken) -> Outcome {
        match self.prepare(job, cancel).await {
            Ok(ctx) => self.run(ctx).await,
            Err(e) => from_core(e),
        }
    }
}
