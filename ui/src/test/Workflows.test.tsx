import { describe, expect, it } from "vitest";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { layoutDag, NODE_H, NODE_W, WorkflowDag } from "../components/Dag";
import { Tasks } from "../views/Tasks";
import type { StepState } from "../bindings/StepState";
import type { StepStatus } from "../bindings/StepStatus";
import type { Workflow } from "../bindings/Workflow";
import type { WorkflowRun } from "../bindings/WorkflowRun";
import type { WorkflowStep } from "../bindings/WorkflowStep";
import { STORE_CHANGED } from "../hooks";
import { task } from "./fixtures";
import { at } from "./clock";

const T = at();

function step(key: string, depends_on: string[] = [], title = ""): WorkflowStep {
  return { key, title, agent_id: null, capabilities: [], prompt: `do ${key}`, depends_on, condition: null, priority: null };
}

// research → (draft, facts) → review; "notes" stands alone.
const STEPS = [step("research", [], "Research"), step("draft", ["research"]), step("facts", ["research"]), step("review", ["draft", "facts"]), step("notes")];

function states(s: Record<string, StepStatus>): StepState[] {
  return Object.entries(s).map(([key, status]) => ({ key, status, task_id: status === "pending" ? null : `task-${key}`, output: null, error: null, updated_at: T }));
}

const workflow: Workflow = {
  id: "wf1",
  name: "Weekly brief",
  description: "Research, write, review",
  is_template: false,
  definition: { steps: STEPS, on_failure: "fail" },
  created_at: T,
  updated_at: T,
};

function run(s: Record<string, StepStatus>, status: WorkflowRun["status"] = "running"): WorkflowRun {
  return { id: "run1", workflow_id: "wf1", status, input: "tides", error: null, steps: states(s), definition: workflow.definition, started_at: T, finished_at: null, created_at: T };
}

describe("layoutDag", () => {
  it("places steps by depth, in definition order within a depth, with an edge per dependency", () => {
    const l = layoutDag(STEPS);
    const at = Object.fromEntries(l.nodes.map((n) => [n.key, [n.depth, n.row]]));
    expect(at).toEqual({ research: [0, 0], draft: [1, 0], facts: [1, 1], review: [2, 0], notes: [0, 1] });
    expect(l.edges.map(({ from, to }) => ({ from, to }))).toEqual([
      { from: "research", to: "draft" },
      { from: "research", to: "facts" },
      { from: "draft", to: "review" },
      { from: "facts", to: "review" },
    ]);
    const x = Object.fromEntries(l.nodes.map((n) => [n.key, n.x]));
    expect(x.draft).toBeGreaterThan(x.research + NODE_W);
    expect(x.review).toBeGreaterThan(x.draft + NODE_W);
    expect(l.width).toBeGreaterThan(x.review + NODE_W);
  });

  it("routes an edge that skips a depth through a free slot, not across a node", () => {
    const l = layoutDag([step("a"), step("b", ["a"]), step("c", ["b", "a"])]);
    const b = l.nodes.find((n) => n.key === "b")!;
    const long = l.edges.find((e) => e.from === "a" && e.to === "c")!;
    const across = long.d.match(/L(\S+) (\S+)/);
    expect(across).not.toBeNull();
    expect(Number(across![1])).toBe(b.x + NODE_W);
    expect(Number(across![2])).toBeGreaterThan(b.y + NODE_H); // below b
    expect(l.edges.find((e) => e.from === "a" && e.to === "b")!.d).not.toContain("L");
  });

  it("survives a cycle and unknown dependencies without looping", () => {
    const l = layoutDag([step("a", ["b"]), step("b", ["a", "ghost"])]);
    expect(l.nodes).toHaveLength(2);
    expect(l.edges).toHaveLength(2);
  });
});

describe("WorkflowDag", () => {
  it("colours each node by its step state and opens a step's task", async () => {
    const opened: string[] = [];
    render(
      <WorkflowDag
        steps={STEPS}
        states={states({ research: "completed", draft: "running", facts: "failed", review: "pending", notes: "skipped" })}
        onSelect={(s) => opened.push(s.task_id ?? "")}
      />,
    );
    const node = (key: string) => document.querySelector(`[data-step='${key}']`) as SVGGElement;
    expect(node("research").getAttribute("class")).toContain("completed");
    expect(node("draft").getAttribute("class")).toContain("running");
    expect(node("facts").getAttribute("class")).toContain("failed");
    expect(node("review").dataset.status).toBe("pending");
    expect(node("notes").dataset.status).toBe("skipped");
    expect(node("research").textContent).toContain("Research");
    expect(document.querySelectorAll(".dag-edge")).toHaveLength(4);
    expect(document.querySelectorAll(".dag-edge.done")).toHaveLength(2); // out of the completed step
    await userEvent.setup().click(screen.getByRole("button", { name: "draft: running" }));
    expect(opened).toEqual(["task-draft"]);
    // A pending step has no task yet: not clickable.
    expect(screen.queryByRole("button", { name: "review: pending" })).toBeNull();
  });
});

describe("Workflows tab", () => {
  it("lists workflows, starts a run with an input and follows its graph live", async () => {
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    let current: WorkflowRun | null = null;
    mockIPC(
      (cmd, args) => {
        calls.push({ cmd, args: args as Record<string, unknown> });
        switch (cmd) {
          case "tasks_board":
            return [];
          case "agents_list":
            return { items: [], total: 0, limit: 1000, offset: 0 };
          case "orchestrator_status":
            return { runner: "here", paused: false, running: 0, max_concurrent: 10, message: "Working: 0 tasks running" };
          case "workflows_list":
            return { items: [workflow], total: 1, limit: 500, offset: 0 };
          case "workflows_runs":
            return current ? [current] : [];
          case "workflows_run":
            current = run({ research: "running", draft: "pending", facts: "pending", review: "pending", notes: "running" });
            return current;
          case "workflows_run_status":
            return current;
          case "tasks_get":
            return task({ id: "task-research", title: "Research" });
          case "tasks_subtasks":
          case "tasks_runs":
            return [];
        }
        return null;
      },
      { shouldMockEvents: true },
    );
    const user = userEvent.setup();
    render(<Tasks />);
    await user.click(await screen.findByRole("tab", { name: "Workflows" }));
    expect(await screen.findByRole("button", { name: /Weekly brief/ })).toBeTruthy();
    // Before any run, the steps as a graph, all pending.
    await waitFor(() => expect(document.querySelectorAll("[data-step][data-status='pending']").length).toBe(5));

    await user.type(screen.getByRole("textbox", { name: "Workflow input" }), "tides");
    await user.click(screen.getByTestId("start-run"));
    await waitFor(() => expect(calls.find((c) => c.cmd === "workflows_run")?.args).toMatchObject({ id: "wf1", input: "tides" }));
    const graph = await screen.findByRole("group", { name: "Workflow run graph" });
    await waitFor(() => expect(graph.querySelector("[data-step='research']")?.getAttribute("data-status")).toBe("running"));

    // The runner finishes research: one change event, the graph follows.
    current = run({ research: "completed", draft: "running", facts: "running", review: "pending", notes: "completed" });
    await act(async () => {
      await emit(STORE_CHANGED, [{ entity: "workflow_run", op: "updated", id: "run1" }]);
    });
    await waitFor(() => expect(document.querySelector("[data-step='research']")?.getAttribute("data-status")).toBe("completed"));
    expect(document.querySelector("[data-step='draft']")?.getAttribute("data-status")).toBe("running");

    // A step opens its task in the drawer.
    await user.click(screen.getByRole("button", { name: "Research: completed" }));
    const drawer = await screen.findByRole("dialog", { name: "Task" });
    expect(await within(drawer).findByText("Research")).toBeTruthy();
  });

  it("creates a workflow from a JSON definition and shows the core's validation error", async () => {
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      switch (cmd) {
        case "tasks_board":
          return [];
        case "agents_list":
        case "workflows_list":
          return { items: [], total: 0, limit: 500, offset: 0 };
        case "workflows_create":
          throw { code: "CYCLE", message: "that would create a cycle: a → b → a" };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Tasks />);
    await user.click(await screen.findByRole("tab", { name: "Workflows" }));
    await user.click(await screen.findByTestId("new-workflow"));
    const dialog = await screen.findByRole("dialog", { name: "New workflow" });
    await user.type(within(dialog).getByRole("textbox", { name: "Name" }), "Loop");
    const def = within(dialog).getByRole("textbox", { name: /Definition/ });
    await user.clear(def);
    await user.click(def);
    await user.paste("{ not json");
    await user.click(within(dialog).getByRole("button", { name: "Create workflow" }));
    expect((await within(dialog).findByRole("alert")).textContent).toMatch(/not valid JSON/);
    expect(calls.some((c) => c.cmd === "workflows_create")).toBe(false);

    await user.clear(def);
    await user.paste('{"steps":[{"key":"a","prompt":"x","depends_on":["b"]},{"key":"b","prompt":"y","depends_on":["a"]}]}');
    await user.click(within(dialog).getByRole("button", { name: "Create workflow" }));
    expect((await within(dialog).findByRole("alert")).textContent).toBe("that would create a cycle: a → b → a");
    expect(calls.find((c) => c.cmd === "workflows_create")?.args).toMatchObject({
      input: { name: "Loop", definition: { steps: [{ key: "a" }, { key: "b" }] } },
    });
  });
});
