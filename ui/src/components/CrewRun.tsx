// One crew run, live: its status and usage, the message timeline (oldest
// at the top, newest at the bottom, following new messages), the final
// report and what each member contributed.
import { useEffect, useMemo, useRef } from "react";
import type { CrewRun } from "../bindings/CrewRun";
import type { CrewRunStatus } from "../bindings/CrewRunStatus";
import type { Message } from "../bindings/Message";
import type { MessageKind } from "../bindings/MessageKind";
import type { MemberOutput } from "../bindings/MemberOutput";
import { crewsApi } from "../crewsApi";
import { useQuery } from "../hooks";
import { Badge, duration, QueryView } from "./ui";

export const ACTIVE: CrewRunStatus[] = ["planning", "running", "waiting"];

export function isActive(run: CrewRun | undefined | null): boolean {
  return !!run && ACTIVE.includes(run.status);
}

export function runTone(s: CrewRunStatus): "good" | "bad" | "info" | "warn" | "neutral" {
  switch (s) {
    case "completed":
      return "good";
    case "failed":
      return "bad";
    case "waiting":
      return "warn";
    case "planning":
    case "running":
      return "info";
    default:
      return "neutral";
  }
}

const KIND_TONE: Record<MessageKind, "good" | "bad" | "info" | "warn" | "neutral"> = {
  request: "info",
  response: "good",
  handoff: "info",
  escalation: "bad",
  status_update: "neutral",
  question: "warn",
  approval_request: "warn",
};

export function kindLabel(k: string): string {
  return k.replace(/_/g, " ");
}

function clock(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleTimeString();
}

/** The run with its timeline, report and contributions, following the store. */
export function CrewRunView(props: { runId: string; names: Map<string, string> }) {
  const run = useQuery(() => crewsApi.run(props.runId), [props.runId], ["crew_run"]);
  return (
    <QueryView query={run} label="Loading the run…">
      {(r) => <RunBody run={r} names={props.names} />}
    </QueryView>
  );
}

function RunBody(props: { run: CrewRun; names: Map<string, string> }) {
  const r = props.run;
  const name = (id: string | null) => (id ? props.names.get(id) ?? "unknown agent" : null);
  const took = r.started_at && r.finished_at ? Date.parse(r.finished_at) - Date.parse(r.started_at) : NaN;
  return (
    <div className="crew-run" data-run-id={r.id} data-status={r.status}>
      <div className="card-meta">
        <Badge tone={runTone(r.status)}>{r.status}</Badge>
        {isActive(r) && <span className="spinner small-spinner" aria-hidden="true" />}
        {r.stop_reason && r.stop_reason !== "completed" && <Badge tone="neutral">{kindLabel(r.stop_reason)}</Badge>}
        {r.stop_requested && isActive(r) && <span className="muted small">stopping…</span>}
        <span className="muted small" data-testid="run-usage">
          {r.tokens_in + r.tokens_out} tokens{r.cost > 0 ? ` · $${r.cost.toFixed(4)}` : ""}
          {Number.isFinite(took) ? ` · took ${duration(took)}` : ""}
        </span>
      </div>
      {r.input && (
        <p className="small">
          <span className="muted">Input:</span> {r.input}
        </p>
      )}
      {r.error && (
        <p className="error-text" role="alert">
          {r.error}
        </p>
      )}
      <h3 className="section-title">Timeline</h3>
      <Timeline runId={r.id} active={isActive(r)} name={name} />
      <h3 className="section-title">Report</h3>
      {r.report ? (
        <pre className="crew-report" data-testid="crew-report">
          {r.report}
        </pre>
      ) : (
        <p className="muted small">{isActive(r) ? "The report comes when the run finishes." : "This run has no report."}</p>
      )}
      <h3 className="section-title">Contributions</h3>
      <Contributions outputs={r.outputs} />
    </div>
  );
}

function Timeline(props: { runId: string; active: boolean; name: (id: string | null) => string | null }) {
  const q = useQuery(() => crewsApi.timeline(props.runId), [props.runId], ["message"]);
  const box = useRef<HTMLDivElement>(null);
  const count = q.data?.messages.length ?? 0;
  useEffect(() => {
    // Follow the newest message, as a chat does, without moving the page.
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [count]);
  return (
    <QueryView query={q} label="Loading messages…">
      {({ messages, total }) =>
        messages.length === 0 ? (
          <p className="muted small">{props.active ? "Waiting for the first message…" : "No messages."}</p>
        ) : (
          <div className="crew-timeline-scroll" ref={box}>
            {total > messages.length && <p className="muted small">The {messages.length} newest of {total} messages.</p>}
            <ol className="plain crew-timeline" aria-label="Message timeline">
              {messages.map((m) => (
                <TimelineItem key={m.id} m={m} name={props.name} />
              ))}
            </ol>
          </div>
        )
      }
    </QueryView>
  );
}

function TimelineItem(props: { m: Message; name: (id: string | null) => string | null }) {
  const { m } = props;
  const from = props.name(m.from_agent_id) ?? "crew";
  const to = props.name(m.to_agent_id) ?? "everyone";
  return (
    <li className={`crew-msg ${m.kind}`} data-kind={m.kind} data-message-id={m.id}>
      <div className="crew-msg-head">
        <strong className="crew-msg-from">{from}</strong>
        <span aria-label="to"> → </span>
        <span className="crew-msg-to">{to}</span>
        <Badge tone={KIND_TONE[m.kind] ?? "neutral"}>{kindLabel(m.kind)}</Badge>
        <time className="muted small" dateTime={m.created_at}>
          {clock(m.created_at)}
        </time>
      </div>
      <div className="crew-msg-content">{m.content}</div>
    </li>
  );
}

function Contributions(props: { outputs: MemberOutput[] }) {
  const byMember = useMemo(() => {
    const groups = new Map<string, { name: string; items: MemberOutput[] }>();
    for (const o of props.outputs) {
      const g = groups.get(o.agent_id) ?? { name: o.agent_name, items: [] };
      g.items.push(o);
      groups.set(o.agent_id, g);
    }
    return [...groups.entries()];
  }, [props.outputs]);
  if (byMember.length === 0) return <p className="muted small">No member has delivered work yet.</p>;
  return (
    <div className="crew-contributions" aria-label="Contributions">
      {byMember.map(([id, g]) => (
        <details key={id} className="crew-contribution" data-agent-id={id} open={byMember.length <= 3}>
          <summary>
            <strong>{g.name}</strong>{" "}
            <span className="muted small">
              {g.items.length} output{g.items.length === 1 ? "" : "s"}
            </span>
          </summary>
          {g.items.map((o, i) => (
            <div key={i} className="crew-output">
              <div className="card-meta">
                <Badge tone="info">{o.label}</Badge>
                {o.confidence !== null && <span className="muted small">confidence {Math.round(o.confidence * 100)}%</span>}
              </div>
              <pre className="action">{o.content}</pre>
            </div>
          ))}
        </details>
      ))}
    </div>
  );
}
