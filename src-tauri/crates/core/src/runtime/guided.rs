//! Guided steps: how an agent works on a *base* model — one without a chat
//! template, such as the default Gemma 3 270M. Such a model continues text;
//! it does not follow instructions, and asked for a whole JSON step after a
//! page of them it copied the worked example ("6 times 7 is 42" for every
//! sum) and answered from thin air (8 of 32 competence tasks right, with
//! 96% of its steps well-formed).
//!
//! So the runtime takes a step apart. What to do next is decided by the
//! run's own rules where they decide it (the tool the task names, the call
//! that failed and must be corrected, the answer once a call has its
//! result), and by the model only where they do not, as a constrained
//! choice. What the step needs written — a program, a query, a fact, the
//! answer — is asked for on its own, in a short text of finished examples
//! that the real case continues ([`frames`]), with a grammar where the
//! content has a form ([`grammar`]). The runtime assembles the step; the
//! tool's schema, the agent's autonomy and the journal then treat it like
//! any other. A tool without a frame of its own (MCP tools, messages,
//! delegation) gets a JSON step that must call it.

pub mod frames;
pub mod grammar;

use serde_json::{json, Value};

use crate::providers::{collect, ChatRequest, FinishReason, ProviderError, Usage};
use crate::tools::ToolDef;

use super::rules::{call_to_correct, known_addresses, repeats_itself, tools_still_required};
use super::step::{self, Step};
use super::{Ctx, REROLL_WARMER};

/// What a guided step came to.
pub(crate) enum Guided {
    /// A step to take, and what making it cost.
    Step { step: Step, usage: Usage },
    /// This tool must be called, but it has no frame: a JSON step that
    /// calls it.
    JsonStep(ToolDef),
    /// The model repeated itself until it was stopped, at the end of what
    /// it wrote.
    Looped { tail: String },
    /// Nothing worked: every call failed and may not be tried again.
    GiveUp(String),
}

/// Most characters of team notes and earlier results an answer without a
/// tool is given.
const NOTES_CHARS: usize = 1500;
/// Tokens for a program or a query (one line).
const LINE_TOKENS: u32 = 120;
/// How warm a correction is drawn. At 0.4 the default 270M model drew the
/// same failing program three times out of three.
const CORRECTION_TEMPERATURE: f32 = 0.9;
/// Draws of a correction at most, while it repeats the failed line.
const CORRECTION_DRAWS: u32 = 3;
/// Tokens for a one-sentence answer from a result.
const ANSWER_TOKENS: u32 = 120;
/// Tokens for an answer with no tool result (a verse, a few sentences).
const DIRECT_TOKENS: u32 = 512;

/// What the next step does.
enum Plan {
    Call(ToolDef, &'static str),
    Finish,
    Choose,
}

/// The run's rules, in order: correct a failed call; stop a call repeated
/// word for word; call what the task asks for; answer once a call worked
/// (or when there is no tool); let the model choose on a first step.
fn plan(ctx: &Ctx) -> Plan {
    if let Some(tool) = call_to_correct(ctx) {
        return Plan::Call(tool.clone(), "to correct the call that failed");
    }
    if repeats_itself(&ctx.steps) {
        return Plan::Finish;
    }
    if let Some(tool) = tools_still_required(ctx).into_iter().next() {
        return Plan::Call(tool, "the task asks for it");
    }
    if ctx.tools.is_empty() || ctx.steps.iter().any(|s| s.action.is_some()) {
        return Plan::Finish;
    }
    Plan::Choose
}

/// The question a frame is about: the task without the words that only
/// name a tool.
fn question(ctx: &Ctx) -> String {
    let names: Vec<&str> = ctx.tools.iter().map(|t| t.name.as_str()).collect();
    frames::question(&ctx.job.task.title, &ctx.job.task.objective, &names)
}

/// Results the run has: successful calls' observations, oldest first, as
/// (tool, result text).
fn results(ctx: &Ctx) -> Vec<(String, String)> {
    ctx.steps
        .iter()
        .filter_map(|s| {
            let action = s.action.as_ref()?;
            let obs = s.observation.as_deref()?;
            (!step::failed(obs)).then(|| (action.tool.clone(), frames::result_text(obs)))
        })
        .collect()
}

impl super::AgentRuntime {
    /// Makes the next step of a run on a base model (see the module doc).
    pub(crate) async fn guided_step(&self, ctx: &Ctx) -> Result<Guided, ProviderError> {
        let mut usage = Usage::default();
        let (tool, why) = match plan(ctx) {
            Plan::Call(tool, why) => (tool, why),
            Plan::Finish => return self.guided_finish(ctx, usage).await,
            Plan::Choose => match self.choose(ctx, &mut usage).await? {
                Some(tool) => (tool, "the model chose it for the task"),
                None => return self.guided_finish(ctx, usage).await,
            },
        };
        let made = match tool.name.as_str() {
            "code_run" => self.program(ctx, &mut usage).await?,
            "sql_query" => match self.query(ctx, &mut usage).await? {
                Some(made) => made,
                None => return Ok(Guided::JsonStep(tool)),
            },
            "web_fetch" => match next_address(ctx) {
                // The address that just failed, again: nothing to correct.
                Some(url)
                    if last_failure(ctx, "web_fetch", "url").is_some_and(|(u, _)| u == url) =>
                {
                    return self.guided_finish(ctx, usage).await
                }
                Some(url) => Made::Args(json!({ "url": url })),
                None => return Ok(Guided::JsonStep(tool)),
            },
            "remember" => self.fact(ctx, &mut usage).await?,
            _ => return Ok(Guided::JsonStep(tool)),
        };
        let arguments = match made {
            Made::Args(a) => a,
            Made::Looped(tail) => return Ok(Guided::Looped { tail }),
        };
        Ok(Guided::Step {
            step: Step::Act {
                thought: format!("Guided step: {}, {why}.", tool.name),
                tool: tool.name.clone(),
                arguments,
                call_id: format!("call_{}", ctx.steps.len()),
            },
            usage,
        })
    }

    /// The final answer: from the last result when a call worked, else in
    /// the chat frame (no tool, or a task answered directly).
    async fn guided_finish(&self, ctx: &Ctx, mut usage: Usage) -> Result<Guided, ProviderError> {
        let results = results(ctx);
        let tried = ctx.steps.iter().any(|s| s.action.is_some());
        if results.is_empty() && tried {
            let last = ctx
                .steps
                .iter()
                .rev()
                .find_map(|s| Some((s.action.as_ref()?, s.observation.as_deref()?)));
            let detail = last
                .map(|(a, o)| format!("{} failed: {}", a.tool, frames::error_line(o)))
                .unwrap_or_default();
            return Ok(Guided::GiveUp(format!(
                "no call worked, and the model may not try again ({detail}); a larger model may do better"
            )));
        }
        let (answer, finish, thought) = if let Some((tool, result)) = results.last() {
            let prompt = frames::answer(&question(ctx), result);
            let (text, finish) = self
                .complete(ctx, &prompt, None, &["\n"], ANSWER_TOKENS, &mut usage)
                .await?;
            let mut answer = text.trim().to_string();
            if answer.is_empty() {
                // Nothing came: the result itself is the best answer there is.
                answer = frames::clip(&frames::one_line(result), 500);
            }
            (
                answer,
                finish,
                format!("Guided step: the answer from {tool}'s result."),
            )
        } else {
            // What the run was given — results it depends on, then the
            // team's notes, newest first — as much as a small model's
            // context leaves room for.
            let mut notes: Vec<String> = Vec::new();
            let mut room = NOTES_CHARS;
            let given = ctx
                .dependencies
                .iter()
                .map(|(title, output)| format!("Result of '{title}': {output}"))
                .chain(ctx.memory.iter().rev().cloned());
            for note in given {
                if room == 0 {
                    break;
                }
                let note = frames::clip(note.trim(), room);
                room = room.saturating_sub(note.chars().count());
                notes.push(note);
            }
            let task = &ctx.job.task;
            let asked =
                if task.objective.trim().is_empty() || task.objective.trim() == task.title.trim() {
                    task.title.clone()
                } else {
                    format!("{}\n{}", task.title.trim(), task.objective.trim())
                };
            let prompt = frames::direct(&persona(ctx), &notes, &asked);
            let (text, finish) = self
                .complete(
                    ctx,
                    &prompt,
                    None,
                    frames::CHAT_STOPS,
                    DIRECT_TOKENS,
                    &mut usage,
                )
                .await?;
            (
                text.trim().to_string(),
                finish,
                "Guided step: answered without a tool.".to_string(),
            )
        };
        if finish == Some(FinishReason::Repetition) {
            return Ok(Guided::Looped {
                tail: tail(&answer),
            });
        }
        Ok(Guided::Step {
            step: Step::Finish {
                thought,
                answer,
                confidence: None,
            },
            usage,
        })
    }

    /// The model's choice on a first step: `Some(tool)`, or None to answer.
    async fn choose(&self, ctx: &Ctx, usage: &mut Usage) -> Result<Option<ToolDef>, ProviderError> {
        let listed: Vec<(String, String)> = ctx
            .tools
            .iter()
            .map(|t| (t.name.clone(), short_description(&t.description)))
            .collect();
        let prompt = frames::choose(&question(ctx), &listed);
        let mut options = vec!["\"answer\"".to_string()];
        options.extend(
            ctx.tools
                .iter()
                .map(|t| format!("\"{}\"", t.name.replace('"', ""))),
        );
        let grammar = format!("root ::= \" \" ({}) \"\\n\"\n", options.join(" | "));
        let (text, _) = self
            .complete(ctx, &prompt, Some(grammar), &["\n"], 16, usage)
            .await?;
        let picked = text.trim();
        Ok(ctx.tools.iter().find(|t| t.name == picked).cloned())
    }

    /// A `code_run` call: a one-line program for the task, from the data
    /// earlier calls read; when correcting, with the failed program and its
    /// error.
    async fn program(&self, ctx: &Ctx, usage: &mut Usage) -> Result<Made, ProviderError> {
        let mut data: Vec<String> = results(ctx)
            .into_iter()
            .filter(|(tool, _)| tool != "code_run")
            .map(|(_, r)| r)
            .collect();
        data.extend(ctx.dependencies.iter().map(|(_, out)| out.clone()));
        let failed = last_failure(ctx, "code_run", "code");
        let asked = question(ctx);
        let prompt = frames::program(
            &asked,
            &data,
            failed.as_ref().map(|(c, e)| (c.as_str(), e.as_str())),
        );
        self.line(
            ctx,
            &prompt,
            grammar::PYTHON,
            failed.as_ref(),
            usage,
            |code| json!({ "language": "python", "code": code }),
        )
        .await
    }

    /// A `sql_query` call on the database the task names (else the first
    /// registered), written against its real tables. None when there is
    /// no database to read the tables of.
    async fn query(&self, ctx: &Ctx, usage: &mut Usage) -> Result<Option<Made>, ProviderError> {
        let Some(db) = pick_database(ctx) else {
            return Ok(None);
        };
        let path = std::path::PathBuf::from(&db.path);
        let tables = tokio::task::spawn_blocking(move || crate::tools::sql::schema(&path))
            .await
            .ok()
            .and_then(Result::ok)
            .filter(|t| !t.is_empty());
        let Some(tables) = tables else {
            return Ok(None);
        };
        let asked = question(ctx);
        let failed = last_failure(ctx, "sql_query", "query");
        let prompt = frames::query(
            &asked,
            &tables,
            failed.as_ref().map(|(q, e)| (q.as_str(), e.as_str())),
        );
        let grammar = grammar::sql(&tables, &asked);
        self.line(
            ctx,
            &prompt,
            &grammar,
            failed.as_ref(),
            usage,
            |sql| json!({ "database": db.name, "query": sql }),
        )
        .await
        .map(Some)
    }

    /// One line of code under `grammar` (the prompt's lead put back before
    /// it), made into the call's arguments by `args`. When it corrects
    /// `failed` (the failed line and its error), it is drawn warmer, and
    /// drawn again (at most [`CORRECTION_DRAWS`] times) while it is the
    /// failed line word for word: greedy, the default 270M model wrote the
    /// same failing program three times in a row with the error in view.
    async fn line(
        &self,
        ctx: &Ctx,
        prompt: &frames::Prompt,
        grammar: &str,
        failed: Option<&(String, String)>,
        usage: &mut Usage,
        args: impl FnOnce(&str) -> Value,
    ) -> Result<Made, ProviderError> {
        let failed = failed.map(|(line, _)| line.as_str());
        let mut seed = ctx.reroll;
        let mut line = String::new();
        for draw in 0..CORRECTION_DRAWS {
            if failed.is_some() && seed.is_none() {
                seed = Some(super::reroll_seed().wrapping_add(draw));
            }
            let (text, finish) = self
                .draw(
                    ctx,
                    prompt,
                    Some(grammar.to_string()),
                    &["\n"],
                    LINE_TOKENS,
                    usage,
                    seed,
                )
                .await?;
            if finish == Some(FinishReason::Repetition) {
                return Ok(Made::Looped(tail(&text)));
            }
            line = format!(
                "{}{}",
                prompt.lead,
                text.lines().next().unwrap_or("").trim_end()
            );
            if failed.is_none_or(|f| f.trim() != line.trim()) {
                break;
            }
            seed = None;
        }
        Ok(Made::Args(args(&line)))
    }

    /// A `remember` call: the fact the task asks to keep.
    async fn fact(&self, ctx: &Ctx, usage: &mut Usage) -> Result<Made, ProviderError> {
        let prompt = frames::fact(&ctx.job.task.title);
        let (text, finish) = self
            .complete(ctx, &prompt, None, &["\n"], LINE_TOKENS, usage)
            .await?;
        if finish == Some(FinishReason::Repetition) {
            return Ok(Made::Looped(tail(&text)));
        }
        let mut content = text.trim().to_string();
        if content.is_empty() {
            content = ctx.job.task.title.trim().to_string();
        }
        Ok(Made::Args(json!({ "content": content })))
    }

    /// One continuation of `prompt`, greedy (warmer, with another seed, when
    /// the step is tried again after a loop).
    async fn complete(
        &self,
        ctx: &Ctx,
        prompt: &frames::Prompt,
        grammar: Option<String>,
        stop: &[&str],
        max_tokens: u32,
        usage: &mut Usage,
    ) -> Result<(String, Option<FinishReason>), ProviderError> {
        self.draw(ctx, prompt, grammar, stop, max_tokens, usage, ctx.reroll)
            .await
    }

    /// [`Self::complete`] sampled warmer with `seed` when there is one.
    #[allow(clippy::too_many_arguments)]
    async fn draw(
        &self,
        ctx: &Ctx,
        prompt: &frames::Prompt,
        grammar: Option<String>,
        stop: &[&str],
        max_tokens: u32,
        usage: &mut Usage,
        seed: Option<u32>,
    ) -> Result<(String, Option<FinishReason>), ProviderError> {
        let provider = &ctx.resolved.provider;
        let request = ChatRequest {
            model: ctx.resolved.model.clone(),
            raw_prompt: Some(prompt.text.clone()),
            grammar: grammar.filter(|_| provider.supports_grammar()),
            temperature: Some(match (seed, ctx.reroll) {
                (None, _) => 0.0,
                (Some(_), Some(_)) => REROLL_WARMER,
                // A correction: warm enough that it can differ.
                (Some(_), None) => CORRECTION_TEMPERATURE,
            }),
            seed,
            max_tokens: Some(max_tokens),
            stop: stop.iter().map(|s| s.to_string()).collect(),
            ..ChatRequest::default()
        };
        let got = collect(provider.chat(request, ctx.cancel.clone()).await?)
            .await
            .map_err(|(e, _)| e)?;
        usage.input_tokens += got.usage.input_tokens;
        usage.output_tokens += got.usage.output_tokens;
        usage.cached_input_tokens += got.usage.cached_input_tokens;
        // Where a provider sends on past a stop (one that takes fewer stop
        // sequences than asked, or none), the answer still ends there.
        let mut text = got.text;
        if let Some(at) = stop.iter().filter_map(|s| text.find(s)).min() {
            text.truncate(at);
        }
        Ok((text, got.finish))
    }
}

/// Arguments made by the model, or the end of what it wrote when it looped.
enum Made {
    Args(Value),
    Looped(String),
}

/// The agent as its own instructions say (no tools, no step format).
fn persona(ctx: &Ctx) -> String {
    let a = &ctx.job.agent;
    if a.system_prompt.trim().is_empty() {
        let role = if a.role.is_empty() {
            "capable assistant"
        } else {
            &a.role
        };
        format!("You are {}, a {role}.", a.name)
    } else {
        a.system_prompt.trim().to_string()
    }
}

/// The first sentence of a tool's description, short.
fn short_description(text: &str) -> String {
    let first = text
        .split(". ")
        .next()
        .unwrap_or(text)
        .trim_end_matches('.');
    frames::clip(&first.to_lowercase(), 60)
}

/// The address to fetch next: the first the run was given that it has not
/// read yet (else the first, which the repeated call then ends).
fn next_address(ctx: &Ctx) -> Option<String> {
    let known = known_addresses(ctx);
    let read: Vec<String> = ctx
        .steps
        .iter()
        .filter_map(|s| {
            let a = s.action.as_ref()?;
            let ok = s.observation.as_deref().is_some_and(|o| !step::failed(o));
            (a.tool == "web_fetch" && ok)
                .then(|| a.arguments.get("url")?.as_str().map(str::to_string))
                .flatten()
        })
        .collect();
    known
        .iter()
        .find(|u| !read.contains(u))
        .or_else(|| known.first())
        .cloned()
}

/// The registered database the task or the agent's instructions name, else
/// the first one.
fn pick_database(ctx: &Ctx) -> Option<&crate::settings::SqlDatabase> {
    let text = format!(
        "{} {} {}",
        ctx.job.task.title, ctx.job.task.objective, ctx.job.agent.system_prompt
    )
    .to_lowercase();
    ctx.databases
        .iter()
        .find(|d| {
            let name = d.name.to_lowercase();
            text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == name)
        })
        .or_else(|| ctx.databases.first())
}

/// When the last step was a failed call of `tool`: its `field` argument and
/// the error it got.
fn last_failure(ctx: &Ctx, tool: &str, field: &str) -> Option<(String, String)> {
    let last = ctx.steps.last()?;
    let action = last.action.as_ref().filter(|a| a.tool == tool)?;
    let obs = last.observation.as_deref().filter(|o| step::failed(o))?;
    let value = action.arguments.get(field)?.as_str()?.to_string();
    Some((value, frames::error_line(obs)))
}

/// The end of a text, to show where a model looped.
fn tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let from = chars.len().saturating_sub(80);
    chars[from..].iter().collect::<String>().trim().to_string()
}
