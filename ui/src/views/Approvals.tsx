import { useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Approval } from "../bindings/Approval";
import { useQuery } from "../hooks";
import { Badge, Empty, ErrorText, PageHeader, QueryView, relativeTime } from "../components/ui";

export function Approvals() {
  const pending = useQuery(() => api.approvals.list("pending"), [], ["approval"]);
  const history = useQuery(() => api.approvals.list(undefined, { limit: 50 }), [], ["approval"]);
  return (
    <section>
      <PageHeader title="Approvals" subtitle="Actions your agents want to take and are waiting for you to decide." />
      <h2 className="section-title">Waiting for you</h2>
      <QueryView query={pending} label="Loading the inbox…">
        {(p) =>
          p.items.length === 0 ? (
            <Empty title="Inbox zero">Copilot agents ask here before a consequential action.</Empty>
          ) : (
            <div className="cards">
              {p.items.map((a) => (
                <PendingApproval key={a.id} approval={a} onDone={pending.reload} />
              ))}
            </div>
          )
        }
      </QueryView>
      <h2 className="section-title">History</h2>
      <QueryView query={history}>
        {(p) => {
          const done = p.items.filter((a) => a.status !== "pending");
          return done.length === 0 ? (
            <p className="muted">No decisions yet.</p>
          ) : (
            <table className="table" aria-label="Approval history">
              <thead>
                <tr>
                  <th>Request</th>
                  <th>Decision</th>
                  <th>By</th>
                  <th>When</th>
                  <th>Comment</th>
                </tr>
              </thead>
              <tbody>
                {done.map((a) => (
                  <tr key={a.id}>
                    <td>{a.title}</td>
                    <td>
                      <Badge tone={a.status === "approved" || a.status === "edited" ? "good" : "bad"}>{a.status}</Badge>
                    </td>
                    <td>{a.decided_by ?? "—"}</td>
                    <td className="muted">{a.decided_at ? relativeTime(a.decided_at) : "—"}</td>
                    <td className="muted">{a.comment ?? ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </QueryView>
    </section>
  );
}

function PendingApproval(props: { approval: Approval; onDone: () => void }) {
  const a = props.approval;
  const [comment, setComment] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const decide = async (verdict: "approve" | "reject") => {
    try {
      await api.approvals.decide(a.id, { verdict, comment });
      props.onDone();
    } catch (e) {
      setError(toApiError(e));
    }
  };
  return (
    <article className="panel approval" data-approval-id={a.id}>
      <div className="card-meta">
        <Badge tone="warn">{a.kind.replace(/_/g, " ")}</Badge>
        <span className="muted small">expires {relativeTime(a.expires_at)}</span>
      </div>
      <h3>{a.title}</h3>
      <pre className="action">{JSON.stringify(a.proposed_action, null, 2)}</pre>
      <input
        className="comment"
        placeholder="Comment (sent back to the agent)"
        aria-label="Comment"
        value={comment}
        onChange={(e) => setComment(e.target.value)}
      />
      <ErrorText error={error} />
      <div className="modal-actions">
        <button type="button" className="btn danger" onClick={() => decide("reject")}>
          Reject
        </button>
        <button type="button" className="btn primary" onClick={() => decide("approve")}>
          Approve
        </button>
      </div>
    </article>
  );
}
