import { useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { DownloadProgress } from "../bindings/DownloadProgress";
import type { ModelEntry } from "../bindings/ModelEntry";
import type { ModelFile } from "../bindings/ModelFile";
import type { ModelProfile } from "../bindings/ModelProfile";
import { useQuery } from "../hooks";
import { Badge, ErrorText, Field, QueryView, relativeTime } from "../components/ui";

/**
 * How a verdict looks: native tools are the best case; JSON steps and
 * guided steps (a base model) work; unusable does not.
 */
export function verdictTone(p: ModelProfile | null): "good" | "info" | "bad" | "neutral" {
  if (!p) return "neutral";
  if (p.tools === "native") return "good";
  if (p.tools === "json_steps" || p.tools === "guided") return "info";
  return "bad";
}

const SOURCE: Record<ModelProfile["source"], string> = {
  probe: "probed",
  capabilities: "as the provider describes it",
  provider: "learned from the provider's answer",
};

function figure(v: number | null, unit: string): string | null {
  return v == null ? null : `${v.toFixed(1)} ${unit}`;
}

/**
 * Settings → Models: each provider's models with a plain verdict on what
 * they can do as agents ("tools: native", "tools: JSON steps", "tools:
 * guided steps (base model)", "not usable for agents: …"), what the probe measured, and a button to probe again.
 */
export function ModelsPanel() {
  const models = useQuery(() => api.models.list(), [], ["provider"]);
  return (
    <div className="panel models-panel">
      <div className="panel-head">
        <h2>Models</h2>
      </div>
      <p className="muted small">
        What each model can do as an agent. A probe asks three small tool-call questions, one JSON answer and one streamed answer; agents then
        use native tool calls where they work and schema-constrained JSON steps otherwise.
      </p>
      <QueryView query={models} label="Listing models…">
        {(o) => (
          <>
            {o.models.length === 0 ? (
              <p className="muted">No models yet: start Ollama, or put a .gguf file in the data folder's models/.</p>
            ) : (
              <table className="table models-table" aria-label="Models">
                <thead>
                  <tr>
                    <th>Model</th>
                    <th>As an agent</th>
                    <th>Measured</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {o.models.map((m) => (
                    <ModelRow key={`${m.provider}/${m.model.name}`} entry={m} onProbed={models.reload} />
                  ))}
                </tbody>
              </table>
            )}
            {o.unreachable.map(([name, error]) => (
              <p key={name} className="muted small">
                {name}: not reachable — {error.message}
              </p>
            ))}
          </>
        )}
      </QueryView>
      <ModelFiles onChanged={models.reload} />
    </div>
  );
}

function size(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${Math.round(bytes / 1e6)} MB`;
  return `${Math.round(bytes / 1e3)} kB`;
}

/**
 * The embedded engine's GGUF files: the ones it has, a file the user has
 * elsewhere (checked before it is used), and a download from a URL with
 * a progress bar — resumable, sha256-checked, cancellable.
 */
function ModelFiles(props: { onChanged: () => void }) {
  const files = useQuery(() => api.models.files(), [], ["provider"]);
  const [error, setError] = useState<ApiError | null>(null);
  const [adding, setAdding] = useState(false);
  const [url, setUrl] = useState("");
  const [sha, setSha] = useState("");
  const [progress, setProgress] = useState<DownloadProgress | null>(null);
  const [downloading, setDownloading] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const changed = (f: ModelFile, how: string) => {
    setDone(`${f.name} ${how}.`);
    files.reload();
    props.onChanged();
  };
  const addFile = async () => {
    setError(null);
    setDone(null);
    try {
      const path = await api.models.pickFile();
      if (!path) return;
      setAdding(true);
      changed(await api.models.addFile(path), "is ready for the embedded engine");
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setAdding(false);
    }
  };
  const download = async () => {
    setError(null);
    setDone(null);
    const name = url.trim().split("?")[0].split("/").pop() ?? "";
    setDownloading(name);
    setProgress(null);
    try {
      const f = await api.models.download({ url: url.trim(), sha256: sha.trim() || undefined }, setProgress);
      setUrl("");
      setSha("");
      changed(f, f.size_bytes ? `downloaded (${size(f.size_bytes)})` : "downloaded");
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setDownloading(null);
      setProgress(null);
    }
  };
  const pct = progress?.total ? Math.round((100 * progress.downloaded) / progress.total) : null;
  return (
    <div className="model-files">
      <h3>Model files for the embedded engine</h3>
      <QueryView query={files} label="Looking for models…">
        {(list) =>
          list.length === 0 ? (
            <p className="muted">No GGUF file yet.</p>
          ) : (
            <ul className="file-list" aria-label="Model files">
              {list.map((f) => (
                <li key={f.name}>
                  <span className="mono">{f.name}</span> <span className="muted small">{size(f.size_bytes)}</span>{" "}
                  {f.shared && <Badge tone="info">installed with the app</Badge>}
                  {f.linked && <Badge>linked</Badge>}
                </li>
              ))}
            </ul>
          )
        }
      </QueryView>
      <div className="inline-form">
        <button type="button" className="btn small" onClick={addFile} disabled={adding}>
          {adding ? "Checking…" : "Add a GGUF file…"}
        </button>
      </div>
      <form
        className="form download-form"
        onSubmit={(e) => {
          e.preventDefault();
          void download();
        }}
      >
        <div className="grid-2">
          <Field label="Download a model" hint="An http(s) address of a .gguf file.">
            <input aria-label="Model URL" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://…/model.gguf" disabled={downloading !== null} />
          </Field>
          <Field label="sha256 (optional)" hint="The download is checked against it and deleted if it differs.">
            <input aria-label="Model sha256" value={sha} onChange={(e) => setSha(e.target.value)} disabled={downloading !== null} />
          </Field>
        </div>
        <div className="inline-form">
          <button type="submit" className="btn small" disabled={downloading !== null || !url.trim()}>
            Download
          </button>
          {downloading !== null && (
            <button type="button" className="btn small ghost" onClick={() => void api.models.cancelDownload(progress?.file_name ?? downloading)}>
              Cancel download
            </button>
          )}
        </div>
      </form>
      {downloading !== null && (
        <div className="progress-line">
          <progress max={100} value={pct ?? undefined} aria-label="Model download progress" />
          <span className="muted small">
            {progress ? `${progress.phase} · ${size(progress.downloaded)}${progress.total ? ` of ${size(progress.total)}` : ""}` : "starting"}
            {pct !== null ? ` · ${pct}%` : ""}
            {progress && progress.resumed_from > 0 ? ` · resumed at ${size(progress.resumed_from)}` : ""}
          </span>
        </div>
      )}
      {done && <p className="muted small" role="status">{done}</p>}
      <ErrorText error={error} />
    </div>
  );
}

function ModelRow(props: { entry: ModelEntry; onProbed: () => void }) {
  const { provider, model } = props.entry;
  const [profile, setProfile] = useState<ModelProfile | null>(props.entry.profile);
  const [probing, setProbing] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [open, setOpen] = useState(false);
  const probe = async () => {
    setProbing(true);
    setError(null);
    try {
      setProfile(await api.models.probe(provider, model.name));
      setOpen(true);
      props.onProbed();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setProbing(false);
    }
  };
  const measured = profile
    ? [
        profile.native_cases_total != null ? `tool calls ${profile.native_cases_passed}/${profile.native_cases_total}` : null,
        profile.json_schema != null ? `JSON ${profile.json_schema ? "ok" : "failed"}` : null,
        figure(profile.generation_tokens_per_sec, "tok/s"),
        profile.context_length != null ? `${profile.context_length} ctx` : null,
      ].filter((x): x is string => x !== null)
    : [];
  return (
    <>
      <tr data-model={`${provider}/${model.name}`}>
        <td>
          <strong>{model.name}</strong>
          <div className="muted small">{provider}</div>
        </td>
        <td>
          <Badge tone={verdictTone(profile)}>{profile ? profile.verdict : "not probed"}</Badge>
          {profile && profile.reason && profile.tools !== "unusable" && <div className="muted small">{profile.reason}</div>}
          {profile && (
            <div className="muted small">
              {SOURCE[profile.source]} {relativeTime(profile.probed_at)}
            </div>
          )}
        </td>
        <td className="small">{measured.length ? measured.join(" · ") : <span className="muted">—</span>}</td>
        <td className="row-actions">
          <button type="button" className="btn small" onClick={probe} disabled={probing} aria-label={`Probe ${model.name}`}>
            {probing ? "Probing…" : profile ? "Probe again" : "Probe"}
          </button>
          {profile && profile.cases.length > 0 && (
            <button type="button" className="btn small ghost" onClick={() => setOpen((o) => !o)} aria-expanded={open}>
              {open ? "Hide cases" : "Cases"}
            </button>
          )}
        </td>
      </tr>
      {error && (
        <tr>
          <td colSpan={4}>
            <ErrorText error={error} />
          </td>
        </tr>
      )}
      {open && profile && (
        <tr className="probe-cases">
          <td colSpan={4}>
            <ul aria-label={`Probe cases of ${model.name}`}>
              {profile.cases.map((c) => (
                <li key={c.name}>
                  <Badge tone={c.passed ? "good" : "bad"}>{c.passed ? "pass" : "fail"}</Badge> <strong>{c.name}</strong>{" "}
                  <span className="muted small">
                    {c.detail} · {c.ms} ms
                  </span>
                </li>
              ))}
            </ul>
          </td>
        </tr>
      )}
    </>
  );
}
