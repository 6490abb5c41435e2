"""CrewAI side of the peer benchmark (run by peers.py in its own process).

One Agent with one tool (`test_sleep`, a BaseTool) on `LLM("ollama/...")`.
CrewAI 1.x sends `ollama/<model>` to Ollama's OpenAI-compatible endpoint
(`<base>/v1/chat/completions`) with native function calling; the fake
server answers it with the same script as /api/chat. Telemetry, tracing and
the version check are switched off by peers.py (they would reach the
network), which only makes CrewAI faster. Tool-result caching is off on the
agent and the crew so the tool really runs for every task, as in the others.

  python bench_crewai.py URL import       -> import time only
  python bench_crewai.py URL tasks N      -> N sequential tasks, one agent:
                                             one Crew (one agent, one task with
                                             an {n} input), kickoff() per task
  python bench_crewai.py URL agent-tasks N
                                          -> the same N tasks through Agent.kickoff()
                                             (CrewAI's lighter path without a Crew)
  python bench_crewai.py URL crew R       -> R runs of a 3-agent Crew, Process.sequential

Prints one line `RESULT {json}` at the end.
"""

from __future__ import annotations

import json
import sys
import time

T_START = time.time()
_t = time.perf_counter()
from crewai import LLM, Agent, Crew, Process, Task  # noqa: E402
from crewai.tools import BaseTool  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

IMPORT_S = time.perf_counter() - _t
T_IMPORTED = time.time()

MODEL = "bench-model"


class SleepArgs(BaseModel):
    ms: int = Field(description="Milliseconds to sleep (at most 10000).")


class TestSleep(BaseTool):
    name: str = "test_sleep"
    description: str = "Wait a while (no side effect)."
    args_schema: type[BaseModel] = SleepArgs

    def _run(self, ms: int) -> str:
        ms = max(0, min(int(ms), 10_000))
        if ms:
            time.sleep(ms / 1000)
        return f"slept {ms} ms"


CALLS = {"n": 0}


class CountingSleep(TestSleep):
    def _run(self, ms: int) -> str:
        CALLS["n"] += 1
        return super()._run(ms)


def make_agent(llm: LLM, role: str, goal: str) -> Agent:
    return Agent(
        role=role,
        goal=goal,
        backstory="You use the tools you are given, then answer briefly.",
        llm=llm,
        tools=[CountingSleep()],
        allow_delegation=False,
        cache=False,
        verbose=False,
        max_iter=5,
    )


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    res: dict = {"framework": "crewai", "mode": mode, "t_start": T_START, "import_s": IMPORT_S}
    if mode == "import":
        print("RESULT " + json.dumps(res), flush=True)
        return
    t = time.perf_counter()
    llm = LLM(model=f"ollama/{MODEL}", base_url=url, temperature=0)
    if mode in ("tasks", "agent-tasks"):
        agent = make_agent(llm, "Generalist", "Do each task you are given")
        task = Task(
            description="Task {n}: call test_sleep with ms = 0, then report what it said in one line.",
            expected_output="One line.",
            agent=agent,
        )
        crew = Crew(agents=[agent], tasks=[task], process=Process.sequential, cache=False, verbose=False)
    else:
        members = [
            make_agent(llm, "Researcher", "Do your part of the team's request"),
            make_agent(llm, "Analyst", "Do your part of the team's request"),
            make_agent(llm, "Writer", "Do your part of the team's request"),
        ]
        tasks = [
            Task(
                description="{request}\nCall test_sleep with ms = 0, then do your part"
                + (" building on the previous member's output." if i else "."),
                expected_output="A short note.",
                agent=a,
            )
            for i, a in enumerate(members)
        ]
        crew = Crew(agents=members, tasks=tasks, process=Process.sequential, cache=False, verbose=False)
    res["setup_s"] = time.perf_counter() - t
    res["t_ready"] = time.time()
    if mode == "tasks":
        done = []
        for n in range(count):
            before = CALLS["n"]
            crew.kickoff(inputs={"n": n})
            if CALLS["n"] - before != 1:
                raise RuntimeError(f"expected one tool call, saw {CALLS['n'] - before}")
            done.append(time.time())
            print(f"DONE {n}", flush=True)
        res["done"] = done
    elif mode == "agent-tasks":
        done = []
        for n in range(count):
            before = CALLS["n"]
            agent.kickoff(f"Task {n}: call test_sleep with ms = 0, then report what it said in one line.")
            if CALLS["n"] - before != 1:
                raise RuntimeError(f"expected one tool call, saw {CALLS['n'] - before}")
            done.append(time.time())
            print(f"DONE {n}", flush=True)
        res["done"] = done
    elif mode == "crew":
        walls = []
        for r in range(count):
            before = CALLS["n"]
            t0 = time.perf_counter()
            out = crew.kickoff(inputs={"request": f"Run {r}: write a two-line note about queues."})
            walls.append(time.perf_counter() - t0)
            if CALLS["n"] - before != 3 or len(out.tasks_output) != 3:
                raise RuntimeError("the crew did not run three members with one tool call each")
        res["walls"] = walls
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
