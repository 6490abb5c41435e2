import { describe, expect, it } from "vitest";
import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { App, parseRoute } from "../App";
import { ALL_STATUSES, approval, task } from "./fixtures";

const page = <T,>(items: T[]) => ({ items, total: items.length, limit: 100, offset: 0 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An app with one failed task and one pending approval for it. */
function backend() {
  const failed = task({ id: "t-failed", title: "Summarise Q3 sales", status: "failed", error: "the model gave no final answer" });
  mockIPC(
    (cmd, args) => {
      switch (cmd) {
        case "tasks_board":
          return ALL_STATUSES.map((status) => {
            const mine = status === "failed" ? [failed] : [];
            return { status, total: mine.length, tasks: mine };
          });
        case "tasks_get":
          return { ...failed, id: (args as { id: string }).id };
        case "tasks_subtasks":
        case "tasks_runs":
        case "providers_list":
          return [];
        case "approvals_pending_count":
          return 1;
        case "approvals_list":
          return page([approval({ task_id: "t-failed" })]);
        case "approvals_history":
        case "agents_list":
          return page([]);
        case "orchestrator_status":
          return { runner: "here", paused: false, running: 0, max_concurrent: 10, message: "Working: 0 tasks running" };
        case "providers_overview":
          return { default: { provider: "embedded", reason: "Ollama is not running" }, providers: [] };
        case "settings_get":
          return { first_run_completed: true };
      }
      // Other views' lists (crews, …) are empty here.
      return cmd.endsWith("_list") ? page([]) : null;
    },
    { shouldMockEvents: true },
  );
}

describe("navigation from the tray and notifications", () => {
  it("reads a view name or a route with a task", () => {
    expect(parseRoute("approvals")).toEqual({ view: "approvals", taskId: null });
    expect(parseRoute({ view: "tasks", task_id: "t1" })).toEqual({ view: "tasks", taskId: "t1" });
    expect(parseRoute({ view: "crews" })).toEqual({ view: "crews", taskId: null });
    expect(parseRoute({ view: "nowhere" })).toBeNull();
    expect(parseRoute(42)).toBeNull();
  });

  it("opens the inbox, the failed task's drawer, or the crews as the notification says", async () => {
    backend();
    render(<App />);
    expect(await screen.findByLabelText("1 pending")).toBeTruthy();
    await act(() => sleep(50)); // the listener is registered

    await act(() => emit("app://navigate", "approvals"));
    expect(await screen.findByRole("heading", { name: "Approvals", level: 1 })).toBeTruthy();

    await act(() => emit("app://navigate", { view: "tasks", task_id: "t-failed" }));
    const drawer = await screen.findByRole("dialog", { name: "Task" });
    expect(await within(drawer).findByText("Summarise Q3 sales")).toBeTruthy();

    await act(() => emit("app://navigate", { view: "crews" }));
    expect(await screen.findByRole("heading", { name: "Crews", level: 1 })).toBeTruthy();
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("goes from an approval to its task, and the sidebar does not reopen it", async () => {
    backend();
    const user = userEvent.setup();
    render(<App />);
    await user.click(await screen.findByRole("button", { name: /Approvals/ }));
    await user.click(await screen.findByRole("button", { name: "Summarise Q3 sales" }));
    const drawer = await screen.findByRole("dialog", { name: "Task" });
    expect(drawer).toBeTruthy();
    await user.click(within(drawer).getByRole("button", { name: "Close" }));
    await user.click(screen.getByRole("button", { name: "Home" }));
    await user.click(screen.getByRole("button", { name: "Tasks" }));
    await screen.findByRole("listitem", { name: "Failed: 1" });
    expect(screen.queryByRole("dialog")).toBeNull();
  });
});
