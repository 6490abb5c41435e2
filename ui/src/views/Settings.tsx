import { useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { ProviderKind } from "../bindings/ProviderKind";
import type { ProviderStatus } from "../bindings/ProviderStatus";
import type { PullProgress } from "../bindings/PullProgress";
import type { Settings } from "../bindings/Settings";
import { useQuery } from "../hooks";
import { Badge, ErrorText, Field, PageHeader, QueryView } from "../components/ui";
import { RunnerStatus } from "../components/RunnerStatus";

export function SettingsView() {
  const info = useQuery(() => api.appInfo(), []);
  const settings = useQuery(() => api.settings.get(), [], ["settings"]);
  return (
    <section>
      <PageHeader title="Settings" subtitle="Providers, defaults, limits and where your data lives." />
      <Providers settings={settings.data} />
      <div className="panels">
        <div className="panel">
          <h2>Work</h2>
          <RunnerStatus />
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
