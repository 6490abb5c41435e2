"""Writes docs/BENCHMARKS.md from what the benchmarks printed.

  python3 report.py --cargo-log FILE --peers FILE --out docs/BENCHMARKS.md

The cargo log is the output of `cargo bench` framed by `# bench-meta`
lines (written by all.sh); the peers file is peers.py's JSON. Either may be
missing: its section then says so. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

NAMES = {
    "ensemble": "Ensemble",
    "crewai": "CrewAI (Crew.kickoff)",
    "crewai-agent": "CrewAI (Agent.kickoff)",
    "langgraph": "LangGraph",
}
PEERS = ("crewai", "crewai-agent", "langgraph")


def f(v, digits: int = 1, unit: str = "") -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}{unit}"


def ratio(e, p) -> str:
    if e is None or p is None or p == 0:
        return "–"
    return f"{e / p:.2f}"


def times(e, p) -> str:
    """How many times the peer's value is Ensemble's."""
    if e is None or p is None or e == 0:
        return "–"
    return f"{p / e:.1f}×"


def table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def loads(rows: list[dict]) -> str:
    vals = [r.get("loadavg", "?").split()[0] for r in rows]
    return ", ".join(vals) if vals else "–"


def spread(rows: list[dict], key: str, digits: int = 2) -> str:
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return "–"
    m = statistics.median(vals)
    if len(vals) == 1:
        return f(m, digits)
    return f"{f(m, digits)} ({f(min(vals), digits)}–{f(max(vals), digits)})"


# ------------------------------------------------------------------ peers

def peers_section(p: dict) -> str:
    m = p["machine"]
    par = p["params"]
    tasks = p["tasks"]
    med = p.get("tasks_median", {})
    crew = p.get("crew", {})
    st = p.get("startup") or {}
    e = med.get("ensemble", {})
    pk = m.get("packages", {})
    out = []
    out.append("## Peers side by side: Ensemble, CrewAI, LangGraph\n")
    out.append(
        f"Run on {p['date']}; load average {p['loadavg_start']} at the start, {p['loadavg_end']} at the end "
        f"(1, 5, 15 min). Ensemble: `{p['ensemble_version']}` (release build). "
        f"CrewAI {pk.get('crewai', '?')}, LangGraph {pk.get('langgraph', '?')} with langchain-ollama "
        f"{pk.get('langchain-ollama', '?')} (langchain-core {pk.get('langchain-core', '?')}), Python {m['python']}.\n"
    )
    out.append(
        "Every framework talks to the same model: `scripts/bench/fake_ollama.py`, a threaded HTTP server that "
        "answers at once and speaks Ollama's documented API (`/api/chat`, `/api/tags`, `/api/show`) and its "
        "OpenAI-compatible `/v1/chat/completions` (CrewAI 1.x sends `ollama/<model>` there). For each task it first "
        "asks for one call of the tool `test_sleep` with `ms = 0` (the same name, schema and answer in all three), "
        "then, once the tool result is in the conversation, gives the final answer: two model calls per task, "
        "checked below. Ensemble is the release binary driven through its CLI (`agents add`, `tasks add`, "
        "`run --until-idle`, `crews run`) — the path a user runs, with its SQLite store and run journal; CrewAI "
        "and LangGraph run in their own Python processes. Every number is a median; the task runs were done "
        f"{par['reps']}× per framework, interleaved, N = {par['tasks']} tasks each (range in brackets).\n"
    )

    # Ratios first: the answer to the question.
    cr = {k: (crew.get(k) or {}) for k in ("ensemble", "crewai", "langgraph")}
    rows = []

    def add(label: str, key: str, digits: int, src: dict, unit: str = ""):
        ev = src.get("ensemble", {}).get(key)
        vals = [src.get(k, {}).get(key) for k in PEERS]
        rows.append(
            [label, f(ev, digits, unit)]
            + [f(v, digits, unit) for v in vals]
            + [ratio(ev, vals[0]), ratio(ev, vals[1]), ratio(ev, vals[2])]
        )

    add("Wall time per task (ms)", "per_task_ms", 2, med)
    add("Overhead per task: wall − model server (ms)", "overhead_per_task_ms", 2, med)
    add("CPU time per task (ms)", "cpu_per_task_ms", 2, med)
    add("Time to first task completed (s)", "first_task_s", 2, med)
    add("Start to ready: spawn → first model request (s)", "start_to_ready_s", 2, med)
    add(f"Peak RSS, {par['tasks']}-task run (MB)", "peak_rss_mb", 1, med)
    crew_src = {
        "ensemble": cr["ensemble"],
        "crewai": cr["crewai"],
        "crewai-agent": {},
        "langgraph": cr["langgraph"],
    }
    add("Three-member sequential crew, per run (ms)", "median_run_ms", 1, crew_src)
    members_only = dict(crew_src, ensemble={"median_run_ms": cr["ensemble"].get("median_members_ms")})
    add("… Ensemble counted from its first member's start² (ms)", "median_run_ms", 1, members_only)
    add("Peak RSS, crew runs (MB)", "peak_rss_mb", 1, crew_src)
    sv = {
        "ensemble": (st.get("ensemble --version") or {}).get("wall_ms"),
        "crewai": (st.get("crewai") or {}).get("wall_ms"),
        "langgraph": (st.get("langgraph") or {}).get("wall_ms"),
    }
    rows.append(
        ["Process start to framework loaded (ms)¹", f(sv["ensemble"], 0), f(sv["crewai"], 0), "(same)", f(sv["langgraph"], 0),
         ratio(sv["ensemble"], sv["crewai"]), "–", ratio(sv["ensemble"], sv["langgraph"])]
    )
    out.append("### Ensemble / peer ratios\n")
    out.append("Below 1 means Ensemble takes less time or memory.\n")
    out.append(table(
        ["Figure", "Ensemble", NAMES["crewai"], NAMES["crewai-agent"], "LangGraph",
         "Ensemble / CrewAI (Crew)", "Ensemble / CrewAI (Agent)", "Ensemble / LangGraph"],
        rows,
    ))
    out.append(
        "\n¹ Ensemble: `ensemble --version` (the binary loading, before any work); CrewAI / LangGraph: a Python "
        "process that imports the framework and exits (`import crewai`; `import langgraph`, `langchain_ollama`).\n"
        "² Leaves out the time the first member's task waits for the orchestrator that `ensemble crews run` starts "
        "in its fresh process (see the crew table); the peers' figures are unchanged.\n"
    )

    # The stated goal.
    eo = e.get("overhead_per_task_ms")
    goal_rows = []
    for k in PEERS:
        po = med.get(k, {}).get("overhead_per_task_ms")
        pc = med.get(k, {}).get("cpu_per_task_ms")
        x = po / eo if po and eo else None
        xc = pc / e["cpu_per_task_ms"] if pc and e.get("cpu_per_task_ms") else None
        goal_rows.append([NAMES[k], times(eo, po), times(e.get("cpu_per_task_ms"), pc),
                          "met" if x and x >= 20 else "**not met**"])
    em = e.get("peak_rss_mb")
    mem_ok = all((med.get(k, {}).get("peak_rss_mb") or 0) > (em or 1e9) for k in PEERS)
    out.append("### The goal: ≥ 20× less overhead per task than CrewAI and LangGraph, and lower memory\n")
    out.append(table(["Peer", "Its overhead per task ÷ Ensemble's (wall)", "÷ Ensemble's (CPU)", "≥ 20× (wall)"], goal_rows))
    peer_over = [med.get(k, {}).get("overhead_per_task_ms") for k in PEERS]
    peer_over = [x for x in peer_over if x]
    if peer_over and eo:
        out.append(
            f"\nFor 20× against every peer, Ensemble's overhead per task would have to be at most "
            f"{f(min(peer_over) / 20, 2)} ms (a twentieth of the lightest peer's {f(min(peer_over), 2)} ms); "
            f"it is {f(eo, 2)} ms, of which {f(e.get('cpu_per_task_ms'), 2)} ms CPU.\n"
        )

    out.append(
        f"\nMemory: Ensemble's runner peaked at {f(em)} MB against "
        + ", ".join(f"{NAMES[k]} {f(med.get(k, {}).get('peak_rss_mb'))} MB" for k in PEERS)
        + f" — lower memory {'met' if mem_ok else '**not met**'}.\n"
    )

    # Per-figure tables.
    out.append(f"### One agent, {par['tasks']} sequential tasks, one tool call each\n")
    rows = []
    for k in ("ensemble",) + PEERS:
        rs = tasks.get(k) or []
        if not rs:
            rows.append([NAMES[k]] + ["failed"] * 9)
            continue
        rows.append([
            NAMES[k], spread(rs, "per_task_ms"), spread(rs, "cpu_per_task_ms"), spread(rs, "model_ms_per_task"),
            spread(rs, "overhead_per_task_ms"), spread(rs, "first_task_s"), spread(rs, "start_to_ready_s"),
            f(statistics.median(r["chat_calls_per_task"] for r in rs), 1), ", ".join(rs[0]["endpoints"]), loads(rs),
        ])
    out.append(table(
        ["Framework", "Wall per task (ms)", "CPU per task (ms)", "In the model server (ms)", "Overhead (ms)",
         "First task done (s)", "Spawn → first model request (s)", "Model calls per task", "Endpoints", "Load (1 min) per repetition"],
        rows,
    ))
    out.append(
        "\nPer task = (last − first completion) / (N − 1), from the stdout line each process prints when a task "
        "is done, timestamped by the driver; CPU from /proc/PID/stat at those two lines (so start-up is not in it). "
        "\"In the model server\" is the time the fake server spent answering, per task; overhead = wall − that. "
        "CrewAI (Crew.kickoff) runs one Crew (one agent, one task with an `{n}` input) per task — CrewAI's way to "
        "run a task; CrewAI (Agent.kickoff) is its lighter agent-only path. LangGraph runs the canonical "
        "model ⇄ ToolNode graph (`tools_condition`) per task.\n"
    )
    checked = [x for rs in tasks.values() for x in rs]
    ok = all(x.get("tool_results_ok") == x["n"] and x.get("tool_call_replies") == x["n"] for x in checked)
    out.append(
        "Checked in every run above: the model server saw one tool call per task and, in the next request, the "
        "tool's answer (\"slept 0 ms\") — so the tool really ran — then gave the final answer"
        + (": all passed.\n" if ok and checked else "; see Failures.\n")
    )

    out.append(f"### Three-member sequential crew, {par['crew_runs']} runs\n")
    rows = []
    for k, label, how in (
        ("ensemble", "Ensemble", "`ensemble crews run` (process: sequential); one process per run"),
        ("crewai", "CrewAI", "Crew of 3 agents, 3 tasks, Process.sequential; kickoff() per run"),
        ("langgraph", "LangGraph", "3-node StateGraph, each node the tool-calling agent; invoke() per run"),
    ):
        c = crew.get(k)
        if not c:
            rows.append([label, how] + ["failed"] * 6)
            continue
        rows.append([
            label, how, f(c["median_run_ms"]), f(c.get("first_run_ms")), f(c.get("median_process_wall_ms")),
            f(c["chat_calls_per_run"], 1), f(c["peak_rss_mb"]), c.get("loadavg", "?").split()[0],
        ])
    out.append(table(
        ["Framework", "What runs", "Per run (ms)", "First run (ms)", "Whole process per run (ms)", "Model calls per run",
         "Peak RSS (MB)", "Load (1 min)"],
        rows,
    ))
    ec = crew.get("ensemble") or {}
    if ec.get("median_first_member_wait_ms") is not None:
        out.append(
            f"\nEnsemble's run = the crew run's started_at → finished_at. Of it, the first member's task waited "
            f"{f(ec['median_first_member_wait_ms'])} ms (median) to be picked up by the orchestrator that "
            f"`crews run` starts in its fresh process; the three members then took {f(ec['median_members_ms'])} ms. "
            "The Python runs all happen in one warm process (their first run is shown apart); every Ensemble run "
            "is a new process.\n"
        )

    out.append("### Memory and start-up\n")
    rows = []
    for k, label in (("ensemble --version", "Ensemble binary (`ensemble --version`)"), ("python -c pass", "Python interpreter (`python -c pass`)"),
                     ("crewai", "`import crewai`"), ("langgraph", "`import langgraph` + `langchain_ollama`")):
        s = st.get(k)
        if s:
            rows.append([label, f(s["wall_ms"], 0), f(s.get("import_ms"), 0), f(s["peak_rss_mb"])])
    out.append(table(["Process", "Spawn → exit (ms)", "Import inside the process (ms)", "Peak RSS (MB)"], rows))
    out.append(f"\nMedians of {par['startup_reps']} runs; load average {st.get('loadavg', '?')} at the start.\n")
    rows = []
    for k in ("ensemble",) + PEERS:
        rs = tasks.get(k) or []
        c = crew.get("crewai" if k == "crewai-agent" else k) or {}
        split = f"{spread(rs, 'rss_anon_mb', 1)} / {spread(rs, 'rss_file_mb', 1)}"
        rows.append([NAMES[k], spread(rs, "peak_rss_mb", 1), split, f(c.get("peak_rss_mb")) if k != "crewai-agent" else "–"])
    out.append(table(["Framework", f"Peak RSS, {par['tasks']} tasks (MB)", "… of it at the last task: heap / mapped files (MB)",
                      "Peak RSS, crew runs (MB)"], rows))
    out.append(
        "\nPeak RSS is the process's ru_maxrss from wait4 (its VmHWM): the `ensemble run` / `ensemble crews run` "
        "process, the Python benchmark process. Heap / mapped files: RssAnon / RssFile from /proc/PID/status when "
        "the last task finished; the mapped files are the executable and its shared libraries (for Ensemble, the "
        "app binary with GTK/WebKitGTK linked in, even when it runs headless).\n"
    )
    if p.get("errors"):
        out.append("### Failures\n")
        out += [f"- {x}" for x in p["errors"]]
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------ cargo

# What a bench measures and how, printed under its figures.
NOTES = {
    "app_window": (
        "The release app with its window, under a private Xvfb display (`benches/app_window.rs`), on a data "
        "folder seeded with 50 agents and 1,000 queued tasks, all work paused so the app idles. Cold start = "
        "process spawn → the UI's first painted frame: after its first render has reached the screen the UI "
        "calls `ui_painted`, and with `ENSEMBLE_BENCH_READY` set the app prints the time on stdout. The page "
        "cache is warm (the binary was just built); the first launch also creates a new WebKit profile. Memory "
        "is summed over the app and every process under it (WebKitWebProcess, WebKitNetworkProcess): RSS "
        "counts shared libraries once per process, PSS divides them between the processes that share them. "
        "The IPC round trip is a loop of `invoke` calls run inside the web view (through tauri-driver), so it "
        "includes the web view's side of Tauri's IPC, the command and the way back."
    ),
    "soak": (
        "Continuous task traffic and chat streaming in one process (`src-tauri/crates/core/benches/soak.rs`): "
        "the orchestrator, agent runtime and chat engine on a temporary data folder, against an in-process "
        "server speaking Ollama's NDJSON `/api/chat` that answers at once (each task: one `test_sleep` tool "
        "call, then its answer; chats: a streamed greeting, a new conversation every 10 messages). A feeder "
        "keeps ~40 tasks queued. VmRSS and the count of /proc/self/fd are sampled every 5 s "
        "(`ENSEMBLE_SOAK_SAMPLE_SECS`) for `ENSEMBLE_SOAK_SECS` (default 600). \"Warm\" is the first sample "
        "after the first minute (or a third of a shorter run): growth from there to the end is what a leak "
        "would show. The database grows with every task and message; SQLite's page caches (bounded) grow "
        "with it."
    ),
}


def kv(line: str) -> dict:
    """`key=value key="a b"` pairs of a bench line."""
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


def soak_table(lines: list[str]) -> str:
    """The soak bench's result and a few of its samples."""
    result = next((kv(l) for l in lines if l.startswith("soak-result")), None)
    samples = [kv(l) for l in lines if l.startswith("soak-sample")]
    if not result:
        return table(["Figure (as printed by the bench)"], [[l.strip().replace("|", "\\|")] for l in lines if not l.startswith("soak-sample")])
    r = result
    num = lambda k: float(r[k]) if k in r else None
    rows = [
        ["Duration (s)", r.get("duration_s", "–")],
        ["Tasks completed (per s)", f"{r.get('tasks_completed', '–')} ({r.get('tasks_per_s', '–')})"],
        ["Tasks failed", r.get("tasks_failed", "–")],
        ["Chat answers streamed (per s)", f"{r.get('chats_completed', '–')} ({r.get('chats_per_s', '–')})"],
        ["Chat answers failed", r.get("chats_failed", "–")],
        ["Model requests", r.get("model_calls", "–")],
        ["RSS start → warm → end (MB)", f"{r.get('rss_start_mb', '–')} → {r.get('rss_warm_mb', '–')} (at {r.get('warm_at_s', '?')} s) → {r.get('rss_end_mb', '–')}"],
        ["RSS max (MB)", r.get("rss_max_mb", "–")],
        ["Open fds start → warm → end (max)", f"{r.get('fds_start', '–')} → {r.get('fds_warm', '–')} → {r.get('fds_end', '–')} ({r.get('fds_max', '–')})"],
        ["Database + WAL at the end (MB)", r.get("db_mb", "–")],
        ["Load average at the end", r.get("load_end", "–")],
    ]
    warm, end = num("rss_warm_mb"), num("rss_end_mb")
    dur, warm_at = num("duration_s"), num("warm_at_s")
    if warm and end is not None and dur and warm_at is not None and dur > warm_at:
        per_min = (end - warm) / ((dur - warm_at) / 60)
        rows.append(["RSS growth after warm-up (MB per minute)", f"{per_min:+.2f}"])
    out = [table(["Figure", "Value"], rows)]
    if samples:
        step = max(1, len(samples) // 12)
        picked = samples[::step]
        if picked[-1] is not samples[-1]:
            picked.append(samples[-1])
        out.append("\nSamples:\n")
        out.append(table(["t (s)", "RSS (MB)", "open fds", "tasks done", "chats done"],
                         [[s.get("t_s", ""), s.get("rss_mb", ""), s.get("fds", ""), s.get("tasks_done", ""), s.get("chats_done", "")] for s in picked]))
    return "\n".join(out)


# Benches whose printed lines get a table of their own.
FORMATTERS = {"soak": soak_table}

SKIP = re.compile(r"^\s*(Compiling|Finished|Running|Downloaded|Downloading|Updating|Blocking|Locking|Adding|warning|error: could not|running 0 tests|test result: ok\. 0 passed|=+|\s*$)")


def cargo_section(text: str) -> str:
    meta = dict(re.findall(r"^# bench-meta (\S+)=(.*)$", text, re.M))
    out = ["## Ensemble's own benchmarks (`cargo bench`)\n"]
    out.append(
        f"Run on {meta.get('date', '?')}: `{meta.get('command', 'cargo bench')}`; load average "
        f"{meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after; exit code {meta.get('exit', '?')}.\n"
    )
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# bench-meta"):
            continue
        mm = re.match(r"^\s+Running (?:benches/)?(\S+)", line)
        if mm:
            name = re.sub(r"\.rs$", "", mm.group(1).split("/")[-1])
            sections.append((name, []))
            continue
        if sections and not SKIP.match(line):
            sections[-1][1].append(line.rstrip())
    errors = [l for l in text.splitlines() if re.match(r"^error", l)]
    for name, lines in sections:
        if not lines:
            continue
        out.append(f"### {name}\n")
        if name in FORMATTERS:
            out.append(FORMATTERS[name](lines))
        else:
            out.append(table(["Figure (as printed by the bench)"], [[l.strip().replace("|", "\\|")] for l in lines]))
        if name in NOTES:
            out.append("\n" + NOTES[name])
        out.append("")
    if errors:
        out.append("Errors:\n")
        out += [f"- `{l}`" for l in errors[:10]]
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------ competence

TARGETS = {
    "embedded": "Embedded engine (Gemma 3 270M base, Q4_K_M)",
    "llama-server": "llama.cpp's llama-server, same GGUF (openai_compatible)",
    "fake": "Scripted fake (knows every task)",
}


def competence_section(c: dict) -> str:
    out = ["## Agent competence: small agent tasks with checkable answers\n"]
    out.append(
        f"Run on {c.get('date', '?')}; load average {' '.join(c.get('load_before', []))} before, "
        f"{' '.join(c.get('load_after', []))} after. `scripts/bench/competence.sh` (benches/competence/run.py): "
        "the tasks of `benches/competence/tasks.json` — arithmetic through `code_run`, look-ups through `sql_query` on "
        "a fixture database, pages of a local fixture site through `web_fetch`, fetch-then-compute, remember-then-recall, "
        "questions with no tool — each queued with `ensemble tasks add` and run by `ensemble run --until-idle` "
        "(release build, one task at a time). A step is schema-valid unless the runtime had to send it back "
        "(not JSON, unknown tool, arguments against the tool's schema). On a base model (no chat template: the "
        "embedded Gemma 3 270M, the same GGUF on llama-server) agents take guided steps (`runtime/guided.rs`): the "
        "runtime assembles each step and the model writes only its content (a program, a query, a fact, the answer) "
        "in short prompts of finished examples, so a step can be sent back only when a tool's schema refuses what "
        "the model wrote. Prompt tokens evaluated per step leave out what the provider's cache held from the step "
        "before.\n"
    )
    rows = []
    cats = set()
    for key, run in c.get("targets", {}).items():
        name = TARGETS.get(key, key)
        if "error" in run:
            rows.append([name] + ["failed: " + run["error"][:80]] + ["–"] * 7)
            continue
        s = run["summary"]
        cats |= set(s["by_category"])
        rows.append([
            name,
            f"{s['correct']}/{s['tasks']} ({s['correct_pct']:.0f}%)",
            f"{s['schema_valid_pct']:.1f}% of {s['steps']}",
            f(s["median_s"], 1),
            f(s["p95_s"], 1),
            f(s["steps_per_task"], 2),
            f(s["longest_step_s"], 1),
            f(s["prompt_tokens_per_step"], 0),
            f(s["evaluated_tokens_per_step"], 0),
        ])
    out.append(table(["Target", "Correct answers", "Schema-valid steps", "Median s/task", "p95 s/task",
                      "Steps/task", "Longest step (s)", "Prompt tokens/step", "…evaluated/step"], rows))
    if cats:
        out.append("\nCorrect answers by kind of task:\n")
        cat_rows = []
        for key, run in c.get("targets", {}).items():
            if "summary" in run:
                cat_rows.append([TARGETS.get(key, key)] + [run["summary"]["by_category"].get(k, "–") for k in sorted(cats)])
        out.append(table(["Target"] + sorted(cats), cat_rows))
    for key, run in c.get("targets", {}).items():
        if run.get("probe") or run.get("chat"):
            name = TARGETS.get(key, key)
            out.append(f"\n{name}, before its tasks: `ensemble models probe` printed\n")
            out.append("```\n" + (run.get("probe") or "(no probe)").strip()[:1500] + "\n```\n")
            ch = run.get("chat") or {}
            if ch:
                out.append(f"and a streamed `ensemble chat \"Which planet do we live on? Answer in one word.\"` through it "
                           f"answered {json.dumps(ch.get('answer', ''))} in {f(ch.get('seconds'), 1)} s"
                           + (f" (error: {ch['error']})" if ch.get("error") else "") + ".\n")
    chat = c.get("chat")
    if chat:
        out.append(f"\nShort factual questions through `ensemble chat` on the embedded model: "
                   f"**{chat['hits']}/{chat['total']}** answered with the expected word.\n")
        out.append(table(["Question", "Answer", "Hit", "s"],
                         [[q["q"], q["answer"].replace("|", "\\|").replace("\n", " ")[:80], "yes" if q["hit"] else "no", f(q["seconds"], 1)]
                          for q in chat["questions"]]))
    misses = []
    for key, run in c.get("targets", {}).items():
        for t in run.get("tasks", []):
            if not t["correct"]:
                why = t["error"] or t["answer"]
                misses.append([TARGETS.get(key, key).split(" (")[0], t["id"], t["status"], why.replace("|", "\\|").replace("\n", " ")[:100]])
    if misses:
        out.append("\nWhat went wrong, task by task:\n")
        out.append(table(["Target", "Task", "Status", "Answer or error"], misses))
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ main

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cargo-log")
    ap.add_argument("--peers")
    ap.add_argument("--competence")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    competence = json.loads(Path(a.competence).read_text()) if a.competence and Path(a.competence).is_file() else None
    peers = json.loads(Path(a.peers).read_text()) if a.peers and Path(a.peers).is_file() else None
    cargo = Path(a.cargo_log).read_text(errors="replace") if a.cargo_log and Path(a.cargo_log).is_file() else None

    doc = ["# Benchmarks\n"]
    doc.append(
        "Generated by `make bench` (`scripts/bench/all.sh`): numbers, not pass/fail — benchmarks are not part "
        "of `make test`. Regenerate with `make bench` (everything), `make bench-peers` (the peer comparison "
        "alone; the cargo section is then kept from the last full run) or `scripts/bench/all.sh --no-peers` "
        "(the cargo benches alone; the peer section is then kept from the last peer run).\n"
    )
    if peers:
        m = peers["machine"]
        doc.append("## Machine\n")
        doc.append(table(["", ""], [
            ["CPU", m["cpu"]], ["Cores", str(m["cores"])], ["RAM", m["ram"]], ["Kernel", m["kernel"]],
            ["Load average (1, 5, 15 min)", f"{peers['loadavg_start']} at the start of the peer run, {peers['loadavg_end']} at its end"],
        ]))
        doc.append(
            "\nThe machine is shared: other builds ran at the same time, so wall times carry their load; "
            "the load average is given next to each figure, and CPU time per task is less sensitive to it.\n"
        )
    doc.append("## Commands\n")
    doc.append(
        "```sh\n"
        "make bench          # = scripts/bench/all.sh: the cargo benches, then the peers, then this file\n"
        "make bench-peers    # = scripts/bench/all.sh --peers-only\n"
        "scripts/bench/all.sh --no-peers   # the cargo benches and this file, keeping the last peer run\n"
        "# what all.sh runs:\n"
        "cargo bench --workspace --bench '*' --no-fail-fast\n"
        "scripts/bench/competence.sh --out $CARGO_TARGET_DIR/bench/competence.json   # embedded, llama-server, fake\n"
        "scripts/bench/peers.sh --out $CARGO_TARGET_DIR/bench/peers.json   # --tasks 200 --reps 3 --crew-runs 10\n"
        "python3 scripts/bench/report.py --cargo-log $CARGO_TARGET_DIR/bench/cargo.log \\\n"
        "    --competence $CARGO_TARGET_DIR/bench/competence.json --peers $CARGO_TARGET_DIR/bench/peers.json --out docs/BENCHMARKS.md\n"
        "```\n"
    )
    doc.append(competence_section(competence) if competence else "## Agent competence\n\nNot run yet (`make bench`; `scripts/bench/competence.sh`).\n")
    doc.append(peers_section(peers) if peers else "## Peers side by side\n\nNot run, or it failed: see `$CARGO_TARGET_DIR/bench/peers.log`.\n")
    doc.append(cargo_section(cargo) if cargo else "## Ensemble's own benchmarks (`cargo bench`)\n\nNot run yet (`make bench`).\n")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(doc).rstrip() + "\n")
    print(f"report: wrote {a.out}")


if __name__ == "__main__":
    main()
