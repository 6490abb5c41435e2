// The approval inbox: what agents want to do and are waiting for you to
// decide, each with a live countdown to its expiry (then it is rejected by
// default), the proposed action shown readably and editable (arguments as
// JSON, checked before they are sent), approve / edit-and-approve / reject
// with a comment; and the history of decided requests.
import { useEffect, useMemo, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Agent } from "../bindings/Agent";
import type { Approval } from "../bindings/Approval";
import type { Verdict } from "../bindings/Verdict";
import type { JsonValue } from "../bindings/serde_json/JsonValue";
import { useNow, useQuery } from "../hooks";
import { Badge, Empty, ErrorText, PageHeader, QueryView, relativeTime } from "../components/ui";

const HISTORY_PAGE = 50;

/** Time left until `iso`: "1 d 02:03:04", "02:03:04", "00:00:09"; null once it passed. */
export function countdown(iso: string, now: number): string | null {
  const end = Date.parse(iso);
  if (Number.isNaN(end)) return null;
  const left = Math.ceil((end - now) / 1000);
  if (left <= 0) return null;
  const d = Math.floor(left / 86400);
  const h = Math.floor((left % 86400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  const clock = `${pad(h)}:${pad(m)}:${pad(s)}`;
  return d > 0 ? `${d} d ${clock}` : clock;
}

type Obj = { [key: string]: JsonValue | undefined };

function asObject(v: JsonValue | null | undefined): Obj | null {
  return v !== null && v !== undefined && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : null;
}

/** The proposed action in the shapes the agent runtime writes. */
export function describeAction(a: Approval): {
  tool: string | null;
  args: Obj | null;
  answer: string | null;
  question: string | null;
  note: string | null;
} {
  const p = asObject(a.proposed_action);
  const str = (v: JsonValue | undefined) => (typeof v === "string" ? v : null);
  return {
    tool: str(p?.tool),
    args: asObject(p?.arguments ?? null),
    answer: str(p?.answer),
    question: str(p?.question),
    note: str(p?.note),
  };
}

/** Parses edited arguments: an object, or a message saying what is wrong. */
export function parseArgs(text: string): { ok: Obj } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    return { error: 'The arguments must be a JSON object, like {"key": "value"}.' };
  }
  return { ok: v as Obj };
}

function pretty(v: unknown): string {
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

export function Approvals(props: { onOpenTask?: (taskId: string) => void }) {
  const [tab, setTab] = useState<"pending" | "history">("pending");
  const [historyLimit, setHistoryLimit] = useState(HISTORY_PAGE);
  const pending = useQuery(() => api.approvals.list("pending", { limit: 500 }), [], ["approval"]);
  const history = useQuery(() => api.approvals.history({ limit: historyLimit }), [historyLimit], ["approval"]);
  const agents = useQuery(() => api.agents.list(undefined, { limit: 1000 }), [], ["agent"]);
  const byId = useMemo(() => new Map((agents.data?.items ?? []).map((a) => [a.id, a])), [agents.data]);
  const count = pending.data ? Number(pending.data.total) : null;

  return (
    <section className="approvals-view">
      <PageHeader title="Approvals" subtitle="Actions your agents want to take and are waiting for you to decide." />
      <div className="tabs approvals-tabs" role="tablist" aria-label="Approvals">
        <button
          type="button"
          role="tab"
          aria-selected={tab === "pending"}
          className={tab === "pending" ? "tab active" : "tab"}
          data-tab="pending"
          onClick={() => setTab("pending")}
        >
          Pending{count !== null ? ` (${count})` : ""}
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={tab === "history"}
          className={tab === "history" ? "tab active" : "tab"}
          data-tab="history"
          onClick={() => setTab("history")}
        >
          History
        </button>
      </div>
      {tab === "pending" ? (
        <QueryView query={pending} label="Loading the inbox…">
          {(p) =>
            p.items.length === 0 ? (
              <Empty title="Nothing waiting for you">
                Agents on copilot ask here before a consequential action, such as running code.
              </Empty>
            ) : (
              <div className="approval-list">
                {p.items.map((a) => (
                  <PendingApproval
                    key={a.id}
                    approval={a}
                    agent={a.agent_id ? byId.get(a.agent_id) : undefined}
                    onDone={pending.reload}
                    onOpenTask={props.onOpenTask}
                  />
                ))}
              </div>
            )
          }
        </QueryView>
      ) : (
        <QueryView query={history} label="Loading decisions…">
          {(p) =>
            p.items.length === 0 ? (
              <Empty title="No decisions yet">Approved, edited, rejected and expired requests are listed here.</Empty>
            ) : (
              <>
                <HistoryTable items={p.items} agents={byId} />
                {Number(p.total) > p.items.length && (
                  <button type="button" className="btn" onClick={() => setHistoryLimit((l) => l + HISTORY_PAGE)}>
                    Show more ({Number(p.total) - p.items.length} older)
                  </button>
                )}
              </>
            )
          }
        </QueryView>
      )}
    </section>
  );
}

/** One argument: strings (code, URLs, queries) as they are, the rest as JSON. */
function ArgValue(props: { value: JsonValue | undefined }) {
  const v = props.value;
  if (typeof v === "string") return <pre className="arg-value">{v}</pre>;
  return <pre className="arg-value">{pretty(v)}</pre>;
}

function ActionView(props: { approval: Approval }) {
  const a = props.approval;
  const d = describeAction(a);
  if (d.question !== null) {
    return (
      <div className="proposed">
        <span className="field-label">Question</span>
        <p className="objective">{d.question}</p>
      </div>
    );
  }
  if (d.answer !== null) {
    return (
      <div className="proposed">
        <span className="field-label">Proposed answer</span>
        <pre className="arg-value">{d.answer}</pre>
      </div>
    );
  }
  if (d.tool !== null) {
    const entries = Object.entries(d.args ?? {});
    return (
      <div className="proposed">
        <p className="proposed-tool">
          <span className="field-label">Tool</span> <code className="tool-name">{d.tool}</code>
        </p>
        {entries.length === 0 ? (
          <p className="muted small">No arguments.</p>
        ) : (
          <dl className="args" aria-label="Arguments">
            {entries.map(([k, v]) => (
              <div key={k} className="arg">
                <dt className="mono">{k}</dt>
                <dd>
                  <ArgValue value={v} />
                </dd>
              </div>
            ))}
          </dl>
        )}
        {d.note && <p className="muted small">{d.note}</p>}
      </div>
    );
  }
  return <pre className="action">{pretty(a.proposed_action)}</pre>;
}

function PendingApproval(props: {
  approval: Approval;
  agent: Agent | undefined;
  onDone: () => void;
  onOpenTask?: (taskId: string) => void;
}) {
  const a = props.approval;
  const d = describeAction(a);
  const now = useNow(1000);
  const left = countdown(a.expires_at, now);
  const expired = left === null;
  const task = useQuery(
    () => (a.task_id ? api.tasks.get(a.task_id) : Promise.resolve(null)),
    [a.task_id],
  );
  const [comment, setComment] = useState("");
  const [editing, setEditing] = useState(false);
  const editsArgs = d.tool !== null && (a.kind === "tool_call" || a.kind === "ambiguous_tool_call");
  const editsText = a.kind === "final_output" || a.kind === "ask_human";
  const [argsText, setArgsText] = useState(() => pretty(d.args ?? {}));
  const [answer, setAnswer] = useState(() => (a.kind === "final_output" ? d.answer ?? "" : ""));
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const parsed = editing && editsArgs ? parseArgs(argsText) : null;
  const argsError = parsed && "error" in parsed ? parsed.error : null;

  const decide = async (verdict: Verdict) => {
    setError(null);
    let edited: JsonValue | undefined;
    if (verdict === "edit") {
      if (editsArgs) {
        const p = parseArgs(argsText);
        if ("error" in p) return; // shown under the editor; nothing is sent
        edited = { tool: d.tool, arguments: p.ok } as JsonValue;
      } else {
        edited = { answer };
      }
    }
    setBusy(true);
    try {
      await api.approvals.decide(a.id, {
        verdict,
        comment: comment.trim() ? comment.trim() : undefined,
        edited_action: edited,
      });
      props.onDone();
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };

  // Once expired the backend rejects it by default; refresh to let it go.
  useEffect(() => {
    if (!expired) return;
    const t = setTimeout(props.onDone, 2000);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [expired]);

  const agentName = props.agent?.name ?? (a.agent_id ? "an agent" : null);
  const t = task.data;
  return (
    <article className="panel approval" data-approval-id={a.id} data-kind={a.kind} aria-label={a.title}>
      <div className="card-meta">
        <Badge tone="warn">{a.kind.replace(/_/g, " ")}</Badge>
        {expired ? (
          <Badge tone="bad">expired — rejected by default</Badge>
        ) : (
          <span className="countdown" role="timer" title={`Expires ${new Date(a.expires_at).toLocaleString()}`}>
            expires in <time dateTime={a.expires_at}>{left}</time>
          </span>
        )}
        <span className="muted small">asked {relativeTime(a.created_at, now)}</span>
      </div>
      <h3>{a.title}</h3>
      <p className="approval-context muted small">
        {agentName && (
          <>
            Agent <strong className="agent-name">{agentName}</strong>
          </>
        )}
        {a.task_id && (
          <>
            {agentName ? " · " : ""}Task{" "}
            {props.onOpenTask ? (
              <button type="button" className="link task-link" onClick={() => props.onOpenTask?.(a.task_id as string)}>
                {t?.title ?? "open"}
              </button>
            ) : (
              <strong className="task-title">{t?.title ?? "…"}</strong>
            )}
          </>
        )}
      </p>
      {editing && editsArgs ? (
        <div className="field">
          <label className="field-label" htmlFor={`args-${a.id}`}>
            Arguments for {d.tool} (JSON)
          </label>
          <textarea
            id={`args-${a.id}`}
            className={argsError ? "args-editor invalid" : "args-editor"}
            rows={Math.min(16, Math.max(4, argsText.split("\n").length + 1))}
            spellCheck={false}
            value={argsText}
            aria-invalid={argsError ? true : undefined}
            onChange={(e) => setArgsText(e.target.value)}
          />
          {argsError ? (
            <p className="error-text" role="alert">
              {argsError}
            </p>
          ) : (
            <span className="field-hint">Checked against the tool's schema before it runs.</span>
          )}
        </div>
      ) : editing && editsText ? (
        <>
          <ActionView approval={a} />
          <div className="field">
            <label className="field-label" htmlFor={`answer-${a.id}`}>
              {a.kind === "ask_human" ? "Your answer" : "Edited answer"}
            </label>
            <textarea id={`answer-${a.id}`} rows={5} value={answer} onChange={(e) => setAnswer(e.target.value)} />
          </div>
        </>
      ) : (
        <ActionView approval={a} />
      )}
      <input
        className="comment"
        placeholder="Comment (sent back to the agent)"
        aria-label="Comment"
        value={comment}
        onChange={(e) => setComment(e.target.value)}
        disabled={busy || expired}
      />
      <ErrorText error={error} />
      <div className="modal-actions">
        <button
          type="button"
          className="btn danger"
          data-action="reject"
          disabled={busy || expired}
          onClick={() => void decide("reject")}
        >
          Reject
        </button>
        {(editsArgs || editsText) &&
          (editing ? (
            <>
              <button type="button" className="btn" disabled={busy} onClick={() => setEditing(false)}>
                Cancel edit
              </button>
              <button
                type="button"
                className="btn primary"
                data-action="edit"
                disabled={busy || expired || argsError !== null || (editsText && !answer.trim())}
                onClick={() => void decide("edit")}
              >
                {a.kind === "ask_human" ? "Send answer" : "Approve with edits"}
              </button>
            </>
          ) : (
            <button type="button" className="btn" data-action="start-edit" disabled={busy || expired} onClick={() => setEditing(true)}>
              {a.kind === "ask_human" ? "Answer" : editsArgs ? "Edit arguments" : "Edit answer"}
            </button>
          ))}
        {!editing && (
          <button
            type="button"
            className="btn primary"
            data-action="approve"
            disabled={busy || expired}
            onClick={() => void decide("approve")}
          >
            Approve
          </button>
        )}
      </div>
    </article>
  );
}

const VERDICT: Record<string, { label: string; tone: "good" | "bad" | "warn" | "info" }> = {
  approved: { label: "approved", tone: "good" },
  edited: { label: "approved with edits", tone: "info" },
  rejected: { label: "rejected", tone: "bad" },
  expired: { label: "expired (rejected)", tone: "warn" },
};

function HistoryTable(props: { items: Approval[]; agents: Map<string, Agent> }) {
  return (
    <table className="table history" aria-label="Approval history">
      <thead>
        <tr>
          <th>Request</th>
          <th>Verdict</th>
          <th>By</th>
          <th>When</th>
          <th>Comment</th>
        </tr>
      </thead>
      <tbody>
        {props.items.map((a) => {
          const v = VERDICT[a.status] ?? { label: a.status, tone: "info" as const };
          const d = describeAction(a);
          const agent = a.agent_id ? props.agents.get(a.agent_id)?.name : undefined;
          return (
            <tr key={a.id} data-approval-id={a.id} data-status={a.status}>
              <td>
                <div>{a.title}</div>
                <div className="muted small">
                  {[agent, d.tool].filter(Boolean).join(" · ")}
                </div>
                {a.status === "edited" && a.edited_action !== null && (
                  <details className="edited">
                    <summary className="small">What was run instead</summary>
                    <pre className="action">{pretty(asObject(a.edited_action)?.arguments ?? a.edited_action)}</pre>
                  </details>
                )}
              </td>
              <td>
                <Badge tone={v.tone}>{v.label}</Badge>
              </td>
              <td>{a.decided_by ?? "—"}</td>
              <td>
                {a.decided_at ? (
                  <time dateTime={a.decided_at} title={new Date(a.decided_at).toLocaleString()}>
                    {relativeTime(a.decided_at)}
                  </time>
                ) : (
                  "—"
                )}
              </td>
              <td className="comment-cell">{a.comment ?? <span className="muted">—</span>}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
