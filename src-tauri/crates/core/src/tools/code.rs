//! `code_run`: Python 3 or Node.js in a bubblewrap sandbox.
//!
//! The sandbox has no network (all namespaces unshared), a read-only system
//! (`/usr` and its symlinks only: no `/home`, no `/etc` beyond the loader
//! cache), a private writable `/work` (a fresh temp dir) and `/tmp`, and dies
//! with its parent. Resource limits are set with `prlimit` before bubblewrap
//! starts, so they hold inside: 128 MB of data memory, 15 s of CPU time (half
//! the 30 s wall clock — rlimits cannot express "half a CPU" without cgroups),
//! 16 MB per written file, 256 open files; the process runs at the lowest
//! priority (`nice 19`). The 30 s wall timeout kills it. Output is capped.
//!
//! Where bubblewrap cannot create a sandbox (not installed, or no user
//! namespaces), the tool is unavailable with the reason, unless the user opted
//! in (Settings: `code_run_unsandboxed_with_approval`): then it runs with the
//! same rlimits but no isolation, and every run needs approval.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::{Tool, ToolCategory, ToolContext, ToolError, ToolOutput, TypedTool};

/// Memory for the program's data (heap, stacks, private mappings).
pub const MEMORY_LIMIT_BYTES: u64 = 128 * 1024 * 1024;
pub const WALL_TIMEOUT: Duration = Duration::from_secs(30);
const CPU_SECONDS: u64 = 15;
const FILE_SIZE_LIMIT: u64 = 16 * 1024 * 1024;
const OPEN_FILES: u64 = 256;
/// Per stream (stdout, stderr).
pub const OUTPUT_CAP: usize = 16 * 1024;
const MAX_CODE_BYTES: usize = 100 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Python,
    #[serde(alias = "node", alias = "js")]
    Javascript,
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct CodeArgs {
    /// `python` (Python 3) or `javascript` (Node.js).
    language: Language,
    /// The program. Print the result to standard output.
    code: String,
    /// Text given to the program on standard input.
    #[serde(default)]
    stdin: Option<String>,
}

/// How programs are isolated on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// bubblewrap works here.
    Sandbox { bwrap: PathBuf },
    /// No sandbox; runs need approval (the user opted in).
    UnsandboxedWithApproval { reason: String },
    /// No sandbox and no opt-in.
    Unavailable { reason: String },
}

impl Isolation {
    /// Probes bubblewrap once: can it create the namespaces `code_run` uses?
    pub fn detect(allow_unsandboxed: bool) -> Self {
        let reason = match probe_bwrap() {
            Ok(bwrap) => return Isolation::Sandbox { bwrap },
            Err(reason) => reason.to_string(),
        };
        if allow_unsandboxed {
            Isolation::UnsandboxedWithApproval { reason }
        } else {
            Isolation::Unavailable {
                reason: format!(
                    "{reason}; install bubblewrap (apt-get install bubblewrap) or allow unsandboxed runs with approval in Settings"
                ),
            }
        }
    }
}

/// Why bubblewrap cannot sandbox `code_run` here.
#[derive(Debug, thiserror::Error)]
enum NoSandbox {
    #[error("bubblewrap (bwrap) is not installed")]
    NotInstalled,
    #[error("bubblewrap cannot start: {0}")]
    CannotStart(std::io::Error),
    #[error("bubblewrap cannot create a sandbox here ({0})")]
    Refused(String),
}

fn probe_bwrap() -> Result<PathBuf, NoSandbox> {
    let bwrap = which("bwrap").ok_or(NoSandbox::NotInstalled)?;
    let out = std::process::Command::new(&bwrap)
        .args([
            "--ro-bind",
            "/",
            "/",
            "--unshare-all",
            "--die-with-parent",
            "--",
            "true",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(NoSandbox::CannotStart)?;
    if out.status.success() {
        Ok(bwrap)
    } else {
        Err(NoSandbox::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

fn which(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// The interpreter for a language: the system's (under `/usr`, which the
/// sandbox can see), not a per-user install.
fn interpreter(language: Language) -> Result<PathBuf, ToolError> {
    let candidates: &[&str] = match language {
        Language::Python => &["python3"],
        Language::Javascript => &["node", "nodejs"],
    };
    candidates.iter().find_map(|c| which(c)).ok_or_else(|| {
        ToolError::Unavailable(format!(
            "{} is not installed on this machine",
            match language {
                Language::Python => "Python 3 (python3)",
                Language::Javascript => "Node.js (node)",
            }
        ))
    })
}

pub struct CodeRun {
    isolation: Isolation,
    timeout: Duration,
}

impl CodeRun {
    pub fn new(isolation: Isolation) -> Self {
        Self {
            isolation,
            timeout: WALL_TIMEOUT,
        }
    }

    /// A shorter wall timeout (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }
}

/// `code_run` for this machine, honouring the user's opt-in.
pub fn all(allow_unsandboxed: bool) -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(CodeRun::new(Isolation::detect(allow_unsandboxed)))]
}

/// What a finished program left behind.
#[derive(Debug, Clone, PartialEq)]
struct Finished {
    exit_code: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    truncated: bool,
    duration: Duration,
}

#[async_trait]
impl TypedTool for CodeRun {
    type Args = CodeArgs;
    const NAME: &'static str = "code_run";
    const CATEGORY: ToolCategory = ToolCategory::Code;
    // Running code is a consequential action even in a sandbox: in copilot
    // a human sees the program first.
    const REQUIRES_APPROVAL: bool = true;

    fn description(&self) -> String {
        let note = match &self.isolation {
            Isolation::Sandbox { .. } => "in a sandbox without network",
            Isolation::UnsandboxedWithApproval { .. } => {
                "WITHOUT a sandbox (every run needs approval)"
            }
            Isolation::Unavailable { .. } => "in a sandbox",
        };
        format!(
            "Run a short Python 3 or JavaScript (Node.js) program {note} and return what it prints. \
             Limits: 128 MB memory, 30 s, 16 KB of output per stream; files only in the working folder."
        )
    }

    fn unavailable(&self) -> Option<String> {
        match &self.isolation {
            Isolation::Unavailable { reason } => Some(reason.clone()),
            _ => None,
        }
    }

    async fn call(&self, a: CodeArgs, ctx: &ToolContext) -> Result<ToolOutput, ToolError> {
        if a.code.trim().is_empty() {
            return Err(ToolError::InvalidArguments {
                tool: "code_run".into(),
                detail: "code is empty".into(),
            });
        }
        if a.code.len() > MAX_CODE_BYTES || a.code.contains('\0') {
            return Err(ToolError::InvalidArguments {
                tool: "code_run".into(),
                detail: format!("code must be text of at most {} KB", MAX_CODE_BYTES / 1024),
            });
        }
        let bwrap = match &self.isolation {
            Isolation::Sandbox { bwrap } => Some(bwrap.clone()),
            Isolation::UnsandboxedWithApproval { .. } => None,
            Isolation::Unavailable { reason } => {
                return Err(ToolError::Unavailable(reason.clone()))
            }
        };
        let interp = interpreter(a.language)?;
        let work = tempfile::Builder::new()
            .prefix("ensemble-code-")
            .tempdir()
            .map_err(|e| ToolError::Failed(format!("cannot create the working folder: {e}")))?;
        let file = match a.language {
            Language::Python => "main.py",
            Language::Javascript => "main.js",
        };
        std::fs::write(work.path().join(file), &a.code)
            .map_err(|e| ToolError::Failed(format!("cannot write the program: {e}")))?;
        // Python runs through a small runner that, like a notebook or the
        // REPL, prints the value of a last bare expression: small models
        // often write `17 * 23` and no print, and then read nothing back.
        let entry = match a.language {
            Language::Python => {
                std::fs::write(work.path().join(PY_RUNNER_FILE), PY_RUNNER)
                    .map_err(|e| ToolError::Failed(format!("cannot write the program: {e}")))?;
                PY_RUNNER_FILE
            }
            Language::Javascript => file,
        };

        let mut cmd = tokio::process::Command::new("prlimit");
        cmd.arg(format!("--data={MEMORY_LIMIT_BYTES}"))
            .arg(format!("--cpu={CPU_SECONDS}"))
            .arg(format!("--fsize={FILE_SIZE_LIMIT}"))
            .arg(format!("--nofile={OPEN_FILES}"))
            .arg("--")
            .args(["nice", "-n", "19"]);
        let script_dir = match &bwrap {
            Some(bwrap) => {
                cmd.arg(bwrap);
                cmd.args(sandbox_args(work.path()));
                PathBuf::from("/work")
            }
            None => work.path().to_path_buf(),
        };
        cmd.arg(&interp);
        if a.language == Language::Javascript {
            // V8 sizes its heap by itself; keep it under the data limit so it
            // fails with a clear message instead of a crash.
            cmd.arg("--max-old-space-size=96");
        }
        cmd.arg(script_dir.join(entry))
            .current_dir(work.path())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &script_dir)
            .env("LANG", "C.UTF-8")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let finished = execute(cmd, a.stdin, self.timeout, &ctx.cancel).await?;
        drop(work);
        Ok(report(&finished, bwrap.is_some()))
    }
}

const PY_RUNNER_FILE: &str = "_run.py";
/// Runs main.py; a last statement that is an expression has its value
/// printed (unless None). Errors read as if main.py had run by itself.
const PY_RUNNER: &str = r#"import ast, sys, traceback
src = open("main.py", encoding="utf-8").read()
scope = {"__name__": "__main__"}
try:
    tree = ast.parse(src, "main.py")
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        exec(compile(ast.Module(tree.body[:-1], type_ignores=[]), "main.py", "exec"), scope)
        value = eval(compile(ast.Expression(last.value), "main.py", "eval"), scope)
        if value is not None:
            print(repr(value) if isinstance(value, str) else value)
    else:
        exec(compile(tree, "main.py", "exec"), scope)
except SystemExit:
    raise
except SyntaxError as e:
    traceback.print_exception(type(e), e, None)
    sys.exit(1)
except BaseException as e:
    tb = e.__traceback__.tb_next if e.__traceback__ else None
    traceback.print_exception(type(e), e, tb)
    sys.exit(1)
"#;

/// bubblewrap's arguments: what the sandbox sees and may do.
fn sandbox_args(work: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["--ro-bind".into(), "/usr".into(), "/usr".into()];
    for link in ["bin", "lib", "lib64", "sbin", "lib32", "libx32"] {
        let host = Path::new("/").join(link);
        match std::fs::read_link(&host) {
            Ok(target) => args.extend([
                "--symlink".into(),
                target.to_string_lossy().into_owned(),
                format!("/{link}"),
            ]),
            Err(_) if host.is_dir() => args.extend([
                "--ro-bind".into(),
                host.to_string_lossy().into_owned(),
                format!("/{link}"),
            ]),
            Err(_) => {}
        }
    }
    args.extend(
        [
            "--ro-bind-try",
            "/etc/ld.so.cache",
            "/etc/ld.so.cache",
            "--ro-bind-try",
            "/etc/alternatives",
            "/etc/alternatives",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--bind",
        ]
        .map(String::from),
    );
    args.push(work.to_string_lossy().into_owned());
    args.extend(
        [
            "/work",
            // The sandbox's own root (bubblewrap's tmpfs) read-only too:
            // only /work and /tmp take writes.
            "--remount-ro",
            "/",
            "--chdir",
            "/work",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--cap-drop",
            "ALL",
            "--",
        ]
        .map(String::from),
    );
    args
}

async fn execute(
    mut cmd: tokio::process::Command,
    stdin: Option<String>,
    timeout: Duration,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Finished, ToolError> {
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| ToolError::Unavailable(format!("cannot start the program: {e}")))?;
    let mut input = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let feed = async move {
        if let (Some(pipe), Some(text)) = (input.as_mut(), stdin) {
            // A program that does not read its input closes the pipe early.
            let _ = pipe.write_all(text.as_bytes()).await;
        }
        drop(input);
    };
    let collect = async {
        let ((out, out_cut), (err, err_cut), ()) =
            tokio::join!(capped(stdout), capped(stderr), feed);
        (out, err, out_cut || err_cut)
    };
    let waited = async {
        let (collected, status) = tokio::join!(collect, child.wait());
        (collected, status)
    };
    let ((stdout, stderr, truncated), status) = tokio::select! {
        done = waited => done,
        () = tokio::time::sleep(timeout) => {
            return Err(ToolError::Failed(format!(
                "timed out after {} s; the program was killed",
                timeout.as_secs_f64()
            )));
        }
        () = cancel.cancelled() => return Err(ToolError::Cancelled),
    };
    // On the early returns above `child` is dropped, which kills it
    // (kill_on_drop); bubblewrap's --die-with-parent takes the sandbox down.
    let status = status.map_err(|e| ToolError::Failed(format!("lost the program: {e}")))?;
    use std::os::unix::process::ExitStatusExt;
    Ok(Finished {
        exit_code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        truncated,
        duration: started.elapsed(),
    })
}

/// Reads a stream to its end, keeping the first [`OUTPUT_CAP`] bytes.
async fn capped(stream: Option<impl AsyncRead + Unpin>) -> (String, bool) {
    let Some(mut stream) = stream else {
        return (String::new(), false);
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    let mut truncated = false;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), truncated)
}

fn report(f: &Finished, sandboxed: bool) -> ToolOutput {
    let status = match (f.exit_code, f.signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(9)) => "killed (memory or CPU limit)".to_string(),
        (None, Some(24)) => "killed: CPU time limit".to_string(),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended".to_string(),
    };
    let mut content = format!("{status}\n");
    if !f.stdout.is_empty() {
        content.push_str("stdout:\n");
        content.push_str(&f.stdout);
        if !f.stdout.ends_with('\n') {
            content.push('\n');
        }
    }
    if !f.stderr.is_empty() {
        content.push_str("stderr:\n");
        content.push_str(&f.stderr);
        if !f.stderr.ends_with('\n') {
            content.push('\n');
        }
    }
    if f.truncated {
        content.push_str(&format!(
            "[output truncated at {} KB per stream]\n",
            OUTPUT_CAP / 1024
        ));
    }
    ToolOutput {
        content,
        data: Some(serde_json::json!({
            "exit_code": f.exit_code,
            "signal": f.signal,
            "stdout": f.stdout,
            "stderr": f.stderr,
            "truncated": f.truncated,
            "sandboxed": sandboxed,
            "duration_ms": f.duration.as_millis() as u64,
        })),
    }
}
