import { describe, expect, it } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { groupColumns, Tasks } from "../views/Tasks";
import type { BoardColumn } from "../bindings/BoardColumn";
import { ALL_STATUSES, task } from "./fixtures";

function board(tasks: ReturnType<typeof task>[]): BoardColumn[] {
  return ALL_STATUSES.map((status) => {
    const mine = tasks.filter((t) => t.status === status);
    return { status, total: mine.length, tasks: mine };
  });
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
          return { items: [], total: 0, limit: 1000, offset: 0 };
        case "tasks_get":
          return t;
        case "tasks_subtasks":
          return [];
        case "tasks_update":
          return { ...t, priority: 8 };
        case "tasks_cancel":
          return { ...t, status: "cancelled" };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Tasks />);
    const queued = await screen.findByRole("listitem", { name: "Queued: 1" });
    expect(within(queued).getByText("Draft the newsletter")).toBeTruthy();
    expect(within(screen.getByRole("listitem", { name: "Completed: 1" })).getByText("Old report")).toBeTruthy();

    await user.click(within(queued).getByRole("button", { name: /Draft the newsletter/ }));
    const prio = await screen.findByRole("spinbutton", { name: "Priority" });
    await user.clear(prio);
    await user.type(prio, "8");
    await user.click(screen.getByRole("button", { name: "Save priority" }));
    await waitFor(() => expect(calls.some((c) => c.cmd === "tasks_update")).toBe(true));
    expect(calls.find((c) => c.cmd === "tasks_update")?.args).toMatchObject({ id: "t1", patch: { priority: 8 } });

    await user.click(screen.getByRole("button", { name: "Cancel task" }));
    await waitFor(() => expect(calls.some((c) => c.cmd === "tasks_cancel")).toBe(true));
  });
});
