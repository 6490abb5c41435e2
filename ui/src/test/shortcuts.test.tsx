// Keyboard shortcuts: which key does what, that typing in a field is left
// alone, and that the app's help overlay lists them and navigation works.
import { describe, expect, it } from "vitest";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { mockIPC } from "@tauri-apps/api/mocks";
import { SHORTCUTS, shortcutFor } from "../shortcuts";
import { App } from "../App";

const key = (k: string, over: Partial<KeyboardEvent> = {}) =>
  ({ key: k, ctrlKey: false, metaKey: false, altKey: false, target: document.body, ...over }) as KeyboardEvent;

describe("shortcutFor", () => {
  it("maps Ctrl+digit to views and plain keys to actions", () => {
    expect(shortcutFor(key("4", { ctrlKey: true }))).toEqual({ kind: "go", view: "tasks" });
    expect(shortcutFor(key("5", { metaKey: true }))).toEqual({ kind: "go", view: "approvals" });
    expect(shortcutFor(key("9", { ctrlKey: true }))).toBeNull();
    expect(shortcutFor(key("?"))).toEqual({ kind: "help" });
    expect(shortcutFor(key("n"))).toEqual({ kind: "new" });
    expect(shortcutFor(key("/"))).toEqual({ kind: "search" });
    expect(shortcutFor(key("x"))).toBeNull();
  });

  it("leaves plain keys to text fields", () => {
    const input = document.createElement("input");
    const area = document.createElement("textarea");
    const box = Object.assign(document.createElement("input"), { type: "checkbox" });
    expect(shortcutFor(key("n", { target: input }))).toBeNull();
    expect(shortcutFor(key("?", { target: area }))).toBeNull();
    expect(shortcutFor(key("n", { target: box }))).toEqual({ kind: "new" });
    // Navigation still works from a field.
    expect(shortcutFor(key("1", { ctrlKey: true, target: input }))).toEqual({ kind: "go", view: "home" });
  });
});

describe("in the app", () => {
  it("? opens the overlay listing every shortcut; Ctrl+3 goes to Agents and N opens the new-agent form", async () => {
    mockIPC((cmd) => {
      switch (cmd) {
        case "settings_get":
          return { first_run_completed: true };
        case "providers_overview":
          return { default: { provider: "embedded", reason: "offline" }, providers: [] };
        case "approvals_pending_count":
          return 0;
        case "tasks_board":
        case "agent_templates":
        case "tools_list":
        case "providers_list":
          return [];
      }
      return cmd.endsWith("_list") ? { items: [], total: 0, limit: 100, offset: 0 } : null;
    });
    render(<App />);
    await screen.findByRole("heading", { name: "Home" });
    await userEvent.keyboard("?");
    const dialog = await screen.findByRole("dialog", { name: "Keyboard shortcuts" });
    for (const s of SHORTCUTS) expect(within(dialog).getByText(s.description)).toBeTruthy();
    await userEvent.keyboard("{Escape}");
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());

    await userEvent.keyboard("{Control>}3{/Control}");
    expect(await screen.findByRole("heading", { name: "Agents" })).toBeTruthy();
    await userEvent.keyboard("n");
    expect(await screen.findByRole("dialog")).toBeTruthy();
  });
});
