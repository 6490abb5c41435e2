// Crews: the list (search, new from a template, import), and the selected
// crew: its relationship chart, the editor, export, and runs — start and
// stop, the live message timeline, the report and each member's work.
import { useEffect, useMemo, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Crew } from "../bindings/Crew";
import type { CrewTemplate } from "../bindings/CrewTemplate";
import type { ExportFormat } from "../bindings/ExportFormat";
import { crewsApi } from "../crewsApi";
import { useQuery } from "../hooks";
import { CrewChart, relationLabel } from "../components/CrewChart";
import { CrewEditor, PROCESSES } from "../components/CrewEditor";
import { CrewRunView, isActive } from "../components/CrewRun";
import { Badge, Empty, ErrorPanel, ErrorText, Field, Loading, Modal, PageHeader, QueryView, relativeTime } from "../components/ui";
import "../components/crews.css";

export function processLabel(p: string): string {
  return PROCESSES.find((x) => x.value === p)?.label ?? p;
}

export function Crews() {
  const [search, setSearch] = useState("");
  const crews = useQuery(() => crewsApi.list(search || undefined, { limit: 500 }), [search], ["crew"]);
  const [selected, setSelected] = useState<string | null>(null);
  const [dialog, setDialog] = useState<"template" | "import" | null>(null);
  const items = crews.data?.items ?? [];
  const current = items.find((c) => c.id === selected) ?? items[0];
  const created = (c: Crew) => {
    setSearch("");
    setSelected(c.id);
    crews.reload();
  };

  return (
    <section className="crews-view">
      <PageHeader
        title="Crews"
        subtitle="Teams of agents that work towards one goal."
        actions={
          <>
            <input
              type="search"
              className="search"
              placeholder="Search crews"
              aria-label="Search crews"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
            <button type="button" className="btn" onClick={() => setDialog("import")} data-testid="import-crew">
              Import
            </button>
            <button type="button" className="btn primary" onClick={() => setDialog("template")} data-testid="new-crew">
              New crew
            </button>
          </>
        }
      />
      <div className="workflows crews">
        <div className="wf-list panel">
          <QueryView query={crews} label="Loading crews…">
            {(page) =>
              page.items.length === 0 ? (
                <Empty title={search ? "No crew matches" : "No crews yet"}>
                  {search ? "Try another search." : "Start from a template with New crew, or import a crew file."}
                </Empty>
              ) : (
                <ul className="plain" aria-label="Crews">
                  {page.items.map((c) => (
                    <li key={c.id}>
                      <button
                        type="button"
                        className={c.id === current?.id ? "wf-item active" : "wf-item"}
                        aria-current={c.id === current?.id ? "true" : undefined}
                        data-crew-id={c.id}
                        onClick={() => setSelected(c.id)}
                      >
                        <strong>{c.name}</strong>
                        <span className="muted small">
                          {processLabel(c.process)} · {c.members.length} member{c.members.length === 1 ? "" : "s"} · {c.status}
                        </span>
                      </button>
                    </li>
                  ))}
                </ul>
              )
            }
          </QueryView>
        </div>
        <div className="wf-detail">{current && <CrewDetail key={current.id} crew={current} onChanged={crews.reload} />}</div>
      </div>
      {dialog === "template" && <TemplateChooser onClose={() => setDialog(null)} onCreated={created} />}
      {dialog === "import" && <ImportDialog onClose={() => setDialog(null)} onImported={created} />}
    </section>
  );
}

function CrewDetail(props: { crew: Crew; onChanged: () => void }) {
  const c = props.crew;
  const agents = useQuery(() => api.agents.list(undefined, { limit: 1000 }), [], ["agent"]);
  const runs = useQuery(() => crewsApi.runs(c.id, { limit: 50 }), [c.id], ["crew_run"]);
  const [runId, setRunId] = useState<string | null>(null);
  const [input, setInput] = useState("");
  const [editing, setEditing] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const list = runs.data?.items ?? [];
  const shown = list.find((r) => r.id === runId) ?? list[0];
  const active = list.find((r) => isActive(r));
  // Names for the timeline: members first, then any other agent.
  const names = useMemo(() => {
    const m = new Map((agents.data?.items ?? []).map((a) => [a.id, a.name]));
    for (const x of c.members) m.set(x.agent_id, x.agent_name);
    return m;
  }, [agents.data, c.members]);

  const act = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };
  const start = () =>
    act(async () => {
      const run = await crewsApi.start(c.id, input);
      setRunId(run.id);
      runs.reload();
    });
  const stop = (id: string) =>
    act(async () => {
      await crewsApi.stop(id);
      runs.reload();
    });
  const remove = () =>
    act(async () => {
      if (!window.confirm(`Delete the crew ${c.name}? Its agents stay.`)) return;
      await crewsApi.remove(c.id);
      props.onChanged();
    });

  return (
    <div className="panel crew-panel" data-crew-id={c.id}>
      <div className="panel-head">
        <h2>{c.name}</h2>
        <div className="actions">
          <button type="button" className="btn small" onClick={() => setEditing(true)} data-testid="edit-crew">
            Edit
          </button>
          <button type="button" className="btn small" onClick={() => setExporting(true)} data-testid="export-crew">
            Export
          </button>
          <button type="button" className="btn small danger" disabled={busy || !!active} onClick={() => void remove()}>
            Delete
          </button>
        </div>
      </div>
      <p className="muted">{c.goal || "No goal set"}</p>
      <div className="card-meta">
        <Badge tone="info">{processLabel(c.process)}</Badge>
        <Badge tone="neutral">{c.status}</Badge>
        {c.template && <span className="muted small">from the template {c.template}</span>}
        <span className="muted small">
          {c.max_rounds} round{c.max_rounds === 1 ? "" : "s"} max
          {c.budget.max_tokens !== null && ` · ${c.budget.max_tokens} tokens`}
          {c.budget.max_cost !== null && ` · $${c.budget.max_cost}`}
          {c.budget.max_wall_secs !== null && ` · ${c.budget.max_wall_secs} s`}
        </span>
      </div>

      <h3 className="section-title">Members and relationships</h3>
      <CrewChart members={c.members} relationships={c.relationships} managerId={c.manager_agent_id} label={`${c.name}: relationships`} />
      {c.relationships.length > 0 && (
        <p className="muted small crew-rel-summary">
          {c.relationships
            .map((r) => `${names.get(r.from_agent_id) ?? "?"} ${relationLabel(r.kind)} ${names.get(r.to_agent_id) ?? "?"}`)
            .join(" · ")}
        </p>
      )}

      <h3 className="section-title">Run</h3>
      <form
        className="wf-run-form"
        onSubmit={(e) => {
          e.preventDefault();
          void start();
        }}
      >
        <Field label="Request" hint="What the crew should work on this time (the goal applies too).">
          <textarea name="crew-input" aria-label="Crew request" rows={2} value={input} onChange={(e) => setInput(e.target.value)} />
        </Field>
        {active ? (
          <button type="button" className="btn danger" disabled={busy || active.stop_requested} onClick={() => void stop(active.id)} data-testid="stop-run">
            {active.stop_requested ? "Stopping…" : "Stop"}
          </button>
        ) : (
          <button type="submit" className="btn primary" disabled={busy || c.members.length === 0} data-testid="run-crew">
            Run
          </button>
        )}
      </form>
      <ErrorText error={error} />

      <div className="wf-runs">
        <QueryView query={runs} label="Loading runs…">
          {(page) =>
            page.items.length === 0 ? (
              <p className="muted small">No run yet.</p>
            ) : (
              <>
                <label className="inline run-picker crew-run-picker">
                  Run
                  <select aria-label="Run" value={shown?.id ?? ""} onChange={(e) => setRunId(e.target.value)}>
                    {page.items.map((r) => (
                      <option key={r.id} value={r.id}>
                        {relativeTime(r.created_at)} · {r.status}
                      </option>
                    ))}
                  </select>
                </label>
                {shown && <CrewRunView runId={shown.id} names={names} />}
              </>
            )
          }
        </QueryView>
      </div>

      {editing && (
        <CrewEditor crew={c} agents={agents.data?.items ?? []} onClose={() => setEditing(false)} onSaved={() => props.onChanged()} />
      )}
      {exporting && <ExportDialog crew={c} onClose={() => setExporting(false)} />}
    </div>
  );
}

function TemplateChooser(props: { onClose: () => void; onCreated: (c: Crew) => void }) {
  const templates = useQuery(() => crewsApi.templates(), []);
  const [key, setKey] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const create = async (t: CrewTemplate) => {
    setBusy(true);
    setError(null);
    try {
      const c = await crewsApi.fromTemplate(t.key, name.trim() ? { name: name.trim() } : {});
      props.onCreated(c);
      props.onClose();
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };
  return (
    <Modal title="New crew from a template" onClose={props.onClose} wide>
      <QueryView query={templates} label="Loading templates…">
        {(list) => {
          const chosen = list.find((t) => t.key === key) ?? list[0];
          if (!chosen) return <Empty title="No templates" />;
          return (
            <form
              className="form"
              onSubmit={(e) => {
                e.preventDefault();
                void create(chosen);
              }}
            >
              <div className="crew-templates" role="radiogroup" aria-label="Crew templates">
                {list.map((t) => (
                  <label key={t.key} className={t.key === chosen.key ? "crew-template active" : "crew-template"} data-template={t.key}>
                    <input type="radio" name="crew-template" value={t.key} checked={t.key === chosen.key} onChange={() => setKey(t.key)} />
                    <span>
                      <strong>{t.name}</strong> <Badge tone="info">{processLabel(t.process)}</Badge>
                      <span className="muted small block">{t.description}</span>
                      <span className="small block">
                        {t.members.map((m) => `${m.name} (${m.crew_role})`).join(" → ")}
                      </span>
                    </span>
                  </label>
                ))}
              </div>
              <Field label="Crew name" hint={`Default: ${chosen.name}. Each member becomes a new agent.`}>
                <input name="template-crew-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={200} placeholder={chosen.name} />
              </Field>
              <ErrorText error={error} />
              <div className="modal-actions">
                <button type="button" className="btn" onClick={props.onClose}>
                  Cancel
                </button>
                <button type="submit" className="btn primary" disabled={busy} data-testid="create-from-template">
                  Create crew
                </button>
              </div>
            </form>
          );
        }}
      </QueryView>
    </Modal>
  );
}

function ImportDialog(props: { onClose: () => void; onImported: (c: Crew) => void }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const c = await crewsApi.importDoc(text);
      props.onImported(c);
      props.onClose();
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };
  return (
    <Modal title="Import a crew" onClose={props.onClose} wide>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field label="Crew file" hint="A crew exported as JSON or YAML.">
          <input
            type="file"
            name="crew-file"
            accept=".json,.yaml,.yml,application/json,text/yaml"
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) f.text().then(setText, (err: unknown) => setError(toApiError(err)));
            }}
          />
        </Field>
        <Field label="Or paste the document">
          <textarea name="crew-document" className="mono" rows={12} spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} />
        </Field>
        <ErrorText error={error} />
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy || !text.trim()}>
            Import crew
          </button>
        </div>
      </form>
    </Modal>
  );
}

function ExportDialog(props: { crew: Crew; onClose: () => void }) {
  const [format, setFormat] = useState<ExportFormat>("json");
  const doc = useQuery(() => crewsApi.exportDoc(props.crew.id, format), [props.crew.id, format]);
  const [copied, setCopied] = useState(false);
  const file = `${props.crew.name.replace(/[^\w.-]+/g, "-").toLowerCase() || "crew"}.${format}`;
  const href = useMemo(
    () =>
      doc.data !== undefined && typeof URL.createObjectURL === "function"
        ? URL.createObjectURL(new Blob([doc.data], { type: format === "json" ? "application/json" : "text/yaml" }))
        : undefined,
    [doc.data, format],
  );
  useEffect(
    () => () => {
      if (href) URL.revokeObjectURL(href);
    },
    [href],
  );
  return (
    <Modal title={`Export ${props.crew.name}`} onClose={props.onClose} wide>
      <div className="form">
        <div className="segmented" role="radiogroup" aria-label="Format">
          {(["json", "yaml"] as const).map((f) => (
            <label key={f} className="seg">
              <input type="radio" name="export-format" checked={format === f} onChange={() => setFormat(f)} /> {f.toUpperCase()}
            </label>
          ))}
        </div>
        {doc.error ? (
          <ErrorPanel error={doc.error} onRetry={doc.reload} />
        ) : doc.data === undefined ? (
          <Loading label="Exporting…" />
        ) : (
          <textarea className="mono" aria-label="Crew document" rows={14} readOnly value={doc.data} />
        )}
        <div className="modal-actions">
          <button
            type="button"
            className="btn"
            disabled={!doc.data}
            onClick={() => {
              void navigator.clipboard?.writeText(doc.data ?? "").then(() => setCopied(true));
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
          {href && (
            <a className="btn primary" href={href} download={file}>
              Save {file}
            </a>
          )}
        </div>
      </div>
    </Modal>
  );
}
