// Keyboard shortcuts for the main actions. One table drives both the key
// handling and the help overlay, so the overlay cannot drift from what the
// keys do.
import type { View } from "./App";

export type ShortcutAction =
  | { kind: "go"; view: View }
  | { kind: "new" }
  | { kind: "search" }
  | { kind: "help" };

export interface Shortcut {
  /** As shown in the help overlay. */
  keys: string;
  description: string;
  action: ShortcutAction;
}

export const VIEW_KEYS: { view: View; key: string; label: string }[] = [
  { view: "home", key: "1", label: "Home" },
  { view: "crews", key: "2", label: "Crews" },
  { view: "agents", key: "3", label: "Agents" },
  { view: "tasks", key: "4", label: "Tasks" },
  { view: "approvals", key: "5", label: "Approvals" },
  { view: "chat", key: "6", label: "Chat" },
  { view: "settings", key: "7", label: "Settings" },
];

export const SHORTCUTS: Shortcut[] = [
  ...VIEW_KEYS.map((v) => ({
    keys: `Ctrl+${v.key}`,
    description: `Go to ${v.label}`,
    action: { kind: "go", view: v.view } as ShortcutAction,
  })),
  { keys: "N", description: "New item in this view (agent, task, crew, conversation)", action: { kind: "new" } },
  { keys: "/", description: "Search in this view", action: { kind: "search" } },
  { keys: "?", description: "Show these shortcuts", action: { kind: "help" } },
];

/** Keys that only make sense in a form field never trigger plain-key shortcuts there. */
function typingIn(target: EventTarget | null): boolean {
  if (!target || !(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") {
    const type = (target as HTMLInputElement).type;
    return !["checkbox", "radio", "button", "submit", "range"].includes(type);
  }
  return false;
}

/** The action a key press asks for, or null. */
export function shortcutFor(e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "target">): ShortcutAction | null {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && !e.altKey) {
    const v = VIEW_KEYS.find((k) => k.key === e.key);
    return v ? { kind: "go", view: v.view } : null;
  }
  if (mod || e.altKey || typingIn(e.target)) return null;
  // A dialog owns the keyboard while it is open.
  if (typeof document !== "undefined" && document.querySelector("[role='dialog'][aria-modal='true']")) return null;
  if (e.key === "?") return { kind: "help" };
  if (e.key === "n" || e.key === "N") return { kind: "new" };
  if (e.key === "/") return { kind: "search" };
  return null;
}

/** Runs a view-local action on the current view's controls; false when the view has none. */
export function runLocal(action: ShortcutAction, root: ParentNode = document): boolean {
  const main = root.querySelector("main") ?? root;
  if (action.kind === "new") {
    const btn = main.querySelector<HTMLButtonElement>("[data-testid^='new-']:not([disabled])");
    btn?.click();
    return !!btn;
  }
  if (action.kind === "search") {
    const input = main.querySelector<HTMLInputElement>("input[type='search'], input[aria-label^='Search']");
    input?.focus();
    input?.select?.();
    return !!input;
  }
  return false;
}
