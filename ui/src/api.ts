// Typed wrappers over the app's IPC commands. Every failure becomes an
// ApiError with a stable `code` and a readable `message`.
import { Channel, invoke } from "@tauri-apps/api/core";
import { open as openDialog, save as saveDialog } from "@tauri-apps/plugin-dialog";
import type { Agent } from "./bindings/Agent";
import type { AgentFilter } from "./bindings/AgentFilter";
import type { AgentInput } from "./bindings/AgentInput";
import type { AgentTemplate } from "./bindings/AgentTemplate";
import type { AppInfo } from "./bindings/AppInfo";
import type { Approval } from "./bindings/Approval";
import type { ApprovalStatus } from "./bindings/ApprovalStatus";
import type { BoardColumn } from "./bindings/BoardColumn";
import type { ChatEvent } from "./bindings/ChatEvent";
import type { ChatMessage } from "./bindings/ChatMessage";
import type { ChatSendRequest } from "./bindings/ChatSendRequest";
import type { ChatSession } from "./bindings/ChatSession";
import type { Crew } from "./bindings/Crew";
import type { CrewInput } from "./bindings/CrewInput";
import type { Decision } from "./bindings/Decision";
import type { DemoSummary } from "./bindings/DemoSummary";
import type { ExportSummary } from "./bindings/ExportSummary";
import type { ImportSummary } from "./bindings/ImportSummary";
import type { Message } from "./bindings/Message";
import type { DownloadProgress } from "./bindings/DownloadProgress";
import type { DownloadSpec } from "./bindings/DownloadSpec";
import type { ModelFile } from "./bindings/ModelFile";
import type { ModelProfile } from "./bindings/ModelProfile";
import type { ModelsOverview } from "./bindings/ModelsOverview";
import type { MessageFilter } from "./bindings/MessageFilter";
import type { NewTask } from "./bindings/NewTask";
import type { Page } from "./bindings/Page";
import type { Paging } from "./bindings/Paging";
import type { ProviderConfig } from "./bindings/ProviderConfig";
import type { ProviderInput } from "./bindings/ProviderInput";
import type { ProviderStatus } from "./bindings/ProviderStatus";
import type { ProvidersOverview } from "./bindings/ProvidersOverview";
import type { PullProgress } from "./bindings/PullProgress";
import type { SecretLocation } from "./bindings/SecretLocation";
import type { SessionInput } from "./bindings/SessionInput";
import type { Settings } from "./bindings/Settings";
import type { SettingsPatch } from "./bindings/SettingsPatch";
import type { Task } from "./bindings/Task";
import type { TaskFilter } from "./bindings/TaskFilter";
import type { TaskPatch } from "./bindings/TaskPatch";
import type { TaskStatus } from "./bindings/TaskStatus";
import type { TrayStatus } from "./bindings/TrayStatus";
import type { ToolDef } from "./bindings/ToolDef";
import type { McpStatus } from "./bindings/McpStatus";
import type { Workflow } from "./bindings/Workflow";
import type { WorkflowInput } from "./bindings/WorkflowInput";
import type { WorkflowRun } from "./bindings/WorkflowRun";
import type { RunTrace } from "./bindings/RunTrace";
import type { JsonValue } from "./bindings/serde_json/JsonValue";
import type { OrchestratorStatus } from "./app-bindings/OrchestratorStatus";

export class ApiError extends Error {
  code: string;
  details?: unknown;
  constructor(code: string, message: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.details = details;
  }
}

/** Normalises whatever a failed invoke throws into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as { code: unknown; message: unknown; details?: unknown };
    return new ApiError(String(o.code), String(o.message), o.details);
  }
  if (typeof e === "string") {
    // Tauri rejects malformed arguments with a plain string before our code runs.
    const code = e.startsWith("invalid args") ? "INVALID_ARGUMENT" : "IPC";
    return new ApiError(code, e);
  }
  if (e instanceof Error) return new ApiError("IPC", e.message);
  return new ApiError("IPC", "The app did not answer. Is it still running?");
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  trayStatus: () => call<TrayStatus | null>("tray_status"),
  agentTemplates: () => call<AgentTemplate[]>("agent_templates"),

  agents: {
    list: (filter?: AgentFilter, paging?: Paging) => call<Page<Agent>>("agents_list", { filter, paging }),
    get: (id: string) => call<Agent>("agents_get", { id }),
    create: (input: AgentInput) => call<Agent>("agents_create", { input }),
    update: (id: string, input: AgentInput) => call<Agent>("agents_update", { id, input }),
    remove: (id: string) => call<null>("agents_delete", { id }),
    /** A paused agent takes no new task; what it runs now finishes. */
    pause: (id: string) => call<Agent>("agents_pause", { id }),
    resume: (id: string) => call<Agent>("agents_resume", { id }),
  },

  tasks: {
    board: (filter?: TaskFilter, perColumn?: number) =>
      call<BoardColumn[]>("tasks_board", { filter, perColumn }),
    list: (filter?: TaskFilter, paging?: Paging) => call<Page<Task>>("tasks_list", { filter, paging }),
    get: (id: string) => call<Task>("tasks_get", { id }),
    create: (input: NewTask) => call<Task>("tasks_create", { input }),
    update: (id: string, patch: TaskPatch) => call<Task>("tasks_update", { id, patch }),
    setStatus: (id: string, status: TaskStatus) => call<Task>("tasks_set_status", { id, status }),
    cancel: (id: string) => call<Task>("tasks_cancel", { id }),
    remove: (id: string) => call<null>("tasks_delete", { id }),
    subtasks: (id: string) => call<Task[]>("tasks_subtasks", { id }),
    /** Every run of the task, newest first, with steps, decisions and tool calls. */
    runs: (id: string) => call<RunTrace[]>("tasks_runs", { id }),
    /** A failed task back to the queue (one more attempt when they were used up). */
    retry: (id: string) => call<Task>("tasks_retry", { id }),
  },

  orchestrator: {
    status: () => call<OrchestratorStatus>("orchestrator_status"),
  },

  crews: {
    list: (search?: string, paging?: Paging) => call<Page<Crew>>("crews_list", { search, paging }),
    get: (id: string) => call<Crew>("crews_get", { id }),
    create: (input: CrewInput) => call<Crew>("crews_create", { input }),
    update: (id: string, input: CrewInput) => call<Crew>("crews_update", { id, input }),
    remove: (id: string) => call<null>("crews_delete", { id }),
  },

  approvals: {
    list: (status?: ApprovalStatus, paging?: Paging) => call<Page<Approval>>("approvals_list", { status, paging }),
    decide: (id: string, decision: Decision) => call<Approval>("approvals_decide", { id, decision }),
    pendingCount: () => call<number>("approvals_pending_count"),
    /** Decided requests (approved, edited, rejected, expired), most recent decision first. */
    history: (paging?: Paging) => call<Page<Approval>>("approvals_history", { paging }),
  },

  /** The tools agents can use here, in name order. */
  tools: {
    list: () => call<ToolDef[]>("tools_list"),
    /** Each MCP server configured when the app started. */
    mcpStatuses: () => call<McpStatus[]>("mcp_statuses"),
  },

  messages: {
    list: (filter?: MessageFilter, paging?: Paging) => call<Page<Message>>("messages_list", { filter, paging }),
  },

  chat: {
    sessions: (paging?: Paging) => call<Page<ChatSession>>("chat_sessions_list", { paging }),
    messages: (sessionId: string, paging?: Paging) =>
      call<Page<ChatMessage>>("chat_messages_list", { sessionId, paging }),
    updateSession: (id: string, input: SessionInput) => call<ChatSession>("chat_session_update", { id, input }),
    deleteSession: (id: string) => call<null>("chat_session_delete", { id }),
    /** Streams the answer's events into `onEvent`; resolves with the stored answer. */
    send: (request: ChatSendRequest, onEvent: (e: ChatEvent) => void) => {
      const channel = new Channel<ChatEvent>();
      channel.onmessage = onEvent;
      return call<ChatMessage>("chat_send", { request, onEvent: channel });
    },
    stop: (messageId: string) => call<boolean>("chat_stop", { messageId }),
  },

  workflows: {
    list: (templatesOnly?: boolean, paging?: Paging) => call<Page<Workflow>>("workflows_list", { templatesOnly, paging }),
    get: (id: string) => call<Workflow>("workflows_get", { id }),
    create: (input: WorkflowInput) => call<Workflow>("workflows_create", { input }),
    run: (id: string, input: JsonValue) => call<WorkflowRun>("workflows_run", { id, input }),
    runs: (workflowId: string) => call<WorkflowRun[]>("workflows_runs", { workflowId }),
    runStatus: (runId: string) => call<WorkflowRun>("workflows_run_status", { runId }),
  },

  providers: {
    list: () => call<ProviderConfig[]>("providers_list"),
    overview: () => call<ProvidersOverview>("providers_overview"),
    test: (name: string) => call<ProviderStatus>("providers_test", { name }),
    create: (input: ProviderInput) => call<ProviderConfig>("providers_create", { input }),
    update: (name: string, input: ProviderInput) => call<ProviderConfig>("providers_update", { name, input }),
    setKey: (name: string, key: string) => call<SecretLocation>("providers_set_key", { name, key }),
    pull: (name: string, model: string, onProgress: (p: PullProgress) => void) => {
      const channel = new Channel<PullProgress>();
      channel.onmessage = onProgress;
      return call<null>("providers_pull", { name, model, onProgress: channel });
    },
  },

  /** Every provider's models with their verdict as agents, and the probe that measures it. */
  models: {
    list: () => call<ModelsOverview>("models_list"),
    probe: (provider: string, model: string) => call<ModelProfile>("models_probe", { provider, model }),
    /** The GGUF files the embedded engine can use. */
    files: () => call<ModelFile[]>("model_files_list"),
    /** Adds a GGUF file the user has (checked by the engine first). */
    addFile: (path: string) => call<ModelFile>("model_files_add", { path }),
    /** Downloads a GGUF file with progress; resolves when it is verified and in place. */
    download: (spec: DownloadSpec, onProgress: (p: DownloadProgress) => void) => {
      const channel = new Channel<DownloadProgress>();
      channel.onmessage = onProgress;
      return call<ModelFile>("model_files_download", { spec, onProgress: channel });
    },
    cancelDownload: (fileName: string) => call<boolean>("model_files_cancel", { fileName }),
    /** The system's open dialog, for a .gguf file. */
    pickFile: async (): Promise<string | null> => {
      try {
        const p = await openDialog({ multiple: false, directory: false, filters: [{ name: "GGUF model", extensions: ["gguf"] }] });
        return typeof p === "string" ? p : null;
      } catch (e) {
        throw toApiError(e);
      }
    },
  },

  settings: {
    get: () => call<Settings>("settings_get"),
    update: (patch: SettingsPatch) => call<Settings>("settings_update", { patch }),
  },

  /** All data as one JSON file, and the demo data. */
  data: {
    /** A suggested export file in the data folder. */
    exportPath: () => call<string>("data_export_path"),
    export: (path: string) => call<ExportSummary>("data_export", { path }),
    /** Merges the file in (same id: replaced); all or nothing. */
    import: (path: string) => call<ImportSummary>("data_import", { path }),
    /** Replaces the demo records with a fresh set; the user's records stay. */
    resetDemo: () => call<DemoSummary>("data_reset_demo"),
  },

  /** The system's file dialogs: the chosen path, or null when cancelled. */
  files: {
    saveAs: async (defaultPath?: string): Promise<string | null> => {
      try {
        return await saveDialog({ defaultPath, filters: [{ name: "Ensemble data", extensions: ["json"] }] });
      } catch (e) {
        throw toApiError(e);
      }
    },
    openOne: async (): Promise<string | null> => {
      try {
        const p = await openDialog({ multiple: false, directory: false, filters: [{ name: "Ensemble data", extensions: ["json"] }] });
        return typeof p === "string" ? p : null;
      } catch (e) {
        throw toApiError(e);
      }
    },
  },
};
