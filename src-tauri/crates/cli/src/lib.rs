//! The command line. `ensemble` alone opens the window; with a subcommand it
//! runs headless on the same data folder (over `ensemble-host`, without the
//! window's code). Human-readable output by default,
//! JSON with `--json`; failures exit non-zero with a one-line reason on stderr.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod agents;
mod approvals;
mod chat;
mod crews;
mod data;
mod models;
mod output;
mod run;
mod settings;
mod tasks;
mod tools;
mod workflows;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ensemble_core::Core;

pub use output::Out;

#[derive(Debug, Parser)]
#[command(
    name = "ensemble",
    version,
    about = "Run teams of AI agents on your own machine",
    long_about = "Run teams of AI agents on your own machine.\n\nWithout a command, opens the desktop window. With a command, works headless on the same data folder."
)]
pub struct Cli {
    /// Data folder (default: $ENSEMBLE_DATA_DIR, else the platform's app-data folder)
    #[arg(long, global = true, value_name = "PATH")]
    pub data_dir: Option<PathBuf>,

    /// Print machine-readable JSON
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, show, add and remove agents
    #[command(subcommand)]
    Agents(agents::AgentsCmd),
    /// List, show, add and cancel tasks
    #[command(subcommand)]
    Tasks(tasks::TasksCmd),
    /// List and add crews
    #[command(subcommand)]
    Crews(crews::CrewsCmd),
    /// List and decide approval requests
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCmd),
    /// Send a message and stream the answer to stdout
    Chat(chat::ChatArgs),
    /// Process the task queue without a window
    Run(run::RunArgs),
    /// List, add and run workflows
    #[command(subcommand)]
    Workflows(workflows::WorkflowsCmd),
    /// List the tools agents can use, or run one yourself
    #[command(subcommand)]
    Tools(tools::ToolsCmd),
    /// Export or import all data; reset the demo data
    #[command(subcommand)]
    Data(data::DataCmd),
    /// List models with what they can do as agents; probe them; add or download GGUF files
    #[command(subcommand)]
    Models(models::ModelsCmd),
    /// Show or change the app's settings
    #[command(subcommand)]
    Settings(settings::SettingsCmd),
    /// List or add model providers
    #[command(subcommand)]
    Providers(settings::ProvidersCmd),
}

/// A failed command: its one-line reason and exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub code: i32,
}

impl From<ensemble_core::CoreError> for CliError {
    fn from(e: ensemble_core::CoreError) -> Self {
        Self {
            message: e.to_string(),
            code: 1,
        }
    }
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn init_tracing(gui: bool) {
    let default = if gui { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ENSEMBLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parses the command line and runs it. Returns the exit code.
/// Entry point of the `ensemble` binary: parses the arguments, opens the
/// data folder and runs the subcommand; with none, hands the data folder to
/// `window` (the desktop app) and returns its exit code.
pub fn main(window: impl FnOnce(Arc<Core>) -> i32) -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
                || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            {
                let _ = e.print();
                return 0;
            }
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.trim_start_matches("error: ");
            eprintln!("error: {} (see 'ensemble --help')", one_line(first));
            return 2;
        }
    };
    init_tracing(cli.command.is_none());
    let data_dir = ensemble_core::paths::data_dir(cli.data_dir.as_deref());
    let core = match Core::open(&data_dir) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!(
                "error: cannot open the data folder {}: {}",
                data_dir.display(),
                one_line(&e.to_string())
            );
            return 1;
        }
    };
    let Some(command) = cli.command else {
        return window(core);
    };
    let out = Out::new(cli.json);
    let result = match command {
        Command::Agents(c) => agents::run(&core, &out, c),
        Command::Tasks(c) => tasks::run(&core, &out, c),
        Command::Crews(c) => crews::run(&core, &out, c),
        Command::Approvals(c) => approvals::run(&core, &out, c),
        Command::Chat(c) => chat::run(&core, &out, c),
        Command::Run(a) => run::run(&core, &out, a),
        Command::Workflows(c) => workflows::run(&core, &out, c),
        Command::Tools(c) => tools::run(&core, &out, c),
        Command::Data(c) => data::run(&core, &out, c),
        Command::Models(c) => models::run(&core, &out, c),
        Command::Settings(c) => settings::run_settings(&core, &out, c),
        Command::Providers(c) => settings::run_providers(&core, &out, c),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {}", one_line(&e.message));
            e.code
        }
    }
}
