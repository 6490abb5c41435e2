// Dragging cards on the task board: the move rules (pure), and the board
// calling the right command for a drop, with the backend mocked (mockIPC).
import { describe, expect, it } from "vitest";
import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { dropIndex, planMove, priorityAt } from "../kanban";
import { Tasks } from "../views/Tasks";
import { ALL_STATUSES, task } from "./fixtures";
import type { Task } from "../bindings/Task";

const page = <T,>(items: T[]) => ({ items, total: items.length, limit: 1000, offset: 0 });

describe("move rules", () => {
  const col = [task({ id: "a", priority: 9 }), task({ id: "b", priority: 6 }), task({ id: "c", priority: 2 })];

  it("reordering a column sets the priority that puts the card there", () => {
    const moving = task({ id: "c", priority: 2 });
    expect(planMove(moving, "queued", "queued", col, 0)).toEqual({ kind: "priority", priority: 10 });
    expect(planMove(moving, "queued", "queued", col, 1)).toEqual({ kind: "priority", priority: 7 });
    // Back where it was: nothing to do.
    expect(planMove(moving, "queued", "queued", col, 2)).toEqual({ kind: "none" });
    const top = task({ id: "a", priority: 9 });
    expect(planMove(top, "queued", "queued", col, 2)).toEqual({ kind: "priority", priority: 1 });
  });

  it("priorities stay within 1–10 and under the card above", () => {
    expect(priorityAt([task({ priority: 10 })], 0)).toBe(10);
    expect(priorityAt([task({ priority: 1 })], 1)).toBe(1);
    expect(priorityAt([], 0)).toBe(5);
    // Between two cards of priority 4: it cannot climb above the upper one.
    expect(priorityAt([task({ priority: 4 }), task({ priority: 4 })], 1)).toBe(4);
  });

  it("a failed task dropped on Queued is retried; an unfinished one on Cancelled is cancelled", () => {
    expect(planMove(task({ status: "failed" }), "failed", "queued", [], 0)).toEqual({ kind: "retry" });
    expect(planMove(task({ status: "running" }), "running", "cancelled", [], 0)).toEqual({ kind: "cancel" });
    expect(planMove(task({ status: "awaiting_approval" }), "waiting", "cancelled", [], 0)).toEqual({ kind: "cancel" });
  });

  it("moves only agents make are refused with a reason", () => {
    for (const to of ["running", "planning", "waiting", "completed"]) {
      const m = planMove(task({ status: "queued" }), "queued", to, [], 0);
      expect(m.kind).toBe("refused");
    }
    const done = planMove(task({ status: "completed" }), "completed", "cancelled", [], 0);
    expect(done).toEqual({ kind: "refused", reason: "Only an unfinished task can be cancelled." });
    expect(planMove(task({ status: "cancelled" }), "cancelled", "queued", [], 0).kind).toBe("refused");
  });

  it("a drop lands before the first card whose middle is below the pointer", () => {
    const rects = [
      { top: 0, height: 40 },
      { top: 50, height: 40 },
    ];
    expect(dropIndex(rects, 5)).toBe(0);
    expect(dropIndex(rects, 30)).toBe(1);
    expect(dropIndex(rects, 200)).toBe(2);
    expect(dropIndex([], 10)).toBe(0);
  });
});

/** A board with the given tasks; records every write command. */
function backend(tasks: Task[], fail?: { cmd: string; error: unknown }) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    if (["tasks_update", "tasks_retry", "tasks_cancel"].includes(cmd)) {
      calls.push({ cmd, args: a });
      if (fail?.cmd === cmd) throw fail.error;
      return tasks.find((t) => t.id === a.id);
    }
    switch (cmd) {
      case "tasks_board":
        return ALL_STATUSES.map((status) => {
          const mine = tasks.filter((t) => t.status === status);
          return { status, total: mine.length, tasks: mine };
        });
      case "agents_list":
        return page([]);
      case "orchestrator_status":
        return { runner: "here", paused: false, running: 0, max_concurrent: 10, message: "Working" };
    }
    return null;
  });
  return calls;
}

/** Drags the card onto a column, dropping at `clientY`. */
function drag(card: HTMLElement, column: HTMLElement, clientY = 10_000) {
  const data = new Map<string, string>();
  const dataTransfer = {
    setData: (k: string, v: string) => data.set(k, v),
    getData: (k: string) => data.get(k) ?? "",
    effectAllowed: "",
    dropEffect: "",
  };
  fireEvent.dragStart(card, { dataTransfer });
  fireEvent.dragOver(column, { dataTransfer, clientY });
  fireEvent.drop(column, { dataTransfer, clientY });
  fireEvent.dragEnd(card, { dataTransfer });
}

const column = (key: string) => document.querySelector<HTMLElement>(`[data-column='${key}']`)!;
const card = (id: string) => document.querySelector<HTMLElement>(`.card[data-task-id='${id}']`)!;

describe("the board's drag and drop", () => {
  it("dropping a failed card on Queued retries it", async () => {
    const calls = backend([task({ id: "f1", title: "Broken import", status: "failed", error: "timeout" })]);
    render(<Tasks />);
    await screen.findByText("Broken import");
    drag(card("f1"), column("queued"));
    await waitFor(() => expect(calls).toEqual([{ cmd: "tasks_retry", args: { id: "f1" } }]));
  });

  it("dropping a card at the bottom of its column lowers its priority", async () => {
    const calls = backend([
      task({ id: "hi", title: "Urgent", priority: 8 }),
      task({ id: "lo", title: "Later", priority: 3 }),
    ]);
    render(<Tasks />);
    await screen.findByText("Urgent");
    // jsdom lays nothing out (every rect is 0 high), so any positive y is "below all cards".
    drag(card("hi"), column("queued"), 500);
    await waitFor(() => expect(calls).toEqual([{ cmd: "tasks_update", args: { id: "hi", patch: { priority: 2 } } }]));
  });

  it("a refused move says why and calls nothing", async () => {
    const calls = backend([task({ id: "q1", title: "Write summary", status: "queued" })]);
    render(<Tasks />);
    await screen.findByText("Write summary");
    drag(card("q1"), column("completed"));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toMatch(/Agents move tasks into/);
    expect(calls).toEqual([]);
    await userEvent.click(within(alert).getByRole("button", { name: "Dismiss" }));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("a failed command shows the backend's message", async () => {
    const calls = backend([task({ id: "r1", title: "Crawl docs", status: "running" })], {
      cmd: "tasks_cancel",
      error: { code: "ILLEGAL_TRANSITION", message: "a task cannot move from completed to cancelled" },
    });
    render(<Tasks />);
    await screen.findByText("Crawl docs");
    drag(card("r1"), column("cancelled"));
    expect((await screen.findByRole("alert")).textContent).toMatch(/cannot move from completed to cancelled/);
    expect(calls.map((c) => c.cmd)).toEqual(["tasks_cancel"]);
  });

  it("Alt+↑ on a focused card raises its priority by one", async () => {
    const calls = backend([task({ id: "k1", title: "Keyboard task", priority: 5 })]);
    render(<Tasks />);
    await screen.findByText("Keyboard task");
    card("k1").focus();
    await userEvent.keyboard("{Alt>}{ArrowUp}{/Alt}");
    await waitFor(() => expect(calls).toEqual([{ cmd: "tasks_update", args: { id: "k1", patch: { priority: 6 } } }]));
  });
});
