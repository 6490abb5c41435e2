//! Model profiles: what one (provider, model) really does as an agent —
//! native tool calls, JSON steps only, or not usable — with the figures the
//! capability probe measured (`probe`) or what the provider itself said
//! (Ollama's `capabilities`, a 400 "does not support tools" during a run).
//! The agent runtime picks its step mode from here; Settings → Models and
//! `ensemble models list` show it.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::Result;
use crate::events::{ChangeOp, Entity};
use crate::store::row::{query_all, to_json, RowCtx};
use crate::time::{self, Timestamp};
use crate::{text_enum, Core};

text_enum! {
    /// How agents on this model take their steps.
    pub enum ToolsMode ("tools mode") {
        /// The provider's own tool calls: the model passed the probe's cases.
        Native = "native",
        /// One schema-constrained JSON object per step (the embedded engine,
        /// models without tool support or with malformed calls).
        JsonSteps = "json_steps",
        /// A base model (no chat template): the runtime makes each step
        /// from short prompts of finished examples (`runtime::guided`).
        Guided = "guided",
        /// Neither works; agents still get JSON steps, with little hope.
        Unusable = "unusable",
    }
}

text_enum! {
    /// Where a profile's verdict comes from.
    pub enum ProfileSource ("profile source") {
        /// The capability probe ran its cases on the model.
        Probe = "probe",
        /// The provider's description of the model (Ollama's `capabilities`).
        Capabilities = "capabilities",
        /// The provider's answer during a run ("does not support tools").
        Provider = "provider",
    }
}

/// One probe case: what was asked and how the model did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ProbeCase {
    pub name: String,
    pub passed: bool,
    /// What went wrong, or what the model did when it passed.
    pub detail: String,
    #[ts(type = "number")]
    pub ms: u64,
}

/// What a (provider, model) does, measured or learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ModelProfile {
    /// The provider config's name.
    pub provider: String,
    pub model: String,
    pub tools: ToolsMode,
    /// The plain verdict: "tools: native", "tools: JSON steps", or
    /// "not usable for agents: <reason>".
    pub verdict: String,
    /// Why this mode (empty when native tools simply work).
    pub reason: String,
    pub source: ProfileSource,
    pub native_cases_passed: Option<u32>,
    pub native_cases_total: Option<u32>,
    /// Structured output followed the JSON schema (`None`: not tried).
    pub json_schema: Option<bool>,
    /// The answer came in more than one piece.
    pub streaming: Option<bool>,
    #[ts(type = "number | null")]
    pub context_length: Option<u64>,
    pub prompt_tokens_per_sec: Option<f64>,
    pub generation_tokens_per_sec: Option<f64>,
    pub cases: Vec<ProbeCase>,
    /// The Ensemble version that measured it.
    pub app_version: String,
    pub probed_at: Timestamp,
}

impl ModelProfile {
    /// A profile with only a verdict (what a provider said, not a probe).
    pub fn learned(
        provider: &str,
        model: &str,
        tools: ToolsMode,
        reason: impl Into<String>,
        source: ProfileSource,
    ) -> Self {
        let reason = reason.into();
        Self {
            provider: provider.to_string(),
            model: model.to_string(),
            tools,
            verdict: verdict(tools, &reason),
            reason,
            source,
            native_cases_passed: None,
            native_cases_total: None,
            json_schema: None,
            streaming: None,
            context_length: None,
            prompt_tokens_per_sec: None,
            generation_tokens_per_sec: None,
            cases: Vec::new(),
            app_version: APP_VERSION.to_string(),
            probed_at: time::now(),
        }
    }

    /// Whether agent steps on this model go through JSON steps.
    pub fn json_steps(&self) -> bool {
        self.tools != ToolsMode::Native
    }
}

/// The version recorded with each profile.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The plain verdict Settings and the CLI show.
pub fn verdict(tools: ToolsMode, reason: &str) -> String {
    match tools {
        ToolsMode::Native => "tools: native".to_string(),
        ToolsMode::JsonSteps => "tools: JSON steps".to_string(),
        ToolsMode::Guided => "tools: guided steps (base model)".to_string(),
        ToolsMode::Unusable if reason.is_empty() => "not usable for agents".to_string(),
        ToolsMode::Unusable => format!("not usable for agents: {reason}"),
    }
}

fn profile_from_row(r: &rusqlite::Row<'_>) -> Result<ModelProfile> {
    let provider: String = r.get("provider")?;
    let model: String = r.get("model")?;
    let c = RowCtx::keyed(r, "model profile", format!("{provider}/{model}"));
    let tools: ToolsMode = c.parse("tools")?;
    let reason: String = c.get("reason")?;
    let opt_bool =
        |col: &str| -> Result<Option<bool>> { Ok(c.get::<Option<i64>>(col)?.map(|v| v != 0)) };
    let opt_u32 = |col: &str| -> Result<Option<u32>> {
        Ok(c.get::<Option<i64>>(col)?
            .and_then(|v| u32::try_from(v).ok()))
    };
    Ok(ModelProfile {
        verdict: verdict(tools, &reason),
        tools,
        reason,
        source: c.parse("source")?,
        native_cases_passed: opt_u32("native_cases_passed")?,
        native_cases_total: opt_u32("native_cases_total")?,
        json_schema: opt_bool("json_schema")?,
        streaming: opt_bool("streaming")?,
        context_length: c
            .get::<Option<i64>>("context_length")?
            .and_then(|v| u64::try_from(v).ok()),
        prompt_tokens_per_sec: c.get("prompt_tokens_per_sec")?,
        generation_tokens_per_sec: c.get("generation_tokens_per_sec")?,
        cases: c.json("cases")?,
        app_version: c.get("app_version")?,
        probed_at: c.ts("probed_at")?,
        provider,
        model,
    })
}

impl Core {
    /// The stored profile of a model, if it was probed or learned.
    pub fn model_profile(&self, provider: &str, model: &str) -> Result<Option<ModelProfile>> {
        self.read(|c| {
            Ok(query_all(
                c,
                "SELECT * FROM model_profiles WHERE provider = ?1 AND model = ?2",
                params![provider, model],
                profile_from_row,
            )?
            .into_iter()
            .next())
        })
    }

    /// Every stored profile, by provider then model.
    pub fn model_profiles(&self) -> Result<Vec<ModelProfile>> {
        self.read(|c| {
            query_all(
                c,
                "SELECT * FROM model_profiles ORDER BY provider, model",
                [],
                profile_from_row,
            )
        })
    }

    /// Stores a profile, replacing the model's earlier one.
    pub fn save_model_profile(&self, p: &ModelProfile) -> Result<()> {
        let cases = to_json(&p.cases)?;
        let context = p.context_length.and_then(|v| i64::try_from(v).ok());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO model_profiles (provider, model, tools, reason, source,
                    native_cases_passed, native_cases_total, json_schema, streaming,
                    context_length, prompt_tokens_per_sec, generation_tokens_per_sec,
                    cases, app_version, probed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (provider, model) DO UPDATE SET
                    tools = excluded.tools, reason = excluded.reason, source = excluded.source,
                    native_cases_passed = excluded.native_cases_passed,
                    native_cases_total = excluded.native_cases_total,
                    json_schema = excluded.json_schema, streaming = excluded.streaming,
                    context_length = excluded.context_length,
                    prompt_tokens_per_sec = excluded.prompt_tokens_per_sec,
                    generation_tokens_per_sec = excluded.generation_tokens_per_sec,
                    cases = excluded.cases, app_version = excluded.app_version,
                    probed_at = excluded.probed_at",
                params![
                    p.provider,
                    p.model,
                    p.tools,
                    p.reason,
                    p.source,
                    p.native_cases_passed,
                    p.native_cases_total,
                    p.json_schema,
                    p.streaming,
                    context,
                    p.prompt_tokens_per_sec,
                    p.generation_tokens_per_sec,
                    cases,
                    p.app_version,
                    time::to_sql(&p.probed_at),
                ],
            )?;
            tx.changed(Entity::Provider, ChangeOp::Updated, &p.provider);
            Ok(())
        })
    }

    /// Records that the provider refused tool calls for a model during a
    /// run: its steps go through JSON from now on. What a probe measured
    /// (speed, context, cases) is kept; only the verdict changes.
    pub fn learn_tools_unsupported(
        &self,
        provider: &str,
        model: &str,
        detail: &str,
    ) -> Result<ModelProfile> {
        let reason = format!("the provider refused tool calls ({detail})");
        let mut p = self.model_profile(provider, model)?.unwrap_or_else(|| {
            ModelProfile::learned(
                provider,
                model,
                ToolsMode::JsonSteps,
                "",
                ProfileSource::Provider,
            )
        });
        p.tools = ToolsMode::JsonSteps;
        p.source = ProfileSource::Provider;
        p.verdict = verdict(p.tools, &reason);
        p.reason = reason;
        p.probed_at = time::now();
        p.app_version = APP_VERSION.to_string();
        self.save_model_profile(&p)?;
        Ok(p)
    }

    /// Forgets the profiles of a provider (it was deleted or renamed).
    pub fn forget_model_profiles(&self, provider: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute("DELETE FROM model_profiles WHERE provider = ?1", [provider])?;
            if n > 0 {
                tx.changed(Entity::Provider, ChangeOp::Updated, provider);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_plain() {
        assert_eq!(verdict(ToolsMode::Native, ""), "tools: native");
        assert_eq!(verdict(ToolsMode::JsonSteps, "x"), "tools: JSON steps");
        assert_eq!(
            verdict(ToolsMode::Guided, "x"),
            "tools: guided steps (base model)"
        );
        assert_eq!(
            verdict(ToolsMode::Unusable, "no valid JSON"),
            "not usable for agents: no valid JSON"
        );
    }

    #[test]
    fn a_profile_round_trips_and_a_refusal_keeps_the_measurements() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).unwrap();
        let mut p =
            ModelProfile::learned("ollama", "m", ToolsMode::Native, "", ProfileSource::Probe);
        p.native_cases_passed = Some(3);
        p.native_cases_total = Some(3);
        p.json_schema = Some(true);
        p.streaming = Some(true);
        p.context_length = Some(8192);
        p.generation_tokens_per_sec = Some(41.5);
        p.cases = vec![ProbeCase {
            name: "weather".into(),
            passed: true,
            detail: "ok".into(),
            ms: 12,
        }];
        core.save_model_profile(&p).unwrap();
        let got = core.model_profile("ollama", "m").unwrap().unwrap();
        assert_eq!(got.cases, p.cases);
        assert_eq!(got.tools, ToolsMode::Native);
        assert!(!got.json_steps());

        let learned = core
            .learn_tools_unsupported("ollama", "m", "m does not support tools")
            .unwrap();
        assert_eq!(learned.tools, ToolsMode::JsonSteps);
        assert_eq!(learned.source, ProfileSource::Provider);
        assert_eq!(learned.generation_tokens_per_sec, Some(41.5));
        let again = core.model_profile("ollama", "m").unwrap().unwrap();
        assert_eq!(again.verdict, "tools: JSON steps");
        assert!(
            again.reason.contains("does not support tools"),
            "{}",
            again.reason
        );
        assert_eq!(core.model_profiles().unwrap().len(), 1);
        core.forget_model_profiles("ollama").unwrap();
        assert!(core.model_profile("ollama", "m").unwrap().is_none());
    }

    #[test]
    fn a_corrupt_row_is_an_error_naming_it_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let core = Core::open(dir.path()).unwrap();
        core.write(|tx| {
            tx.execute(
                "INSERT INTO model_profiles (provider, model, tools, source, app_version, probed_at)
                 VALUES ('p', 'm', 'telepathy', 'probe', '0', 'yesterday')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        let e = core.model_profile("p", "m").unwrap_err();
        assert!(e.to_string().contains("p/m"), "{e}");
    }
}
