import { api } from "../api";
import { useQuery } from "../hooks";
import { Badge, PageHeader, QueryView, relativeTime } from "../components/ui";
import type { View } from "../App";

export function Home(props: { go: (v: View) => void }) {
  const board = useQuery(() => api.tasks.board({}, 5), [], ["task"]);
  const agents = useQuery(() => api.agents.list(undefined, { limit: 1000 }), [], ["agent"]);
  const approvals = useQuery(() => api.approvals.list("pending", { limit: 5 }), [], ["approval"]);
  const providers = useQuery(() => api.providers.list(), [], ["provider"]);
  const count = (s: string) => Number(board.data?.find((c) => c.status === s)?.total ?? 0);

  return (
    <section>
      <PageHeader title="Home" subtitle="What your agents are doing, and what needs you." />
      <div className="stats">
        <button type="button" className="stat" onClick={() => props.go("tasks")}>
          <span className="stat-value">{count("running") + count("planning")}</span>
          <span className="stat-label">running</span>
        </button>
        <button type="button" className="stat" onClick={() => props.go("tasks")}>
          <span className="stat-value">{count("queued")}</span>
          <span className="stat-label">queued</span>
        </button>
        <button type="button" className="stat" onClick={() => props.go("approvals")}>
          <span className="stat-value">{Number(approvals.data?.total ?? 0)}</span>
          <span className="stat-label">waiting for approval</span>
        </button>
        <button type="button" className="stat" onClick={() => props.go("tasks")}>
          <span className="stat-value">{count("failed")}</span>
          <span className="stat-label">failed</span>
        </button>
        <button type="button" className="stat" onClick={() => props.go("agents")}>
          <span className="stat-value">{Number(agents.data?.total ?? 0)}</span>
          <span className="stat-label">agents</span>
        </button>
      </div>
      <div className="panels">
        <div className="panel">
          <h2>Pending approvals</h2>
          <QueryView query={approvals}>
            {(p) =>
              p.items.length === 0 ? (
                <p className="muted">Nothing is waiting for you. Approvals appear here, in the tray and as notifications.</p>
              ) : (
                <ul className="plain">
                  {p.items.map((a) => (
                    <li key={a.id}>
                      <button type="button" className="link" onClick={() => props.go("approvals")}>
                        {a.title}
                      </button>{" "}
                      <span className="muted small">expires {relativeTime(a.expires_at)}</span>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </div>
        <div className="panel">
          <h2>Agents</h2>
          <QueryView query={agents}>
            {(p) =>
              p.items.length === 0 ? (
                <p className="muted">
                  No agents yet.{" "}
                  <button type="button" className="link" onClick={() => props.go("agents")}>
                    Create one
                  </button>
                </p>
              ) : (
                <ul className="plain">
                  {p.items.slice(0, 8).map((a) => (
                    <li key={a.id}>
                      <Badge tone={a.status === "error" ? "bad" : a.status === "busy" ? "good" : "neutral"}>{a.status}</Badge>{" "}
                      {a.name} <span className="muted small">{a.role}</span>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </div>
        <div className="panel">
          <h2>Providers</h2>
          <QueryView query={providers}>
            {(list) => (
              <ul className="plain">
                {list.map((p) => (
                  <li key={p.id}>
                    <strong>{p.name}</strong> <span className="muted small">{p.kind}</span>{" "}
                    <span className="muted small">{p.base_url || p.default_model}</span>
                  </li>
                ))}
              </ul>
            )}
          </QueryView>
        </div>
      </div>
    </section>
  );
}
