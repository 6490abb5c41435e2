//! App settings: one typed record stored as JSON under the key `app`. Fields
//! added later get their defaults when an older record is read.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::agents::Autonomy;
use crate::error::{CoreError, Result};
use crate::events::{ChangeOp, Entity};
use crate::store::row::to_json;
use crate::{time, validate, Core};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct Settings {
    /// Most tasks running at once across all agents.
    pub max_concurrent_tasks: u32,
    /// Hours before a pending approval expires (and is rejected).
    pub approval_expiry_hours: u32,
    /// Autonomy given to new agents that do not come from a template.
    pub default_autonomy: Autonomy,
    /// Provider config name used when an agent names none; `None` = automatic
    /// (Ollama when it answers, otherwise the embedded engine).
    pub default_provider: Option<String>,
    pub default_model: Option<String>,
    /// All work paused (from the tray or Settings).
    pub paused: bool,
    /// Hosts or `host:port` that web_fetch may reach even when they are local or private.
    pub web_fetch_allow_list: Vec<String>,
    /// Where no sandbox is available, allow code_run with an approval for every run.
    pub code_run_unsandboxed_with_approval: bool,
    /// SQLite files `sql_query` may read, by name.
    pub sql_databases: Vec<SqlDatabase>,
    /// Stdio MCP servers whose tools agents may use.
    pub mcp_servers: Vec<McpServerConfig>,
    pub first_run_completed: bool,
}

/// A SQLite file registered for read-only `sql_query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SqlDatabase {
    /// What agents call it (`database` argument of `sql_query`).
    pub name: String,
    /// Absolute path of the file.
    pub path: String,
}

/// A stdio MCP server: a command Ensemble starts and talks to over stdin/stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct McpServerConfig {
    /// Prefix of its tools' names (`name.tool`).
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_concurrent_tasks: 10,
            approval_expiry_hours: 24,
            default_autonomy: Autonomy::Copilot,
            default_provider: None,
            default_model: None,
            paused: false,
            web_fetch_allow_list: Vec::new(),
            code_run_unsandboxed_with_approval: false,
            sql_databases: Vec::new(),
            mcp_servers: Vec::new(),
            first_run_completed: false,
        }
    }
}

/// Changes to settings; unset fields stay as they are. An empty
/// `default_provider`/`default_model` returns to automatic choice.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct SettingsPatch {
    #[ts(optional)]
    pub max_concurrent_tasks: Option<i64>,
    #[ts(optional)]
    pub approval_expiry_hours: Option<i64>,
    #[ts(optional)]
    pub default_autonomy: Option<Autonomy>,
    #[ts(optional)]
    pub default_provider: Option<String>,
    #[ts(optional)]
    pub default_model: Option<String>,
    #[ts(optional)]
    pub paused: Option<bool>,
    #[ts(optional)]
    pub web_fetch_allow_list: Option<Vec<String>>,
    #[ts(optional)]
    pub code_run_unsandboxed_with_approval: Option<bool>,
    #[ts(optional)]
    pub sql_databases: Option<Vec<SqlDatabase>>,
    #[ts(optional)]
    pub mcp_servers: Option<Vec<McpServerConfig>>,
    #[ts(optional)]
    pub first_run_completed: Option<bool>,
}

impl From<Settings> for SettingsPatch {
    /// Every field set: applying it checks a whole record (an imported one).
    fn from(s: Settings) -> Self {
        Self {
            max_concurrent_tasks: Some(i64::from(s.max_concurrent_tasks)),
            approval_expiry_hours: Some(i64::from(s.approval_expiry_hours)),
            default_autonomy: Some(s.default_autonomy),
            default_provider: Some(s.default_provider.unwrap_or_default()),
            default_model: Some(s.default_model.unwrap_or_default()),
            paused: Some(s.paused),
            web_fetch_allow_list: Some(s.web_fetch_allow_list),
            code_run_unsandboxed_with_approval: Some(s.code_run_unsandboxed_with_approval),
            sql_databases: Some(s.sql_databases),
            mcp_servers: Some(s.mcp_servers),
            first_run_completed: Some(s.first_run_completed),
        }
    }
}

fn check_sql_databases(list: Vec<SqlDatabase>) -> Result<Vec<SqlDatabase>> {
    if list.len() > validate::MAX_LIST {
        return Err(CoreError::validation(
            "sql_databases",
            format!("at most {} entries", validate::MAX_LIST),
        ));
    }
    let mut out: Vec<SqlDatabase> = Vec::new();
    for db in list {
        let name = validate::name("sql_databases.name", &db.name)?;
        let path = db.path.trim().to_string();
        if !std::path::Path::new(&path).is_absolute() || path.contains('\0') {
            return Err(CoreError::validation(
                "sql_databases.path",
                format!("'{path}' is not an absolute file path"),
            ));
        }
        if out.iter().any(|d| d.name == name) {
            return Err(CoreError::validation(
                "sql_databases.name",
                format!("'{name}' is registered twice"),
            ));
        }
        out.push(SqlDatabase { name, path });
    }
    Ok(out)
}

fn check_mcp_servers(list: Vec<McpServerConfig>) -> Result<Vec<McpServerConfig>> {
    if list.len() > validate::MAX_LIST {
        return Err(CoreError::validation(
            "mcp_servers",
            format!("at most {} entries", validate::MAX_LIST),
        ));
    }
    let mut out: Vec<McpServerConfig> = Vec::new();
    for mut server in list {
        server.name = validate::name("mcp_servers.name", &server.name)?;
        if !server
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(CoreError::validation(
                "mcp_servers.name",
                format!(
                    "'{}' may use only letters, digits, '-' and '_'",
                    server.name
                ),
            ));
        }
        server.command = server.command.trim().to_string();
        if server.command.is_empty() || server.command.contains('\0') {
            return Err(CoreError::validation(
                "mcp_servers.command",
                "a command is required",
            ));
        }
        if out.iter().any(|s| s.name == server.name) {
            return Err(CoreError::validation(
                "mcp_servers.name",
                format!("'{}' is configured twice", server.name),
            ));
        }
        out.push(server);
    }
    Ok(out)
}

/// The settings table's key of the app settings record.
pub(crate) const KEY: &str = "app";

pub(crate) fn read_settings(conn: &rusqlite::Connection) -> Result<Settings> {
    let text: Option<String> = conn
        .query_row("SELECT value FROM settings WHERE key = ?1", [KEY], |r| {
            r.get(0)
        })
        .optional()?;
    match text {
        None => Ok(Settings::default()),
        Some(t) => serde_json::from_str(&t).map_err(|e| CoreError::Corrupt {
            entity: "settings",
            id: KEY.to_string(),
            detail: e.to_string(),
        }),
    }
}

/// A closed range of whole numbers a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

/// The bounds the settings accept. The window's forms check with the same
/// numbers as the user types: they are generated into
/// `ui/src/bindings/limits.ts` (core/tests/bindings.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct SettingsLimits {
    pub max_concurrent_tasks: Bounds,
    pub approval_expiry_hours: Bounds,
    /// The port of a `host:port` entry of the web_fetch allow-list.
    pub port: Bounds,
}

pub const LIMITS: SettingsLimits = SettingsLimits {
    max_concurrent_tasks: Bounds { min: 1, max: 256 },
    approval_expiry_hours: Bounds {
        min: 1,
        max: 24 * 365,
    },
    port: Bounds { min: 1, max: 65535 },
};

/// The digits after the colon of a `host:port` entry (`[v6]:port` too);
/// none when the entry has no port part or is not of that form.
fn port_part(v: &str) -> Option<&str> {
    let port = if let Some(rest) = v.strip_prefix('[') {
        let end = rest.find(']')?;
        if end == 0 {
            return None;
        }
        rest[end + 1..].strip_prefix(':')?
    } else {
        let (host, port) = v.split_once(':')?;
        if host.is_empty() || port.contains(':') {
            return None;
        }
        port
    };
    port.chars().all(|c| c.is_ascii_digit()).then_some(port)
}

fn host_entry(raw: &str) -> Result<String> {
    let v = raw.trim().to_lowercase();
    if v.is_empty() || v.contains('/') || v.contains(char::is_whitespace) || v.chars().count() > 255
    {
        return Err(CoreError::validation(
            "web_fetch_allow_list",
            format!("'{raw}' is not a host or host:port (no scheme, no path)"),
        ));
    }
    if let Some(port) = port_part(&v) {
        let Bounds { min, max } = LIMITS.port;
        if !port.parse::<u32>().is_ok_and(|p| (min..=max).contains(&p)) {
            return Err(CoreError::validation(
                "web_fetch_allow_list",
                format!("'{raw}': the port must be a number from {min} to {max}"),
            ));
        }
    }
    Ok(v)
}

impl Core {
    pub fn settings(&self) -> Result<Settings> {
        self.read(read_settings)
    }

    pub fn update_settings(&self, patch: SettingsPatch) -> Result<Settings> {
        self.write(|tx| {
            let s = apply_patch(tx, read_settings(tx)?, patch)?;
            write_settings(tx, &s)?;
            Ok(s)
        })
    }
}

/// Applies `patch` over `s`, validating every field it sets (the rules of
/// [`Core::update_settings`]; data import checks imported settings with them).
pub(crate) fn apply_patch(
    tx: &rusqlite::Connection,
    mut s: Settings,
    patch: SettingsPatch,
) -> Result<Settings> {
    if let Some(v) = patch.max_concurrent_tasks {
        let Bounds { min, max } = LIMITS.max_concurrent_tasks;
        s.max_concurrent_tasks = validate::range_u32("max_concurrent_tasks", v, min, max)?;
    }
    if let Some(v) = patch.approval_expiry_hours {
        let Bounds { min, max } = LIMITS.approval_expiry_hours;
        s.approval_expiry_hours = validate::range_u32("approval_expiry_hours", v, min, max)?;
    }
    if let Some(v) = patch.default_autonomy {
        s.default_autonomy = v;
    }
    if let Some(v) = patch.default_provider {
        let v = validate::name_or_empty("default_provider", &v)?;
        if !v.is_empty() {
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM provider_configs WHERE name = ?1)",
                [&v],
                |r| r.get(0),
            )?;
            if !known {
                return Err(CoreError::validation(
                    "default_provider",
                    format!("unknown provider '{v}'"),
                ));
            }
        }
        s.default_provider = Some(v).filter(|v| !v.is_empty());
    }
    if let Some(v) = patch.default_model {
        let v = validate::name_or_empty("default_model", &v)?;
        s.default_model = Some(v).filter(|v| !v.is_empty());
    }
    if let Some(v) = patch.paused {
        s.paused = v;
    }
    if let Some(list) = patch.web_fetch_allow_list {
        if list.len() > validate::MAX_LIST {
            return Err(CoreError::validation(
                "web_fetch_allow_list",
                format!("at most {} entries", validate::MAX_LIST),
            ));
        }
        let mut out = Vec::new();
        for e in &list {
            let h = host_entry(e)?;
            if !out.contains(&h) {
                out.push(h);
            }
        }
        s.web_fetch_allow_list = out;
    }
    if let Some(v) = patch.code_run_unsandboxed_with_approval {
        s.code_run_unsandboxed_with_approval = v;
    }
    if let Some(list) = patch.sql_databases {
        s.sql_databases = check_sql_databases(list)?;
    }
    if let Some(list) = patch.mcp_servers {
        s.mcp_servers = check_mcp_servers(list)?;
    }
    if let Some(v) = patch.first_run_completed {
        s.first_run_completed = v;
    }
    Ok(s)
}

/// Stores the settings record and publishes the change.
pub(crate) fn write_settings(tx: &mut crate::store::Tx<'_>, s: &Settings) -> Result<()> {
    let now = time::now_sql();
    tx.execute(
        "INSERT INTO settings (key, value, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        params![KEY, to_json(s)?, now],
    )?;
    tx.changed(Entity::Settings, ChangeOp::Updated, KEY);
    Ok(())
}
