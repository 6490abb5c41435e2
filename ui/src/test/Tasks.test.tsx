import { describe, expect, it } from "vitest";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { groupColumns, Tasks } from "../views/Tasks";
import type { BoardColumn } from "../bindings/BoardColumn";
import type { Change } from "../bindings/Change";
import type { RunTrace } from "../bindings/RunTrace";
import type { OrchestratorStatus } from "../app-bindings/OrchestratorStatus";
import { COALESCE_MS, STORE_CHANGED } from "../hooks";
import { agent, ALL_STATUSES, task } from "./fixtures";
import { at, SECOND } from "./clock";

function board(tasks: ReturnType<typeof task>[]): BoardColumn[] {
  return ALL_STATUSES.map((status) => {
    const mine = tasks.filter((t) => t.status === status);
    return { status, total: mine.length, tasks: mine };
  });
}

const T = at();
const idle: OrchestratorStatus = { runner: "here", paused: false, running: 0, max_concurrent: 10, message: "Working: 0 tasks running" };
const page = <T,>(items: T[]) => ({ items, total: items.length, limit: 1000, offset: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function trace(): RunTrace {
  return {
    run: {
      id: "run-2",
      task_id: "t1",
      agent_id: "agent-1",
      attempt: 2,
      status: "failed",
      provider: "embedded",
      model: "gemma-3-270m-q4_k_m.gguf",
      error: "the model gave no final answer",
      state: { retry: false },
      tokens_in: 310,
      tokens_out: 42,
      cost: 0,
      started_at: T,
      finished_at: at(4.5 * SECOND),
      created_at: T,
      updated_at: T,
    },
    steps: [
      {
        id: "s1",
        run_id: "run-2",
        idx: 0,
        thought: "I should look at the sales table first.",
        action: { tool: "sql_query", arguments: { database: "sales", query: "SELECT sum(total) FROM q3" }, call_id: "c1" },
        observation: "sum(total) = 1200",
        is_final: false,
        final_answer: null,
        tokens_in: 150,
        tokens_out: 30,
        tokens_cached: 0,
        duration_ms: 2300,
        created_at: T,
        updated_at: T,
      },
      {
        id: "s2",
        run_id: "run-2",
        idx: 1,
        thought: "Enough to answer.",
        action: null,
        observation: null,
        is_final: true,
        final_answer: "Q3 sales: 1200",
        tokens_in: 160,
        tokens_out: 12,
        tokens_cached: 140,
        duration_ms: 850,
        created_at: T,
        updated_at: T,
      },
    ],
    decisions: [
      { id: "d1", run_id: "run-2", step_id: "s1", kind: "tool_call", reasoning: "The numbers live in the sales database", action: "sql_query", result: "1 row", confidence: 0.8, created_at: T },
    ],
    tool_calls: [
      {
        id: "tc1",
        run_id: "run-2",
        step_id: "s1",
        tool: "sql_query",
        arguments: {},
        idempotency_key: "k",
        idempotent: true,
        state: "succeeded",
        result: "1 row",
        error: null,
        started_at: T,
        finished_at: T,
        duration_ms: 12,
        created_at: T,
      },
    ],
  };
}

describe("groupColumns", () => {
  it("puts the four waiting states in one column, highest priority first", () => {
    const cols = groupColumns(
      board([
        task({ id: "a", status: "awaiting_approval", priority: 3 }),
        task({ id: "b", status: "delegated", priority: 9 }),
        task({ id: "c", status: "queued" }),
      ]),
    );
    const waiting = cols.find((c) => c.key === "waiting");
    expect(waiting?.total).toBe(2);
    expect(waiting?.tasks.map((t) => t.id)).toEqual(["b", "a"]);
    expect(cols.find((c) => c.key === "queued")?.total).toBe(1);
    expect(cols).toHaveLength(7);
  });
});

describe("Tasks view", () => {
  it("shows cards in their status column and edits priority and cancels from the drawer", async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    const t = task({ id: "t1", title: "Draft the newsletter", priority: 4 });
    mockIPC((cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case "tasks_board":
          return board([t, task({ id: "t2", title: "Old report", status: "completed" })]);
        case "agents_list":
          return page([]);
        case "tasks_get":
          return t;
        case "tasks_subtasks":
        case "tasks_runs":
          return [];
        case "tasks_update":
          return { ...t, priority: 8 };
        case "tasks_cancel":
          return { ...t, status: "cancelled" };
        case "orchestrator_status":
          return idle;
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Tasks />);
    const queued = await screen.findByRole("listitem", { name: "Queued: 1" });
    expect(within(queued).getByText("Draft the newsletter")).toBeTruthy();
    expect(within(screen.getByRole("listitem", { name: "Completed: 1" })).getByText("Old report")).toBeTruthy();
    expect((await screen.findByTestId("runner-status")).textContent).toContain("Working: 0 tasks running");

    await user.click(within(queued).getByRole("button", { name: /Draft the newsletter/ }));
    expect(await screen.findByText("No run yet: the task has not started.")).toBeTruthy();
    const prio = await screen.findByRole("spinbutton", { name: "Priority" });
    await user.clear(prio);
    await user.type(prio, "8");
    await user.click(screen.getByRole("button", { name: "Save priority" }));
    await waitFor(() => expect(calls.some((c) => c.cmd === "tasks_update")).toBe(true));
    expect(calls.find((c) => c.cmd === "tasks_update")?.args).toMatchObject({ id: "t1", patch: { priority: 8 } });

    await user.click(screen.getByRole("button", { name: "Cancel task" }));
    await waitFor(() => expect(calls.some((c) => c.cmd === "tasks_cancel")).toBe(true));
  });

  it("cards show the attempt, when the next retry is due and the last error", async () => {
    const soon = at(30 * SECOND);
    mockIPC((cmd) => {
      switch (cmd) {
        case "tasks_board":
          return board([
            task({ id: "r", title: "Retrying", attempts: 2, max_attempts: 3, next_attempt_at: soon, error: "provider timed out", routed_agent_id: "agent-1" }),
            task({ id: "f", title: "Gave up", status: "failed", attempts: 3, max_attempts: 3, error: "no final answer after 8 steps" }),
          ]);
        case "agents_list":
          return page([agent()]);
        case "orchestrator_status":
          return idle;
      }
      return null;
    });
    render(<Tasks />);
    const card = await screen.findByRole("button", { name: /Retrying/ });
    expect(within(card).getByTestId("attempt").textContent).toBe("attempt 2/3");
    expect(within(card).getByTestId("next-retry").textContent).toMatch(/^retry in (29|30) s$/);
    expect(within(card).getByTestId("last-error").textContent).toBe("provider timed out");
    expect(within(card).getByText("Ada")).toBeTruthy();
    const failed = screen.getByRole("button", { name: /Gave up/ });
    expect(within(failed).getByTestId("attempt").textContent).toBe("attempt 3/3");
    expect(within(failed).queryByTestId("next-retry")).toBeNull();
    expect(within(failed).getByTestId("last-error").textContent).toBe("no final answer after 8 steps");
  });

  it("the drawer shows the run trace step by step, subtasks, and retries or pauses the agent", async () => {
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    const failed = task({
      id: "t1",
      title: "Summarise Q3 sales",
      status: "failed",
      attempts: 2,
      max_attempts: 2,
      error: "the model gave no final answer",
      routed_agent_id: "agent-1",
    });
    const sub = task({ id: "t9", title: "Fetch the Q3 numbers", status: "completed", parent_task_id: "t1" });
    const older: RunTrace = { ...trace(), run: { ...trace().run, id: "run-1", attempt: 1 }, steps: [], decisions: [], tool_calls: [] };
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      switch (cmd) {
        case "tasks_board":
          return board([failed]);
        case "agents_list":
          return page([agent({ id: "agent-1", name: "Ada", status: "idle" })]);
        case "tasks_get":
          return (args as { id: string }).id === "t9" ? sub : failed;
        case "tasks_subtasks":
          return (args as { id: string }).id === "t1" ? [sub] : [];
        case "tasks_runs":
          return (args as { id: string }).id === "t1" ? [trace(), older] : [];
        case "tasks_retry":
          return { ...failed, status: "queued", max_attempts: 3 };
        case "agents_pause":
          return agent({ status: "paused" });
        case "orchestrator_status":
          return idle;
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Tasks />);
    await user.click(await screen.findByRole("button", { name: /Summarise Q3 sales/ }));
    const drawer = await screen.findByRole("dialog", { name: "Task" });
    const runs = await within(drawer).findAllByRole("group");
    expect(runs).toHaveLength(2);
    // The newest run is open, step by step.
    const newest = drawer.querySelector("[data-run-id='run-2']") as HTMLDetailsElement;
    expect(newest.open).toBe(true);
    expect((drawer.querySelector("[data-run-id='run-1']") as HTMLDetailsElement).open).toBe(false);
    expect(newest.querySelector("summary")?.textContent).toMatch(/Attempt 2.*failed.*Ada.*embedded · gemma-3-270m-q4_k_m\.gguf.*310 in \/ 42 out tokens.*4\.5 s.*2 steps/);
    const steps = within(newest).getAllByRole("listitem").filter((li) => li.classList.contains("step"));
    expect(steps).toHaveLength(2);
    expect(within(steps[0]).getByText("Step 1")).toBeTruthy();
    expect(steps[0].textContent).toContain("I should look at the sales table first.");
    expect(within(steps[0]).getByText("sql_query")).toBeTruthy();
    expect(steps[0].textContent).toContain('"query": "SELECT sum(total) FROM q3"');
    expect(steps[0].textContent).toContain("sum(total) = 1200");
    expect(steps[0].textContent).toContain("150 in / 30 out tokens · 2.3 s");
    // The second step shares the first one's prompt: most of it came from the cache.
    expect(steps[1].textContent).toContain("160 in (140 from cache) / 12 out tokens");
    expect(steps[1].textContent).toContain("Q3 sales: 1200");
    expect(within(steps[1]).getByText("final")).toBeTruthy();
    expect(newest.textContent).toContain("The numbers live in the sales database");
    expect(newest.textContent).toContain("confidence 80%");
    expect(newest.textContent).toContain("the model gave no final answer");
    expect(within(drawer).getByTestId("attempts").textContent).toBe("2 of 2");

    // Failed: Retry, no Cancel, no Pause (the task is over).
    expect(within(drawer).queryByRole("button", { name: "Cancel task" })).toBeNull();
    expect(within(drawer).queryByRole("button", { name: "Pause agent" })).toBeNull();
    await user.click(within(drawer).getByRole("button", { name: "Retry" }));
    await waitFor(() => expect(calls.find((c) => c.cmd === "tasks_retry")?.args).toMatchObject({ id: "t1" }));

    // A subtask opens in the drawer.
    await user.click(within(drawer).getByRole("button", { name: "Fetch the Q3 numbers" }));
    await waitFor(() => expect(screen.getByRole("dialog", { name: "Task" }).querySelector("[data-task-id='t9']")).toBeTruthy());
  });

  it("pauses the agent of a running task from the drawer", async () => {
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    const running = task({ id: "t1", title: "Write the memo", status: "running", attempts: 1, routed_agent_id: "agent-1" });
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      switch (cmd) {
        case "tasks_board":
          return board([running]);
        case "agents_list":
          return page([agent({ id: "agent-1", name: "Ada", status: "busy" })]);
        case "tasks_get":
          return running;
        case "tasks_subtasks":
        case "tasks_runs":
          return [];
        case "agents_pause":
          return agent({ status: "paused" });
        case "orchestrator_status":
          return idle;
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Tasks />);
    await user.click(await screen.findByRole("button", { name: /Write the memo/ }));
    const drawer = await screen.findByRole("dialog", { name: "Task" });
    expect(within(drawer).queryByRole("button", { name: "Retry" })).toBeNull();
    await user.click(await within(drawer).findByRole("button", { name: "Pause agent" }));
    await waitFor(() => expect(calls.find((c) => c.cmd === "agents_pause")?.args).toMatchObject({ id: "agent-1" }));
    expect(within(drawer).getByRole("button", { name: "Cancel task" })).toBeTruthy();
  });

  it("follows the store live: a burst of changes refetches the board once", async () => {
    let version = 0;
    let boardCalls = 0;
    mockIPC(
      (cmd) => {
        switch (cmd) {
          case "tasks_board":
            boardCalls++;
            return version === 0
              ? board([task({ id: "t1", title: "Live task", status: "queued" })])
              : board([task({ id: "t1", title: "Live task", status: "completed", attempts: 1 })]);
          case "agents_list":
            return page([]);
          case "orchestrator_status":
            return idle;
        }
        return null;
      },
      { shouldMockEvents: true },
    );
    render(<Tasks />);
    await screen.findByRole("listitem", { name: "Queued: 1" });
    await act(() => sleep(50)); // the listener is registered
    expect(boardCalls).toBe(1);

    // The runner moves the task: planning, running, steps, completed — many batches at once.
    version = 1;
    const change = (entity: Change["entity"]): Change[] => [{ entity, op: "updated", id: "t1" }];
    await act(async () => {
      for (let i = 0; i < 8; i++) await emit(STORE_CHANGED, change(i % 2 ? "run" : "task"));
    });
    expect(boardCalls).toBe(1); // not yet: coalescing
    const done = await screen.findByRole("listitem", { name: "Completed: 1" });
    expect(within(done).getByText("Live task")).toBeTruthy();
    await act(() => sleep(COALESCE_MS * 3));
    expect(boardCalls).toBe(2);

    // Changes the board does not show do not refetch it.
    await act(async () => {
      await emit(STORE_CHANGED, change("chat_message"));
    });
    await act(() => sleep(COALESCE_MS * 2));
    expect(boardCalls).toBe(2);
  });

  it("says when another runner works on the data folder, and pauses all work", async () => {
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    let paused = false;
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      switch (cmd) {
        case "tasks_board":
          return board([]);
        case "agents_list":
          return page([]);
        case "orchestrator_status":
          return {
            runner: "other_process",
            paused,
            running: 1,
            max_concurrent: 10,
            message: paused
              ? "Another runner (ensemble run) is working on this data folder (paused)"
              : "Another runner (ensemble run) is working on this data folder (1 task running)",
          } satisfies OrchestratorStatus;
        case "settings_update":
          paused = true;
          return null;
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Tasks />);
    const status = await screen.findByTestId("runner-status");
    expect(status.textContent).toContain("Another runner (ensemble run) is working on this data folder");
    expect(status.dataset.runner).toBe("other_process");
    await user.click(within(status).getByRole("button", { name: "Pause all" }));
    await waitFor(() => expect(calls.find((c) => c.cmd === "settings_update")?.args).toMatchObject({ patch: { paused: true } }));
    await waitFor(() => expect(within(screen.getByTestId("runner-status")).getByRole("button", { name: "Resume" })).toBeTruthy());
  });
});
