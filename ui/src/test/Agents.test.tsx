import { describe, expect, it } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { Agents } from "../views/Agents";
import { agent } from "./fixtures";
import type { ToolDef } from "../bindings/ToolDef";

const schema = { type: "object" };
const TOOLS: ToolDef[] = [
  { name: "code_run", description: "Run Python or Node.js in a sandbox.", parameters: schema, category: "code", requires_approval: true, idempotent: false, unavailable: null },
  { name: "sql_query", description: "Read-only SQL.", parameters: schema, category: "data", requires_approval: true, idempotent: true, unavailable: null },
  { name: "web_fetch", description: "Fetch a page.", parameters: schema, category: "web", requires_approval: false, idempotent: true, unavailable: null },
  { name: "files__read", description: "From an MCP server.", parameters: schema, category: "mcp", requires_approval: true, idempotent: false, unavailable: "the MCP server 'files' exited" },
];

const TEMPLATES = [
  {
    key: "analyst",
    name: "Analyst",
    role: "analyst",
    description: "Queries data",
    system_prompt: "You are a data analyst.",
    capabilities: ["sql_query", "data_analysis"],
    allowed_tools: ["sql_query"],
    autonomy: "copilot",
    personality: {},
  },
];

describe("Agents view", () => {
  it("lists agents from the backend", async () => {
    mockIPC((cmd) => {
      if (cmd === "agents_list") return { items: [agent(), agent({ id: "a2", name: "Wren", role: "writer" })], total: 2, limit: 100, offset: 0 };
      return [];
    });
    render(<Agents />);
    expect(await screen.findByText("Ada")).toBeTruthy();
    expect(screen.getByText("Wren")).toBeTruthy();
  });

  it("creates an agent from a template", async () => {
    const created: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "agents_list") return { items: [], total: 0, limit: 100, offset: 0 };
      if (cmd === "agent_templates") return TEMPLATES;
      if (cmd === "providers_list") return [];
      if (cmd === "tools_list") return TOOLS;
      if (cmd === "agents_create") {
        created.push((args as { input: unknown }).input);
        return agent({ name: "Quinn" });
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Agents />);
    await user.click(await screen.findByTestId("new-agent"));
    await screen.findByRole("option", { name: /Analyst/ });
    await user.selectOptions(screen.getByRole("combobox", { name: /template/i }), "analyst");
    const name = screen.getByRole("textbox", { name: "Name" }) as HTMLInputElement;
    expect(name.value).toBe("Analyst");
    await user.clear(name);
    await user.type(name, "Quinn");
    await user.click(screen.getByTestId("save-agent"));
    await waitFor(() => expect(created).toHaveLength(1));
    expect(created[0]).toMatchObject({
      name: "Quinn",
      template: "analyst",
      capabilities: ["sql_query", "data_analysis"],
      allowed_tools: ["sql_query"],
      autonomy: "copilot",
    });
  });

  it("sets autonomy, the allowed tools from the app's tools (with per-tool autonomy), provider and model", async () => {
    const updates: { id: string; input: Record<string, unknown> }[] = [];
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "agents_list":
          return { items: [agent({ allowed_tools: ["sql_query", "old_mcp__tool"] })], total: 1, limit: 100, offset: 0 };
        case "agent_templates":
          return TEMPLATES;
        case "tools_list":
          return TOOLS;
        case "providers_list":
          return [
            { id: "p1", name: "ollama", kind: "ollama", base_url: "http://127.0.0.1:11434", api_key_ref: null, default_model: null, max_concurrent: 2, cost_table: {}, enabled: true, created_at: "", updated_at: "" },
            { id: "p2", name: "embedded", kind: "embedded", base_url: "", api_key_ref: null, default_model: null, max_concurrent: 1, cost_table: {}, enabled: true, created_at: "", updated_at: "" },
          ];
        case "providers_overview":
          return {
            default: { provider: "embedded", reason: "" },
            providers: [
              { config: { name: "ollama" }, models: [{ name: "llama3.2:latest" }], active: false },
              { config: { name: "embedded" }, models: [{ name: "gemma-3-270m-q4_k_m.gguf" }], active: true },
            ],
          };
        case "agents_update":
          updates.push(args as { id: string; input: Record<string, unknown> });
          return agent();
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Agents />);
    await user.click(await screen.findByRole("button", { name: "Edit Ada" }));
    const dialog = screen.getByRole("dialog");
    const tools = await within(dialog).findByRole("list", { name: "Allowed tools" });
    // Every tool the app offers, with what it needs; allowed ones checked.
    expect((within(tools).getByRole("checkbox", { name: "sql_query" }) as HTMLInputElement).checked).toBe(true);
    expect((within(tools).getByRole("checkbox", { name: "code_run" }) as HTMLInputElement).checked).toBe(false);
    const codeRow = tools.querySelector("[data-tool='code_run']") as HTMLElement;
    expect(within(codeRow).getByText("asks you first")).toBeTruthy();
    const mcpRow = tools.querySelector("[data-tool='files__read']") as HTMLElement;
    expect(within(mcpRow).getByText("the MCP server 'files' exited")).toBeTruthy();
    // An allowed tool the app does not offer now is kept, not silently dropped.
    const oldRow = tools.querySelector("[data-tool='old_mcp__tool']") as HTMLElement;
    expect(within(oldRow).getByText("not offered now")).toBeTruthy();

    await user.click(within(tools).getByRole("checkbox", { name: "code_run" }));
    await user.click(within(tools).getByRole("checkbox", { name: "web_fetch" }));
    await user.click(within(tools).getByRole("checkbox", { name: "sql_query" }));
    await user.selectOptions(within(tools).getByRole("combobox", { name: "Autonomy for web_fetch" }), "autopilot");
    await user.click(within(dialog).getByRole("radio", { name: "Autopilot" }));
    // Under autopilot code_run no longer waits for you.
    expect(within(codeRow).queryByText("asks you first")).toBeNull();
    await user.click(within(dialog).getByRole("radio", { name: "Copilot" }));

    await user.selectOptions(within(dialog).getByRole("combobox", { name: /Provider/ }), "ollama");
    // The chosen provider's models are offered.
    const options = Array.from(dialog.querySelectorAll("#agent-models option")).map((o) => (o as HTMLOptionElement).value);
    expect(options).toEqual(["llama3.2:latest"]);
    await user.type(within(dialog).getByRole("combobox", { name: /Model/ }), "llama3.2:latest");
    await user.click(screen.getByTestId("save-agent"));
    await waitFor(() => expect(updates).toHaveLength(1));
    expect(updates[0].id).toBe("agent-1");
    expect(updates[0].input).toMatchObject({
      autonomy: "copilot",
      provider: "ollama",
      model: "llama3.2:latest",
      tool_autonomy: { web_fetch: "autopilot" },
    });
    expect([...(updates[0].input.allowed_tools as string[])].sort()).toEqual(["code_run", "old_mcp__tool", "web_fetch"]);
  });

  it("shows the backend's validation message and keeps the form open", async () => {
    mockIPC((cmd) => {
      if (cmd === "agents_list") return { items: [], total: 0, limit: 100, offset: 0 };
      if (cmd === "agent_templates" || cmd === "providers_list") return [];
      if (cmd === "agents_create") throw { code: "VALIDATION", message: "temperature: must be between 0 and 2, got 5" };
      return null;
    });
    const user = userEvent.setup();
    render(<Agents />);
    await user.click(await screen.findByTestId("new-agent"));
    await user.type(screen.getByRole("textbox", { name: "Name" }), "Broken");
    await user.click(screen.getByTestId("save-agent"));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "temperature: must be between 0 and 2, got 5");
    expect(screen.getByRole("dialog")).toBeTruthy();
  });

  it("shows an error panel with a retry when the list fails", async () => {
    let fail = true;
    mockIPC((cmd) => {
      if (cmd === "agents_list") {
        if (fail) throw { code: "DATABASE_BUSY", message: "database error: database is locked" };
        return { items: [agent()], total: 1, limit: 100, offset: 0 };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<Agents />);
    expect(await screen.findByText("database error: database is locked")).toBeTruthy();
    fail = false;
    await user.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Ada")).toBeTruthy();
  });
});
