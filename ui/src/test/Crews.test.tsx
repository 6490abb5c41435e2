import { describe, expect, it } from "vitest";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import { Crews } from "../views/Crews";
import { layoutCrew } from "../components/CrewChart";
import type { Crew } from "../bindings/Crew";
import type { CrewRun } from "../bindings/CrewRun";
import type { CrewTemplate } from "../bindings/CrewTemplate";
import type { Message } from "../bindings/Message";
import type { Relationship } from "../bindings/Relationship";
import type { RoutingConfig } from "../bindings/RoutingConfig";
import { STORE_CHANGED } from "../hooks";
import { agent } from "./fixtures";
import { at, MINUTE, SECOND } from "./clock";

/** The routing settings a crew has by default (`RoutingConfig::default`). */
const ROUTING: RoutingConfig = { strategy: "top_1", k: 2, threshold: 0.5, aggregator_agent_id: null };

const T = at();
const page = <X,>(items: X[]) => ({ items, total: items.length, limit: 500, offset: 0 });

function rel(id: string, from: string, kind: Relationship["kind"], to: string): Relationship {
  return { id, crew_id: "crew-1", from_agent_id: from, to_agent_id: to, kind, trust_level: 0.5, communication_style: "sync", handoff_rules: {}, created_at: T, updated_at: T };
}

function crew(over: Partial<Crew> = {}): Crew {
  return {
    id: "crew-1",
    name: "Launch team",
    goal: "Write the launch note",
    process: "sequential",
    manager_agent_id: null,
    strategy: ROUTING,
    shared_context: {},
    escalation_rules: {},
    budget: { max_tokens: null, max_cost: null, max_wall_secs: null },
    max_rounds: 5,
    status: "idle",
    template: "research_write_review",
    members: [
      { agent_id: "a-res", agent_name: "Researcher", position: 0, role: "researcher" },
      { agent_id: "a-wri", agent_name: "Writer", position: 1, role: "writer" },
      { agent_id: "a-rev", agent_name: "Reviewer", position: 2, role: "reviewer" },
    ],
    relationships: [rel("r1", "a-rev", "supervises", "a-wri"), rel("r2", "a-res", "delegates_to", "a-wri")],
    created_at: T,
    updated_at: T,
    ...over,
  };
}

function crewRun(over: Partial<CrewRun> = {}): CrewRun {
  return {
    id: "run-1",
    crew_id: "crew-1",
    process: "sequential",
    status: "running",
    input: "A bakery in Lisbon",
    report: null,
    stop_reason: null,
    error: null,
    outputs: [],
    vote_log: [],
    state: {},
    tokens_in: 120,
    tokens_out: 40,
    cost: 0,
    stop_requested: false,
    started_at: T,
    finished_at: null,
    created_at: T,
    updated_at: T,
    ...over,
  };
}

function msg(id: string, from: string | null, to: string | null, kind: Message["kind"], content: string, at: string): Message {
  return {
    id,
    crew_id: "crew-1",
    crew_run_id: "run-1",
    task_id: null,
    from_agent_id: from,
    to_agent_id: to,
    channel: "crew",
    kind,
    content,
    reasoning: "",
    context: {},
    requires_response: false,
    response_deadline: null,
    created_at: at,
    updated_at: at,
  };
}

const TEMPLATES: CrewTemplate[] = [
  {
    key: "research_write_review",
    name: "Research, write, review",
    description: "A pipeline: the researcher gathers facts, the writer writes, the reviewer polishes.",
    process: "sequential",
    goal: "Produce a reviewed text.",
    members: [
      { agent_template: "researcher", name: "Researcher", crew_role: "researcher" },
      { agent_template: "writer", name: "Writer", crew_role: "writer" },
      { agent_template: "reviewer", name: "Reviewer", crew_role: "reviewer" },
    ],
    manager: null,
    relationships: [["Reviewer", "supervises", "Writer"]],
    max_rounds: 5,
    strategy: ROUTING,
  },
  {
    key: "draft_and_review",
    name: "Draft and review",
    description: "Peer review until the reviewer approves.",
    process: "peer_review",
    goal: "Deliver an approved draft.",
    members: [
      { agent_template: "writer", name: "Writer", crew_role: "author" },
      { agent_template: "reviewer", name: "Reviewer", crew_role: "reviewer" },
    ],
    manager: null,
    relationships: [["Reviewer", "supervises", "Writer"]],
    max_rounds: 5,
    strategy: ROUTING,
  },
];

type Call = { cmd: string; args: Record<string, unknown> };

describe("layoutCrew", () => {
  it("places every member once and draws one labelled edge per relationship, bending opposite pairs apart", () => {
    const c = crew({ relationships: [rel("r1", "a-rev", "supervises", "a-wri"), rel("r2", "a-wri", "reports_to", "a-rev"), rel("r3", "a-res", "consults", "ghost")] });
    const l = layoutCrew(c.members, c.relationships, "a-rev");
    expect(l.nodes.map((n) => n.id)).toEqual(["a-res", "a-wri", "a-rev"]);
    expect(l.nodes.find((n) => n.id === "a-rev")?.manager).toBe(true);
    // Distinct positions, all inside the drawing.
    expect(new Set(l.nodes.map((n) => `${Math.round(n.x)},${Math.round(n.y)}`)).size).toBe(3);
    for (const n of l.nodes) {
      expect(n.x).toBeGreaterThan(0);
      expect(n.x).toBeLessThan(l.width);
      expect(n.y).toBeGreaterThan(0);
      expect(n.y).toBeLessThan(l.height);
    }
    // The relationship to an agent outside the crew is not drawn.
    expect(l.edges.map((e) => e.kind)).toEqual(["supervises", "reports_to"]);
    expect(l.edges.every((e) => e.d.includes("Q"))).toBe(true);
    const label = (i: number) => `${Math.round(l.edges[i].labelX)},${Math.round(l.edges[i].labelY)}`;
    expect(label(0)).not.toBe(label(1));
  });
});

describe("Crews view", () => {
  it("creates a crew from a template and shows it with its relationship chart", async () => {
    const calls: Call[] = [];
    let crews: Crew[] = [];
    mockIPC(
      (cmd, args) => {
        calls.push({ cmd, args: args as Record<string, unknown> });
        switch (cmd) {
          case "crews_list":
            return page(crews);
          case "crews_templates":
            return TEMPLATES;
          case "crews_create_from_template":
            crews = [crew({ name: "Bakery crew" })];
            return crews[0];
          case "agents_list":
            return page([]);
          case "crews_runs_list":
            return page([]);
        }
        return null;
      },
      { shouldMockEvents: true },
    );
    const user = userEvent.setup();
    render(<Crews />);
    expect(await screen.findByText("No crews yet")).toBeTruthy();

    await user.click(screen.getByTestId("new-crew"));
    const dialog = await screen.findByRole("dialog", { name: "New crew from a template" });
    const options = await within(dialog).findAllByRole("radio");
    expect(options).toHaveLength(2);
    expect(within(dialog).getByText(/Researcher \(researcher\) → Writer \(writer\) → Reviewer \(reviewer\)/)).toBeTruthy();
    // Pick the second one, then change our mind back to the sequential one.
    await user.click(within(dialog).getByRole("radio", { name: /Draft and review/ }));
    expect((within(dialog).getByRole("textbox", { name: /Crew name/ }) as HTMLInputElement).placeholder).toBe("Draft and review");
    await user.click(within(dialog).getByRole("radio", { name: /Research, write, review/ }));
    await user.type(within(dialog).getByRole("textbox", { name: /Crew name/ }), "Bakery crew");
    await user.click(within(dialog).getByRole("button", { name: "Create crew" }));

    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.find((c) => c.cmd === "crews_create_from_template")?.args).toEqual({ key: "research_write_review", options: { name: "Bakery crew" } });
    expect(await screen.findByRole("heading", { name: "Bakery crew", level: 2 })).toBeTruthy();
    const chart = screen.getByRole("group", { name: "Bakery crew: relationships" });
    expect(chart.querySelectorAll(".crew-node")).toHaveLength(3);
    const edges = [...chart.querySelectorAll(".crew-edge")];
    expect(edges.map((e) => e.getAttribute("aria-label"))).toEqual([
      "Reviewer supervises Writer, trust 0.5",
      "Researcher delegates to Writer, trust 0.5",
    ]);
    expect(edges.map((e) => e.querySelector("text")?.textContent)).toEqual(["supervises", "delegates to"]);
    expect(screen.getByText("No run yet.")).toBeTruthy();
  });

  it("edits a crew: process, manager, member order and roles, budget; and adds a relationship", async () => {
    const calls: Call[] = [];
    let current = crew();
    const agents = [agent({ id: "a-res", name: "Researcher" }), agent({ id: "a-wri", name: "Writer" }), agent({ id: "a-rev", name: "Reviewer" }), agent({ id: "a-ana", name: "Ada", role: "analyst" })];
    mockIPC(
      (cmd, args) => {
        const a = args as Record<string, unknown>;
        calls.push({ cmd, args: a });
        switch (cmd) {
          case "crews_list":
            return page([current]);
          case "crews_get":
            return current;
          case "agents_list":
            return page(agents);
          case "crews_runs_list":
            return page([]);
          case "crews_add_relationship": {
            const input = a.input as { from_agent_id: string; to_agent_id: string; kind: Relationship["kind"] };
            current = { ...current, relationships: [...current.relationships, rel("r3", input.from_agent_id, input.kind, input.to_agent_id)] };
            return current.relationships[2];
          }
          case "crews_update":
            current = { ...current, name: "Renamed" };
            return current;
        }
        return null;
      },
      { shouldMockEvents: true },
    );
    const user = userEvent.setup();
    render(<Crews />);
    await user.click(await screen.findByTestId("edit-crew"));
    const dialog = await screen.findByRole("dialog", { name: "Edit Launch team" });
    const name = within(dialog).getByRole("textbox", { name: "Name" });
    await user.clear(name);
    await user.type(name, "Renamed");
    await user.selectOptions(within(dialog).getByRole("combobox", { name: /^Process/ }), "hierarchical");
    // Ada joins; the reviewer leaves; the writer moves to the front and becomes manager.
    await user.selectOptions(within(dialog).getByRole("combobox", { name: "Agent to add" }), "a-ana");
    await user.click(within(dialog).getByRole("button", { name: "Add member" }));
    await user.click(within(dialog).getByRole("button", { name: "Remove Reviewer" }));
    await user.click(within(dialog).getByRole("button", { name: "Move Writer up" }));
    const role = within(dialog).getByRole("textbox", { name: "Role of Writer" });
    await user.clear(role);
    await user.type(role, "lead");
    await user.selectOptions(within(dialog).getByRole("combobox", { name: /^Manager/ }), "a-wri");
    await user.type(within(dialog).getByRole("spinbutton", { name: /Max tokens/ }), "5000");

    // A relationship is saved at once.
    const rels = within(dialog).getByRole("region", { name: "Relationships" });
    await user.selectOptions(within(rels).getByRole("combobox", { name: "From" }), "a-res");
    await user.selectOptions(within(rels).getByRole("combobox", { name: "Relationship" }), "consults");
    await user.selectOptions(within(rels).getByRole("combobox", { name: "To" }), "a-rev");
    await user.clear(within(rels).getByRole("spinbutton", { name: "Trust" }));
    await user.type(within(rels).getByRole("spinbutton", { name: "Trust" }), "0.8");
    await user.click(within(rels).getByRole("button", { name: "Add relationship" }));
    await waitFor(() =>
      expect(calls.find((c) => c.cmd === "crews_add_relationship")?.args).toEqual({
        crewId: "crew-1",
        input: { from_agent_id: "a-res", to_agent_id: "a-rev", kind: "consults", trust_level: 0.8, communication_style: "sync" },
      }),
    );
    await waitFor(() => expect(rels.querySelector(".crew-rel-row[data-kind='consults']")?.textContent).toMatch(/Researcher consults Reviewer.*trust 0.50/));

    await user.click(within(dialog).getByTestId("save-crew"));
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
    expect(calls.find((c) => c.cmd === "crews_update")?.args).toEqual({
      id: "crew-1",
      input: {
        name: "Renamed",
        goal: "Write the launch note",
        process: "hierarchical",
        manager_agent_id: "a-wri",
        max_rounds: 5,
        budget: { max_tokens: 5000, max_cost: null, max_wall_secs: null },
        members: [
          { agent_id: "a-wri", role: "lead" },
          { agent_id: "a-res", role: "researcher" },
          { agent_id: "a-ana", role: "analyst" },
        ],
      },
    });
    expect(await screen.findByRole("heading", { name: "Renamed", level: 2 })).toBeTruthy();
  });

  it("runs a crew, follows its timeline live (newest last), stops, and shows the report and contributions", async () => {
    const calls: Call[] = [];
    let run: CrewRun | null = null;
    let messages: Message[] = [];
    mockIPC(
      (cmd, args) => {
        calls.push({ cmd, args: args as Record<string, unknown> });
        switch (cmd) {
          case "crews_list":
            return page([crew()]);
          case "agents_list":
            return page([]);
          case "crews_runs_list":
            return page(run ? [run] : []);
          case "crews_run_start":
            run = crewRun();
            messages = [msg("m1", null, null, "status_update", "The crew starts: sequential, 3 members.", at(SECOND))];
            return run;
          case "crews_run_get":
            return run;
          case "crews_run_messages":
            return { items: messages, total: messages.length, limit: 1000, offset: 0 };
          case "crews_run_stop":
            run = { ...(run as CrewRun), stop_requested: true };
            return run;
        }
        return null;
      },
      { shouldMockEvents: true },
    );
    const user = userEvent.setup();
    render(<Crews />);
    await user.type(await screen.findByRole("textbox", { name: "Crew request" }), "A bakery in Lisbon");
    await user.click(screen.getByTestId("run-crew"));
    await waitFor(() => expect(calls.find((c) => c.cmd === "crews_run_start")?.args).toEqual({ crewId: "crew-1", input: "A bakery in Lisbon" }));
    const timeline = await screen.findByRole("list", { name: "Message timeline" });
    expect(within(timeline).getAllByRole("listitem")).toHaveLength(1);
    expect(timeline.textContent).toContain("crew → everyone");

    // The engine records more messages: one change event, the timeline follows.
    messages = [
      ...messages,
      msg("m2", "a-res", null, "response", "Pastelaria Sol: custard tarts since 1920.", at(20 * SECOND)),
      msg("m3", "a-res", "a-wri", "handoff", "Handing over to Writer (step 2 of 3).", at(21 * SECOND)),
    ];
    await act(async () => {
      await emit(STORE_CHANGED, [{ entity: "message", op: "created", id: "m3" }]);
    });
    await waitFor(() => expect(within(timeline).getAllByRole("listitem")).toHaveLength(3));
    const items = within(timeline).getAllByRole("listitem");
    expect(items.map((li) => li.dataset.kind)).toEqual(["status_update", "response", "handoff"]);
    expect(items[2].textContent).toContain("Researcher → Writer");
    expect(items[2].textContent).toContain("handoff");
    expect(items[2].textContent).toContain("Handing over to Writer (step 2 of 3).");
    expect(items[1].textContent).toContain("Researcher → everyone");

    // Stop asks the engine; the button says so until the run ends.
    await user.click(screen.getByTestId("stop-run"));
    await waitFor(() => expect(calls.find((c) => c.cmd === "crews_run_stop")?.args).toEqual({ id: "run-1" }));
    expect(await screen.findByRole("button", { name: "Stopping…" })).toBeTruthy();

    // It finishes (completed before the stop took effect): report and contributions.
    run = crewRun({
      status: "completed",
      stop_reason: "completed",
      report: "Pastelaria Sol — warm tarts, warmer mornings.",
      finished_at: at(MINUTE),
      outputs: [
        { agent_id: "a-res", agent_name: "Researcher", label: "step 1", round: 1, task_id: "t1", content: "Pastelaria Sol: custard tarts since 1920.", confidence: 0.8, at: T },
        { agent_id: "a-wri", agent_name: "Writer", label: "step 2", round: 2, task_id: "t2", content: "Pastelaria Sol — warm tarts, warmer mornings.", confidence: null, at: T },
      ],
    });
    await act(async () => {
      await emit(STORE_CHANGED, [{ entity: "crew_run", op: "updated", id: "run-1" }]);
    });
    expect((await screen.findByTestId("crew-report")).textContent).toBe("Pastelaria Sol — warm tarts, warmer mornings.");
    const contributions = screen.getByLabelText("Contributions");
    expect(within(contributions).getByText("Researcher")).toBeTruthy();
    expect(within(contributions).getByText("confidence 80%")).toBeTruthy();
    expect(within(contributions).getByText("step 2")).toBeTruthy();
    expect(screen.getByTestId("run-crew")).toBeTruthy(); // Run again, no Stop
    expect(screen.queryByTestId("stop-run")).toBeNull();
  });

  it("shows a failed command's message with a retry, and a failed run start inline", async () => {
    let fail = true;
    mockIPC((cmd) => {
      switch (cmd) {
        case "crews_list":
          if (fail) throw { code: "DATABASE", message: "database is locked" };
          return page([crew()]);
        case "agents_list":
        case "crews_runs_list":
          return page([]);
        case "crews_run_start":
          throw { code: "CREW_BUSY", message: "this crew is already running" };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Crews />);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("database is locked");
    expect(alert.textContent).toContain("DATABASE");
    fail = false;
    await user.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByRole("heading", { name: "Launch team", level: 2 })).toBeTruthy();
    expect(screen.queryByText("database is locked")).toBeNull();

    await user.click(screen.getByTestId("run-crew"));
    expect((await screen.findByRole("alert")).textContent).toBe("this crew is already running");
  });

  it("imports a crew document and exports one", async () => {
    const calls: Call[] = [];
    let crews: Crew[] = [];
    mockIPC((cmd, args) => {
      calls.push({ cmd, args: args as Record<string, unknown> });
      switch (cmd) {
        case "crews_list":
          return page(crews);
        case "agents_list":
        case "crews_runs_list":
          return page([]);
        case "crews_import": {
          const text = (args as { text: string }).text;
          if (!text.includes("crew:")) throw { code: "VALIDATION", message: "not a crew document: missing field `crew`" };
          crews = [crew({ name: "Imported" })];
          return crews[0];
        }
        case "crews_export":
          return (args as { format: string }).format === "yaml" ? "format: ensemble.crew\ncrew:\n  name: Imported\n" : '{"format":"ensemble.crew"}';
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Crews />);
    await user.click(await screen.findByTestId("import-crew"));
    const dialog = await screen.findByRole("dialog", { name: "Import a crew" });
    const doc = within(dialog).getByRole("textbox", { name: /paste the document/ });
    await user.type(doc, "nonsense");
    await user.click(within(dialog).getByRole("button", { name: "Import crew" }));
    expect((await within(dialog).findByRole("alert")).textContent).toBe("not a crew document: missing field `crew`");
    await user.clear(doc);
    await user.type(doc, "format: ensemble.crew{enter}crew:{enter}  name: Imported");
    await user.click(within(dialog).getByRole("button", { name: "Import crew" }));
    expect(await screen.findByRole("heading", { name: "Imported", level: 2 })).toBeTruthy();

    await user.click(screen.getByTestId("export-crew"));
    const out = await screen.findByRole("dialog", { name: "Export Imported" });
    await waitFor(() => expect((within(out).getByRole("textbox", { name: "Crew document" }) as HTMLTextAreaElement).value).toBe('{"format":"ensemble.crew"}'));
    await user.click(within(out).getByRole("radio", { name: /YAML/ }));
    await waitFor(() => expect((within(out).getByRole("textbox", { name: "Crew document" }) as HTMLTextAreaElement).value).toContain("name: Imported"));
    expect(calls.filter((c) => c.cmd === "crews_export").map((c) => c.args)).toEqual([
      { id: "crew-1", format: "json" },
      { id: "crew-1", format: "yaml" },
    ]);
  });
});
