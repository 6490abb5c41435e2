//! The tool registry: definitions (name, description, JSON-schema parameters
//! generated from Rust types, category, requires_approval, idempotent),
//! argument validation against the schema before anything runs, and the
//! built-in tools. Agents see only the tools they are allowed.

pub mod code;
pub mod collab;
pub mod mcp;
pub mod sql;
pub mod testing;
pub mod web;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use ts_rs::TS;

use crate::providers::ToolSpec;
use crate::{text_enum, Core, Id};

text_enum! {
    pub enum ToolCategory ("tool category") {
        Web = "web",
        Code = "code",
        Data = "data",
        Collaboration = "collaboration",
        Memory = "memory",
        Mcp = "mcp",
        Testing = "testing",
    }
}

/// A tool as agents, Settings and the CLI see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolDef {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
    pub category: ToolCategory,
    /// Consequential: under copilot autonomy it waits for a human's approval.
    pub requires_approval: bool,
    /// Safe to repeat: an interrupted call is simply run again.
    pub idempotent: bool,
    /// Why the tool cannot run here, if it cannot.
    pub unavailable: Option<String>,
}

impl ToolDef {
    pub fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: self.parameters.clone(),
        }
    }
}

/// What a tool returns: text for the agent, and optional structured data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolOutput {
    pub content: String,
    pub data: Option<serde_json::Value>,
}

impl ToolOutput {
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            data: None,
        }
    }
}

/// The result of running a tool (SPEC §5): success, result, error, time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct ToolResult {
    pub tool: String,
    pub success: bool,
    pub result: Option<ToolOutput>,
    pub error: Option<String>,
    #[ts(type = "number")]
    pub execution_time_ms: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToolError {
    #[error("invalid arguments for {tool}: {detail}")]
    InvalidArguments { tool: String, detail: String },
    #[error("unknown tool '{0}'")]
    Unknown(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
    #[error("the tool is unavailable: {0}")]
    Unavailable(String),
    #[error("the tool was cancelled")]
    Cancelled,
}

impl ToolError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidArguments { .. } => "INVALID_ARGUMENTS",
            Self::Unknown(_) => "UNKNOWN_TOOL",
            Self::Refused(_) => "TOOL_REFUSED",
            Self::Failed(_) => "TOOL_FAILED",
            Self::Unavailable(_) => "TOOL_UNAVAILABLE",
            Self::Cancelled => "CANCELLED",
        }
    }
}

/// Where a tool call happens: which task, run, agent and crew it serves.
#[derive(Clone)]
pub struct ToolContext {
    pub core: Arc<Core>,
    pub task_id: Option<Id>,
    pub run_id: Option<Id>,
    pub agent_id: Option<Id>,
    pub crew_id: Option<Id>,
    /// A human ran it (CLI `tools run`): no approval wait.
    pub by_human: bool,
    /// The journal's idempotency key of this call: tools that write to the
    /// store use it to make a repeated call a no-op.
    pub call_key: Option<String>,
    pub cancel: CancellationToken,
}

impl ToolContext {
    /// A context for a human running a tool directly.
    pub fn human(core: Arc<Core>) -> Self {
        Self {
            core,
            task_id: None,
            run_id: None,
            agent_id: None,
            crew_id: None,
            by_human: true,
            call_key: None,
            cancel: CancellationToken::new(),
        }
    }
}

#[async_trait]
pub trait Tool: Send + Sync {
    fn def(&self) -> ToolDef;

    async fn run(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError>;
}

/// A tool whose arguments are a Rust type. Its definition is assembled
/// here (the parameters' schema comes from the type, via schemars) and its
/// arguments are parsed into the type before [`TypedTool::call`] runs, so a
/// tool writes neither a `ToolDef` literal nor its argument parsing.
#[async_trait]
pub trait TypedTool: Send + Sync {
    type Args: serde::de::DeserializeOwned + schemars::JsonSchema + Send;
    const NAME: &'static str;
    const CATEGORY: ToolCategory;
    /// Consequential: under copilot autonomy it waits for a human's approval.
    const REQUIRES_APPROVAL: bool = false;
    /// Safe to repeat: an interrupted call is simply run again.
    const IDEMPOTENT: bool = true;

    fn description(&self) -> String;

    /// Why the tool cannot run here, if it cannot.
    fn unavailable(&self) -> Option<String> {
        None
    }

    async fn call(&self, args: Self::Args, ctx: &ToolContext) -> Result<ToolOutput, ToolError>;
}

#[async_trait]
impl<T: TypedTool> Tool for T {
    fn def(&self) -> ToolDef {
        ToolDef {
            name: T::NAME.into(),
            description: self.description(),
            parameters: schema_of::<T::Args>(),
            category: T::CATEGORY,
            requires_approval: T::REQUIRES_APPROVAL,
            idempotent: T::IDEMPOTENT,
            unavailable: self.unavailable(),
        }
    }

    async fn run(
        &self,
        args: serde_json::Value,
        ctx: &ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let args = parse_args(T::NAME, args)?;
        self.call(args, ctx).await
    }
}

/// The JSON schema of an argument type, inlined (no `$ref`s, which small
/// models and some providers do not follow).
pub fn schema_of<T: schemars::JsonSchema>() -> serde_json::Value {
    let mut settings = schemars::generate::SchemaSettings::draft07();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut v = schema.to_value();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("$schema");
        obj.remove("title");
    }
    v
}

/// Parses arguments into their Rust type after schema validation.
pub fn parse_args<T: serde::de::DeserializeOwned>(
    tool: &str,
    args: serde_json::Value,
) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|e| ToolError::InvalidArguments {
        tool: tool.to_string(),
        detail: e.to_string(),
    })
}

struct Entry {
    tool: Arc<dyn Tool>,
    def: ToolDef,
    validator: Option<jsonschema::Validator>,
}

/// All tools this process offers.
#[derive(Default)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Entry>,
}

impl ToolRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in tools (collaboration tools, and test tools when
    /// `ENSEMBLE_TEST_TOOLS=1`). Web, code, data and MCP tools are added by
    /// the caller that owns their configuration.
    pub fn builtin() -> Self {
        let mut r = Self::new();
        for t in collab::all() {
            r.register(t);
        }
        if std::env::var("ENSEMBLE_TEST_TOOLS").is_ok_and(|v| v == "1") {
            for t in testing::all() {
                r.register(t);
            }
        }
        r
    }

    pub fn register(&mut self, tool: Arc<dyn Tool>) {
        let def = tool.def();
        let validator = match jsonschema::validator_for(&def.parameters) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(tool = %def.name, error = %e, "tool has an invalid parameter schema; its calls will be refused");
                None
            }
        };
        self.tools.insert(
            def.name.clone(),
            Entry {
                tool,
                def,
                validator,
            },
        );
    }

    pub fn defs(&self) -> Vec<ToolDef> {
        self.tools.values().map(|e| e.def.clone()).collect()
    }

    pub fn def(&self, name: &str) -> Option<&ToolDef> {
        self.tools.get(name).map(|e| &e.def)
    }

    /// The tools an agent may use, in name order.
    pub fn allowed(&self, allowed: &[String]) -> Vec<ToolDef> {
        self.tools
            .values()
            .filter(|e| allowed.iter().any(|a| a == &e.def.name))
            .map(|e| e.def.clone())
            .collect()
    }

    /// Checks a call before it runs: known tool, available, arguments valid
    /// against its schema. Errors say exactly what is wrong, so an agent can
    /// repair its step.
    pub fn check(&self, name: &str, args: &serde_json::Value) -> Result<&ToolDef, ToolError> {
        let entry = self
            .tools
            .get(name)
            .ok_or_else(|| ToolError::Unknown(name.to_string()))?;
        if let Some(reason) = &entry.def.unavailable {
            return Err(ToolError::Unavailable(reason.clone()));
        }
        let validator = entry.validator.as_ref().ok_or_else(|| {
            ToolError::Unavailable(format!("{name} has an invalid parameter schema"))
        })?;
        let errors: Vec<String> = validator
            .iter_errors(args)
            .take(5)
            .map(|e| {
                let path = e.instance_path().to_string();
                if path.is_empty() {
                    e.to_string()
                } else {
                    format!("{path}: {e}")
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(ToolError::InvalidArguments {
                tool: name.to_string(),
                detail: errors.join("; "),
            });
        }
        Ok(&entry.def)
    }

    /// Validates and runs a call.
    pub async fn call(&self, name: &str, args: serde_json::Value, ctx: &ToolContext) -> ToolResult {
        let started = Instant::now();
        let outcome = match self.check(name, &args) {
            Err(e) => Err(e),
            Ok(_) => match self.tools.get(name) {
                Some(entry) => {
                    let tool = entry.tool.clone();
                    tokio::select! {
                        _ = ctx.cancel.cancelled() => Err(ToolError::Cancelled),
                        r = tool.run(args, ctx) => r,
                    }
                }
                None => Err(ToolError::Unknown(name.to_string())),
            },
        };
        let execution_time_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(out) => ToolResult {
                tool: name.to_string(),
                success: true,
                result: Some(out),
                error: None,
                execution_time_ms,
            },
            Err(e) => ToolResult {
                tool: name.to_string(),
                success: false,
                result: None,
                error: Some(e.to_string()),
                execution_time_ms,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Args {
        /// The city.
        city: String,
        days: Option<u32>,
    }

    struct Weather;

    #[async_trait]
    impl TypedTool for Weather {
        type Args = Args;
        const NAME: &'static str = "weather";
        const CATEGORY: ToolCategory = ToolCategory::Web;

        fn description(&self) -> String {
            "Weather".into()
        }

        async fn call(&self, a: Args, _ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
            Ok(ToolOutput::text(format!("sunny in {}", a.city)))
        }
    }

    #[test]
    fn schemas_come_from_rust_types_and_arguments_are_validated() {
        let mut r = ToolRegistry::new();
        r.register(Arc::new(Weather));
        let def = r.def("weather").unwrap();
        assert_eq!(def.parameters["type"], "object");
        assert_eq!(def.parameters["required"], serde_json::json!(["city"]));
        assert!(r
            .check("weather", &serde_json::json!({"city": "Oslo"}))
            .is_ok());
        let e = r
            .check("weather", &serde_json::json!({"days": "two"}))
            .unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENTS");
        let msg = e.to_string();
        assert!(msg.contains("city") && msg.contains("required"), "{msg}");
        assert!(msg.contains("/days"), "{msg}");
        assert_eq!(
            r.check("nope", &serde_json::json!({})).unwrap_err(),
            ToolError::Unknown("nope".into())
        );
    }
}
