import { useEffect, useMemo, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Agent } from "../bindings/Agent";
import type { BoardColumn } from "../bindings/BoardColumn";
import type { Task } from "../bindings/Task";
import type { TaskStatus } from "../bindings/TaskStatus";
import { useQuery } from "../hooks";
import { Badge, ErrorText, Field, Modal, PageHeader, QueryView, priorityTone, retryIn } from "../components/ui";
import { RunnerStatus } from "../components/RunnerStatus";
import { statusLabel, taskAgentId, TaskDrawer } from "./TaskDrawer";
import { WorkflowsPanel } from "./Workflows";
import { dropIndex, planMove } from "../kanban";

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

/** Merges per-status board columns into the displayed columns. */
export function groupColumns(board: BoardColumn[]): { key: string; title: string; total: number; tasks: Task[] }[] {
  return COLUMNS.map((col) => {
    const parts = board.filter((b) => col.statuses.includes(b.status));
    const tasks = parts.flatMap((p) => p.tasks).sort((a, b) => b.priority - a.priority || a.created_at.localeCompare(b.created_at));
    return { key: col.key, title: col.title, total: parts.reduce((n, p) => n + Number(p.total), 0), tasks };
  });
}

export type TasksTab = "board" | "workflows";

/** `open`: a task whose drawer opens (a clicked notification, an approval); `seq` tells repeats apart. */
export function Tasks(props: { open?: { id: string; seq: number } | null } = {}) {
  const [tab, setTab] = useState<TasksTab>("board");
  const [search, setSearch] = useState("");
  const board = useQuery(() => api.tasks.board({ search, top_level: true }, 50), [search], ["task"]);
  const agents = useQuery(() => api.agents.list(undefined, { limit: 1000 }), [], ["agent"]);
  const byId = useMemo(() => new Map((agents.data?.items ?? []).map((a) => [a.id, a])), [agents.data]);
  const agentName = (id: string | null) => (id ? byId.get(id)?.name ?? "unknown agent" : null);
  const [creating, setCreating] = useState(false);
  const [openId, setOpenId] = useState<string | null>(props.open?.id ?? null);
  useEffect(() => {
    if (props.open) setOpenId(props.open.id);
  }, [props.open]);
  const [dragging, setDragging] = useState<{ id: string; from: string } | null>(null);
  const [dropOn, setDropOn] = useState<string | null>(null);
  const [moveError, setMoveError] = useState<ApiError | null>(null);

  /** Applies a drop (or an Alt+arrow priority step); errors show above the board. */
  const apply = async (task: Task, from: string, to: string, column: Task[], index: number) => {
    const move = planMove(task, from, to, column, index);
    setMoveError(null);
    try {
      if (move.kind === "priority") await api.tasks.update(task.id, { priority: move.priority });
      else if (move.kind === "retry") await api.tasks.retry(task.id);
      else if (move.kind === "cancel") await api.tasks.cancel(task.id);
      else if (move.kind === "refused") setMoveError(new ApiError("MOVE_REFUSED", move.reason));
      if (move.kind !== "none" && move.kind !== "refused") board.reload();
    } catch (e) {
      setMoveError(toApiError(e));
    }
  };
  const stepPriority = async (task: Task, delta: number) => {
    const priority = Math.max(1, Math.min(10, task.priority + delta));
    if (priority === task.priority) return;
    setMoveError(null);
    try {
      await api.tasks.update(task.id, { priority });
      board.reload();
    } catch (e) {
      setMoveError(toApiError(e));
    }
  };

  return (
    <section className="tasks-view">
      <PageHeader
        title="Tasks"
        subtitle="The queue, by status, live. Higher priority first; subtasks live inside their parent."
        actions={
          <>
            {tab === "board" && (
              <input
                type="search"
                className="search"
                placeholder="Search tasks"
                aria-label="Search tasks"
                value={search}
                onChange={(e) => setSearch(e.target.value)}
              />
            )}
            <button type="button" className="btn primary" onClick={() => setCreating(true)} data-testid="new-task">
              New task
            </button>
          </>
        }
      />
      <div className="tasks-bar">
        <div className="tabs" role="tablist" aria-label="Tasks">
          {(["board", "workflows"] as const).map((t) => (
            <button
              key={t}
              type="button"
              role="tab"
              id={`tab-${t}`}
              aria-selected={tab === t}
              className={tab === t ? "tab active" : "tab"}
              data-tab={t}
              onClick={() => setTab(t)}
            >
              {t === "board" ? "Board" : "Workflows"}
            </button>
          ))}
        </div>
        <RunnerStatus />
      </div>
      {tab === "board" ? (
        <div role="tabpanel" aria-labelledby="tab-board">
          <QueryView query={board} label="Loading the board…">
            {(cols) => (
              <>
                {moveError && (
                  <div className="move-error" role="alert">
                    <span>{moveError.message}</span>
                    <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => setMoveError(null)}>
                      ×
                    </button>
                  </div>
                )}
                <p className="muted small board-hint">
                  Drag a card up or down to change its priority, onto Queued to retry it, or onto Cancelled to cancel it. With
                  the keyboard: Alt+↑ and Alt+↓ on a card.
                </p>
                <div className="kanban" role="list" aria-label="Task board">
                  {groupColumns(cols).map((col) => (
                    <div
                      key={col.key}
                      className={`column col-${col.key}${dropOn === col.key ? " drop-target" : ""}`}
                      role="listitem"
                      aria-label={`${col.title}: ${col.total}`}
                      data-column={col.key}
                      onDragOver={(e) => {
                        if (!dragging) return;
                        e.preventDefault();
                        if (dropOn !== col.key) setDropOn(col.key);
                      }}
                      onDragLeave={(e) => {
                        if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDropOn(null);
                      }}
                      onDrop={(e) => {
                        e.preventDefault();
                        setDropOn(null);
                        const id = dragging?.id ?? e.dataTransfer.getData("text/plain");
                        const from = dragging?.from ?? groupColumns(cols).find((c) => c.tasks.some((t) => t.id === id))?.key;
                        setDragging(null);
                        const task = groupColumns(cols)
                          .flatMap((c) => c.tasks)
                          .find((t) => t.id === id);
                        if (!task || !from) return;
                        const cards = Array.from(e.currentTarget.querySelectorAll<HTMLElement>(".card")).filter(
                          (el) => el.dataset.taskId !== id,
                        );
                        const index = dropIndex(
                          cards.map((el) => {
                            const r = el.getBoundingClientRect();
                            return { top: r.top, height: r.height };
                          }),
                          e.clientY,
                        );
                        void apply(task, from, col.key, col.tasks, index);
                      }}
                    >
                      <div className="column-head">
                        <span>{col.title}</span>
                        <span className="column-count">{col.total}</span>
                      </div>
                      <div className="column-body">
                        {col.tasks.length === 0 && <p className="column-empty muted">Nothing here</p>}
                        {col.tasks.map((t) => (
                          <TaskCard
                            key={t.id}
                            task={t}
                            waiting={col.key === "waiting"}
                            agentName={agentName}
                            onOpen={setOpenId}
                            onDragStart={() => setDragging({ id: t.id, from: col.key })}
                            onDragEnd={() => {
                              setDragging(null);
                              setDropOn(null);
                            }}
                            onStep={(d) => void stepPriority(t, d)}
                            dragging={dragging?.id === t.id}
                          />
                        ))}
                        {col.total > col.tasks.length && (
                          <p className="muted small column-more">+{col.total - col.tasks.length} more (search to narrow)</p>
                        )}
                      </div>
                    </div>
                  ))}
                </div>
              </>
            )}
          </QueryView>
        </div>
      ) : (
        <div role="tabpanel" aria-labelledby="tab-workflows">
          <WorkflowsPanel onOpenTask={setOpenId} />
        </div>
      )}
      {creating && <TaskCreator agents={agents.data?.items ?? []} onClose={() => setCreating(false)} onSaved={board.reload} />}
      {openId && <TaskDrawer key={openId} id={openId} agents={byId} onOpen={setOpenId} onClose={() => setOpenId(null)} />}
    </section>
  );
}

/** A card: title, priority, agent, attempt, next retry and last error. */
export function TaskCard(props: {
  task: Task;
  waiting?: boolean;
  agentName: (id: string | null) => string | null;
  onOpen: (id: string) => void;
  onDragStart?: () => void;
  onDragEnd?: () => void;
  /** Alt+↑ / Alt+↓: one priority step up or down. */
  onStep?: (delta: number) => void;
  dragging?: boolean;
}) {
  const t = props.task;
  const agent = props.agentName(taskAgentId(t));
  const retry = t.status === "queued" && t.next_attempt_at ? retryIn(t.next_attempt_at) : null;
  return (
    <button
      type="button"
      className={props.dragging ? "card dragging" : "card"}
      data-task-id={t.id}
      data-status={t.status}
      draggable={!!props.onDragStart}
      onDragStart={(e) => {
        e.dataTransfer.setData("text/plain", t.id);
        e.dataTransfer.effectAllowed = "move";
        props.onDragStart?.();
      }}
      onDragEnd={props.onDragEnd}
      onKeyDown={(e) => {
        if (!e.altKey || !props.onStep) return;
        if (e.key === "ArrowUp" || e.key === "ArrowDown") {
          e.preventDefault();
          props.onStep(e.key === "ArrowUp" ? 1 : -1);
        }
      }}
      onClick={() => props.onOpen(t.id)}
      aria-label={`${t.title}, priority ${t.priority}, ${statusLabel(t.status)}`}
    >
      <span className="card-title">{t.title}</span>
      <span className="card-meta">
        <Badge tone={priorityTone(t.priority)}>P{t.priority}</Badge>
        {props.waiting && <Badge tone="info">{statusLabel(t.status)}</Badge>}
        {agent && <span className="muted small">{agent}</span>}
        {t.attempts > 0 && (
          <span className="muted small" data-testid="attempt">
            attempt {t.attempts}/{t.max_attempts}
          </span>
        )}
        {retry && (
          <span className="small retry" data-testid="next-retry">
            {retry}
          </span>
        )}
      </span>
      {t.error && (t.status === "failed" || t.status === "queued") && (
        <span className="card-error small" title={t.error} data-testid="last-error">
          {t.error}
        </span>
      )}
    </button>
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
