// Home: what runs now, what needs the human, how agents and providers are
// doing, and what failed lately. Every item leads to its place. On a fresh
// install it opens with the guided start.
import { api } from "../api";
import { crewsApi } from "../crewsApi";
import { useNow, useQuery } from "../hooks";
import { Badge, PageHeader, QueryView, relativeTime, retryIn } from "../components/ui";
import { GuidedStart } from "../components/GuidedStart";
import type { View } from "../App";
import type { Agent } from "../bindings/Agent";
import type { AgentStatus } from "../bindings/AgentStatus";

/** Agents whose heartbeat is older than this while they claim to be busy look stuck. */
export const STALE_HEARTBEAT_MS = 2 * 60 * 1000;

const HEALTH_ORDER: AgentStatus[] = ["busy", "idle", "paused", "error", "offline"];

/** Agents that need a look: in error, offline while enabled, or busy without a recent heartbeat. */
export function unhealthy(agents: Agent[], now: number = Date.now()): Agent[] {
  return agents.filter((a) => {
    if (a.status === "error") return true;
    if (a.status === "offline" && a.enabled) return true;
    if (a.status === "busy" && a.last_heartbeat) {
      const t = Date.parse(a.last_heartbeat);
      return Number.isFinite(t) && now - t > STALE_HEARTBEAT_MS;
    }
    return false;
  });
}

export function Home(props: { go: (v: View) => void; showTask: (id: string) => void }) {
  const { go, showTask } = props;
  const now = useNow(15000);
  const settings = useQuery(() => api.settings.get(), [], ["settings"]);
  const board = useQuery(() => api.tasks.board({ top_level: true }, 6), [], ["task"]);
  const agents = useQuery(() => api.agents.list(undefined, { limit: 1000 }), [], ["agent"]);
  const approvals = useQuery(() => api.approvals.list("pending", { limit: 6 }), [], ["approval"]);
  const providers = useQuery(() => api.providers.overview(), [], ["provider", "settings"]);
  const crews = useQuery(() => crewsApi.list(undefined, { limit: 200 }), [], ["crew", "crew_run"]);
  const column = (s: string) => board.data?.find((c) => c.status === s);
  const count = (s: string) => Number(column(s)?.total ?? 0);
  const agentName = (id: string | null) =>
    (id && agents.data?.items.find((a) => a.id === id)?.name) || (id ? "an agent" : "not assigned yet");

  const running = [...(column("running")?.tasks ?? []), ...(column("planning")?.tasks ?? [])];
  const activeCrews = (crews.data?.items ?? []).filter((c) => c.status === "running" || c.status === "planning");
  const failed = column("failed")?.tasks ?? [];

  return (
    <section className="home">
      <PageHeader title="Home" subtitle="What your agents are doing, and what needs you." />
      {settings.data && !settings.data.first_run_completed && <GuidedStart go={go} />}
      <div className="stats">
        <button type="button" className="stat" onClick={() => go("tasks")}>
          <span className="stat-value">{count("running") + count("planning")}</span>
          <span className="stat-label">running</span>
        </button>
        <button type="button" className="stat" onClick={() => go("tasks")}>
          <span className="stat-value">{count("queued")}</span>
          <span className="stat-label">queued</span>
        </button>
        <button type="button" className="stat" onClick={() => go("approvals")}>
          <span className="stat-value">{Number(approvals.data?.total ?? 0)}</span>
          <span className="stat-label">waiting for approval</span>
        </button>
        <button type="button" className="stat" onClick={() => go("tasks")}>
          <span className="stat-value">{count("failed")}</span>
          <span className="stat-label">failed</span>
        </button>
        <button type="button" className="stat" onClick={() => go("agents")}>
          <span className="stat-value">{Number(agents.data?.total ?? 0)}</span>
          <span className="stat-label">agents</span>
        </button>
      </div>
      <div className="panels home-panels">
        <div className="panel" aria-labelledby="home-running">
          <div className="panel-head">
            <h2 id="home-running">Running now</h2>
            <button type="button" className="btn small ghost" onClick={() => go("tasks")}>
              Task board
            </button>
          </div>
          <QueryView query={board}>
            {() =>
              running.length === 0 && activeCrews.length === 0 ? (
                <p className="muted">
                  Nothing is running.{" "}
                  {count("queued") > 0 ? `${count("queued")} queued.` : "Add a task or start a crew run."}
                </p>
              ) : (
                <ul className="plain home-list">
                  {activeCrews.map((c) => (
                    <li key={c.id}>
                      <button type="button" className="link" onClick={() => go("crews")}>
                        {c.name}
                      </button>{" "}
                      <Badge tone="good">crew {c.status}</Badge>
                    </li>
                  ))}
                  {running.map((t) => (
                    <li key={t.id}>
                      <button type="button" className="link" onClick={() => showTask(t.id)}>
                        {t.title}
                      </button>
                      <span className="muted small">
                        {" "}
                        {agentName(t.routed_agent_id ?? t.assigned_agent_id)}
                        {t.started_at ? ` · started ${relativeTime(t.started_at, now)}` : ""}
                        {t.attempts > 1 ? ` · attempt ${t.attempts}` : ""}
                      </span>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </div>
        <div className="panel" aria-labelledby="home-approvals">
          <div className="panel-head">
            <h2 id="home-approvals">Needs you</h2>
            <button type="button" className="btn small ghost" onClick={() => go("approvals")}>
              Inbox
            </button>
          </div>
          <QueryView query={approvals}>
            {(p) =>
              p.items.length === 0 ? (
                <p className="muted">Nothing is waiting for you. Approvals appear here, in the inbox, in the tray and as notifications.</p>
              ) : (
                <ul className="plain home-list">
                  {p.items.map((a) => {
                    const left = Date.parse(a.expires_at) - now;
                    return (
                      <li key={a.id}>
                        <button type="button" className="link" onClick={() => go("approvals")}>
                          {a.title}
                        </button>{" "}
                        <span className={left < 3600_000 ? "warn-text small" : "muted small"}>
                          {left > 0 ? `expires in ${retryIn(a.expires_at, now)}` : "expiring now"}
                        </span>
                      </li>
                    );
                  })}
                  {p.total > p.items.length && (
                    <li className="muted small">and {p.total - p.items.length} more in the inbox</li>
                  )}
                </ul>
              )
            }
          </QueryView>
        </div>
        <div className="panel" aria-labelledby="home-failures">
          <div className="panel-head">
            <h2 id="home-failures">Recent failures</h2>
          </div>
          <QueryView query={board}>
            {() =>
              failed.length === 0 ? (
                <p className="muted">No failed tasks.</p>
              ) : (
                <ul className="plain home-list">
                  {failed.map((t) => (
                    <li key={t.id}>
                      <button type="button" className="link" onClick={() => showTask(t.id)}>
                        {t.title}
                      </button>
                      <span className="muted small"> {relativeTime(t.completed_at ?? t.updated_at, now)}</span>
                      {t.error && <p className="error-line small">{t.error}</p>}
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </div>
        <div className="panel" aria-labelledby="home-agents">
          <div className="panel-head">
            <h2 id="home-agents">Agent health</h2>
            <button type="button" className="btn small ghost" onClick={() => go("agents")}>
              Agents
            </button>
          </div>
          <QueryView query={agents}>
            {(p) => {
              if (p.items.length === 0)
                return (
                  <p className="muted">
                    No agents yet.{" "}
                    <button type="button" className="link" onClick={() => go("crews")}>
                      Start from a crew template
                    </button>{" "}
                    or{" "}
                    <button type="button" className="link" onClick={() => go("agents")}>
                      create one
                    </button>
                    .
                  </p>
                );
              const sick = unhealthy(p.items, now);
              return (
                <>
                  <p className="health-counts">
                    {HEALTH_ORDER.map((s) => {
                      const n = p.items.filter((a) => a.status === s).length;
                      return n ? (
                        <Badge key={s} tone={s === "error" ? "bad" : s === "busy" ? "good" : s === "paused" ? "warn" : "neutral"}>
                          {n} {s}
                        </Badge>
                      ) : null;
                    })}
                  </p>
                  {sick.length === 0 ? (
                    <p className="muted small">All agents are healthy.</p>
                  ) : (
                    <ul className="plain home-list">
                      {sick.slice(0, 6).map((a) => (
                        <li key={a.id}>
                          <Badge tone="bad">{a.status}</Badge> {a.name}{" "}
                          <span className="muted small">
                            {a.last_heartbeat ? `last seen ${relativeTime(a.last_heartbeat, now)}` : "never seen"}
                          </span>
                        </li>
                      ))}
                    </ul>
                  )}
                </>
              );
            }}
          </QueryView>
        </div>
        <div className="panel" aria-labelledby="home-providers">
          <div className="panel-head">
            <h2 id="home-providers">Models</h2>
            <button type="button" className="btn small ghost" onClick={() => go("settings")}>
              Settings
            </button>
          </div>
          <QueryView query={providers} label="Checking providers…">
            {(o) => (
              <>
                <p className="small">
                  Agents without a provider use <strong>{o.default.provider}</strong>
                  <span className="muted"> — {o.default.reason}</span>
                </p>
                <ul className="plain home-list">
                  {o.providers
                    .filter((p) => p.config.enabled)
                    .map((p) => (
                      <li key={p.config.id}>
                        <Badge tone={p.reachable ? (p.breaker.state === "closed" ? "good" : "warn") : "bad"}>
                          {p.reachable ? (p.breaker.state === "closed" ? "ready" : `breaker ${p.breaker.state}`) : "unreachable"}
                        </Badge>{" "}
                        <strong>{p.config.name}</strong>{" "}
                        <span className="muted small">
                          {p.models.length} model{p.models.length === 1 ? "" : "s"}
                          {p.error && !p.reachable ? ` · ${p.error.message}` : ""}
                        </span>
                      </li>
                    ))}
                </ul>
              </>
            )}
          </QueryView>
        </div>
      </div>
    </section>
  );
}
