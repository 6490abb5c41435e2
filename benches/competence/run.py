#!/usr/bin/env python3
"""The agent-competence benchmark: the tasks of tasks.json (arithmetic through
code_run, look-ups through sql_query on a fixture database, pages of a local
fixture site through web_fetch, fetch-then-compute, remember-then-recall, and
questions with no tool), each run through `ensemble run --until-idle` as a
user runs it, on one or more targets:

  embedded     the embedded llama.cpp engine on the default model
  llama-server llama.cpp's own OpenAI-compatible server on the same GGUF,
               through the openai_compatible provider
  fake         the scripted fake model (fake_model.py), which knows every task

and the factual chat questions through `ensemble chat` on the embedded model.
Numbers, not pass/fail (make bench, never make test). Per target: schema-valid
steps, correct answers, seconds per task (median, p95), steps per task, the
longest step, and prompt tokens evaluated per step (what the provider's cache
did not hold).

    run.py --bin target/release/ensemble --targets embedded,llama-server,fake \
           [--llama-server PATH --model GGUF] --out competence.json
"""

import argparse
import http.server
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEP_ERROR = re.compile(r"^Error: .*Nothing was run\. Reply with a corrected step\.$", re.S)


def log(*a):
    print("competence:", *a, file=sys.stderr, flush=True)


class Site:
    """The fixture site, on a loopback port (web_fetch reaches it through the allow-list)."""

    def __init__(self):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(HERE / "site"), **k)
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def shop_db(path):
    """The fixture database sql_query reads."""
    c = sqlite3.connect(path)
    c.executescript(
        """
        CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL);
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, product_id INTEGER, quantity INTEGER);
        INSERT INTO products VALUES (1,'Lamp',24.5),(2,'Desk',180.0),(3,'Chair',75.25),(4,'Rug',60.0),(5,'Vase',12.75);
        INSERT INTO customers VALUES (1,'Ada','London'),(2,'Grace','New York'),(3,'Linus','Helsinki'),(4,'Margaret','Boston');
        INSERT INTO orders VALUES (1,1,1,2),(2,1,3,1),(3,2,2,1),(4,3,5,4),(5,4,4,1),(6,2,1,1),(7,3,3,2);
        """
    )
    c.commit()
    c.close()


class Ensemble:
    def __init__(self, binary, data, env):
        self.bin, self.data, self.env = binary, data, env

    def __call__(self, *args, timeout=120, check=True):
        r = subprocess.run(
            [self.bin, "--data-dir", str(self.data), "--json", *args],
            env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        if check and r.returncode != 0:
            raise RuntimeError(f"ensemble {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
        return r


def percentile(values, q):
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}


def last_number(text):
    """The last number a text states: digits (1,048,576 and 14.0 included) or a number word."""
    t = (text or "").lower()
    found = [(m.start(), float(m.group().replace(",", "")))
             for m in re.finditer(r"-?\d[\d,]*(?:\.\d+)?", t)]
    found += [(m.start(), float(WORDS[m.group()])) for m in re.finditer(r"\b(" + "|".join(WORDS) + r")\b", t)]
    return max(found)[1] if found else None


def correct(item, text):
    """A task's (or chat question's) check on an answer."""
    if item.get("number") is not None:
        n = last_number(text)
        return n is not None and abs(n - item["number"]) < 1e-6
    t = (text or "").lower()
    return any(re.search(r"\b" + re.escape(e.lower()) + r"\b", t) for e in item["expect"])


def with_model(data, model):
    """A data folder whose models/ holds the GGUF (a hard link, else a copy)."""
    models = data / "models"
    models.mkdir(parents=True, exist_ok=True)
    dst = models / Path(model).name
    if not dst.exists():
        try:
            os.link(model, dst)
        except OSError:
            import shutil
            shutil.copy(model, dst)


def run_target(name, suite, binary, site, provider, env_extra, timeout, model):
    """Runs every task on one target; returns its per-task results."""
    work = Path(tempfile.mkdtemp(prefix=f"competence-{name}-"))
    data = work / "data"
    with_model(data, model)
    shop = work / "shop.db"
    shop_db(shop)
    env = {**os.environ, "ENSEMBLE_LOG": os.environ.get("ENSEMBLE_LOG", "warn"),
           "OLLAMA_HOST": "http://127.0.0.1:9", **env_extra}
    e = Ensemble(binary, data, env)
    if provider:
        e("providers", "add", provider["name"], "--kind", "openai_compatible", "--url", provider["url"],
          "--model", provider["model"], "--max-concurrent", "1")
        e("settings", "set", "default_provider", provider["name"])
    else:
        e("settings", "set", "default_provider", "embedded")
    e("settings", "set", "web_fetch_allow_list", json.dumps([f"127.0.0.1:{site.port}"]))
    e("settings", "set", "sql_databases", json.dumps([{"name": "shop", "path": str(shop)}]))
    # One task at a time: the times are per task, not shared.
    e("settings", "set", "max_concurrent_tasks", "1")
    agents = {}
    for key, a in suite["agents"].items():
        args = ["agents", "add", key.capitalize(), "--autonomy", "autopilot", "--system-prompt", a["prompt"]]
        if a["tools"]:
            args += ["--tools", ",".join(a["tools"])]
        agents[key] = json.loads(e(*args).stdout)["id"]
    ids = {}
    for t in suite["tasks"]:
        title = t["title"].replace("{site}", site.url)
        args = ["tasks", "add", title, "--agent", agents[t["agent"]]]
        if t["capabilities"]:
            args += ["--capabilities", ",".join(t["capabilities"])]
        if t["depends_on"]:
            args += ["--depends-on", ids[t["depends_on"]]]
        ids[t["id"]] = json.loads(e(*args).stdout)["id"]
    probe = None
    chat = None
    if provider and provider.get("probe"):
        # What a user's Settings -> Models "Probe" does first: the verdict
        # (native tools or JSON steps) the runtime then follows.
        r = e("models", "probe", "--provider", provider["name"], "--model", provider["model"], timeout=600, check=False)
        probe = r.stdout.strip()[-3000:] if r.returncode == 0 else f"failed ({r.returncode}): {r.stderr.strip()[-500:]}"
        log(f"{name}: probe: {probe[:400]}")
        # A streamed chat answer through the same provider.
        t0 = time.monotonic()
        r = subprocess.run([binary, "--data-dir", str(data), "chat", "Which planet do we live on? Answer in one word."],
                           env=env, capture_output=True, text=True, timeout=300)
        chat = {"answer": r.stdout.strip()[:200], "ok": r.returncode == 0 and bool(r.stdout.strip()),
                "seconds": time.monotonic() - t0, "error": r.stderr.strip()[-300:] if r.returncode else ""}
        log(f"{name}: chat: {chat}")
    log(f"{name}: {len(ids)} tasks queued; running")
    started = time.monotonic()
    r = e("run", "--until-idle", timeout=timeout, check=False)
    wall = time.monotonic() - started
    if r.returncode != 0:
        log(f"{name}: ensemble run exited {r.returncode}: {r.stderr.strip()[-500:]}")

    db = sqlite3.connect(data / "ensemble.db")
    db.row_factory = sqlite3.Row
    memory = " ".join(row["content"] for row in db.execute("SELECT content FROM team_memory"))
    results = []
    for t in suite["tasks"]:
        task = db.execute("SELECT * FROM tasks WHERE id = ?", (ids[t["id"]],)).fetchone()
        steps = db.execute(
            "SELECT s.* FROM run_steps s JOIN runs r ON r.id = s.run_id WHERE r.task_id = ? ORDER BY r.created_at, s.idx",
            (ids[t["id"]],),
        ).fetchall()
        runs = db.execute("SELECT * FROM runs WHERE task_id = ?", (ids[t["id"]],)).fetchall()
        invalid = sum(1 for s in steps if s["observation"] and STEP_ERROR.match(s["observation"]))
        answer = task["output"] or ""
        ok = task["status"] == "completed" and (
            correct(t, memory) if t["check"] == "memory" else correct(t, answer)
        )
        seconds = None
        if task["started_at"] and task["completed_at"]:
            from datetime import datetime
            f = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
            seconds = (f(task["completed_at"]) - f(task["started_at"])).total_seconds()
        results.append({
            "id": t["id"], "category": t["category"], "status": task["status"], "correct": ok,
            "answer": answer[:300], "error": (task["error"] or "")[:300], "seconds": seconds,
            "steps": len(steps), "invalid_steps": invalid,
            "longest_step_s": max((s["duration_ms"] for s in steps), default=0) / 1000,
            "prompt_tokens": sum(s["tokens_in"] for s in steps),
            "cached_tokens": sum(s["tokens_cached"] for s in steps),
            "runs": len(runs),
            "trace": [
                {"thought": (s["thought"] or "")[:200], "action": s["action"], "observation": (s["observation"] or "")[:200],
                 "answer": (s["final_answer"] or "")[:200], "ms": s["duration_ms"], "tokens_in": s["tokens_in"],
                 "tokens_cached": s["tokens_cached"]}
                for s in steps
            ],
        })
    db.close()
    return {"target": name, "wall_s": wall, "tasks": results, "work": str(work), "probe": probe, "chat": chat}


def summarise(run):
    tasks = run["tasks"]
    steps = sum(t["steps"] for t in tasks)
    invalid = sum(t["invalid_steps"] for t in tasks)
    secs = [t["seconds"] for t in tasks if t["seconds"] is not None]
    evaluated = sum(t["prompt_tokens"] - t["cached_tokens"] for t in tasks)
    by_cat = {}
    for t in tasks:
        c = by_cat.setdefault(t["category"], [0, 0])
        c[0] += t["correct"]
        c[1] += 1
    return {
        "tasks": len(tasks),
        "correct": sum(t["correct"] for t in tasks),
        "correct_pct": 100 * sum(t["correct"] for t in tasks) / max(len(tasks), 1),
        "completed": sum(t["status"] == "completed" for t in tasks),
        "steps": steps,
        "schema_valid_pct": 100 * (steps - invalid) / max(steps, 1),
        "median_s": statistics.median(secs) if secs else None,
        "p95_s": percentile(secs, 0.95),
        "steps_per_task": steps / max(len(tasks), 1),
        "longest_step_s": max((t["longest_step_s"] for t in tasks), default=0),
        "prompt_tokens_per_step": sum(t["prompt_tokens"] for t in tasks) / max(steps, 1),
        "evaluated_tokens_per_step": evaluated / max(steps, 1),
        "by_category": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_cat.items())},
    }


def chat_set(suite, binary, model):
    """The factual questions through `ensemble chat` on the embedded model."""
    work = Path(tempfile.mkdtemp(prefix="competence-chat-"))
    with_model(work / "data", model)
    env = {**os.environ, "ENSEMBLE_LOG": "warn", "OLLAMA_HOST": "http://127.0.0.1:9"}
    e = Ensemble(binary, work / "data", env)
    out = []
    for q in suite["chat"]:
        t = time.monotonic()
        r = subprocess.run([binary, "--data-dir", str(work / "data"), "chat", q["q"]], env=env,
                           capture_output=True, text=True, timeout=300)
        answer = r.stdout.strip()
        out.append({"q": q["q"], "answer": answer[:200], "hit": r.returncode == 0 and correct(q, answer),
                    "seconds": time.monotonic() - t})
    del e
    return out


class Process:
    """A child server that prints `listening PORT` (the fake) or answers /health (llama-server)."""

    def __init__(self, args, ready, timeout=300):
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.port = ready(self, timeout)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


def fake_ready(proc, timeout):
    line = proc.p.stdout.readline()
    if not line.startswith("listening "):
        raise RuntimeError(f"the fake model did not start: {line}{proc.p.stderr.read()}")
    return int(line.split()[1])


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--targets", default="embedded,llama-server,fake")
    ap.add_argument("--llama-server")
    ap.add_argument("--model", default=os.environ.get("ENSEMBLE_TEST_MODEL", str(Path.home() / ".cache/ensemble/models/gemma-3-270m-q4_k_m.gguf")))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=int, default=3600, help="seconds for one target's run")
    ap.add_argument("--no-chat", action="store_true")
    ap.add_argument("--only", help="comma-separated task ids")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    suite = json.load(open(HERE / "tasks.json"))
    if a.only:
        keep = set(a.only.split(","))
        suite["tasks"] = [t for t in suite["tasks"] if t["id"] in keep]
    site = Site()
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "load_before": open("/proc/loadavg").read().split()[:3], "targets": {}}
    for target in a.targets.split(","):
        target = target.strip()
        server = None
        try:
            if target == "embedded":
                run = run_target(target, suite, a.bin, site, None, {}, a.timeout, a.model)
            elif target == "fake":
                server = Process([sys.executable, str(HERE / "fake_model.py"), "--tasks", str(HERE / "tasks.json"),
                                  "--site", site.url], fake_ready)
                run = run_target(target, suite, a.bin, site,
                                 {"name": "fake", "url": f"http://127.0.0.1:{server.port}/v1", "model": "fake"}, {}, a.timeout, a.model)
            elif target == "llama-server":
                if not a.llama_server:
                    log("llama-server: --llama-server is needed; skipped")
                    continue
                port = free_port()

                def ready(proc, timeout, port=port):
                    import urllib.request
                    end = time.monotonic() + timeout
                    while time.monotonic() < end:
                        if proc.p.poll() is not None:
                            raise RuntimeError(f"llama-server exited: {proc.p.stderr.read()[-2000:]}")
                        try:
                            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                                if r.status == 200:
                                    return port
                        except Exception:
                            pass
                        time.sleep(0.5)
                    raise RuntimeError("llama-server did not become healthy")

                server = Process([a.llama_server, "-m", a.model, "--host", "127.0.0.1", "--port", str(port),
                                  "-c", "4096", "-t", str(a.threads), "--jinja", "--alias", "gemma-3-270m",
                                  "-np", "1"], ready)
                run = run_target(target, suite, a.bin, site,
                                 {"name": "llamacpp", "url": f"http://127.0.0.1:{port}/v1", "model": "gemma-3-270m", "probe": True}, {}, a.timeout, a.model)
            else:
                log(f"unknown target {target}; skipped")
                continue
            run["summary"] = summarise(run)
            report["targets"][target] = run
            log(f"{target}: {run['summary']['correct']}/{run['summary']['tasks']} correct, "
                f"{run['summary']['schema_valid_pct']:.0f}% schema-valid steps, median {run['summary']['median_s']} s")
        except Exception as err:  # a failed target is reported, the others still run
            report["targets"][target] = {"target": target, "error": str(err)}
            log(f"{target}: failed: {err}")
        finally:
            if server:
                server.stop()
    if not a.no_chat:
        chats = chat_set(suite, a.bin, a.model)
        report["chat"] = {"questions": chats, "hits": sum(c["hit"] for c in chats), "total": len(chats)}
        log(f"chat: {report['chat']['hits']}/{report['chat']['total']} factual answers")
    report["load_after"] = open("/proc/loadavg").read().split()[:3]
    Path(a.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
