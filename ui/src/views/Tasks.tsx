import { useMemo, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Agent } from "../bindings/Agent";
import type { BoardColumn } from "../bindings/BoardColumn";
import type { Task } from "../bindings/Task";
import type { TaskStatus } from "../bindings/TaskStatus";
import { useQuery } from "../hooks";
import { Badge, Empty, ErrorText, Field, Modal, PageHeader, QueryView, priorityTone, relativeTime } from "../components/ui";

/** Board columns: each status, with the four "parked inside running" states shown together. */
export const COLUMNS: { key: string; title: string; statuses: TaskStatus[] }[] = [
  { key: "queued", title: "Queued", statuses: ["queued"] },
  { key: "planning", title: "Planning", statuses: ["planning"] },
  { key: "running", title: "Running", statuses: ["running"] },
  { key: "waiting", title: "Waiting", statuses: ["waiting_input", "awaiting_approval", "delegated", "reviewing"] },
  { key: "completed", title: "Completed", statuses: ["completed"] },
  { key: "failed", title: "Failed", statuses: ["failed"] },
  { key: "cancelled", title: "Cancelled", statuses: ["cancelled"] },
];

const FINAL: TaskStatus[] = ["completed", "failed", "cancelled"];

export function statusLabel(s: TaskStatus): string {
  return s.replace(/_/g, " ");
}

/** Merges per-status board columns into the displayed columns. */
export function groupColumns(board: BoardColumn[]): { key: string; title: string; total: number; tasks: Task[] }[] {
  return COLUMNS.map((col) => {
    const parts = board.filter((b) => col.statuses.includes(b.status));
    const tasks = parts.flatMap((p) => p.tasks).sort((a, b) => b.priority - a.priority || a.created_at.localeCompare(b.created_at));
    return { key: col.key, title: col.title, total: parts.reduce((n, p) => n + Number(p.total), 0), tasks };
  });
}

export function Tasks() {
  const [search, setSearch] = useState("");
  const board = useQuery(() => api.tasks.board({ search, top_level: true }, 50), [search], ["task"]);
  const agents = useQuery(() => api.agents.list(undefined, { limit: 1000 }), [], ["agent"]);
  const agentName = useMemo(() => {
    const m = new Map<string, string>();
    agents.data?.items.forEach((a) => m.set(a.id, a.name));
    return (id: string | null) => (id ? m.get(id) ?? "unknown agent" : null);
  }, [agents.data]);
  const [creating, setCreating] = useState(false);
  const [openId, setOpenId] = useState<string | null>(null);

  return (
    <section className="tasks-view">
      <PageHeader
        title="Tasks"
        subtitle="The queue, by status. Higher priority first; subtasks live inside their parent."
        actions={
          <>
            <input
              type="search"
              className="search"
              placeholder="Search tasks"
              aria-label="Search tasks"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
            <button type="button" className="btn primary" onClick={() => setCreating(true)} data-testid="new-task">
              New task
            </button>
          </>
        }
      />
      <QueryView query={board} label="Loading the board…">
        {(cols) => (
          <div className="kanban" role="list" aria-label="Task board">
            {groupColumns(cols).map((col) => (
              <div key={col.key} className={`column col-${col.key}`} role="listitem" aria-label={`${col.title}: ${col.total}`}>
                <div className="column-head">
                  <span>{col.title}</span>
                  <span className="column-count">{col.total}</span>
                </div>
                <div className="column-body">
                  {col.tasks.length === 0 && <p className="column-empty muted">Nothing here</p>}
                  {col.tasks.map((t) => (
                    <button
                      key={t.id}
                      type="button"
                      className="card"
                      data-task-id={t.id}
                      onClick={() => setOpenId(t.id)}
                      aria-label={`${t.title}, priority ${t.priority}, ${statusLabel(t.status)}`}
                    >
                      <span className="card-title">{t.title}</span>
                      <span className="card-meta">
                        <Badge tone={priorityTone(t.priority)}>P{t.priority}</Badge>
                        {col.key === "waiting" && <Badge tone="info">{statusLabel(t.status)}</Badge>}
                        {agentName(t.assigned_agent_id) && <span className="muted small">{agentName(t.assigned_agent_id)}</span>}
                        {t.attempts > 0 && (
                          <span className="muted small">
                            try {t.attempts}/{t.max_attempts}
                          </span>
                        )}
                      </span>
                    </button>
                  ))}
                  {col.total > col.tasks.length && (
                    <p className="muted small column-more">+{col.total - col.tasks.length} more (search to narrow)</p>
                  )}
                </div>
              </div>
            ))}
          </div>
        )}
      </QueryView>
      {creating && <TaskCreator agents={agents.data?.items ?? []} onClose={() => setCreating(false)} onSaved={board.reload} />}
      {openId && <TaskDrawer id={openId} agentName={agentName} onClose={() => setOpenId(null)} />}
    </section>
  );
}

function TaskCreator(props: { agents: Agent[]; onClose: () => void; onSaved: () => void }) {
  const [title, setTitle] = useState("");
  const [objective, setObjective] = useState("");
  const [priority, setPriority] = useState(5);
  const [agent, setAgent] = useState("");
  const [caps, setCaps] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    setBusy(true);
    try {
      await api.tasks.create({
        title,
        objective,
        priority,
        assigned_agent_id: agent || undefined,
        required_capabilities: caps
          .split(",")
          .map((c) => c.trim())
          .filter(Boolean),
      });
      props.onSaved();
      props.onClose();
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };
  return (
    <Modal title="New task" onClose={props.onClose} wide>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Field label="Title">
          <input name="title" value={title} onChange={(e) => setTitle(e.target.value)} required maxLength={200} />
        </Field>
        <Field label="Objective" hint="What done looks like.">
          <textarea name="objective" rows={4} value={objective} onChange={(e) => setObjective(e.target.value)} />
        </Field>
        <div className="grid-2">
          <Field label={`Priority: ${priority}`} hint="10 is critical, 5 normal, 1 background.">
            <input
              name="priority"
              type="range"
              min={1}
              max={10}
              value={priority}
              onChange={(e) => setPriority(Number(e.target.value))}
            />
          </Field>
          <Field label="Agent" hint="Empty: routed by capabilities.">
            <select name="agent" value={agent} onChange={(e) => setAgent(e.target.value)}>
              <option value="">Route automatically</option>
              {props.agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </Field>
        </div>
        <Field label="Required capabilities" hint="Comma-separated, e.g. data_analysis">
          <input name="capabilities" value={caps} onChange={(e) => setCaps(e.target.value)} />
        </Field>
        <ErrorText error={error} />
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy}>
            Add to queue
          </button>
        </div>
      </form>
    </Modal>
  );
}

function TaskDrawer(props: { id: string; agentName: (id: string | null) => string | null; onClose: () => void }) {
  const task = useQuery(() => api.tasks.get(props.id), [props.id], ["task"]);
  const subtasks = useQuery(() => api.tasks.subtasks(props.id), [props.id], ["task"]);
  const [priority, setPriority] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      task.reload();
    } catch (e) {
      setError(toApiError(e));
    }
  };
  return (
    <Modal title="Task" onClose={props.onClose} wide>
      <QueryView query={task}>
        {(t) => (
          <div className="drawer">
            <h3 className="drawer-title">{t.title}</h3>
            <div className="card-meta">
              <Badge tone="info">{statusLabel(t.status)}</Badge>
              <Badge tone={priorityTone(t.priority)}>priority {t.priority}</Badge>
              <span className="muted small">created {relativeTime(t.created_at)}</span>
            </div>
            {t.objective && <p className="objective">{t.objective}</p>}
            <dl className="facts">
              <dt>Agent</dt>
              <dd>{props.agentName(t.assigned_agent_id) ?? "routed by capabilities"}</dd>
              <dt>Capabilities</dt>
              <dd>{t.required_capabilities.join(", ") || "—"}</dd>
              <dt>Attempts</dt>
              <dd>
                {t.attempts} of {t.max_attempts}
                {t.next_attempt_at && ` · next ${relativeTime(t.next_attempt_at)}`}
              </dd>
              {t.error && (
                <>
                  <dt>Last error</dt>
                  <dd className="error-text">{t.error}</dd>
                </>
              )}
            </dl>
            {t.output && (
              <div className="output">
                <h4>Output</h4>
                <pre>{t.output}</pre>
              </div>
            )}
            {subtasks.data && subtasks.data.length > 0 && (
              <div>
                <h4>Subtasks</h4>
                <ul className="plain">
                  {subtasks.data.map((s) => (
                    <li key={s.id}>
                      <Badge tone="neutral">{statusLabel(s.status)}</Badge> {s.title}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {!FINAL.includes(t.status) && (
              <div className="drawer-actions">
                <label className="inline">
                  Priority
                  <input
                    type="number"
                    min={1}
                    max={10}
                    aria-label="Priority"
                    value={priority ?? t.priority}
                    onChange={(e) => setPriority(Number(e.target.value))}
                  />
                </label>
                <button
                  type="button"
                  className="btn"
                  disabled={priority === null || priority === t.priority}
                  onClick={() => act(() => api.tasks.update(t.id, { priority: priority ?? t.priority }))}
                >
                  Save priority
                </button>
                <span className="spacer" />
                <button type="button" className="btn danger" onClick={() => act(() => api.tasks.cancel(t.id))}>
                  Cancel task
                </button>
              </div>
            )}
            {t.status === "failed" && (
              <div className="drawer-actions">
                <button type="button" className="btn" onClick={() => act(() => api.tasks.setStatus(t.id, "queued"))}>
                  Retry
                </button>
              </div>
            )}
            <ErrorText error={error} />
          </div>
        )}
      </QueryView>
      {!task.data && !task.loading && !task.error && <Empty title="Task not found" />}
    </Modal>
  );
}
