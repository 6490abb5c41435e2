import { useEffect, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { McpServerConfig } from "../bindings/McpServerConfig";
import type { McpStatus } from "../bindings/McpStatus";
import type { ProviderKind } from "../bindings/ProviderKind";
import type { ProviderStatus } from "../bindings/ProviderStatus";
import type { PullProgress } from "../bindings/PullProgress";
import type { Settings } from "../bindings/Settings";
import { useQuery } from "../hooks";
import { Badge, Empty, ErrorText, Field, PageHeader, QueryView } from "../components/ui";
import { RunnerStatus } from "../components/RunnerStatus";
import { DataPanel, ToolSettings, WorkSettings } from "./SettingsForms";
import { ModelsPanel } from "./SettingsModels";

export function SettingsView() {
  const info = useQuery(() => api.appInfo(), []);
  const settings = useQuery(() => api.settings.get(), [], ["settings"]);
  return (
    <section>
      <PageHeader title="Settings" subtitle="Providers, limits, what tools may reach, and your data: where it lives, export and import." />
      <Providers settings={settings.data} />
      <ModelsPanel />
      <McpServers settings={settings.data} />
      <div className="panels">
        <div className="panel">
          <h2>Work</h2>
          <RunnerStatus />
          <QueryView query={settings}>{(s) => <WorkSettings settings={s} />}</QueryView>
        </div>
        <div className="panel">
          <h2>Tools</h2>
          <QueryView query={settings}>{(s) => <ToolSettings settings={s} />}</QueryView>
        </div>
      </div>
      <QueryView query={info}>{(i) => <DataPanel info={i} />}</QueryView>
    </section>
  );
}

function Providers(props: { settings: Settings | undefined }) {
  const overview = useQuery(() => api.providers.overview(), [], ["provider", "settings"]);
  const [adding, setAdding] = useState(false);
  return (
    <div className="panel providers-panel">
      <div className="panel-head">
        <h2>Model providers</h2>
        <button type="button" className="btn small" onClick={() => setAdding((a) => !a)}>
          {adding ? "Close" : "Add provider"}
        </button>
      </div>
      <QueryView query={overview} label="Asking each provider…">
        {(o) => (
          <>
            <p className="in-use" data-testid="provider-in-use">
              In use: <strong>{o.default.provider}</strong> <span className="muted">— {o.default.reason}</span>
            </p>
            <Defaults settings={props.settings} providers={o.providers} />
            <div className="provider-grid">
              {o.providers.map((p) => (
                <ProviderCard key={p.config.id} initial={p} onChanged={overview.reload} />
              ))}
            </div>
          </>
        )}
      </QueryView>
      {adding && (
        <AddProvider
          onDone={() => {
            setAdding(false);
            overview.reload();
          }}
        />
      )}
    </div>
  );
}

function Defaults(props: { settings: Settings | undefined; providers: ProviderStatus[] }) {
  const [error, setError] = useState<ApiError | null>(null);
  const s = props.settings;
  if (!s) return null;
  const save = async (patch: { default_provider?: string; default_model?: string }) => {
    setError(null);
    try {
      await api.settings.update(patch);
    } catch (e) {
      setError(toApiError(e));
    }
  };
  return (
    <div className="grid-2 defaults">
      <Field label="Default provider" hint="Automatic: Ollama when it answers, otherwise the embedded model.">
        <select
          aria-label="Default provider"
          value={s.default_provider ?? ""}
          onChange={(e) => void save({ default_provider: e.target.value })}
        >
          <option value="">Automatic</option>
          {props.providers.map((p) => (
            <option key={p.config.id} value={p.config.name}>
              {p.config.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label="Default model" hint="Empty: the provider's own default.">
        <input
          aria-label="Default model"
          defaultValue={s.default_model ?? ""}
          placeholder="e.g. llama3.2"
          onBlur={(e) => {
            if (e.target.value !== (s.default_model ?? "")) void save({ default_model: e.target.value });
          }}
        />
      </Field>
      <ErrorText error={error} />
    </div>
  );
}

function ProviderCard(props: { initial: ProviderStatus; onChanged: () => void }) {
  const [p, setP] = useState(props.initial);
  const [testing, setTesting] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [key, setKey] = useState("");
  const [keySaved, setKeySaved] = useState<string | null>(null);
  const [pullModel, setPullModel] = useState("");
  const [progress, setProgress] = useState<PullProgress | null>(null);
  const [pulling, setPulling] = useState(false);
  const c = p.config;

  const test = async () => {
    setTesting(true);
    setError(null);
    try {
      setP(await api.providers.test(c.name));
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setTesting(false);
    }
  };
  const saveKey = async () => {
    setError(null);
    try {
      const where = await api.providers.setKey(c.name, key);
      setKey("");
      setKeySaved(where === "keyring" ? "Saved in the system keyring." : "Saved in a private file (no keyring found).");
      await test();
    } catch (e) {
      setError(toApiError(e));
    }
  };
  const pull = async () => {
    setPulling(true);
    setError(null);
    setProgress({ status: "starting", completed: null, total: null });
    try {
      await api.providers.pull(c.name, pullModel, setProgress);
      setPullModel("");
      await test();
      props.onChanged();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setPulling(false);
    }
  };
  const pct = progress?.total ? Math.round((100 * Number(progress.completed ?? 0)) / Number(progress.total)) : null;

  return (
    <article className="provider-card" data-provider={c.name}>
      <div className="card-meta">
        <strong>{c.name}</strong>
        <Badge tone="info">{c.kind.replace("_", " ")}</Badge>
        {p.active && <Badge tone="good">in use</Badge>}
        {p.reachable ? <Badge tone="good">connected</Badge> : <Badge tone="bad">not available</Badge>}
        {p.breaker.state !== "closed" && (
          <Badge tone="warn">
            paused after failures{p.breaker.retry_in_secs != null ? ` · retry in ${p.breaker.retry_in_secs}s` : ""}
          </Badge>
        )}
      </div>
      <p className="muted small mono">{c.base_url || "in-process (llama.cpp)"}</p>
      {p.error && <p className="error-text small">{p.error.message}</p>}
      {p.models.length > 0 && (
        <div className="tags" aria-label={`Models of ${c.name}`}>
          {p.models.map((m) => (
            <span key={m.name} className="tag">
              {m.name}
            </span>
          ))}
        </div>
      )}
      {(c.kind === "openai_compatible" || c.kind === "anthropic") && (
        <div className="inline-form">
          <input
            type="password"
            aria-label={`API key for ${c.name}`}
            placeholder={p.has_api_key ? "Key stored — paste to replace" : "API key"}
            value={key}
            onChange={(e) => setKey(e.target.value)}
          />
          <button type="button" className="btn small" onClick={saveKey} disabled={!key.trim()}>
            Save key
          </button>
        </div>
      )}
      {keySaved && <p className="muted small">{keySaved}</p>}
      {c.kind === "ollama" && (
        <div className="inline-form">
          <input
            aria-label="Model to pull"
            placeholder="Model to pull, e.g. llama3.2"
            value={pullModel}
            onChange={(e) => setPullModel(e.target.value)}
            disabled={pulling}
          />
          <button type="button" className="btn small" onClick={pull} disabled={pulling || !pullModel.trim()}>
            Pull
          </button>
        </div>
      )}
      {pulling && progress && (
        <div className="progress-line">
          <progress max={100} value={pct ?? undefined} aria-label="Download progress" />
          <span className="muted small">
            {progress.status}
            {pct !== null ? ` · ${pct}%` : ""}
          </span>
        </div>
      )}
      <ErrorText error={error} />
      <div>
        <button type="button" className="btn small" onClick={test} disabled={testing}>
          {testing ? "Testing…" : "Test connection"}
        </button>
      </div>
    </article>
  );
}

function AddProvider(props: { onDone: () => void }) {
  const [name, setName] = useState("");
  const [kind, setKind] = useState<ProviderKind>("openai_compatible");
  const [url, setUrl] = useState("http://127.0.0.1:8080/v1");
  const [model, setModel] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const save = async () => {
    try {
      await api.providers.create({ name, kind, base_url: url, default_model: model });
      props.onDone();
    } catch (e) {
      setError(toApiError(e));
    }
  };
  return (
    <form
      className="form add-provider"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <div className="grid-2">
        <Field label="Name" hint="Agents refer to it by this name.">
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="lmstudio" />
        </Field>
        <Field label="Kind">
          <select
            value={kind}
            onChange={(e) => {
              const k = e.target.value as ProviderKind;
              setKind(k);
              setUrl(k === "anthropic" ? "https://api.anthropic.com" : k === "ollama" ? "http://127.0.0.1:11434" : "http://127.0.0.1:8080/v1");
            }}
          >
            <option value="openai_compatible">OpenAI-compatible (llama.cpp server, LM Studio, vLLM, OpenAI)</option>
            <option value="anthropic">Anthropic</option>
            <option value="ollama">Ollama (another host)</option>
          </select>
        </Field>
        <Field label="Base URL">
          <input value={url} onChange={(e) => setUrl(e.target.value)} />
        </Field>
        <Field label="Default model">
          <input value={model} onChange={(e) => setModel(e.target.value)} />
        </Field>
      </div>
      <ErrorText error={error} />
      <div className="modal-actions">
        <button type="submit" className="btn primary">
          Add provider
        </button>
      </div>
    </form>
  );
}

const MCP_REFRESH_MS = 5000;

const MCP_TONE: Record<McpStatus["state"], "good" | "bad" | "warn" | "neutral" | "info"> = {
  running: "good",
  starting: "info",
  exited: "warn",
  failed: "bad",
  disabled: "neutral",
};

/**
 * MCP servers: each configured server's live state (as started with the
 * app), the tools it contributes, restarts and its last error; add, turn
 * off or remove one (changes take effect at the next start, when servers
 * are started and their tools listed).
 */
function McpServers(props: { settings: Settings | undefined }) {
  const statuses = useQuery(() => api.tools.mcpStatuses(), [], ["settings"]);
  // A server can exit or be restarted at any time; its status is in memory, cheap to read.
  const reload = statuses.reload;
  useEffect(() => {
    const t = setInterval(reload, MCP_REFRESH_MS);
    return () => clearInterval(t);
  }, [reload]);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const configured = props.settings?.mcp_servers ?? [];
  const save = async (next: McpServerConfig[]) => {
    setError(null);
    try {
      await api.settings.update({ mcp_servers: next });
      return true;
    } catch (e) {
      setError(toApiError(e));
      return false;
    }
  };
  return (
    <div className="panel mcp-panel">
      <div className="panel-head">
        <h2>MCP servers</h2>
        <button type="button" className="btn small" onClick={() => setAdding((a) => !a)}>
          {adding ? "Close" : "Add server"}
        </button>
      </div>
      <QueryView query={statuses} label="Reading the MCP servers…">
        {(list) => {
          const started = new Set(list.map((s) => s.server));
          const pendingStart = configured.filter((c) => !started.has(c.name));
          if (list.length === 0 && pendingStart.length === 0) {
            return (
              <Empty title="No MCP servers">
                A stdio MCP server adds its tools (named server__tool) to the ones agents can use.
              </Empty>
            );
          }
          return (
            <table className="table" aria-label="MCP servers">
              <thead>
                <tr>
                  <th>Server</th>
                  <th>State</th>
                  <th>Tools</th>
                  <th>Last error</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {list.map((st) => {
                  const cfg = configured.find((c) => c.name === st.server);
                  return (
                    <tr key={st.server} data-mcp-server={st.server}>
                      <td>
                        <div className="strong">{st.server}</div>
                        {cfg && <div className="muted small mono">{[cfg.command, ...cfg.args].join(" ")}</div>}
                      </td>
                      <td>
                        <Badge tone={MCP_TONE[st.state]}>{st.state}</Badge>
                        {st.restarts > 0 && <span className="muted small"> · restarted {st.restarts}×</span>}
                      </td>
                      <td>
                        <span className="tool-count">
                          {st.tools.length === 1 ? "1 tool" : `${st.tools.length} tools`}
                        </span>
                        {st.tools.length > 0 && <div className="muted small mono">{st.tools.join(", ")}</div>}
                      </td>
                      <td className="error-cell">
                        {st.last_error ? <span className="error-text small">{st.last_error}</span> : <span className="muted">—</span>}
                      </td>
                      <td className="row-actions">
                        {cfg && (
                          <McpActions
                            config={cfg}
                            onSave={(next) => save(configured.map((c) => (c.name === cfg.name ? next : c)))}
                            onRemove={() => save(configured.filter((c) => c.name !== cfg.name))}
                          />
                        )}
                        {!cfg && <span className="muted small">removed; gone at the next start</span>}
                      </td>
                    </tr>
                  );
                })}
                {pendingStart.map((c) => (
                  <tr key={`new-${c.name}`} data-mcp-server={c.name}>
                    <td>
                      <div className="strong">{c.name}</div>
                      <div className="muted small mono">{[c.command, ...c.args].join(" ")}</div>
                    </td>
                    <td>
                      <Badge tone="neutral">starts at the next launch</Badge>
                    </td>
                    <td className="muted">—</td>
                    <td className="muted">—</td>
                    <td className="row-actions">
                      <McpActions
                        config={c}
                        onSave={(next) => save(configured.map((x) => (x.name === c.name ? next : x)))}
                        onRemove={() => save(configured.filter((x) => x.name !== c.name))}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          );
        }}
      </QueryView>
      <ErrorText error={error} />
      {adding && (
        <AddMcpServer
          onAdd={async (c) => {
            if (await save([...configured, c])) setAdding(false);
          }}
        />
      )}
      <p className="muted small">Changes take effect the next time Ensemble starts.</p>
    </div>
  );
}

function McpActions(props: {
  config: McpServerConfig;
  onSave: (next: McpServerConfig) => Promise<boolean>;
  onRemove: () => Promise<boolean>;
}) {
  const c = props.config;
  return (
    <>
      <button type="button" className="btn small" onClick={() => void props.onSave({ ...c, enabled: !c.enabled })}>
        {c.enabled ? "Turn off" : "Turn on"}
      </button>
      <button type="button" className="btn small danger" aria-label={`Remove ${c.name}`} onClick={() => void props.onRemove()}>
        Remove
      </button>
    </>
  );
}

/** Splits a command line on spaces, keeping "quoted parts" together. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) !== null) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function AddMcpServer(props: { onAdd: (c: McpServerConfig) => Promise<void> }) {
  const [name, setName] = useState("");
  const [line, setLine] = useState("");
  const parts = splitCommand(line);
  return (
    <form
      className="form add-mcp"
      onSubmit={(e) => {
        e.preventDefault();
        if (!name.trim() || parts.length === 0) return;
        void props.onAdd({ name: name.trim(), command: parts[0], args: parts.slice(1), env: {}, enabled: true });
      }}
    >
      <div className="grid-2">
        <Field label="Server name" hint="Its tools are named name__tool.">
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="files" />
        </Field>
        <Field label="Command" hint="Started with its arguments; talks MCP over stdin/stdout.">
          <input value={line} onChange={(e) => setLine(e.target.value)} placeholder="npx -y @modelcontextprotocol/server-filesystem /home/me/docs" />
        </Field>
      </div>
      <div className="modal-actions">
        <button type="submit" className="btn primary" disabled={!name.trim() || parts.length === 0}>
          Add MCP server
        </button>
      </div>
    </form>
  );
}
