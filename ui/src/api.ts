// Typed wrappers over the app's IPC commands. Every failure becomes an
// ApiError with a stable `code` and a readable `message`.
import { Channel } from "@tauri-apps/api/core";
import * as ipc from "./commands";
import { toApiError } from "./ipc";
import { open as openDialog, save as saveDialog } from "@tauri-apps/plugin-dialog";
import type { ChatEvent } from "./bindings/ChatEvent";
import type { ChatSendRequest } from "./bindings/ChatSendRequest";
import type { DownloadProgress } from "./bindings/DownloadProgress";
import type { DownloadSpec } from "./bindings/DownloadSpec";
import type { PullProgress } from "./bindings/PullProgress";

export { ApiError, toApiError } from "./ipc";

export const api = {
  appInfo: ipc.appInfo,
  trayStatus: ipc.trayStatus,
  agentTemplates: ipc.agentTemplates,

  agents: {
    list: ipc.agentsList,
    get: ipc.agentsGet,
    create: ipc.agentsCreate,
    update: ipc.agentsUpdate,
    remove: ipc.agentsDelete,
    /** A paused agent takes no new task; what it runs now finishes. */
    pause: ipc.agentsPause,
    resume: ipc.agentsResume,
  },

  tasks: {
    board: ipc.tasksBoard,
    list: ipc.tasksList,
    get: ipc.tasksGet,
    create: ipc.tasksCreate,
    update: ipc.tasksUpdate,
    setStatus: ipc.tasksSetStatus,
    cancel: ipc.tasksCancel,
    remove: ipc.tasksDelete,
    subtasks: ipc.tasksSubtasks,
    /** Every run of the task, newest first, with steps, decisions and tool calls. */
    runs: ipc.tasksRuns,
    /** A failed task back to the queue (one more attempt when they were used up). */
    retry: ipc.tasksRetry,
  },

  orchestrator: {
    status: ipc.orchestratorStatus,
  },

  crews: {
    list: ipc.crewsList,
    get: ipc.crewsGet,
    create: ipc.crewsCreate,
    update: ipc.crewsUpdate,
    remove: ipc.crewsDelete,
  },

  approvals: {
    list: ipc.approvalsList,
    decide: ipc.approvalsDecide,
    pendingCount: ipc.approvalsPendingCount,
    /** Decided requests (approved, edited, rejected, expired), most recent decision first. */
    history: ipc.approvalsHistory,
  },

  /** The tools agents can use here, in name order. */
  tools: {
    list: ipc.toolsList,
    /** Each MCP server configured when the app started. */
    mcpStatuses: ipc.mcpStatuses,
  },

  messages: {
    list: ipc.messagesList,
  },

  chat: {
    sessions: ipc.chatSessionsList,
    messages: ipc.chatMessagesList,
    updateSession: ipc.chatSessionUpdate,
    deleteSession: ipc.chatSessionDelete,
    /** Streams the answer's events into `onEvent`; resolves with the stored answer. */
    send: (request: ChatSendRequest, onEvent: (e: ChatEvent) => void) => {
      const channel = new Channel<ChatEvent>();
      channel.onmessage = onEvent;
      return ipc.chatSend(request, channel);
    },
    stop: ipc.chatStop,
  },

  workflows: {
    list: ipc.workflowsList,
    get: ipc.workflowsGet,
    create: ipc.workflowsCreate,
    run: ipc.workflowsRun,
    runs: ipc.workflowsRuns,
    runStatus: ipc.workflowsRunStatus,
  },

  providers: {
    list: ipc.providersList,
    overview: ipc.providersOverview,
    test: ipc.providersTest,
    create: ipc.providersCreate,
    update: ipc.providersUpdate,
    setKey: ipc.providersSetKey,
    pull: (name: string, model: string, onProgress: (p: PullProgress) => void) => {
      const channel = new Channel<PullProgress>();
      channel.onmessage = onProgress;
      return ipc.providersPull(name, model, channel);
    },
  },

  /** Every provider's models with their verdict as agents, and the probe that measures it. */
  models: {
    list: ipc.modelsList,
    probe: ipc.modelsProbe,
    /** The GGUF files the embedded engine can use. */
    files: ipc.modelFilesList,
    /** Adds a GGUF file the user has (checked by the engine first). */
    addFile: ipc.modelFilesAdd,
    /** Downloads a GGUF file with progress; resolves when it is verified and in place. */
    download: (spec: DownloadSpec, onProgress: (p: DownloadProgress) => void) => {
      const channel = new Channel<DownloadProgress>();
      channel.onmessage = onProgress;
      return ipc.modelFilesDownload(spec, channel);
    },
    cancelDownload: ipc.modelFilesCancel,
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
    get: ipc.settingsGet,
    update: ipc.settingsUpdate,
  },

  /** All data as one JSON file, and the demo data. */
  data: {
    /** A suggested export file in the data folder. */
    exportPath: ipc.dataExportPath,
    export: ipc.dataExport,
    /** Merges the file in (same id: replaced); all or nothing. */
    import: ipc.dataImport,
    /** Replaces the demo records with a fresh set; the user's records stay. */
    resetDemo: ipc.dataResetDemo,
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
