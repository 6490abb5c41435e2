// The one door to the app's IPC: `call` invokes a command and turns every
// failure into an ApiError with a stable `code` and a readable `message`.
// The per-command wrappers are generated (commands.ts).
import { invoke } from "@tauri-apps/api/core";
import type { ErrorDetails } from "./bindings/ErrorDetails";

export class ApiError extends Error {
  code: string;
  details?: ErrorDetails;
  constructor(code: string, message: string, details?: ErrorDetails) {
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
    const o = e as { code: unknown; message: unknown; details?: ErrorDetails };
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

export async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}
