"""LangGraph side of the peer benchmark (run by peers.py in its own process).

The agent is LangGraph's canonical tool-calling graph, written out: a model
node (langchain-ollama's ChatOllama with the tool bound, so native tool calls
over Ollama's /api/chat) and a ToolNode, joined by `tools_condition`. (That
is what `langgraph.prebuilt.create_react_agent` builds; it is deprecated in
favour of `langchain.agents.create_agent`, which lives in another package.)

  python bench_langgraph.py URL import            -> import time only
  python bench_langgraph.py URL tasks N           -> N sequential tasks, one agent
  python bench_langgraph.py URL crew R            -> R runs of a 3-node sequential graph

Prints one line `RESULT {json}` at the end.
"""

from __future__ import annotations

import json
import sys
import time

T_START = time.time()
_t = time.perf_counter()
from typing import Annotated, TypedDict  # noqa: E402

from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_ollama import ChatOllama  # noqa: E402
from langgraph.graph import END, START, MessagesState, StateGraph  # noqa: E402
from langgraph.prebuilt import ToolNode, tools_condition  # noqa: E402

IMPORT_S = time.perf_counter() - _t
T_IMPORTED = time.time()

MODEL = "bench-model"


@tool
def test_sleep(ms: int) -> str:
    """Wait a while (no side effect). `ms`: milliseconds to sleep (at most 10000)."""
    ms = max(0, min(int(ms), 10_000))
    if ms:
        time.sleep(ms / 1000)
    return f"slept {ms} ms"


def build_agent(url: str):
    llm = ChatOllama(model=MODEL, base_url=url, temperature=0).bind_tools([test_sleep])

    def call_model(state: MessagesState):
        return {"messages": [llm.invoke(state["messages"])]}

    g = StateGraph(MessagesState)
    g.add_node("agent", call_model)
    g.add_node("tools", ToolNode([test_sleep]))
    g.add_edge(START, "agent")
    g.add_conditional_edges("agent", tools_condition)
    g.add_edge("tools", "agent")
    return g.compile()


def run_agent(agent, system: str, objective: str) -> str:
    out = agent.invoke(
        {"messages": [SystemMessage(system), HumanMessage(objective)]},
        {"recursion_limit": 12},
    )
    msgs = out["messages"]
    tools_run = sum(1 for m in msgs if m.type == "tool")
    if tools_run != 1:
        raise RuntimeError(f"expected one tool call, saw {tools_run}")
    return msgs[-1].content


SYSTEM = "You are Bench, a generalist. Use the tools you are given, then answer briefly."
OBJECTIVE = "Task {n}: call test_sleep with ms = 0, then report what it said in one line."

MEMBERS = [
    ("researcher", "You are the researcher of a three-member team."),
    ("analyst", "You are the analyst of a three-member team."),
    ("writer", "You are the writer of a three-member team."),
]


class CrewState(TypedDict):
    request: str
    outputs: Annotated[list[str], lambda a, b: a + b]


def build_crew(agent):
    g = StateGraph(CrewState)
    prev = START
    for name, system in MEMBERS:

        def node(state: CrewState, system=system):
            objective = state["request"] + "\nCall test_sleep with ms = 0, then do your part."
            if state["outputs"]:
                objective += f"\nThe previous member wrote this:\n---\n{state['outputs'][-1]}\n---\nBuild on it."
            return {"outputs": [run_agent(agent, system, objective)]}

        g.add_node(name, node)
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile()


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    res: dict = {"framework": "langgraph", "mode": mode, "t_start": T_START, "import_s": IMPORT_S}
    if mode == "import":
        print("RESULT " + json.dumps(res), flush=True)
        return
    t = time.perf_counter()
    agent = build_agent(url)
    crew = build_crew(agent) if mode == "crew" else None
    res["setup_s"] = time.perf_counter() - t
    res["t_ready"] = time.time()
    if mode == "tasks":
        done = []
        for n in range(count):
            run_agent(agent, SYSTEM, OBJECTIVE.format(n=n))
            done.append(time.time())
            print(f"DONE {n}", flush=True)
        res["done"] = done
    elif mode == "crew":
        walls = []
        for r in range(count):
            t0 = time.perf_counter()
            out = crew.invoke({"request": f"Run {r}: write a two-line note about queues.", "outputs": []})
            if len(out["outputs"]) != 3:
                raise RuntimeError("the crew did not produce three outputs")
            walls.append(time.perf_counter() - t0)
        res["walls"] = walls
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
