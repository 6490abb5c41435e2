import { api } from "../api";
import { useQuery } from "../hooks";
import { Badge, Empty, PageHeader, QueryView } from "../components/ui";

export function Crews() {
  const crews = useQuery(() => api.crews.list(), [], ["crew"]);
  return (
    <section>
      <PageHeader title="Crews" subtitle="Teams of agents that work towards one goal." />
      <QueryView query={crews} label="Loading crews…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty title="No crews yet">Add one from the command line: ensemble crews add NAME --members ID,ID</Empty>
          ) : (
            <div className="cards">
              {page.items.map((c) => (
                <article key={c.id} className="panel">
                  <h2>{c.name}</h2>
                  <p className="muted">{c.goal || "No goal set"}</p>
                  <div className="card-meta">
                    <Badge tone="info">{c.process.replace("_", " ")}</Badge>
                    <Badge tone="neutral">{c.status}</Badge>
                  </div>
                  <ol className="members">
                    {c.members.map((m) => (
                      <li key={m.agent_id}>
                        {m.agent_name} {m.role && <span className="muted small">({m.role})</span>}
                      </li>
                    ))}
                  </ol>
                </article>
              ))}
            </div>
          )
        }
      </QueryView>
    </section>
  );
}
