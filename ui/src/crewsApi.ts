// Typed wrappers over the crew commands (src-tauri/src/commands/crews.rs):
// crews, relationships, templates, import/export and runs with their
// message timeline. Failures become an ApiError, like every `api` call.
import * as ipc from "./commands";
import type { Message } from "./bindings/Message";

/** The most messages one call returns (`Paging::MAX_LIMIT`). */
export const MESSAGES_PAGE = 1000;

export const crewsApi = {
  list: ipc.crewsList,
  get: ipc.crewsGet,
  create: ipc.crewsCreate,
  update: ipc.crewsUpdate,
  remove: ipc.crewsDelete,
  addRelationship: ipc.crewsAddRelationship,
  removeRelationship: ipc.crewsRemoveRelationship,
  templates: ipc.crewsTemplates,
  /** Creates the crew and one new agent per template member. */
  fromTemplate: ipc.crewsCreateFromTemplate,
  exportDoc: ipc.crewsExport,
  /** A crew document (JSON or YAML); all or nothing. */
  importDoc: ipc.crewsImport,
  start: ipc.crewsRunStart,
  run: ipc.crewsRunGet,
  stop: ipc.crewsRunStop,
  /** Runs of one crew, newest first. */
  runs: ipc.crewsRunsList,
  /** The run's timeline, oldest first. */
  messages: ipc.crewsRunMessages,
  /** The newest MESSAGES_PAGE messages of a run, oldest first. */
  async timeline(id: string): Promise<{ messages: Message[]; total: number }> {
    const first = await crewsApi.messages(id, { limit: MESSAGES_PAGE, offset: 0 });
    if (first.total <= first.items.length) return { messages: first.items, total: first.total };
    const last = await crewsApi.messages(id, { limit: MESSAGES_PAGE, offset: first.total - MESSAGES_PAGE });
    return { messages: last.items, total: last.total };
  },
};
