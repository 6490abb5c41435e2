// Typed wrappers over the crew commands (src-tauri/src/commands/crews.rs):
// crews, relationships, templates, import/export and runs with their
// message timeline. Failures become an ApiError, like every `api` call.
import { invoke } from "@tauri-apps/api/core";
import { toApiError } from "./api";
import type { Crew } from "./bindings/Crew";
import type { CrewInput } from "./bindings/CrewInput";
import type { CrewRun } from "./bindings/CrewRun";
import type { CrewTemplate } from "./bindings/CrewTemplate";
import type { ExportFormat } from "./bindings/ExportFormat";
import type { FromTemplate } from "./bindings/FromTemplate";
import type { Message } from "./bindings/Message";
import type { Page } from "./bindings/Page";
import type { Paging } from "./bindings/Paging";
import type { Relationship } from "./bindings/Relationship";
import type { RelationshipInput } from "./bindings/RelationshipInput";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

/** The most messages one call returns (`Paging::MAX_LIMIT`). */
export const MESSAGES_PAGE = 1000;

export const crewsApi = {
  list: (search?: string, paging?: Paging) => call<Page<Crew>>("crews_list", { search, paging }),
  get: (id: string) => call<Crew>("crews_get", { id }),
  create: (input: CrewInput) => call<Crew>("crews_create", { input }),
  update: (id: string, input: CrewInput) => call<Crew>("crews_update", { id, input }),
  remove: (id: string) => call<null>("crews_delete", { id }),
  addRelationship: (crewId: string, input: RelationshipInput) =>
    call<Relationship>("crews_add_relationship", { crewId, input }),
  removeRelationship: (id: string) => call<null>("crews_remove_relationship", { id }),
  templates: () => call<CrewTemplate[]>("crews_templates"),
  /** Creates the crew and one new agent per template member. */
  fromTemplate: (key: string, options?: FromTemplate) => call<Crew>("crews_create_from_template", { key, options }),
  exportDoc: (id: string, format: ExportFormat) => call<string>("crews_export", { id, format }),
  /** A crew document (JSON or YAML); all or nothing. */
  importDoc: (text: string) => call<Crew>("crews_import", { text }),
  start: (crewId: string, input: string) => call<CrewRun>("crews_run_start", { crewId, input }),
  run: (id: string) => call<CrewRun>("crews_run_get", { id }),
  stop: (id: string) => call<CrewRun>("crews_run_stop", { id }),
  /** Runs of one crew, newest first. */
  runs: (crewId: string, paging?: Paging) => call<Page<CrewRun>>("crews_runs_list", { crewId, paging }),
  /** The run's timeline, oldest first. */
  messages: (id: string, paging?: Paging) => call<Page<Message>>("crews_run_messages", { id, paging }),
  /** The newest MESSAGES_PAGE messages of a run, oldest first. */
  async timeline(id: string): Promise<{ messages: Message[]; total: number }> {
    const first = await crewsApi.messages(id, { limit: MESSAGES_PAGE, offset: 0 });
    if (first.total <= first.items.length) return { messages: first.items, total: first.total };
    const last = await crewsApi.messages(id, { limit: MESSAGES_PAGE, offset: first.total - MESSAGES_PAGE });
    return { messages: last.items, total: last.total };
  },
};
