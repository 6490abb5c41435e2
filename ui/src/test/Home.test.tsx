// Home and the guided start, with the backend mocked (mockIPC): the
// dashboard's panels link to their places, unhealthy agents are picked out,
// and a fresh install gets the guided start (models, starter crew, approvals).
import { describe, expect, it, vi } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { Home, unhealthy } from "../views/Home";
import { modelSummary } from "../components/GuidedStart";
import { agent, ALL_STATUSES, approval, task } from "./fixtures";
import type { ProvidersOverview } from "../bindings/ProvidersOverview";
import type { ProviderStatus } from "../bindings/ProviderStatus";
import { at, HOUR, MINUTE, NOW, SECOND } from "./clock";

const page = <T,>(items: T[]) => ({ items, total: items.length, limit: 100, offset: 0 });

function provider(kind: "ollama" | "embedded", reachable: boolean, models = 0): ProviderStatus {
  return {
    config: {
      id: kind,
      name: kind === "ollama" ? "Ollama" : "Embedded",
      kind,
      base_url: kind === "ollama" ? "http://127.0.0.1:11434" : "",
      api_key_ref: null,
      default_model: null,
      max_concurrent: 2,
      cost_table: {},
      enabled: true,
      created_at: at(-2 * HOUR),
      updated_at: at(-2 * HOUR),
    },
    reachable,
    error: reachable ? null : { code: "PROVIDER_UNAVAILABLE", message: "connection refused", details: null },
    models: Array.from({ length: models }, (_, i) => ({ name: `m${i}`, size_bytes: null, details: null })),
    breaker: { state: "closed", consecutive_failures: 0, retry_in_secs: null },
    active: false,
    has_api_key: false,
  } as ProviderStatus;
}

const overview = (...providers: ProviderStatus[]): ProvidersOverview => ({
  default: { provider: "Embedded", reason: "Ollama is not running; using the built-in model" },
  providers,
});

describe("helpers", () => {
  it("unhealthy: errors, enabled offline agents, and busy agents gone quiet", () => {
    const agents = [
      agent({ id: "ok", status: "idle" }),
      agent({ id: "err", status: "error" }),
      agent({ id: "off", status: "offline" }),
      agent({ id: "off-disabled", status: "offline", enabled: false }),
      agent({ id: "quiet", status: "busy", last_heartbeat: at(-10 * MINUTE) }),
      agent({ id: "fresh", status: "busy", last_heartbeat: at(-30 * SECOND) }),
    ];
    expect(unhealthy(agents, NOW).map((a) => a.id)).toEqual(["err", "off", "quiet"]);
  });

  it("modelSummary: Ollama when it answers, else the embedded model, else says nothing is ready", () => {
    expect(modelSummary(overview(provider("ollama", true, 3), provider("embedded", true))).text).toMatch(
      /Ollama is running at http:\/\/127.0.0.1:11434 with 3 models/,
    );
    const offline = modelSummary(overview(provider("ollama", false), provider("embedded", true)));
    expect(offline.tone).toBe("info");
    expect(offline.text).toMatch(/built-in engine/);
    const none = modelSummary(overview(provider("ollama", false), provider("embedded", false)));
    expect(none.tone).toBe("bad");
    expect(none.text).toMatch(/No model is ready.*connection refused/);
  });
});

function backend(opts: { firstRun: boolean; failTemplate?: boolean }) {
  const calls: { cmd: string; args: unknown }[] = [];
  const running = task({ id: "t-run", title: "Draft the launch email", status: "running", started_at: at(-2 * MINUTE), routed_agent_id: "a1" });
  const failed = task({ id: "t-fail", title: "Import CRM export", status: "failed", error: "the provider timed out after 3 attempts" });
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    switch (cmd) {
      case "settings_get":
        return { first_run_completed: !opts.firstRun };
      case "settings_update":
        return { first_run_completed: true };
      case "tasks_board":
        return ALL_STATUSES.map((status) => {
          const mine = [running, failed].filter((t) => t.status === status);
          return { status, total: mine.length, tasks: mine };
        });
      case "agents_list":
        return page([agent({ id: "a1", name: "Writer", status: "busy" }), agent({ id: "a2", name: "Scout", status: "error" })]);
      case "approvals_list":
        return page([approval({ id: "ap1", title: "Send the launch email?", expires_at: at(30 * MINUTE) })]);
      case "providers_overview":
        return overview(provider("ollama", false), provider("embedded", true, 1));
      case "crews_list":
        return page([]);
      case "crews_templates":
        return [
          { key: "research", name: "Research team", description: "Finds and summarises sources.", process: "sequential", goal: "", members: [{}, {}, {}], manager: null, relationships: [], max_rounds: 3, strategy: {} },
          { key: "content", name: "Content studio", description: "Writes and reviews posts.", process: "peer_review", goal: "", members: [{}, {}], manager: null, relationships: [], max_rounds: 3, strategy: {} },
        ];
      case "crews_create_from_template":
        if (opts.failTemplate) throw { code: "VALIDATION", message: "a crew named Content studio exists already" };
        return { id: "c1", name: "Content studio", members: [{}, {}] };
    }
    return null;
  });
  return calls;
}

describe("Home", () => {
  it("shows running work, approvals with expiry, failures, agent health and models, each leading to its place", async () => {
    backend({ firstRun: false });
    const go = vi.fn();
    const showTask = vi.fn();
    render(<Home go={go} showTask={showTask} />);
    const runningPanel = (await screen.findByRole("heading", { name: "Running now" })).closest(".panel") as HTMLElement;
    await userEvent.click(await within(runningPanel).findByRole("button", { name: "Draft the launch email" }));
    expect(showTask).toHaveBeenCalledWith("t-run");
    expect(runningPanel.textContent).toMatch(/Writer/);

    const needs = (await screen.findByRole("heading", { name: "Needs you" })).closest(".panel") as HTMLElement;
    expect(await within(needs).findByText(/expires in/)).toBeTruthy();
    await userEvent.click(within(needs).getByRole("button", { name: "Send the launch email?" }));
    expect(go).toHaveBeenCalledWith("approvals");

    const failures = (await screen.findByRole("heading", { name: "Recent failures" })).closest(".panel") as HTMLElement;
    expect(within(failures).getByText("the provider timed out after 3 attempts")).toBeTruthy();
    await userEvent.click(within(failures).getByRole("button", { name: "Import CRM export" }));
    expect(showTask).toHaveBeenCalledWith("t-fail");

    const health = (await screen.findByRole("heading", { name: "Agent health" })).closest(".panel") as HTMLElement;
    await within(health).findByText("Scout");
    expect(health.textContent).toMatch(/1 busy/);
    expect(health.textContent).toMatch(/1 error/);

    const models = (await screen.findByRole("heading", { name: "Models" })).closest(".panel") as HTMLElement;
    await within(models).findByText(/Ollama is not running/);
    expect(models.textContent).toMatch(/unreachable/);
    expect(screen.queryByTestId("guided-start")).toBeNull();
  });

  it("a fresh install gets the guided start: model summary, starter crew, then it is done", async () => {
    const calls = backend({ firstRun: true });
    const go = vi.fn();
    render(<Home go={go} showTask={() => {}} />);
    const guide = await screen.findByTestId("guided-start");
    expect((await within(guide).findByTestId("model-summary")).textContent).toMatch(/built-in engine/);
    await userEvent.click(await within(guide).findByLabelText(/Content studio/));
    await userEvent.click(within(guide).getByTestId("create-starter"));
    expect((await within(guide).findByTestId("starter-created")).textContent).toMatch(/Created Content studio with 2 agents/);
    expect(calls.find((c) => c.cmd === "crews_create_from_template")?.args).toMatchObject({ key: "content" });
    await userEvent.click(within(guide).getByTestId("finish-guide"));
    await waitFor(() => expect(go).toHaveBeenCalledWith("crews"));
    expect(calls.find((c) => c.cmd === "settings_update")?.args).toEqual({ patch: { first_run_completed: true } });
  });

  it("a failed starter crew shows the reason and the guide stays", async () => {
    backend({ firstRun: true, failTemplate: true });
    render(<Home go={() => {}} showTask={() => {}} />);
    const guide = await screen.findByTestId("guided-start");
    await userEvent.click(await within(guide).findByTestId("create-starter"));
    expect((await within(guide).findByRole("alert")).textContent).toMatch(/exists already/);
    expect(within(guide).queryByTestId("starter-created")).toBeNull();
  });
});
