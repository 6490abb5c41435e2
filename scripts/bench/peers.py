"""Peer benchmark driver: Ensemble, CrewAI and LangGraph side by side.

Started by peers.sh (which prepares the venv and the release binary). Runs in
the bench venv; every framework runs in a process of its own, against one
instant scripted model (fake_ollama.py, started here in a thread), so the
numbers are the frameworks' own cost. See peers.sh for the choices.

Measured for each framework, with the same definitions:

* tasks: one agent, N sequential tasks, each one tool call (`test_sleep`
  with ms = 0) then a final answer. Each process prints one stdout line per
  finished task; this driver timestamps the lines and reads the process's
  CPU time (/proc/PID/stat) at each. Per task = (last - first completion)
  / (N - 1), wall and CPU. Time to first task = spawn -> first completion.
  Start to ready = spawn -> the first /api/chat request reaching the model.
  Peak RSS = the process's ru_maxrss from wait4 (its VmHWM).
* crew: a three-member sequential crew, R runs. Per run = the framework's
  own measure of one run (Ensemble: the crew run's started_at ->
  finished_at; CrewAI: crew.kickoff(); LangGraph: graph.invoke()). Each
  Ensemble run is also a whole `ensemble crews run` process; its wall is
  reported too.
* start-up: bare process start (`ensemble --version`; `python -c pass`)
  and the frameworks' import time (`import crewai`, `import langgraph` +
  `langchain_ollama`, timed inside the process).

Writes a JSON file (--out) that report.py turns into docs/BENCHMARKS.md,
and prints `PEERS ...` summary lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import fake_ollama

HERE = Path(__file__).resolve().parent
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")

QUIET_ENV = {
    # CrewAI: no telemetry, tracing or version check (they would try the
    # network; off, CrewAI only gets faster).
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    # LangChain: no LangSmith tracing.
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "PYTHONUNBUFFERED": "1",
}

OBJECTIVE = "Call test_sleep with ms = 0, then report what it said in one line."
SYSTEM = "You are Bench, a generalist. Use the tools you are given, then answer briefly."


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = stat.rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime


def rss_split(pid: int) -> tuple[float, float] | None:
    """(anonymous, file-backed) resident MB: heap vs mapped binary and libraries."""
    try:
        st = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kb = {l.split(":")[0]: int(l.split()[1]) for l in st.splitlines() if l.startswith(("RssAnon:", "RssFile:"))}
    return kb.get("RssAnon", 0) / 1024, kb.get("RssFile", 0) / 1024


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass

    def version(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as pkg

    pkgs = {}
    for p in ("crewai", "langgraph", "langchain-ollama", "langchain-core", "ollama", "openai"):
        try:
            pkgs[p] = pkg(p)
        except PackageNotFoundError:
            pkgs[p] = "?"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": pkgs,
    }


class Proc:
    """A child process whose stdout lines are timestamped as they arrive,
    with its CPU time at each line and its rusage at the end."""

    def __init__(self, cmd: list[str], env: dict, cwd: Path | None = None, stderr_path: Path | None = None):
        self.cmd = cmd
        self.lines: list[tuple[float, int | None, str]] = []
        self.rss_split: tuple[float, float] | None = None  # at the last line
        self.stderr_file = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
        self.spawn = time.time()
        self.p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=self.stderr_file, text=True, bufsize=1)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append((time.time(), cpu_ticks(self.p.pid), line.rstrip("\n")))
            self.rss_split = rss_split(self.p.pid) or self.rss_split

    def wait(self, timeout: float = 1800) -> dict:
        deadline = time.time() + timeout
        while True:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                self.p.kill()
                pid, status, ru = os.wait4(self.p.pid, 0)
                break
            time.sleep(0.005)
        end = time.time()
        self.p.returncode = os.waitstatus_to_exitcode(status)
        self.reader.join(10)
        if self.stderr_file is not subprocess.DEVNULL:
            self.stderr_file.close()
        return {
            "rc": self.p.returncode,
            "wall_s": end - self.spawn,
            "maxrss_mb": ru.ru_maxrss / 1024,
            "cpu_s": ru.ru_utime + ru.ru_stime,
        }


def py_env() -> dict:
    env = dict(os.environ)
    env.update(QUIET_ENV)
    return env


def ensemble_env(url: str, data: Path) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "OLLAMA_HOST": url,
            "ENSEMBLE_NO_KEYRING": "1",
            "ENSEMBLE_TEST_TOOLS": "1",  # registers test_sleep (and test_append)
            "ENSEMBLE_TEST_TOOLS_DIR": str(data / "effects"),
            "ENSEMBLE_LOG": "warn",  # the CLI default, stated
        }
    )
    return env


def cli(bin_: str, data: Path, env: dict, *args: str) -> dict:
    r = subprocess.run([bin_, "--data-dir", str(data), "--json", *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ensemble {' '.join(args)} failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


# ---------------------------------------------------------------- tasks

def task_figures(proc: Proc, res: dict, n: int, done_lines: list[tuple[float, int | None, str]], first_req: float | None) -> dict:
    stats = fake_ollama.STATS.snapshot()
    if len(done_lines) != n:
        raise RuntimeError(f"{len(done_lines)} of {n} tasks reported done")
    if stats["tool_call_replies"] != n or stats["tool_results_ok"] != n:
        raise RuntimeError(
            f"not one tool call with its result per task: {stats['tool_call_replies']} tool calls, "
            f"{stats['tool_results_ok']} tool results for {n} tasks"
        )
    t_first, c_first, _ = done_lines[0]
    t_last, c_last, _ = done_lines[-1]
    per_task = (t_last - t_first) / (n - 1)
    cpu_per_task = ((c_last - c_first) / TICK) / (n - 1) if c_first is not None and c_last is not None else None
    model_ms = stats["handler_s"] / n * 1000  # time inside the model server, per task
    return {
        "n": n,
        "per_task_ms": per_task * 1000,
        "cpu_per_task_ms": cpu_per_task * 1000 if cpu_per_task is not None else None,
        "model_ms_per_task": model_ms,
        "overhead_per_task_ms": per_task * 1000 - model_ms,
        "first_task_s": t_first - proc.spawn,
        "start_to_ready_s": (first_req - proc.spawn) if first_req else None,
        "process_wall_s": res["wall_s"],
        "peak_rss_mb": res["maxrss_mb"],
        "rss_anon_mb": proc.rss_split[0] if proc.rss_split else None,
        "rss_file_mb": proc.rss_split[1] if proc.rss_split else None,
        "process_cpu_s": res["cpu_s"],
        "chat_calls_per_task": stats["chat_calls"] / n,
        "tool_call_replies": stats["tool_call_replies"],
        "final_replies": stats["final_replies"],
        "tool_results_ok": stats["tool_results_ok"],
        "text_react_replies": stats["text_react_replies"],
        "endpoints": stats["paths"],
    }


def ensemble_tasks_template(bin_: str, url: str, n: int, root: Path) -> Path:
    data = root / "tasks-template"
    (data / "effects").mkdir(parents=True)
    env = ensemble_env(url, data)
    agent = cli(
        bin_, data, env, "agents", "add", "Bench", "--role", "generalist", "--tools", "test_sleep",
        "--provider", "ollama", "--model", fake_ollama.MODEL, "--autonomy", "autopilot", "--system-prompt", SYSTEM,
    )
    for i in range(n):
        cli(bin_, data, env, "tasks", "add", f"Task {i}", "--objective", OBJECTIVE, "--agent", agent["id"])
    return data


def run_ensemble_tasks(bin_: str, url: str, template: Path, root: Path, rep: int, n: int) -> dict:
    data = root / f"tasks-{rep}"
    shutil.copytree(template, data)
    env = ensemble_env(url, data)
    fake_ollama.STATS.reset()
    proc = Proc([bin_, "--data-dir", str(data), "--json", "run", "--until-idle"], env, stderr_path=root / f"ensemble-tasks-{rep}.log")
    res = proc.wait()
    if res["rc"] != 0:
        raise RuntimeError(f"ensemble run exited {res['rc']}; see {root}/ensemble-tasks-{rep}.log")
    done = [l for l in proc.lines if '"status":"completed"' in l[2].replace(" ", "")]
    return task_figures(proc, res, n, done, fake_ollama.STATS.snapshot()["first_chat"])


PY_TASKS = {
    "crewai": ("bench_crewai.py", "tasks"),
    "crewai-agent": ("bench_crewai.py", "agent-tasks"),
    "langgraph": ("bench_langgraph.py", "tasks"),
}


def run_python_tasks(framework: str, url: str, root: Path, rep: int, n: int) -> dict:
    fake_ollama.STATS.reset()
    log = root / f"{framework}-tasks-{rep}.log"
    script, mode = PY_TASKS[framework]
    proc = Proc([PY, str(HERE / script), url, mode, str(n)], py_env(), cwd=HERE, stderr_path=log)
    res = proc.wait()
    if res["rc"] != 0:
        raise RuntimeError(f"{framework} tasks exited {res['rc']}; see {log}")
    done = [l for l in proc.lines if l[2].startswith("DONE ")]
    out = task_figures(proc, res, n, done, fake_ollama.STATS.snapshot()["first_chat"])
    result = json.loads(next(l[2] for l in proc.lines if l[2].startswith("RESULT "))[7:])
    out["import_s"] = result["import_s"]
    out["setup_s"] = result["setup_s"]
    return out


# ---------------------------------------------------------------- crew

def iso(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def check_crew(stats: dict, runs: int) -> None:
    if stats["tool_call_replies"] != 3 * runs or stats["tool_results_ok"] != 3 * runs:
        raise RuntimeError(
            f"not one tool call with its result per member: {stats['tool_call_replies']} tool calls, "
            f"{stats['tool_results_ok']} tool results for {runs} runs of 3 members"
        )


def run_ensemble_crew(bin_: str, url: str, root: Path, runs: int) -> dict:
    data = root / "crew"
    (data / "effects").mkdir(parents=True)
    env = ensemble_env(url, data)
    ids = []
    for role in ("researcher", "analyst", "writer"):
        a = cli(
            bin_, data, env, "agents", "add", f"Bench {role}", "--role", role, "--tools", "test_sleep",
            "--provider", "ollama", "--model", fake_ollama.MODEL, "--autonomy", "autopilot",
            "--system-prompt", f"You are the {role} of a three-member team. Use the tools you are given, then answer briefly.",
        )
        ids.append(a["id"])
    crew = cli(bin_, data, env, "crews", "add", "Bench crew", "--process", "sequential", "--members", ",".join(ids),
               "--goal", "Write a two-line note about queues.")
    fake_ollama.STATS.reset()
    inside, walls, rss, cpu = [], [], [], []
    for r in range(runs):
        proc = Proc([bin_, "--data-dir", str(data), "--json", "crews", "run", crew["id"], "--input",
                     f"Run {r}: write a two-line note about queues. Call test_sleep with ms = 0, then do your part."],
                    env, stderr_path=root / f"ensemble-crew-{r}.log")
        res = proc.wait()
        text = "\n".join(l[2] for l in proc.lines)
        if res["rc"] != 0:
            raise RuntimeError(f"ensemble crews run exited {res['rc']}: {text[-500:]}")
        run = json.loads(text[text.index("{"):])
        if run.get("status") != "completed" or len(run.get("outputs", [])) != 3:
            raise RuntimeError(f"crew run did not complete with three outputs: {text[-500:]}")
        inside.append(iso(run["finished_at"]) - iso(run["started_at"]))
        walls.append(res["wall_s"])
        rss.append(res["maxrss_mb"])
        cpu.append(res["cpu_s"])
    stats = fake_ollama.STATS.snapshot()
    check_crew(stats, runs)
    # Where a run's time goes: until the first member's task starts (the
    # orchestrator of this fresh process picking it up), then the members.
    first_wait, members = [], []
    db = sqlite3.connect(f"file:{data / 'ensemble.db'}?mode=ro", uri=True)
    for run_id, started, finished in db.execute("SELECT id, started_at, finished_at FROM crew_runs"):
        starts = [iso(s) for (s,) in db.execute(
            "SELECT started_at FROM tasks WHERE crew_run_id = ? AND started_at IS NOT NULL ORDER BY started_at", (run_id,))]
        if starts:
            first_wait.append(starts[0] - iso(started))
            members.append(iso(finished) - starts[0])
    db.close()
    return {
        "runs": runs,
        "mode": "ensemble crews run (process: sequential), one process per run",
        "median_first_member_wait_ms": statistics.median(first_wait) * 1000 if first_wait else None,
        "median_members_ms": statistics.median(members) * 1000 if members else None,
        "run_ms": [x * 1000 for x in inside],
        "median_run_ms": statistics.median(inside) * 1000,
        "median_process_wall_ms": statistics.median(walls) * 1000,
        "median_process_cpu_ms": statistics.median(cpu) * 1000,
        "peak_rss_mb": max(rss),
        "chat_calls_per_run": stats["chat_calls"] / runs,
        "tool_call_replies": stats["tool_call_replies"],
        "tool_results_ok": stats["tool_results_ok"],
        "endpoints": stats["paths"],
    }


def run_python_crew(framework: str, url: str, root: Path, runs: int) -> dict:
    fake_ollama.STATS.reset()
    log = root / f"{framework}-crew.log"
    proc = Proc([PY, str(HERE / f"bench_{framework}.py"), url, "crew", str(runs)], py_env(), cwd=HERE, stderr_path=log)
    res = proc.wait()
    if res["rc"] != 0:
        raise RuntimeError(f"{framework} crew exited {res['rc']}; see {log}")
    result = json.loads(next(l[2] for l in proc.lines if l[2].startswith("RESULT "))[7:])
    stats = fake_ollama.STATS.snapshot()
    check_crew(stats, runs)
    walls = result["walls"]
    return {
        "runs": runs,
        "run_ms": [x * 1000 for x in walls],
        "median_run_ms": statistics.median(walls) * 1000,
        "first_run_ms": walls[0] * 1000,
        "peak_rss_mb": res["maxrss_mb"],
        "process_wall_s": res["wall_s"],
        "chat_calls_per_run": stats["chat_calls"] / runs,
        "tool_call_replies": stats["tool_call_replies"],
        "tool_results_ok": stats["tool_results_ok"],
        "endpoints": stats["paths"],
    }


# ---------------------------------------------------------------- start-up

def startup(bin_: str, reps: int) -> dict:
    """Median wall and peak RSS of short processes, and the in-process import time."""

    def measure(cmd: list[str], env: dict, cwd: Path | None = None) -> dict:
        w, rss, imports = [], [], []
        for _ in range(reps):
            proc = Proc(cmd, env, cwd=cwd)
            res = proc.wait(300)
            if res["rc"] != 0:
                raise RuntimeError(f"{cmd} exited {res['rc']}")
            w.append(res["wall_s"])
            rss.append(res["maxrss_mb"])
            for _, _, line in proc.lines:
                if line.startswith("RESULT "):
                    imports.append(json.loads(line[7:])["import_s"])
        out = {"wall_ms": statistics.median(w) * 1000, "peak_rss_mb": statistics.median(rss)}
        if imports:
            out["import_ms"] = statistics.median(imports) * 1000
        return out

    return {
        "ensemble --version": measure([bin_, "--version"], dict(os.environ)),
        "python -c pass": measure([PY, "-c", "pass"], py_env()),
        "crewai": measure([PY, str(HERE / "bench_crewai.py"), "http://127.0.0.1:9", "import"], py_env(), HERE),
        "langgraph": measure([PY, str(HERE / "bench_langgraph.py"), "http://127.0.0.1:9", "import"], py_env(), HERE),
    }


# ---------------------------------------------------------------- main

def med(rows: list[dict], key: str):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ensemble", required=True, help="the release ensemble binary")
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the task run, interleaved")
    ap.add_argument("--crew-runs", type=int, default=10)
    ap.add_argument("--startup-reps", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument(
        "--frameworks",
        default="ensemble,crewai,crewai-agent,langgraph",
        help="which to run, comma-separated (e.g. ensemble alone, to compare two builds)",
    )
    args = ap.parse_args()

    wanted = set(args.frameworks.split(","))
    srv, url = fake_ollama.start()
    root = Path(tempfile.mkdtemp(prefix="ensemble-peers-"))
    report: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "model_server": url,
        "params": {"tasks": args.tasks, "reps": args.reps, "crew_runs": args.crew_runs, "startup_reps": args.startup_reps},
        "ensemble_version": subprocess.run([args.ensemble, "--version"], capture_output=True, text=True).stdout.strip(),
        "tasks": {fw: [] for fw in ("ensemble", "crewai", "crewai-agent", "langgraph") if fw in wanted},
        "crew": {},
        "errors": [],
        "logs": str(root),
    }

    def attempt(what: str, f):
        la = loadavg()
        try:
            r = f()
            r["loadavg"] = la
            print(f"PEERS {what}: ok (load {la})", flush=True)
            return r
        except Exception as e:  # a failed part is reported, not fatal
            report["errors"].append(f"{what}: {e}")
            print(f"PEERS {what}: FAILED: {e}", flush=True)
            return None

    print(f"PEERS preparing the Ensemble data folder ({args.tasks} tasks through the CLI)", flush=True)
    template = ensemble_tasks_template(args.ensemble, url, args.tasks, root)
    for rep in range(args.reps):
        for fw in report["tasks"]:
            if fw == "ensemble":
                r = attempt(f"tasks ensemble #{rep + 1}", lambda: run_ensemble_tasks(args.ensemble, url, template, root, rep, args.tasks))
            else:
                r = attempt(f"tasks {fw} #{rep + 1}", lambda fw=fw: run_python_tasks(fw, url, root, rep, args.tasks))
            if r:
                report["tasks"][fw].append(r)
                print(
                    f"PEERS   {fw}: {r['per_task_ms']:.2f} ms/task wall, "
                    f"{(r['cpu_per_task_ms'] or float('nan')):.2f} ms/task CPU, first task {r['first_task_s']:.2f} s, "
                    f"peak RSS {r['peak_rss_mb']:.1f} MB",
                    flush=True,
                )

    if "ensemble" in wanted:
        report["crew"]["ensemble"] = attempt("crew ensemble", lambda: run_ensemble_crew(args.ensemble, url, root, args.crew_runs))
    for fw in ("crewai", "langgraph"):
        if fw not in wanted:
            continue
        report["crew"][fw] = attempt(f"crew {fw}", lambda fw=fw: run_python_crew(fw, url, root, args.crew_runs))
    for fw, c in report["crew"].items():
        if c:
            print(f"PEERS   {fw}: crew run median {c['median_run_ms']:.1f} ms, peak RSS {c['peak_rss_mb']:.1f} MB", flush=True)

    report["startup"] = attempt("start-up", lambda: startup(args.ensemble, args.startup_reps))
    report["loadavg_end"] = loadavg()

    # Medians over the repetitions.
    summary = {}
    for fw, rows in report["tasks"].items():
        if rows:
            summary[fw] = {k: med(rows, k) for k in (
                "per_task_ms", "cpu_per_task_ms", "model_ms_per_task", "overhead_per_task_ms", "first_task_s",
                "start_to_ready_s", "peak_rss_mb", "rss_anon_mb", "rss_file_mb", "chat_calls_per_task")}
    report["tasks_median"] = summary
    srv.shutdown()
    if report["errors"]:
        print(f"PEERS kept the data folders and logs in {root}", flush=True)
    else:
        shutil.rmtree(root, ignore_errors=True)
        report["logs"] = None
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"PEERS wrote {args.out} (load average at the end: {report['loadavg_end']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
