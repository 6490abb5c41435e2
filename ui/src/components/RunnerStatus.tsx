// Who runs the task queue (this app, or another runner such as
// `ensemble run`), whether all work is paused, and the Pause all / Resume
// switch (the same setting as the tray's).
import { useEffect, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import { useQuery } from "../hooks";
import { ErrorText } from "./ui";

export function RunnerStatus() {
  const status = useQuery(() => api.orchestrator.status(), [], ["settings", "task"]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const s = status.data;
  // A viewer takes the queue over when the other runner exits; no change
  // event says so, so look again now and then.
  const viewer = !!s && s.runner !== "here";
  const reload = status.reload;
  useEffect(() => {
    if (!viewer) return;
    const t = setInterval(reload, 3000);
    return () => clearInterval(t);
  }, [viewer, reload]);
  if (!s) return status.error ? <ErrorText error={status.error} /> : null;
  const tone = s.runner === "stopped" ? "bad" : s.paused ? "warn" : s.runner === "other_process" ? "info" : "good";
  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.settings.update({ paused: !s.paused });
      status.reload();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className={`runner-status ${tone}`} data-testid="runner-status" data-runner={s.runner} data-paused={String(s.paused)}>
      <span className="dot" aria-hidden="true" />
      <span role="status">{s.message}</span>
      <button type="button" className="btn small" disabled={busy} onClick={() => void toggle()} data-testid="pause-all">
        {s.paused ? "Resume" : "Pause all"}
      </button>
      <ErrorText error={error} />
    </div>
  );
}
