//! `ensemble chat "…"`: streams an answer to stdout as it is generated, on
//! the agent's (or the default) provider; Ctrl-C stops it and keeps the
//! partial answer with status `stopped`.

use std::io::Write;
use std::sync::Arc;

use clap::Args;
use ensemble_core::chat::engine::{ChatEvent, ChatSendRequest};
use ensemble_core::chat::ChatStatus;
use ensemble_core::Core;
use tokio_util::sync::CancellationToken;

use super::{CliError, CliResult, Out};
use ensemble_host::Services;

#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The message to send
    pub text: String,
    /// Answer as this agent (its prompt, provider and model)
    #[arg(long)]
    pub agent: Option<String>,
    /// Continue this chat session (default: a new one)
    #[arg(long)]
    pub session: Option<String>,
    /// New session: the expert gate picks the agent that answers each message
    #[arg(long, conflicts_with = "agent")]
    pub auto_route: bool,
}

pub fn run(core: &Arc<Core>, out: &Out, args: ChatArgs) -> CliResult {
    let rt = super::run::runtime()?;
    let services = Services::new(core.clone());
    let json = out.json;
    rt.block_on(async move {
        let cancel = CancellationToken::new();
        let on_ctrl_c = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.cancel();
            }
        });
        let mut failure: Option<String> = None;
        let mut sink = |ev: ChatEvent| -> bool {
            let mut stdout = std::io::stdout().lock();
            let ok = if json {
                serde_json::to_string(&ev)
                    .map(|line| writeln!(stdout, "{line}").is_ok())
                    .unwrap_or(false)
            } else {
                match &ev {
                    ChatEvent::Delta { text } => write!(stdout, "{text}").is_ok(),
                    ChatEvent::Finish { message } => {
                        let tail = if message.status == ChatStatus::Stopped {
                            "\n[stopped]"
                        } else {
                            ""
                        };
                        writeln!(stdout, "{tail}").is_ok()
                    }
                    ChatEvent::Error { .. } => writeln!(stdout).is_ok(),
                    _ => true,
                }
            };
            let _ = stdout.flush();
            if let ChatEvent::Error { error, .. } = &ev {
                failure = Some(error.message.clone());
            }
            ok
        };
        let request = ChatSendRequest {
            session_id: args.session,
            text: args.text,
            agent_id: args.agent,
            auto_route: args.auto_route.then_some(true),
        };
        services.chat.send(request, cancel, &mut sink).await?;
        match failure {
            Some(message) => Err(CliError { message, code: 1 }),
            None => Ok(()),
        }
    })
}
