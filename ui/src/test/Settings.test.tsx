import { describe, expect, it } from "vitest";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { SettingsView } from "../views/Settings";
import type { ProvidersOverview } from "../bindings/ProvidersOverview";
import type { PullProgress } from "../bindings/PullProgress";

const T = "2026-11-21T10:00:00.000Z";
const closed = { state: "closed" as const, consecutive_failures: 0, retry_in_secs: null };

function overview(reachable: boolean): ProvidersOverview {
  return {
    default: { provider: "embedded", reason: "Ollama did not answer at http://127.0.0.1:11434 (connection refused); using the embedded model" },
    providers: [
      {
        config: { id: "p1", name: "ollama", kind: "ollama", base_url: "http://127.0.0.1:11434", api_key_ref: null, default_model: null, max_concurrent: 2, cost_table: {}, enabled: true, created_at: T, updated_at: T },
        reachable,
        error: reachable ? null : { code: "PROVIDER_UNREACHABLE", message: "cannot reach the provider at http://127.0.0.1:11434: Connection refused" },
        models: reachable ? [{ name: "llama3.2:latest", size_bytes: 1, details: null }] : [],
        breaker: closed,
        active: false,
        has_api_key: false,
      },
      {
        config: { id: "p2", name: "embedded", kind: "embedded", base_url: "", api_key_ref: null, default_model: "gemma-3-270m-q4_k_m.gguf", max_concurrent: 1, cost_table: {}, enabled: true, created_at: T, updated_at: T },
        reachable: true,
        error: null,
        models: [{ name: "gemma-3-270m-q4_k_m.gguf", size_bytes: 253115392, details: null }],
        breaker: { state: "open", consecutive_failures: 5, retry_in_secs: 12 },
        active: true,
        has_api_key: false,
      },
    ],
  };
}

const settings = { max_concurrent_tasks: 10, approval_expiry_hours: 24, default_autonomy: "copilot", default_provider: null, default_model: null, paused: false, web_fetch_allow_list: [], code_run_unsandboxed_with_approval: false, first_run_completed: false };

describe("Settings: providers", () => {
  it("shows which provider is in use, each status, the breaker, and tests a connection", async () => {
    let ollamaUp = false;
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "providers_overview":
          return overview(false);
        case "providers_test":
          expect((args as { name: string }).name).toBe("ollama");
          ollamaUp = true;
          return overview(true).providers[0];
        case "settings_get":
          return settings;
        case "mcp_statuses":
          return [];
        case "app_info":
          return { version: "0.1.0", data_dir: "/tmp/x", database: "/tmp/x/ensemble.db", schema_version: 1 };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const inUse = await screen.findByTestId("provider-in-use");
    expect(inUse.textContent).toContain("embedded");
    expect(inUse.textContent).toContain("Ollama did not answer");
    const ollama = document.querySelector("[data-provider='ollama']") as HTMLElement;
    expect(within(ollama).getByText(/Connection refused/)).toBeTruthy();
    const embedded = document.querySelector("[data-provider='embedded']") as HTMLElement;
    expect(within(embedded).getByText(/paused after failures · retry in 12s/)).toBeTruthy();
    await user.click(within(ollama).getByRole("button", { name: "Test connection" }));
    await waitFor(() => expect(within(ollama).getByText("connected")).toBeTruthy());
    expect(ollamaUp).toBe(true);
    expect(within(ollama).getByText("llama3.2:latest")).toBeTruthy();
  });

  it("pulls a model with a progress bar", async () => {
    let channel: Channel<PullProgress> | undefined;
    let finish: (() => void) | undefined;
    mockIPC((cmd, args) => {
      const a = args as Record<string, unknown>;
      switch (cmd) {
        case "providers_overview":
          return overview(true);
        case "providers_pull":
          expect(a).toMatchObject({ name: "ollama", model: "qwen2.5:0.5b" });
          channel = a.onProgress as Channel<PullProgress>;
          return new Promise<null>((r) => (finish = () => r(null)));
        case "providers_test":
          return overview(true).providers[0];
        case "settings_get":
          return settings;
        case "mcp_statuses":
          return [];
        case "app_info":
          return { version: "0.1.0", data_dir: "/tmp/x", database: "/tmp/x/ensemble.db", schema_version: 1 };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    await user.type(await screen.findByRole("textbox", { name: "Model to pull" }), "qwen2.5:0.5b");
    await user.click(screen.getByRole("button", { name: "Pull" }));
    await waitFor(() => expect(channel).toBeDefined());
    act(() => channel!.onmessage({ status: "downloading", completed: 250, total: 1000 }));
    const bar = (await screen.findByRole("progressbar", { name: "Download progress" })) as HTMLProgressElement;
    expect(bar.value).toBe(25);
    expect(screen.getByText(/downloading · 25%/)).toBeTruthy();
    await act(async () => finish!());
    await waitFor(() => expect(screen.queryByRole("progressbar")).toBeNull());
  });
});

describe("Settings: MCP servers", () => {
  const server = (name: string, command: string, enabled = true) => ({ name, command, args: ["serve.py"], env: {}, enabled });

  it("shows each server's state, tool count and last error, and servers that start at the next launch", async () => {
    const updates: unknown[] = [];
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "mcp_statuses":
          return [
            { server: "calc", state: "running", tools: ["calc__add", "calc__env"], restarts: 1, last_error: null },
            { server: "ghost", state: "failed", tools: [], restarts: 0, last_error: "cannot start 'ensemble-no-such-mcp-server': No such file or directory" },
            { server: "off", state: "disabled", tools: [], restarts: 0, last_error: null },
          ];
        case "settings_get":
          return {
            ...settings,
            mcp_servers: [server("calc", "python3"), server("ghost", "ensemble-no-such-mcp-server"), server("off", "python3", false), server("later", "node")],
          };
        case "settings_update":
          updates.push((args as { patch: unknown }).patch);
          return settings;
        case "providers_overview":
          return overview(true);
        case "app_info":
          return { version: "0.1.0", data_dir: "/tmp/x", database: "/tmp/x/ensemble.db", schema_version: 1 };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const table = await screen.findByRole("table", { name: "MCP servers" });
    const row = (name: string) => table.querySelector(`[data-mcp-server='${name}']`) as HTMLElement;
    await waitFor(() => expect(row("later")).toBeTruthy());
    expect(within(row("calc")).getByText("running")).toBeTruthy();
    expect(within(row("calc")).getByText("2 tools")).toBeTruthy();
    expect(within(row("calc")).getByText("calc__add, calc__env")).toBeTruthy();
    expect(within(row("calc")).getByText(/restarted 1×/)).toBeTruthy();
    expect(within(row("calc")).getByText("python3 serve.py")).toBeTruthy();
    expect(within(row("ghost")).getByText("failed")).toBeTruthy();
    expect(within(row("ghost")).getByText("0 tools")).toBeTruthy();
    expect(within(row("ghost")).getByText(/No such file or directory/)).toBeTruthy();
    expect(within(row("off")).getByText("disabled")).toBeTruthy();
    expect(within(row("later")).getByText("starts at the next launch")).toBeTruthy();

    // Turning one off writes the whole list back with that change.
    await user.click(within(row("calc")).getByRole("button", { name: "Turn off" }));
    await waitFor(() => expect(updates).toHaveLength(1));
    expect(updates[0]).toEqual({
      mcp_servers: [server("calc", "python3", false), server("ghost", "ensemble-no-such-mcp-server"), server("off", "python3", false), server("later", "node")],
    });
  });

  it("adds a server from a command line", async () => {
    const updates: unknown[] = [];
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "mcp_statuses":
          return [];
        case "settings_get":
          return { ...settings, mcp_servers: [] };
        case "settings_update":
          updates.push((args as { patch: unknown }).patch);
          return settings;
        case "providers_overview":
          return overview(true);
        case "app_info":
          return { version: "0.1.0", data_dir: "/tmp/x", database: "/tmp/x/ensemble.db", schema_version: 1 };
      }
      return null;
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    expect(await screen.findByText("No MCP servers")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Add server" }));
    await user.type(screen.getByRole("textbox", { name: /Server name/ }), "files");
    await user.type(screen.getByRole("textbox", { name: /Command/ }), 'npx -y server-filesystem "/home/me/My Docs"');
    await user.click(screen.getByRole("button", { name: "Add MCP server" }));
    await waitFor(() => expect(updates).toHaveLength(1));
    expect(updates[0]).toEqual({
      mcp_servers: [{ name: "files", command: "npx", args: ["-y", "server-filesystem", "/home/me/My Docs"], env: {}, enabled: true }],
    });
  });
});
