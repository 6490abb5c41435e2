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

export function App() {
  const [view, setView] = useState<View>("home");
  const pending = useQuery(() => api.approvals.pendingCount(), [], ["approval"]);

  // The tray and notifications ask to open a view.
  useEffect(() => {
    let un: (() => void) | undefined;
    let gone = false;
    listen<string>("app://navigate", (e) => {
      if (isView(e.payload)) setView(e.payload);
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
                onClick={() => setView(n.view)}
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
      </nav>
      <main className="content" id={`view-${view}`}>
        {view === "home" && <Home go={setView} />}
        {view === "crews" && <Crews />}
        {view === "agents" && <Agents />}
        {view === "tasks" && <Tasks />}
        {view === "approvals" && <Approvals />}
        {view === "chat" && <Chat />}
        {view === "settings" && <SettingsView />}
      </main>
    </div>
  );
}
