import { useEffect, useState } from "react";
import { listen } from "@tauri-apps/api/event";
import { api } from "./api";
import { useQuery } from "./hooks";
import { Home } from "./views/Home";
import { Agents } from "./views/Agents";
import { Tasks } from "./views/Tasks";
import { Crews } from "./views/Crews";
import { Approvals } from "./views/Approvals";
import { Chat } from "./views/Chat";
import { SettingsView } from "./views/Settings";
import { Modal } from "./components/ui";
import { SHORTCUTS, VIEW_KEYS, runLocal, shortcutFor } from "./shortcuts";

export type View = "home" | "crews" | "agents" | "tasks" | "approvals" | "chat" | "settings";

const NAV: { view: View; label: string; icon: string }[] = [
  { view: "home", label: "Home", icon: "M3 11l9-7 9 7v9a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z" },
  { view: "crews", label: "Crews", icon: "M8 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm8 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM2 20c0-3 3-5 6-5s6 2 6 5M12 20c0-3 3-5 6-5 1.5 0 3 .5 4 1.5" },
  { view: "agents", label: "Agents", icon: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 9c0-4 3-6 7-6s7 2 7 6" },
  { view: "tasks", label: "Tasks", icon: "M4 4h5v16H4zM10 4h5v10h-5zM16 4h4v7h-4z" },
  { view: "approvals", label: "Approvals", icon: "M5 12l4 4L19 6M4 20h16" },
  { view: "chat", label: "Chat", icon: "M4 5h16v11H8l-4 4z" },
  { view: "settings", label: "Settings", icon: "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm8-3l2-1-2-4-2 1-2-1V5h-4v2l-2 1-2-1-2 4 2 1v2l-2 1 2 4 2-1 2 1v2h4v-2l2-1 2 1 2-4-2-1z" },
];

function isView(v: unknown): v is View {
  return typeof v === "string" && NAV.some((n) => n.view === v);
}

/** Where the tray or a clicked notification asks to go: a view name, or `{ view, task_id? }`. */
export function parseRoute(payload: unknown): { view: View; taskId: string | null } | null {
  if (isView(payload)) return { view: payload, taskId: null };
  if (payload && typeof payload === "object" && "view" in payload) {
    const r = payload as { view: unknown; task_id?: unknown };
    if (!isView(r.view)) return null;
    const taskId = typeof r.task_id === "string" && r.task_id ? r.task_id : null;
    return { view: r.view, taskId };
  }
  return null;
}

export function App() {
  const [view, setView] = useState<View>("home");
  // A task whose drawer the Tasks view opens; `seq` makes a repeat open it again.
  const [openTask, setOpenTask] = useState<{ id: string; seq: number } | null>(null);
  const go = (v: View) => {
    setOpenTask(null);
    setView(v);
  };
  const showTask = (id: string) => {
    setOpenTask((prev) => ({ id, seq: (prev?.seq ?? 0) + 1 }));
    setView("tasks");
  };
  const pending = useQuery(() => api.approvals.pendingCount(), [], ["approval"]);
  const [help, setHelp] = useState(false);

  // Keyboard shortcuts (listed in the help overlay).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented) return;
      const action = shortcutFor(e);
      if (!action) return;
      if (action.kind === "go") go(action.view);
      else if (action.kind === "help") setHelp(true);
      else if (!runLocal(action)) return;
      e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // The tray and notifications ask to open a view.
  useEffect(() => {
    let un: (() => void) | undefined;
    let gone = false;
    listen<unknown>("app://navigate", (e) => {
      const route = parseRoute(e.payload);
      if (!route) return;
      if (route.view === "tasks" && route.taskId) showTask(route.taskId);
      else go(route.view);
    })
      .then((u) => (gone ? u() : (un = u)))
      .catch(() => {});
    return () => {
      gone = true;
      un?.();
    };
  }, []);

  return (
    <div className="app">
      <a className="skip-link" href="#main-content">
        Skip to content
      </a>
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          Ensemble
        </div>
        <ul>
          {NAV.map((n) => (
            <li key={n.view}>
              <button
                type="button"
                className={view === n.view ? "nav-item active" : "nav-item"}
                aria-current={view === n.view ? "page" : undefined}
                data-view={n.view}
                aria-keyshortcuts={`Control+${VIEW_KEYS.find((k) => k.view === n.view)?.key}`}
                title={`${n.label} (Ctrl+${VIEW_KEYS.find((k) => k.view === n.view)?.key})`}
                onClick={() => go(n.view)}
              >
                <svg viewBox="0 0 24 24" aria-hidden="true">
                  <path d={n.icon} />
                </svg>
                <span>{n.label}</span>
                {n.view === "approvals" && (pending.data ?? 0) > 0 && (
                  <span className="count" aria-label={`${pending.data} pending`}>
                    {pending.data}
                  </span>
                )}
              </button>
            </li>
          ))}
        </ul>
        <button type="button" className="nav-help" onClick={() => setHelp(true)} aria-keyshortcuts="?">
          Keyboard shortcuts <kbd>?</kbd>
        </button>
      </nav>
      <main className="content" id="main-content" data-view={view} tabIndex={-1}>
        {view === "home" && <Home go={go} showTask={showTask} />}
        {view === "crews" && <Crews />}
        {view === "agents" && <Agents />}
        {view === "tasks" && <Tasks open={openTask} />}
        {view === "approvals" && <Approvals onOpenTask={showTask} />}
        {view === "chat" && <Chat />}
        {view === "settings" && <SettingsView />}
      </main>
      {help && (
        <Modal title="Keyboard shortcuts" onClose={() => setHelp(false)}>
          <table className="shortcuts" aria-label="Keyboard shortcuts">
            <tbody>
              {SHORTCUTS.map((k) => (
                <tr key={k.keys}>
                  <td>
                    <kbd>{k.keys}</kbd>
                  </td>
                  <td>{k.description}</td>
                </tr>
              ))}
              <tr>
                <td>
                  <kbd>Esc</kbd>
                </td>
                <td>Close a dialog or the task drawer</td>
              </tr>
            </tbody>
          </table>
        </Modal>
      )}
    </div>
  );
}
