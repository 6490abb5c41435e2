//! Benchmark (not a test): the desktop app as a person starts it — the
//! release binary with its window, under a private Xvfb display, on a data
//! folder seeded through ensemble-core with 50 agents and 1,000 queued tasks
//! (all work paused, so the app idles):
//!
//! - cold start: process spawn → the UI's first painted frame. The UI calls
//!   `ui_painted` after its first render has reached the screen
//!   (`ui/src/main.tsx`); with `ENSEMBLE_BENCH_READY` set the app prints
//!   `ensemble-ui-painted unix_us=…` on stdout. `ENSEMBLE_BENCH_STARTS` runs
//!   (default 5), each a new process; the first one on a new WebKit profile.
//! - memory: VmRSS and PSS summed over the app and every process under it
//!   (WebKitWebProcess, WebKitNetworkProcess, …), `ENSEMBLE_BENCH_IDLE_SECS`
//!   (default 10) after the first paint of the last start.
//! - IPC round trip: `app_info` and `tasks_board` invoked from the web view,
//!   as the UI does, in a loop run inside the page through tauri-driver and
//!   WebKitWebDriver.
//!
//! Run: `cargo bench --bench app_window` (needs Xvfb and tauri-driver, which
//! `scripts/setup.sh` installs). Prints figures; a missing tool is reported
//! and skipped.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use ensemble_core::agents::{AgentInput, Autonomy};
use ensemble_core::settings::SettingsPatch;
use ensemble_core::tasks::{insert_task, NewTask, TaskLinks};
use ensemble_core::Core;
use serde_json::{json, Value};

const AGENTS: usize = 50;
const TASKS: usize = 1_000;
const READY: &str = "ensemble-ui-painted unix_us=";
const READY_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    if let Err(e) = run() {
        println!("app_window: FAILED: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ensemble"));
    let starts = env_num("ENSEMBLE_BENCH_STARTS", 5).max(1);
    let idle = Duration::from_secs(env_num("ENSEMBLE_BENCH_IDLE_SECS", 10));
    let Some(xvfb) = find_program("Xvfb") else {
        println!("app_window: skipped: Xvfb is not installed (scripts/setup.sh installs it)");
        return Ok(());
    };
    let work = tempfile::tempdir().context("temp dir")?;
    let data = work.path().join("data");
    let t = Instant::now();
    seed(&data)?;
    println!(
        "app_window: release build; data folder seeded with {AGENTS} agents and {TASKS} queued tasks (all work paused) in {:.1} s; load average {}",
        t.elapsed().as_secs_f64(),
        loadavg()
    );

    let display = Xvfb::start(&xvfb)?;
    let env = AppEnv {
        display: display.name.clone(),
        home: work.path().to_path_buf(),
    };

    // Cold start; memory in the last run.
    let mut starts_ms = Vec::new();
    let mut memory = None;
    for i in 0..starts {
        let mut app = App::launch(&bin, &data, &env)?;
        let result = app.wait_painted().and_then(|ms| {
            if i + 1 == starts {
                memory = Some(idle_memory(app.child.id(), idle)?);
            }
            Ok(ms)
        });
        app.stop();
        starts_ms.push(result?);
    }
    let first = starts_ms[0];
    let mut rest: Vec<f64> = starts_ms[1..].to_vec();
    rest.sort_by(f64::total_cmp);
    if rest.is_empty() {
        println!("app_window: cold start, spawn -> first painted frame: {first:.0} ms (one launch, new WebKit profile)");
    } else {
        println!(
            "app_window: cold start, spawn -> first painted frame: {first:.0} ms on the first launch (new WebKit profile); next {} launches median {:.0} ms (min {:.0}, max {:.0})",
            rest.len(),
            percentile(&rest, 50.0),
            rest[0],
            rest[rest.len() - 1]
        );
    }
    if let Some(m) = memory {
        m.print(idle);
    }

    match find_program("tauri-driver").or_else(cargo_bin_tauri_driver) {
        Some(driver) => ipc_round_trips(&driver, &bin, &data, &env)?,
        None => println!(
            "app_window: IPC round trip skipped: tauri-driver is not installed (scripts/setup.sh installs it)"
        ),
    }
    println!("app_window: load average at the end {}", loadavg());
    Ok(())
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn cargo_bin_tauri_driver() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("HOME")?).join(".cargo/bin/tauri-driver");
    p.is_file().then_some(p)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn seed(dir: &Path) -> Result<()> {
    let core = Core::open(dir)?;
    core.update_settings(SettingsPatch {
        paused: Some(true),
        ..Default::default()
    })?;
    for i in 0..AGENTS {
        core.agents().create(AgentInput {
            name: Some(format!("Agent {i:02}")),
            role: Some("generalist".into()),
            system_prompt: Some(format!("You are agent {i}. Answer briefly.")),
            capabilities: Some(vec![["research", "writing", "analysis"][i % 3].into()]),
            autonomy: Some(Autonomy::Autopilot),
            ..Default::default()
        })?;
    }
    core.write(|tx| {
        for i in 0..TASKS {
            insert_task(
                tx,
                &NewTask {
                    title: format!("Queued task {i}"),
                    objective: Some(format!("Look into item {i} and write two lines about it.")),
                    priority: Some(1 + (i % 10) as i64),
                    ..Default::default()
                },
                &TaskLinks::default(),
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A private X display; stopped on drop.
struct Xvfb {
    name: String,
    child: Child,
}

impl Xvfb {
    fn start(program: &Path) -> Result<Self> {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0) as usize;
        for attempt in 0..20 {
            let n = 500 + (seed / 7 + attempt * 37) % 400;
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                || Path::new(&format!("/tmp/.X{n}-lock")).exists()
            {
                continue;
            }
            let mut child = Command::new(program)
                .args([
                    &format!(":{n}"),
                    "-screen",
                    "0",
                    "1400x900x24",
                    "-nolisten",
                    "tcp",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("start Xvfb")?;
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until && child.try_wait()?.is_none() {
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Ok(Self {
                        name: format!(":{n}"),
                        child,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("could not start Xvfb on a free display")
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What every process the bench starts sees: the display, and its own
/// config/cache/data homes (no user state, a new WebKit profile).
struct AppEnv {
    display: String,
    home: PathBuf,
}

impl AppEnv {
    fn apply(&self, cmd: &mut Command) {
        cmd.env("DISPLAY", &self.display)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("XDG_DATA_HOME", self.home.join("share"))
            .env("ENSEMBLE_LOG", "warn")
            // No session bus: single-instance and notifications stay out of
            // the way (as in the e2e tests), and no other instance is found.
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("WAYLAND_DISPLAY");
    }

    fn log(&self, name: &str) -> Result<File> {
        File::options()
            .create(true)
            .append(true)
            .open(self.home.join(name))
            .with_context(|| format!("open {name}"))
    }

    fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.home.join(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

/// The app started directly (its own process group, so it and WebKit's
/// processes can be stopped together).
struct App<'a> {
    child: Child,
    lines: Receiver<String>,
    spawned_us: u128,
    env: &'a AppEnv,
}

fn unix_us() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or_default()
}

impl<'a> App<'a> {
    fn launch(bin: &Path, data: &Path, env: &'a AppEnv) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.arg("--data-dir")
            .arg(data)
            .env("ENSEMBLE_BENCH_READY", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(env.log("app.log")?)
            .process_group(0);
        env.apply(&mut cmd);
        let spawned_us = unix_us();
        let mut child = cmd.spawn().context("start the app")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            lines,
            spawned_us,
            env,
        })
    }

    /// Milliseconds from spawn to the app's first-paint line.
    fn wait_painted(&mut self) -> Result<f64> {
        let until = Instant::now() + READY_TIMEOUT;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(us) = line.strip_prefix(READY) {
                        let us: u128 = us.trim().parse().context("the painted line's time")?;
                        return Ok(us.saturating_sub(self.spawned_us) as f64 / 1000.0);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    bail!(
                        "the app exited ({status}) before its first paint:\n{}",
                        self.env.log_tail("app.log")
                    );
                }
            }
            if Instant::now() > until {
                bail!(
                    "no first paint after {} s (does ui/dist call ui_painted? run `make ui`):\n{}",
                    READY_TIMEOUT.as_secs(),
                    self.env.log_tail("app.log")
                );
            }
        }
    }

    fn stop(&mut self) {
        stop_group(&mut self.child);
    }
}

/// SIGTERM to the process group, SIGKILL after 10 s; then the stragglers.
fn stop_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args(["-s", sig, "--", &group])
            .stderr(Stdio::null())
            .status();
    };
    signal("TERM");
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if !matches!(child.try_wait(), Ok(None)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal("KILL");
    let _ = child.wait();
}

// ------------------------------------------------------------------ memory

struct ProcMem {
    name: String,
    rss_kb: u64,
    pss_kb: u64,
}

struct MemoryReport {
    samples: usize,
    rss_mb: f64,
    pss_mb: f64,
    last: Vec<ProcMem>,
}

impl MemoryReport {
    fn print(&self, idle: Duration) {
        println!(
            "app_window: idle memory {} s after the first paint, summed over {} processes (median of {} samples, 1 s apart): RSS {:.1} MB, PSS {:.1} MB",
            idle.as_secs(),
            self.last.len(),
            self.samples,
            self.rss_mb,
            self.pss_mb
        );
        let each: Vec<String> = self
            .last
            .iter()
            .map(|p| {
                format!(
                    "{} {:.1} / {:.1}",
                    p.name,
                    p.rss_kb as f64 / 1024.0,
                    p.pss_kb as f64 / 1024.0
                )
            })
            .collect();
        println!(
            "app_window: … per process, RSS / PSS (MB): {}",
            each.join(", ")
        );
    }
}

fn idle_memory(root: u32, idle: Duration) -> Result<MemoryReport> {
    std::thread::sleep(idle);
    let mut rss = Vec::new();
    let mut pss = Vec::new();
    let mut last = Vec::new();
    for i in 0..5 {
        if i > 0 {
            std::thread::sleep(Duration::from_secs(1));
        }
        let procs: Vec<ProcMem> = tree(root).into_iter().filter_map(proc_mem).collect();
        if procs.is_empty() {
            bail!("the app is gone before its memory was read");
        }
        rss.push(procs.iter().map(|p| p.rss_kb).sum::<u64>() as f64 / 1024.0);
        pss.push(procs.iter().map(|p| p.pss_kb).sum::<u64>() as f64 / 1024.0);
        last = procs;
    }
    rss.sort_by(f64::total_cmp);
    pss.sort_by(f64::total_cmp);
    Ok(MemoryReport {
        samples: rss.len(),
        rss_mb: percentile(&rss, 50.0),
        pss_mb: percentile(&pss, 50.0),
        last,
    })
}

/// `root` and every process below it.
fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ppid) = parent_pid(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c);
        }
        i += 1;
    }
    out
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid …": comm may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn kb(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn proc_mem(pid: u32) -> Option<ProcMem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(ProcMem {
        name: name.trim().to_string(),
        rss_kb: kb(&status, "VmRSS:")?,
        pss_kb: kb(&rollup, "Pss:")?,
    })
}

// ------------------------------------------------------------------ IPC

/// A W3C WebDriver session on tauri-driver (which drives the app through
/// WebKitWebDriver); ends the session and the driver's process group on drop.
struct Driver {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    url: String,
    session: Option<String>,
    child: Child,
}

impl Driver {
    fn start(program: &Path, env: &AppEnv) -> Result<Self> {
        let port = free_port()?;
        let native = free_port()?;
        let mut cmd = Command::new(program);
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(env.log("tauri-driver.log")?)
        .stderr(env.log("tauri-driver.log")?)
        .process_group(0);
        env.apply(&mut cmd);
        let child = cmd.spawn().context("start tauri-driver")?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut driver = Self {
            rt,
            http: reqwest::Client::new(),
            url: format!("http://127.0.0.1:{port}"),
            session: None,
            child,
        };
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let up = driver
                .rt
                .block_on(driver.http.get(format!("{}/status", driver.url)).send())
                .is_ok_and(|r| r.status().is_success());
            if up {
                return Ok(driver);
            }
            if Instant::now() > until || !matches!(driver.child.try_wait(), Ok(None)) {
                bail!(
                    "tauri-driver did not start:\n{}",
                    env.log_tail("tauri-driver.log")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.url);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, v) = self.rt.block_on(async {
            let r = req.send().await?;
            let status = r.status();
            Ok::<_, reqwest::Error>((status, r.json::<Value>().await?))
        })?;
        if !status.is_success() {
            bail!("{method} {path}: {status}: {}", v["value"]);
        }
        Ok(v["value"].clone())
    }

    fn create_session(&mut self, bin: &Path, data: &Path) -> Result<()> {
        let utf8 = |p: &Path| {
            p.to_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("not a UTF-8 path: {}", p.display()))
        };
        let (bin, data) = (utf8(bin)?, utf8(data)?);
        let v = self.request(
            reqwest::Method::POST,
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {"tauri:options": {
                "application": bin,
                "args": ["--data-dir", data],
            }}}})),
        )?;
        let id = v["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session id in {v}"))?;
        self.session = Some(id.to_string());
        Ok(())
    }

    fn session_path(&self, path: &str) -> Result<String> {
        let id = self.session.as_ref().ok_or_else(|| anyhow!("no session"))?;
        Ok(format!("/session/{id}{path}"))
    }

    fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.request(reqwest::Method::POST, &self.session_path(path)?, Some(body))
    }

    fn exec_async(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/async", json!({"script": script, "args": args}))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(path) = self.session_path("") {
            let _ = self.request(reqwest::Method::DELETE, &path, None);
        }
        stop_group(&mut self.child);
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// In the page: `warmup` calls, then `batches` timed batches of `size`
/// sequential calls; resolves to the mean per call of each batch (ms).
const LOOP: &str = r#"
const [cmd, args, warmup, batches, size, done] = arguments;
const ipc = window.__TAURI_INTERNALS__;
(async () => {
  for (let i = 0; i < warmup; i++) await ipc.invoke(cmd, args);
  const perCall = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < size; i++) await ipc.invoke(cmd, args);
    perCall.push((performance.now() - t0) / size);
  }
  done({ ok: perCall });
})().catch((e) => done({ err: String((e && (e.message || JSON.stringify(e))) || e) }));
"#;

/// The step of `performance.now()` in the page (WebKit coarsens it).
const TICK: &str = r#"
const done = arguments[0];
let last = performance.now(), step = Infinity;
for (let i = 0; i < 1e6 && step === Infinity; i++) {
  const t = performance.now();
  if (t !== last) { step = t - last; last = t; }
}
let seen = 0;
for (let i = 0; i < 1e6 && seen < 20; i++) {
  const t = performance.now();
  if (t !== last) { step = Math.min(step, t - last); last = t; seen++; }
}
done(step);
"#;

fn ipc_round_trips(program: &Path, bin: &Path, data: &Path, env: &AppEnv) -> Result<()> {
    let mut driver = Driver::start(program, env)?;
    driver.create_session(bin, data)?;
    driver.post("/timeouts", json!({"script": 600_000}))?;
    let until = Instant::now() + READY_TIMEOUT;
    loop {
        let ready = driver.post(
            "/execute/sync",
            json!({"script": "return document.readyState === 'complete' && typeof window.__TAURI_INTERNALS__ === 'object';", "args": []}),
        )?;
        if ready == Value::Bool(true) {
            break;
        }
        if Instant::now() > until {
            bail!("the page did not load in the WebDriver session");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the UI's own start-up calls finish.
    std::thread::sleep(Duration::from_secs(3));
    let tick = driver
        .exec_async(TICK, json!([]))?
        .as_f64()
        .unwrap_or(f64::NAN);

    for (cmd, args, what, batches, size) in [
        ("app_info", json!({}), "app_info", 200usize, 10usize),
        (
            "tasks_board",
            json!({}),
            "tasks_board (the board's default query over the 1,000 tasks, up to 50 a column)",
            50,
            4,
        ),
    ] {
        let v = driver.exec_async(LOOP, json!([cmd, args, 50, batches, size]))?;
        if let Some(err) = v.get("err") {
            bail!("{cmd} failed in the page: {err}");
        }
        let mut per_call: Vec<f64> = v["ok"]
            .as_array()
            .ok_or_else(|| anyhow!("unexpected answer {v}"))?
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        if per_call.is_empty() {
            bail!("{cmd}: no timings");
        }
        let mean = per_call.iter().sum::<f64>() / per_call.len() as f64;
        per_call.sort_by(f64::total_cmp);
        println!(
            "app_window: IPC round trip from the web view, {what}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, mean {mean:.2} ms per call ({} calls in {batches} batches of {size}, after 50 warm-up calls)",
            percentile(&per_call, 50.0),
            percentile(&per_call, 95.0),
            percentile(&per_call, 99.0),
            batches * size,
        );
    }
    println!(
        "app_window: … percentiles are over batch means: the page's performance.now() ticks every {tick:.3} ms, too coarse to time one call"
    );
    Ok(())
}
