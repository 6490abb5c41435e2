import { api } from "../api";
import { useQuery } from "../hooks";
import { Badge, PageHeader, QueryView } from "../components/ui";

export function SettingsView() {
  const info = useQuery(() => api.appInfo(), []);
  const settings = useQuery(() => api.settings.get(), [], ["settings"]);
  const providers = useQuery(() => api.providers.list(), [], ["provider"]);
  return (
    <section>
      <PageHeader title="Settings" subtitle="Providers, limits and where your data lives." />
      <div className="panels">
        <div className="panel">
          <h2>Providers</h2>
          <QueryView query={providers}>
            {(list) => (
              <table className="table" aria-label="Providers">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Kind</th>
                    <th>Endpoint / model</th>
                    <th>Concurrency</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((p) => (
                    <tr key={p.id}>
                      <td className="strong">{p.name}</td>
                      <td>
                        <Badge tone="info">{p.kind}</Badge>
                      </td>
                      <td className="muted">{p.base_url || p.default_model}</td>
                      <td>{p.max_concurrent}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </QueryView>
        </div>
        <div className="panel">
          <h2>Work</h2>
          <QueryView query={settings}>
            {(s) => (
              <dl className="facts">
                <dt>Tasks at once</dt>
                <dd>{s.max_concurrent_tasks}</dd>
                <dt>Approvals expire after</dt>
                <dd>{s.approval_expiry_hours} h (then rejected)</dd>
                <dt>Default autonomy</dt>
                <dd>{s.default_autonomy}</dd>
                <dt>State</dt>
                <dd>{s.paused ? "paused" : "running"}</dd>
              </dl>
            )}
          </QueryView>
        </div>
        <div className="panel">
          <h2>Data</h2>
          <QueryView query={info}>
            {(i) => (
              <dl className="facts">
                <dt>Version</dt>
                <dd>{i.version}</dd>
                <dt>Data folder</dt>
                <dd className="mono">{i.data_dir}</dd>
                <dt>Schema</dt>
                <dd>version {i.schema_version}</dd>
              </dl>
            )}
          </QueryView>
        </div>
      </div>
    </section>
  );
}
