// The task drawer: a task's facts, output and subtasks, every run step by
// step (thought, tool call with its arguments, observation, tokens, time),
// the decisions and the tool-call journal, with Retry / Cancel / Pause agent.
// It follows the store live while the task runs.
import { useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Agent } from "../bindings/Agent";
import type { RunTrace } from "../bindings/RunTrace";
import type { Task } from "../bindings/Task";
import type { TaskStatus } from "../bindings/TaskStatus";
import { useQuery } from "../hooks";
import { Badge, Drawer, duration, Empty, ErrorText, QueryView, priorityTone, relativeTime, retryIn } from "../components/ui";

const FINAL: TaskStatus[] = ["completed", "failed", "cancelled"];

export function statusLabel(s: string): string {
  return s.replace(/_/g, " ");
}

/** Colour of a task, run, step or tool-call state: waiting on someone is amber. */
export function statusTone(s: string): "good" | "bad" | "warn" | "info" | "neutral" {
  if (s === "completed" || s === "succeeded") return "good";
  if (s === "failed" || s === "ambiguous") return "bad";
  if (s === "running" || s === "planning") return "info";
  if (["waiting", "waiting_input", "awaiting_approval", "delegated", "reviewing"].includes(s)) return "warn";
  return "neutral";
}

/** The agent working on a task: the one it was routed to, else the assigned one. */
export function taskAgentId(t: Task): string | null {
  return t.routed_agent_id ?? t.assigned_agent_id;
}

function json(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

export function TaskDrawer(props: {
  id: string;
  agents: Map<string, Agent>;
  onOpen: (id: string) => void;
  onClose: () => void;
}) {
  const task = useQuery(() => api.tasks.get(props.id), [props.id], ["task"]);
  const subtasks = useQuery(() => api.tasks.subtasks(props.id), [props.id], ["task"]);
  const runs = useQuery(() => api.tasks.runs(props.id), [props.id], ["task", "run"]);
  const [priority, setPriority] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    setBusy(true);
    try {
      await fn();
      task.reload();
      runs.reload();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const agentName = (id: string | null) => (id ? props.agents.get(id)?.name ?? "unknown agent" : null);

  return (
    <Drawer title="Task" onClose={props.onClose}>
      <QueryView query={task}>
        {(t) => {
          const agentId = taskAgentId(t);
          const agent = agentId ? props.agents.get(agentId) : undefined;
          return (
            <div className="drawer" data-task-id={t.id} data-status={t.status}>
              <h3 className="drawer-title">{t.title}</h3>
              <div className="card-meta">
                <Badge tone={statusTone(t.status)}>{statusLabel(t.status)}</Badge>
                <Badge tone={priorityTone(t.priority)}>priority {t.priority}</Badge>
                <span className="muted small">created {relativeTime(t.created_at)}</span>
              </div>
              {t.objective && <p className="objective">{t.objective}</p>}
              <dl className="facts">
                <dt>Agent</dt>
                <dd>
                  {agentName(agentId) ?? "routed by capabilities"}
                  {agent && agent.status !== "idle" && <span className="muted small"> · {agent.status}</span>}
                </dd>
                <dt>Capabilities</dt>
                <dd>{t.required_capabilities.join(", ") || "—"}</dd>
                <dt>Attempts</dt>
                <dd data-testid="attempts">
                  {t.attempts} of {t.max_attempts}
                  {t.next_attempt_at && t.status === "queued" && ` · ${retryIn(t.next_attempt_at)}`}
                </dd>
                <dt>Tokens</dt>
                <dd>
                  {t.tokens_in} in · {t.tokens_out} out
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
              <div className="drawer-actions">
                {!FINAL.includes(t.status) && (
                  <>
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
                      disabled={busy || priority === null || priority === t.priority}
                      onClick={() => act(() => api.tasks.update(t.id, { priority: priority ?? t.priority }))}
                    >
                      Save priority
                    </button>
                  </>
                )}
                <span className="spacer" />
                {t.status === "failed" && (
                  <button type="button" className="btn primary" disabled={busy} onClick={() => act(() => api.tasks.retry(t.id))}>
                    Retry
                  </button>
                )}
                {agent && !FINAL.includes(t.status) && (
                  <button
                    type="button"
                    className="btn"
                    disabled={busy}
                    title={agent.status === "paused" ? `${agent.name} takes new tasks again` : `${agent.name} takes no new task`}
                    onClick={() => act(() => (agent.status === "paused" ? api.agents.resume(agent.id) : api.agents.pause(agent.id)))}
                  >
                    {agent.status === "paused" ? "Resume agent" : "Pause agent"}
                  </button>
                )}
                {!FINAL.includes(t.status) && (
                  <button type="button" className="btn danger" disabled={busy} onClick={() => act(() => api.tasks.cancel(t.id))}>
                    Cancel task
                  </button>
                )}
              </div>
              <ErrorText error={error} />
              {subtasks.data && subtasks.data.length > 0 && (
                <section className="drawer-section">
                  <h4>Subtasks</h4>
                  <ul className="plain subtasks">
                    {subtasks.data.map((s) => (
                      <li key={s.id}>
                        <Badge tone={statusTone(s.status)}>{statusLabel(s.status)}</Badge>{" "}
                        <button type="button" className="link" onClick={() => props.onOpen(s.id)}>
                          {s.title}
                        </button>{" "}
                        {agentName(taskAgentId(s)) && <span className="muted small">{agentName(taskAgentId(s))}</span>}
                      </li>
                    ))}
                  </ul>
                </section>
              )}
              <section className="drawer-section">
                <h4>Runs</h4>
                <QueryView query={runs} label="Loading the trace…">
                  {(list) =>
                    list.length === 0 ? (
                      <p className="muted">No run yet: the task has not started.</p>
                    ) : (
                      <div className="runs">
                        {list.map((r, i) => (
                          <RunView key={r.run.id} trace={r} open={i === 0} agentName={agentName} />
                        ))}
                      </div>
                    )
                  }
                </QueryView>
              </section>
            </div>
          );
        }}
      </QueryView>
      {!task.data && !task.loading && !task.error && <Empty title="Task not found" />}
    </Drawer>
  );
}

function RunView(props: { trace: RunTrace; open: boolean; agentName: (id: string | null) => string | null }) {
  const { run, steps, decisions, tool_calls } = props.trace;
  const took = run.finished_at ? Date.parse(run.finished_at) - Date.parse(run.started_at) : null;
  return (
    <details className="run" open={props.open} data-run-id={run.id} data-status={run.status}>
      <summary>
        <strong>Attempt {run.attempt}</strong> <Badge tone={statusTone(run.status)}>{run.status}</Badge>{" "}
        <span className="muted small">
          {[
            props.agentName(run.agent_id),
            run.provider && `${run.provider}${run.model ? ` · ${run.model}` : ""}`,
            `${run.tokens_in} in / ${run.tokens_out} out tokens`,
            took !== null && duration(took),
            `${steps.length} step${steps.length === 1 ? "" : "s"}`,
          ]
            .filter(Boolean)
            .join(" · ")}
        </span>
      </summary>
      {run.error && <p className="error-text">{run.error}</p>}
      {steps.length === 0 && <p className="muted small">No step recorded yet.</p>}
      <ol className="steps">
        {steps.map((s) => (
          <li key={s.id} className="step" data-step-idx={s.idx}>
            <div className="step-head">
              <strong>Step {s.idx + 1}</strong>
              {s.is_final && <Badge tone="good">final</Badge>}
              <span className="muted small">
                {s.tokens_in} in{s.tokens_cached > 0 ? ` (${s.tokens_cached} from cache)` : ""} / {s.tokens_out} out tokens · {duration(s.duration_ms)}
              </span>
            </div>
            {s.thought && (
              <p className="thought">
                <span className="label">Thought</span> {s.thought}
              </p>
            )}
            {s.action && (
              <div className="action">
                <span className="label">Action</span> <code>{s.action.tool}</code>
                <pre className="action">{json(s.action.arguments)}</pre>
              </div>
            )}
            {s.observation !== null && (
              <div className="observation">
                <span className="label">Observation</span>
                <pre className="action">{s.observation}</pre>
              </div>
            )}
            {s.final_answer && (
              <div className="final">
                <span className="label">Answer</span>
                <pre className="action">{s.final_answer}</pre>
              </div>
            )}
          </li>
        ))}
      </ol>
      {decisions.length > 0 && (
        <div className="decisions">
          <h5>Decisions</h5>
          <ul className="plain">
            {decisions.map((d) => (
              <li key={d.id} className="decision">
                <Badge tone="info">{statusLabel(d.kind)}</Badge> {d.reasoning}
                {d.action && <span className="muted small"> · {d.action}</span>}
                {d.result && <span className="muted small"> → {d.result}</span>}
                {d.confidence !== null && <span className="muted small"> · confidence {Math.round(d.confidence * 100)}%</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
      {tool_calls.length > 0 && (
        <div className="tool-calls">
          <h5>Tool calls</h5>
          <ul className="plain">
            {tool_calls.map((c) => (
              <li key={c.id}>
                <code>{c.tool}</code> <Badge tone={statusTone(c.state)}>{c.state}</Badge>
                {c.duration_ms !== null && <span className="muted small"> · {duration(c.duration_ms)}</span>}
                {c.error && <span className="error-text small"> · {c.error}</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </details>
  );
}
