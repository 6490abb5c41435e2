import { describe, expect, it } from "vitest";
import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import { SettingsView } from "../views/Settings";
import type { ModelsOverview } from "../bindings/ModelsOverview";
import type { ModelProfile } from "../bindings/ModelProfile";
import type { ProvidersOverview } from "../bindings/ProvidersOverview";
import type { PullProgress } from "../bindings/PullProgress";
import type { DownloadProgress } from "../bindings/DownloadProgress";
import type { Settings } from "../bindings/Settings";
import type { SettingsPatch } from "../bindings/SettingsPatch";
import { hostError, isAbsolutePath, sqlDatabaseErrors, wholeNumberError } from "../views/SettingsForms";
import { at, DAY } from "./clock";

const T = at();
const closed = { state: "closed" as const, consecutive_failures: 0, retry_in_secs: null };
const NO_MODELS: ModelsOverview = { models: [], unreachable: [] };

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

const settings: Settings = {
  max_concurrent_tasks: 10,
  approval_expiry_hours: 24,
  default_autonomy: "copilot",
  default_provider: null,
  default_model: null,
  paused: false,
  web_fetch_allow_list: [],
  code_run_unsandboxed_with_approval: false,
  sql_databases: [],
  mcp_servers: [],
  first_run_completed: false,
};

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
        case "models_list":
          return NO_MODELS;
        case "model_files_list":
          return [];
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
        case "models_list":
          return NO_MODELS;
        case "model_files_list":
          return [];
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

describe("Settings: models", () => {
  const probed = (over: Partial<ModelProfile> = {}): ModelProfile => ({
    provider: "embedded",
    model: "gemma-3-270m-q4_k_m.gguf",
    tools: "guided",
    verdict: "tools: guided steps (base model)",
    reason: "a base model (it brings no chat template): each step is made from short prompts of finished examples",
    source: "probe",
    native_cases_passed: null,
    native_cases_total: null,
    json_schema: true,
    streaming: true,
    context_length: 32768,
    prompt_tokens_per_sec: 180.2,
    generation_tokens_per_sec: 41.3,
    cases: [
      { name: "JSON schema", passed: true, detail: '{"city":"Lisbon","temperature_c":21}', ms: 900 },
      { name: "streamed answer", passed: true, detail: "12 pieces, 47 tokens", ms: 1300 },
    ],
    app_version: "0.1.0",
    probed_at: at(),
    ...over,
  });

  it("shows each model's verdict, probes one on demand and shows its cases", async () => {
    const probes: unknown[] = [];
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "providers_overview":
          return overview(true);
        case "models_list":
          return {
            models: [
              { provider: "ollama", provider_kind: "ollama", model: { name: "llama3.2:latest", size_bytes: 1, details: null },
                profile: probed({ provider: "ollama", model: "llama3.2:latest", tools: "native", verdict: "tools: native", reason: "",
                  native_cases_passed: 3, native_cases_total: 3, probed_at: at(-2 * DAY) }) },
              { provider: "ollama", provider_kind: "ollama", model: { name: "tinyllama", size_bytes: 1, details: null },
                profile: probed({ provider: "ollama", model: "tinyllama", tools: "unusable",
                  verdict: "not usable for agents: native tool calls: 0 of 3 well-formed, and its JSON did not follow the schema",
                  reason: "native tool calls: 0 of 3 well-formed, and its JSON did not follow the schema", json_schema: false }) },
              { provider: "embedded", provider_kind: "embedded", model: { name: "gemma-3-270m-q4_k_m.gguf", size_bytes: 253115392, details: null },
                profile: null },
            ],
            unreachable: [["lmstudio", { code: "PROVIDER_UNREACHABLE", message: "connection refused" }]],
          };
        case "models_probe":
          probes.push(args);
          return probed();
        case "model_files_list":
          return [];
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
    const table = await screen.findByRole("table", { name: "Models" });
    const row = (id: string) => table.querySelector(`[data-model='${id}']`) as HTMLElement;
    expect(within(row("ollama/llama3.2:latest")).getByText("tools: native")).toBeTruthy();
    expect(within(row("ollama/llama3.2:latest")).getByText(/tool calls 3\/3/)).toBeTruthy();
    expect(within(row("ollama/llama3.2:latest")).getByText(/probed 2 d ago/)).toBeTruthy();
    expect(within(row("ollama/tinyllama")).getByText(/^not usable for agents: native tool calls: 0 of 3/)).toBeTruthy();
    expect(screen.getByText(/lmstudio: not reachable — connection refused/)).toBeTruthy();
    const gemma = row("embedded/gemma-3-270m-q4_k_m.gguf");
    expect(within(gemma).getByText("not probed")).toBeTruthy();

    await user.click(within(gemma).getByRole("button", { name: "Probe gemma-3-270m-q4_k_m.gguf" }));
    await waitFor(() => expect(within(gemma).getByText("tools: guided steps (base model)")).toBeTruthy());
    // A verdict that works is not shown as a failure.
    expect(within(gemma).getByText("tools: guided steps (base model)").className).toMatch(/info/);
    expect(probes).toEqual([{ provider: "embedded", model: "gemma-3-270m-q4_k_m.gguf" }]);
    expect(within(gemma).getByText(/41.3 tok\/s/)).toBeTruthy();
    const cases = await screen.findByRole("list", { name: "Probe cases of gemma-3-270m-q4_k_m.gguf" });
    expect(within(cases).getByText("JSON schema")).toBeTruthy();
    expect(within(cases).getAllByText("pass")).toHaveLength(2);
  });

  it("says why a probe could not run", async () => {
    mockIPC((cmd) => {
      switch (cmd) {
        case "providers_overview":
          return overview(true);
        case "models_list":
          return { models: [{ provider: "ollama", provider_kind: "ollama", model: { name: "llama3.2:latest", size_bytes: 1, details: null }, profile: null }], unreachable: [] };
        case "models_probe":
          throw { code: "PROVIDER_UNREACHABLE", message: "cannot reach the provider at http://127.0.0.1:11434: Connection refused" };
        case "model_files_list":
          return [];
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
    await user.click(await screen.findByRole("button", { name: "Probe llama3.2:latest" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Connection refused");
    expect(screen.getByRole("button", { name: "Probe llama3.2:latest" })).toBeTruthy();
  });
});

describe("Settings: model files", () => {
  const gemma = { name: "gemma-3-270m-q4_k_m.gguf", path: "/usr/share/ensemble/models/gemma-3-270m-q4_k_m.gguf", size_bytes: 253115392, shared: true, linked: false };

  it("downloads a model with a progress bar, can cancel one, and lists what it has", async () => {
    let channel: Channel<DownloadProgress> | undefined;
    let finish: ((ok: boolean) => void) | undefined;
    const cancels: unknown[] = [];
    let files = [gemma];
    mockIPC((cmd, args) => {
      const a = args as Record<string, unknown>;
      switch (cmd) {
        case "providers_overview":
          return overview(true);
        case "models_list":
          return NO_MODELS;
        case "model_files_list":
          return files;
        case "model_files_download":
          expect(a.spec).toEqual({ url: "http://127.0.0.1:8000/tiny.gguf", sha256: "ab".repeat(32) });
          channel = a.onProgress as Channel<DownloadProgress>;
          return new Promise((resolve, reject) => {
            finish = (ok) => {
              if (ok) {
                const f = { name: "tiny.gguf", path: "/data/models/tiny.gguf", size_bytes: 4_000_000, shared: false, linked: false };
                files = [gemma, f];
                resolve(f);
              } else reject({ code: "CANCELLED", message: "generation was cancelled" });
            };
          });
        case "model_files_cancel":
          cancels.push(a);
          finish!(false);
          return true;
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
    const list = await screen.findByRole("list", { name: "Model files" });
    expect(within(list).getByText("gemma-3-270m-q4_k_m.gguf")).toBeTruthy();
    expect(within(list).getByText("installed with the app")).toBeTruthy();

    await user.type(screen.getByRole("textbox", { name: "Model URL" }), "http://127.0.0.1:8000/tiny.gguf");
    await user.type(screen.getByRole("textbox", { name: "Model sha256" }), "ab".repeat(32));
    await user.click(screen.getByRole("button", { name: "Download" }));
    await waitFor(() => expect(channel).toBeDefined());
    act(() => channel!.onmessage({ file_name: "tiny.gguf", downloaded: 1_000_000, total: 4_000_000, resumed_from: 500_000, phase: "downloading" }));
    const bar = (await screen.findByRole("progressbar", { name: "Model download progress" })) as HTMLProgressElement;
    expect(bar.value).toBe(25);
    expect(screen.getByText(/downloading · 1 MB of 4 MB · 25% · resumed at 500 kB/)).toBeTruthy();

    // Cancelling says so and keeps the form.
    await user.click(screen.getByRole("button", { name: "Cancel download" }));
    expect(cancels).toEqual([{ fileName: "tiny.gguf" }]);
    expect((await screen.findByRole("alert")).textContent).toContain("cancelled");
    await waitFor(() => expect(screen.queryByRole("progressbar", { name: "Model download progress" })).toBeNull());

    // Again, to the end: the new file is listed.
    channel = undefined;
    await user.click(screen.getByRole("button", { name: "Download" }));
    await waitFor(() => expect(channel).toBeDefined());
    await act(async () => finish!(true));
    expect((await screen.findByRole("status")).textContent).toContain("tiny.gguf downloaded (4 MB)");
    await waitFor(() => expect(within(screen.getByRole("list", { name: "Model files" })).getByText("tiny.gguf")).toBeTruthy());
  });
});

describe("Settings: MCP servers", () => {
  const server = (name: string, command: string, enabled = true) => ({ name, command, args: ["serve.py"], env: {}, enabled });

  it("shows each server's state, tool count and last error, and servers that start at the next launch", async () => {
    const updates: unknown[] = [];
    mockIPC((cmd, args) => {
      switch (cmd) {
        case "models_list":
          return NO_MODELS;
        case "model_files_list":
          return [];
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
        case "models_list":
          return NO_MODELS;
        case "model_files_list":
          return [];
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

const INFO = { version: "0.1.0", data_dir: "/home/me/.local/share/ensemble", database: "/home/me/.local/share/ensemble/ensemble.db", schema_version: 4 };
const EXPORT_PATH = "/home/me/.local/share/ensemble/exports/ensemble-20261121-100000.json";

/** The Settings view's backend, with `handle` answering the commands a test is about. */
function mockSettings(stored: Settings, handle: (cmd: string, args: Record<string, unknown>) => unknown) {
  mockIPC((cmd, args) => {
    const answer = handle(cmd, (args ?? {}) as Record<string, unknown>);
    if (answer !== undefined) return answer;
    switch (cmd) {
      case "settings_get":
        return stored;
      case "providers_overview":
        return overview(true);
      case "models_list":
        return NO_MODELS;
      case "model_files_list":
        return [];
      case "mcp_statuses":
        return [];
      case "app_info":
        return INFO;
      case "orchestrator_status":
        return { runner: "here", paused: stored.paused, message: "This app runs the queue.", running: 0, queued: 0 };
      case "data_export_path":
        return EXPORT_PATH;
    }
    return null;
  });
}

function form(name: string) {
  return screen.findByRole("form", { name });
}

describe("Settings: validation rules", () => {
  it("accepts whole numbers in range only", () => {
    expect(wholeNumberError("4", 1, 256)).toBeNull();
    expect(wholeNumberError(" 256 ", 1, 256)).toBeNull();
    for (const bad of ["0", "257", "2.5", "-1", "ten", ""]) expect(wholeNumberError(bad, 1, 256)).not.toBeNull();
  });

  it("takes a host or host:port for the allow-list, nothing else", () => {
    expect(hostError("LocalHost:8080", [])).toBeNull();
    expect(hostError("[::1]:11434", [])).toBeNull();
    expect(hostError("http://localhost", [])).toMatch(/scheme/);
    expect(hostError("localhost/api", [])).toMatch(/path/);
    expect(hostError("localhost:99999", [])).toMatch(/port/);
    expect(hostError("localhost", ["localhost"])).toMatch(/already/);
  });

  it("wants a name and an absolute path for a SQL database", () => {
    expect(isAbsolutePath("/data/a.db") && isAbsolutePath("C:\\data\\a.db")).toBe(true);
    expect(isAbsolutePath("data/a.db")).toBe(false);
    expect(sqlDatabaseErrors({ name: "sales", path: "/data/sales.db" }, [])).toEqual({});
    const errs = sqlDatabaseErrors({ name: "sales", path: "sales.db" }, [{ name: "sales", path: "/x.db" }]);
    expect(errs.name).toMatch(/already registered/);
    expect(errs.path).toMatch(/full path/);
  });
});

describe("Settings: work form", () => {
  it("shows an inline error for a bad limit, sends nothing, then saves only what changed", async () => {
    const patches: SettingsPatch[] = [];
    let finish: (() => void) | undefined;
    mockSettings(settings, (cmd, args) => {
      if (cmd === "settings_update") {
        const patch = args.patch as SettingsPatch;
        patches.push(patch);
        return new Promise((r) => (finish = () => r({ ...settings, ...patch })));
      }
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const work = await form("Work settings");
    const tasks = within(work).getByLabelText("Tasks at once") as HTMLInputElement;
    expect(tasks.value).toBe("10");
    const save = within(work).getByRole("button", { name: "Save work settings" }) as HTMLButtonElement;
    expect(save.disabled).toBe(true); // nothing to save yet

    await user.clear(tasks);
    await user.type(tasks, "0");
    expect((await within(work).findByRole("alert")).textContent).toBe("Enter a whole number from 1 to 256.");
    expect(tasks.getAttribute("aria-invalid")).toBe("true");
    await user.click(save);
    expect(patches).toHaveLength(0);

    await user.clear(tasks);
    await user.type(tasks, "4");
    expect(within(work).queryByRole("alert")).toBeNull();
    const hours = within(work).getByLabelText("Approvals expire after (hours)");
    await user.clear(hours);
    await user.type(hours, "48");
    await user.selectOptions(within(work).getByLabelText("Default autonomy"), "autopilot");
    await user.click(save);
    await waitFor(() => expect(patches).toHaveLength(1));
    expect(patches[0]).toEqual({ max_concurrent_tasks: 4, approval_expiry_hours: 48, default_autonomy: "autopilot" });
    expect(save.textContent).toBe("Saving…");
    expect(save.disabled).toBe(true);
    await act(async () => finish!());
    expect(await within(work).findByText("Saved")).toBeTruthy();
    expect(save.textContent).toBe("Save work settings");

    // Only the field that changed goes in the next patch.
    await user.clear(hours);
    await user.type(hours, "72");
    expect(within(work).queryByText("Saved")).toBeNull();
    await user.click(save);
    await waitFor(() => expect(patches).toHaveLength(2));
    expect(patches[1]).toEqual({ approval_expiry_hours: 72 });
  });

  it("shows the app's own error when it refuses the values", async () => {
    mockSettings(settings, (cmd) => {
      if (cmd === "settings_update") {
        return Promise.reject({ code: "VALIDATION", message: "approval_expiry_hours: must be between 1 and 8760, got 9000", details: { field: "approval_expiry_hours" } });
      }
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const work = await form("Work settings");
    const hours = within(work).getByLabelText("Approvals expire after (hours)");
    await user.clear(hours);
    await user.type(hours, "100");
    await user.click(within(work).getByRole("button", { name: "Save work settings" }));
    expect((await within(work).findByRole("alert", {}, { timeout: 5000 })).textContent).toBe("approval_expiry_hours: must be between 1 and 8760, got 9000");
    expect(within(work).queryByText("Saved")).toBeNull();
    expect(within(work).getByText("Unsaved changes")).toBeTruthy();
  });
});

describe("Settings: tools form", () => {
  it("edits the allow-list, code_run and SQL databases as lists and saves them together", async () => {
    const patches: SettingsPatch[] = [];
    const stored = { ...settings, web_fetch_allow_list: ["127.0.0.1:11434"], sql_databases: [{ name: "crm", path: "/data/crm.db" }] };
    mockSettings(stored, (cmd, args) => {
      if (cmd === "settings_update") {
        patches.push(args.patch as SettingsPatch);
        return { ...stored, ...(args.patch as SettingsPatch) };
      }
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const tools = await form("Tool settings");
    const host = within(tools).getByRole("textbox", { name: "Host to allow" });
    await user.type(host, "http://localhost:8080");
    await user.click(within(tools).getByRole("button", { name: "Add host" }));
    expect((await within(tools).findByRole("alert")).textContent).toMatch(/Leave out the scheme/);
    await user.clear(host);
    await user.type(host, "LocalHost:8080{Enter}");
    const hosts = within(tools).getByRole("list", { name: "Allowed hosts" });
    expect(within(hosts).getByText("localhost:8080")).toBeTruthy();
    await user.click(within(tools).getByRole("button", { name: "Remove 127.0.0.1:11434" }));
    expect(within(hosts).queryByText("127.0.0.1:11434")).toBeNull();

    await user.click(within(tools).getByRole("checkbox", { name: /Run code without a sandbox/ }));

    await user.type(within(tools).getByLabelText("Name"), "crm");
    await user.type(within(tools).getByLabelText("File path"), "sales.db");
    await user.click(within(tools).getByRole("button", { name: "Add database" }));
    const alerts = (await within(tools).findAllByRole("alert")).map((a) => a.textContent);
    expect(alerts).toContain("crm is already registered.");
    expect(alerts).toContain("Enter the full path, starting with / (or C:\\ on Windows).");
    const name = within(tools).getByLabelText("Name");
    await user.clear(name);
    await user.type(name, "sales");
    const path = within(tools).getByLabelText("File path");
    await user.clear(path);
    await user.type(path, "/data/sales.db");
    await user.click(within(tools).getByRole("button", { name: "Add database" }));
    const table = within(tools).getByRole("table", { name: "SQL databases" });
    expect(within(table).getByText("/data/sales.db")).toBeTruthy();
    await user.click(within(tools).getByRole("button", { name: "Remove database crm" }));

    await user.click(within(tools).getByRole("button", { name: "Save tool settings" }));
    await waitFor(() => expect(patches).toHaveLength(1));
    expect(patches[0]).toEqual({
      web_fetch_allow_list: ["localhost:8080"],
      code_run_unsandboxed_with_approval: true,
      sql_databases: [{ name: "sales", path: "/data/sales.db" }],
    });
    expect(await within(tools).findByText("Saved")).toBeTruthy();
  });

  it("shows the app's error when it refuses a database entry", async () => {
    mockSettings(settings, (cmd) => {
      if (cmd === "settings_update") {
        return Promise.reject({ code: "VALIDATION", message: "sql_databases.name: must be at most 200 characters", details: { field: "sql_databases.name" } });
      }
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const tools = await form("Tool settings");
    await user.type(within(tools).getByLabelText("Name"), "sales");
    await user.type(within(tools).getByLabelText("File path"), "/data/sales.db");
    await user.click(within(tools).getByRole("button", { name: "Add database" }));
    await user.click(within(tools).getByRole("button", { name: "Save tool settings" }));
    expect((await within(tools).findByRole("alert")).textContent).toBe("sql_databases.name: must be at most 200 characters");
    expect(within(tools).queryByText("Saved")).toBeNull();
  });
});

describe("Settings: data panel", () => {
  it("shows where the data lives and copies the path", async () => {
    mockSettings(settings, () => undefined);
    const user = userEvent.setup();
    render(<SettingsView />);
    expect((await screen.findByTestId("data-dir")).textContent).toBe(INFO.data_dir);
    expect(screen.getByText("version 4")).toBeTruthy();
    await user.click(screen.getByRole("button", { name: "Copy path" }));
    expect(await screen.findByText("Copied")).toBeTruthy();
    expect(await navigator.clipboard.readText()).toBe(INFO.data_dir);
  });

  it("exports to the suggested file and imports a file after a confirmation", async () => {
    const calls: [string, unknown][] = [];
    mockSettings(settings, (cmd, args) => {
      if (cmd === "data_export") {
        calls.push([cmd, args]);
        return { path: args.path, bytes: 24_576, tables: { agents: 4 }, rows: 35 };
      }
      if (cmd === "data_import") {
        calls.push([cmd, args]);
        if (args.path === "/tmp/future.json") {
          return Promise.reject({ code: "VALIDATION", message: "version: unsupported data file version 2; this Ensemble reads version 1" });
        }
        return { path: args.path, tables: {}, added: 30, updated: 5, requeued: 0 };
      }
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const exportTo = (await screen.findByLabelText("Export all data to")) as HTMLInputElement;
    await waitFor(() => expect(exportTo.value).toBe(EXPORT_PATH));
    await user.click(screen.getByRole("button", { name: "Export" }));
    expect((await screen.findByText(/Exported 35 records/)).textContent).toBe(
      `Exported 35 records to ${EXPORT_PATH} (24 KB). API keys are not in the file.`,
    );
    expect(calls).toEqual([["data_export", { path: EXPORT_PATH }]]);

    // An empty path is caught here; nothing is sent.
    await user.click(screen.getByRole("button", { name: "Import…" }));
    expect(await screen.findByText("Enter the file's full path.")).toBeTruthy();
    expect(screen.queryByRole("dialog")).toBeNull();

    const from = screen.getByLabelText("Import a data file");
    await user.type(from, "/tmp/future.json");
    await user.click(screen.getByRole("button", { name: "Import…" }));
    let dialog = await screen.findByRole("dialog", { name: "Import this file?" });
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    expect((await screen.findByText(/unsupported data file version 2/)).getAttribute("role")).toBe("alert");

    await user.clear(from);
    await user.type(from, "/tmp/backup.json");
    await user.click(screen.getByRole("button", { name: "Import…" }));
    dialog = await screen.findByRole("dialog", { name: "Import this file?" });
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    expect(await screen.findByText("Imported /tmp/backup.json: 30 records added, 5 replaced.")).toBeTruthy();
    expect(calls.slice(1)).toEqual([
      ["data_import", { path: "/tmp/future.json" }],
      ["data_import", { path: "/tmp/backup.json" }],
    ]);
  });

  it("fills the paths from the system's save and open dialogs", async () => {
    const dialogs: [string, unknown][] = [];
    let imported: unknown;
    mockSettings(settings, (cmd, args) => {
      if (cmd === "plugin:dialog|save") {
        dialogs.push([cmd, args]);
        return "/home/me/backups/ensemble.json";
      }
      if (cmd === "plugin:dialog|open") {
        dialogs.push([cmd, args]);
        return dialogs.length === 2 ? null : "/media/usb/ensemble.json";
      }
      if (cmd === "data_import") {
        imported = args.path;
        return { path: args.path, tables: {}, added: 1, updated: 0, requeued: 0 };
      }
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    const exportTo = (await screen.findByLabelText("Export all data to")) as HTMLInputElement;
    await waitFor(() => expect(exportTo.value).toBe(EXPORT_PATH));
    await user.click(screen.getByRole("button", { name: "Choose where to export" }));
    await waitFor(() => expect(exportTo.value).toBe("/home/me/backups/ensemble.json"));
    expect(dialogs[0][1]).toMatchObject({ options: { defaultPath: EXPORT_PATH } });

    // Cancelled: the field stays as it was.
    const from = screen.getByLabelText("Import a data file") as HTMLInputElement;
    await user.click(screen.getByRole("button", { name: "Choose a file to import" }));
    await waitFor(() => expect(dialogs).toHaveLength(2));
    expect(from.value).toBe("");
    await user.click(screen.getByRole("button", { name: "Choose a file to import" }));
    await waitFor(() => expect(from.value).toBe("/media/usb/ensemble.json"));
    expect(dialogs[2][1]).toMatchObject({ options: { multiple: false, directory: false } });
    await user.click(screen.getByRole("button", { name: "Import…" }));
    await user.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Import" }));
    await waitFor(() => expect(imported).toBe("/media/usb/ensemble.json"));
  });

  it("resets the demo data only after the confirmation", async () => {
    let resets = 0;
    mockSettings(settings, (cmd) => {
      if (cmd === "data_reset_demo") {
        resets++;
        return {
          created: { agents: 4, crews: 1, tasks: 5 },
          removed: { agents: 4, crews: 1, tasks: 5 },
          kept: { agents: 1, crews: 0, tasks: 0 },
          crew_id: "crew-1",
        };
      }
    });
    const user = userEvent.setup();
    render(<SettingsView />);
    await user.click(await screen.findByRole("button", { name: "Reset demo data…" }));
    let dialog = await screen.findByRole("dialog", { name: "Reset demo data?" });
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(resets).toBe(0);

    await user.click(screen.getByRole("button", { name: "Reset demo data…" }));
    dialog = await screen.findByRole("dialog", { name: "Reset demo data?" });
    await user.click(within(dialog).getByRole("button", { name: "Reset demo data" }));
    expect(
      await screen.findByText(
        "Demo data ready: 4 agents, 1 crew and 5 tasks. The previous demo (10 records) was removed. 1 demo records your own data uses were kept; they are yours now.",
      ),
    ).toBeTruthy();
    expect(resets).toBe(1);
  });
});
