import { useMemo, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Agent } from "../bindings/Agent";
import type { AgentInput } from "../bindings/AgentInput";
import type { Autonomy } from "../bindings/Autonomy";
import type { ToolDef } from "../bindings/ToolDef";
import { useQuery } from "../hooks";
import { Badge, Empty, ErrorText, Field, Modal, PageHeader, QueryView } from "../components/ui";

const AUTONOMY: { value: Autonomy; label: string; hint: string }[] = [
  { value: "manual", label: "Manual", hint: "Suggests only; you carry it out" },
  { value: "copilot", label: "Copilot", hint: "Drafts; each consequential action waits for your approval" },
  { value: "autopilot", label: "Autopilot", hint: "Acts; you are told afterwards" },
];

function splitList(s: string): string[] {
  return s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
}

export function Agents() {
  const [search, setSearch] = useState("");
  const agents = useQuery(() => api.agents.list({ search }), [search], ["agent"]);
  const [editing, setEditing] = useState<Agent | "new" | null>(null);
  const [deleting, setDeleting] = useState<Agent | null>(null);

  return (
    <section>
      <PageHeader
        title="Agents"
        subtitle="Specialists that take tasks from the board and work in crews."
        actions={
          <>
            <input
              type="search"
              className="search"
              placeholder="Search agents"
              aria-label="Search agents"
              value={search}
              onChange={(e) => setSearch(e.target.value)}
            />
            <button type="button" className="btn primary" onClick={() => setEditing("new")} data-testid="new-agent">
              New agent
            </button>
          </>
        }
      />
      <QueryView query={agents} label="Loading agents…">
        {(page) =>
          page.items.length === 0 ? (
            <Empty title={search ? "No agent matches" : "No agents yet"}>
              {search ? "Try another search." : "Create one from a template: a researcher, an analyst, a writer…"}
            </Empty>
          ) : (
            <table className="table" aria-label="Agents">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Role</th>
                  <th>Autonomy</th>
                  <th>Status</th>
                  <th>Capabilities</th>
                  <th>Model</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {page.items.map((a) => (
                  <tr key={a.id} data-agent-id={a.id}>
                    <td className="strong agent-name">{a.name}</td>
                    <td>{a.role || <span className="muted">—</span>}</td>
                    <td>
                      <Badge tone={a.autonomy === "autopilot" ? "warn" : a.autonomy === "copilot" ? "info" : "neutral"}>
                        {a.autonomy}
                      </Badge>
                    </td>
                    <td>
                      <Badge tone={a.status === "error" ? "bad" : a.status === "busy" ? "good" : "neutral"}>
                        {a.enabled ? a.status : "disabled"}
                      </Badge>
                    </td>
                    <td className="tags">
                      {a.capabilities.map((c) => (
                        <span key={c} className="tag">
                          {c}
                        </span>
                      ))}
                    </td>
                    <td className="muted">{[a.provider ?? "default", a.model].filter(Boolean).join(" / ")}</td>
                    <td className="row-actions">
                      <button type="button" className="btn small" onClick={() => setEditing(a)} aria-label={`Edit ${a.name}`}>
                        Edit
                      </button>
                      <button
                        type="button"
                        className="btn small danger"
                        onClick={() => setDeleting(a)}
                        aria-label={`Delete ${a.name}`}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
      {editing && (
        <AgentEditor agent={editing === "new" ? null : editing} onClose={() => setEditing(null)} onSaved={agents.reload} />
      )}
      {deleting && <DeleteAgent agent={deleting} onClose={() => setDeleting(null)} onDone={agents.reload} />}
    </section>
  );
}

function DeleteAgent(props: { agent: Agent; onClose: () => void; onDone: () => void }) {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Modal title={`Delete ${props.agent.name}?`} onClose={props.onClose}>
      <p>Its tasks stay on the board without an assignee; its crew memberships are removed.</p>
      <ErrorText error={error} />
      <div className="modal-actions">
        <button type="button" className="btn" onClick={props.onClose}>
          Keep
        </button>
        <button
          type="button"
          className="btn danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await api.agents.remove(props.agent.id);
              props.onDone();
              props.onClose();
            } catch (e) {
              setError(toApiError(e));
              setBusy(false);
            }
          }}
        >
          Delete agent
        </button>
      </div>
    </Modal>
  );
}

export function AgentEditor(props: { agent: Agent | null; onClose: () => void; onSaved: () => void }) {
  const a = props.agent;
  const templates = useQuery(() => api.agentTemplates(), []);
  const providers = useQuery(() => api.providers.list(), []);
  // The models each provider has, to pick from (asked once; typing any name works too).
  const overview = useQuery(() => api.providers.overview(), []);
  const [template, setTemplate] = useState("");
  const [name, setName] = useState(a?.name ?? "");
  const [role, setRole] = useState(a?.role ?? "");
  const [capabilities, setCapabilities] = useState(a?.capabilities.join(", ") ?? "");
  const [allowed, setAllowed] = useState<string[]>(a?.allowed_tools ?? []);
  const [toolAutonomy, setToolAutonomy] = useState<Record<string, Autonomy>>(() => {
    const o: Record<string, Autonomy> = {};
    for (const [k, v] of Object.entries(a?.tool_autonomy ?? {})) if (v) o[k] = v;
    return o;
  });
  const [autonomy, setAutonomy] = useState<Autonomy>(a?.autonomy ?? "copilot");
  const [provider, setProvider] = useState(a?.provider ?? "");
  const [model, setModel] = useState(a?.model ?? "");
  const [prompt, setPrompt] = useState(a?.system_prompt ?? "");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const models = useMemo(() => {
    const list = (overview.data?.providers ?? [])
      .filter((p) => (provider ? p.config.name === provider : p.active))
      .flatMap((p) => p.models.map((m) => m.name));
    return Array.from(new Set(list));
  }, [overview.data, provider]);

  const pickTemplate = (key: string) => {
    setTemplate(key);
    const t = templates.data?.find((x) => x.key === key);
    if (!t) return;
    if (!name.trim()) setName(t.name);
    setRole(t.role);
    setCapabilities(t.capabilities.join(", "));
    setAllowed(t.allowed_tools);
    setAutonomy(t.autonomy);
    setPrompt(t.system_prompt);
  };

  const save = async () => {
    setBusy(true);
    setError(null);
    const input: AgentInput = {
      name,
      role,
      capabilities: splitList(capabilities),
      allowed_tools: allowed,
      // Overrides only for the tools the agent may use.
      tool_autonomy: Object.fromEntries(Object.entries(toolAutonomy).filter(([k]) => allowed.includes(k))),
      autonomy,
      provider,
      model,
      system_prompt: prompt,
    };
    try {
      if (a) await api.agents.update(a.id, input);
      else await api.agents.create(template ? { ...input, template } : input);
      props.onSaved();
      props.onClose();
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };

  return (
    <Modal title={a ? `Edit ${a.name}` : "New agent"} onClose={props.onClose} wide>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        {!a && (
          <Field label="Start from a template" hint="Fills in role, prompt, capabilities, tools and autonomy.">
            <select value={template} onChange={(e) => pickTemplate(e.target.value)} name="template">
              <option value="">Blank agent</option>
              {templates.data?.map((t) => (
                <option key={t.key} value={t.key}>
                  {t.name} — {t.description}
                </option>
              ))}
            </select>
          </Field>
        )}
        <div className="grid-2">
          <Field label="Name">
            <input name="name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
          </Field>
          <Field label="Role">
            <input name="role" value={role} onChange={(e) => setRole(e.target.value)} placeholder="analyst" />
          </Field>
        </div>
        <Field label="Capabilities" hint="Comma-separated; routing matches tasks to these.">
          <input
            name="capabilities"
            value={capabilities}
            onChange={(e) => setCapabilities(e.target.value)}
            placeholder="sql_query, data_analysis"
          />
        </Field>
        <fieldset className="field">
          <legend className="field-label">Autonomy</legend>
          <div className="segmented">
            {AUTONOMY.map((o) => (
              <label key={o.value} className={autonomy === o.value ? "seg active" : "seg"} title={o.hint}>
                <input
                  type="radio"
                  name="autonomy"
                  value={o.value}
                  checked={autonomy === o.value}
                  onChange={() => setAutonomy(o.value)}
                />
                {o.label}
              </label>
            ))}
          </div>
          <span className="field-hint">{AUTONOMY.find((o) => o.value === autonomy)?.hint}</span>
        </fieldset>
        <ToolPicker
          allowed={allowed}
          onAllowed={setAllowed}
          overrides={toolAutonomy}
          onOverrides={setToolAutonomy}
          autonomy={autonomy}
        />
        <div className="grid-2">
          <Field label="Provider" hint="Empty uses the app default.">
            <select name="provider" value={provider} onChange={(e) => setProvider(e.target.value)}>
              <option value="">App default</option>
              {providers.data?.map((p) => (
                <option key={p.id} value={p.name}>
                  {p.name} ({p.kind})
                </option>
              ))}
            </select>
          </Field>
          <Field label="Model" hint="Empty uses the provider's default.">
            <input
              name="model"
              list="agent-models"
              value={model}
              onChange={(e) => setModel(e.target.value)}
              placeholder="llama3.2"
            />
            <datalist id="agent-models">
              {models.map((m) => (
                <option key={m} value={m} />
              ))}
            </datalist>
          </Field>
        </div>
        <Field label="System prompt">
          <textarea name="system_prompt" rows={5} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </Field>
        <ErrorText error={error} />
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy} data-testid="save-agent">
            {a ? "Save changes" : "Create agent"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/**
 * The tools an agent may use, from the tools this app offers: each with its
 * category, whether it is consequential (under copilot it waits for your
 * approval) and why it cannot run here; a per-tool autonomy override for the
 * checked ones. Allowed tools the app does not offer now (an MCP server that
 * is off) stay listed, so saving does not drop them.
 */
function ToolPicker(props: {
  allowed: string[];
  onAllowed: (v: string[]) => void;
  overrides: Record<string, Autonomy>;
  onOverrides: (v: Record<string, Autonomy>) => void;
  autonomy: Autonomy;
}) {
  const tools = useQuery(() => api.tools.list(), []);
  const offered: ToolDef[] = tools.data ?? [];
  const missing = props.allowed.filter((n) => !offered.some((t) => t.name === n));
  const toggle = (name: string, on: boolean) =>
    props.onAllowed(on ? [...props.allowed, name] : props.allowed.filter((n) => n !== name));
  const setOverride = (name: string, v: string) => {
    const next = { ...props.overrides };
    if (v) next[name] = v as Autonomy;
    else delete next[name];
    props.onOverrides(next);
  };
  const row = (name: string, def: ToolDef | undefined) => {
    const on = props.allowed.includes(name);
    const effective = props.overrides[name] ?? props.autonomy;
    return (
      <li key={name} className={on ? "tool-row on" : "tool-row"} data-tool={name}>
        <label className="tool-check">
          <input type="checkbox" checked={on} onChange={(e) => toggle(name, e.target.checked)} aria-label={name} />
          <span className="mono">{name}</span>
        </label>
        <span className="tool-badges">
          {def ? <span className="tag">{def.category}</span> : <Badge tone="warn">not offered now</Badge>}
          {def?.requires_approval && (
            <Badge tone={effective === "copilot" ? "info" : "neutral"}>
              {effective === "copilot" ? "asks you first" : "consequential"}
            </Badge>
          )}
          {def?.unavailable && <Badge tone="bad">unavailable</Badge>}
        </span>
        {on && (
          <select
            className="tool-autonomy"
            aria-label={`Autonomy for ${name}`}
            value={props.overrides[name] ?? ""}
            onChange={(e) => setOverride(name, e.target.value)}
          >
            <option value="">Agent's autonomy ({props.autonomy})</option>
            {AUTONOMY.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        )}
        {def?.unavailable && <span className="field-hint tool-why">{def.unavailable}</span>}
      </li>
    );
  };
  return (
    <fieldset className="field tool-picker">
      <legend className="field-label">Allowed tools</legend>
      {tools.error && <ErrorText error={tools.error} />}
      {tools.loading && !tools.data && <span className="muted small">Loading tools…</span>}
      <ul className="tool-list" aria-label="Allowed tools">
        {offered.map((t) => row(t.name, t))}
        {missing.map((n) => row(n, undefined))}
      </ul>
      <span className="field-hint">
        {props.allowed.length === 0 ? "No tools: the agent only thinks and answers." : `${props.allowed.length} allowed.`}
      </span>
    </fieldset>
  );
}
