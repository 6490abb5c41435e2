import { describe, expect, it } from "vitest";
import { mockIPC } from "@tauri-apps/api/mocks";
import { api, ApiError, toApiError } from "../api";

describe("toApiError", () => {
  it("keeps the code and message of a command error", () => {
    const e = toApiError({ code: "VALIDATION", message: "priority: must be between 1 and 10", details: { field: "priority" } });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe("VALIDATION");
    expect(e.message).toBe("priority: must be between 1 and 10");
    expect(e.details).toEqual({ field: "priority" });
  });

  it("classifies Tauri's argument rejections", () => {
    const e = toApiError("invalid args `input` for command `agents_create`: missing field");
    expect(e.code).toBe("INVALID_ARGUMENT");
  });

  it("turns anything else into a readable IPC error", () => {
    expect(toApiError(undefined).message).toMatch(/did not answer/);
  });
});

describe("api", () => {
  it("sends camelCase argument names and rejects with an ApiError", async () => {
    const seen: Record<string, unknown>[] = [];
    mockIPC((cmd, args) => {
      seen.push({ cmd, ...(args as object) });
      if (cmd === "tasks_create") throw { code: "VALIDATION", message: "title: must not be empty" };
      return [];
    });
    await api.tasks.board({ top_level: true }, 10);
    expect(seen[0]).toMatchObject({ cmd: "tasks_board", perColumn: 10, filter: { top_level: true } });
    await expect(api.tasks.create({ title: "" })).rejects.toMatchObject({ code: "VALIDATION" });
  });
});
