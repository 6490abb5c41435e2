// The guided start a fresh install opens on: which model will answer (Ollama,
// or the embedded engine when Ollama is not running), a starter crew from a
// template, and where approvals will appear. Finishing or skipping records
// `first_run_completed`, so it shows once.
import { useState } from "react";
import { api, type ApiError, toApiError } from "../api";
import { crewsApi } from "../crewsApi";
import { useQuery } from "../hooks";
import { ErrorText, Loading } from "./ui";
import type { View } from "../App";
import type { Crew } from "../bindings/Crew";
import type { ProvidersOverview } from "../bindings/ProvidersOverview";

/** What the guide says about models, from the providers overview. */
export function modelSummary(o: ProvidersOverview): { tone: "good" | "info" | "bad"; text: string } {
  const ollama = o.providers.find((p) => p.config.kind === "ollama" && p.config.enabled && p.reachable);
  const embedded = o.providers.find((p) => p.config.kind === "embedded" && p.config.enabled);
  if (ollama) {
    const n = ollama.models.length;
    return {
      tone: "good",
      text: `Ollama is running at ${ollama.config.base_url} with ${n} model${n === 1 ? "" : "s"}; agents will use it.`,
    };
  }
  if (embedded && embedded.reachable) {
    return {
      tone: "info",
      text: "Ollama is not running here, so agents use the built-in engine and its bundled model (Gemma 3 270M). It works offline; start Ollama any time and Ensemble switches to it.",
    };
  }
  return {
    tone: "bad",
    text: `No model is ready: Ollama is not running and the built-in model is missing${
      embedded?.error ? ` (${embedded.error.message})` : ""
    }. Install Ollama, or run "make run" again to fetch the built-in model.`,
  };
}

export function GuidedStart(props: { go: (v: View) => void }) {
  const overview = useQuery(() => api.providers.overview(), [], ["provider"]);
  const templates = useQuery(() => crewsApi.templates(), []);
  const [choice, setChoice] = useState<string>("");
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Crew | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [closing, setClosing] = useState(false);

  const key = choice || templates.data?.[0]?.key || "";
  const create = async () => {
    if (!key) return;
    setCreating(true);
    setError(null);
    try {
      setCreated(await crewsApi.fromTemplate(key));
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setCreating(false);
    }
  };
  const finish = async (then?: View) => {
    setClosing(true);
    setError(null);
    try {
      await api.settings.update({ first_run_completed: true });
      if (then) props.go(then);
    } catch (e) {
      setError(toApiError(e));
      setClosing(false);
    }
  };

  const summary = overview.data ? modelSummary(overview.data) : null;
  return (
    <section className="panel guided-start" aria-labelledby="guided-title" data-testid="guided-start">
      <div className="panel-head">
        <h2 id="guided-title">Welcome to Ensemble</h2>
        <button type="button" className="btn small ghost" onClick={() => finish()} disabled={closing}>
          Skip
        </button>
      </div>
      <p className="muted">Three things, then your agents are ready to work.</p>
      <ol className="steps">
        <li>
          <h3>Models</h3>
          {overview.error ? (
            <ErrorText error={overview.error} />
          ) : summary ? (
            <p className={`model-summary ${summary.tone}`} data-testid="model-summary">
              {summary.text}
            </p>
          ) : (
            <Loading label="Looking for Ollama…" />
          )}
        </li>
        <li>
          <h3>A starter crew</h3>
          {created ? (
            <p data-testid="starter-created">
              Created <strong>{created.name}</strong> with {created.members.length} agents.{" "}
              <button type="button" className="link" onClick={() => finish("crews")}>
                Open it in Crews
              </button>
            </p>
          ) : templates.error ? (
            <ErrorText error={templates.error} />
          ) : !templates.data ? (
            <Loading />
          ) : (
            <div className="starter">
              <div role="radiogroup" aria-label="Crew template" className="template-choices">
                {templates.data.map((t) => (
                  <label key={t.key} className={t.key === key ? "template-choice active" : "template-choice"}>
                    <input
                      type="radio"
                      name="starter-template"
                      value={t.key}
                      checked={t.key === key}
                      onChange={() => setChoice(t.key)}
                    />
                    <span>
                      <strong>{t.name}</strong>
                      <span className="muted small"> · {t.members.length} agents · {t.process.replace("_", " ")}</span>
                      <span className="small template-description">{t.description}</span>
                    </span>
                  </label>
                ))}
              </div>
              <button type="button" className="btn primary" onClick={create} disabled={creating || !key} data-testid="create-starter">
                {creating ? "Creating…" : "Create this crew"}
              </button>
            </div>
          )}
        </li>
        <li>
          <h3>Where approvals appear</h3>
          <p>
            Agents in copilot mode ask before anything consequential. Requests wait in the{" "}
            <button type="button" className="link" onClick={() => props.go("approvals")}>
              Approvals
            </button>{" "}
            inbox (with a count in the sidebar), in the system tray menu, and as desktop notifications. Unanswered requests
            expire after the time set in Settings and count as rejected.
          </p>
        </li>
      </ol>
      <ErrorText error={error} />
      <div className="actions">
        <button type="button" className="btn primary" onClick={() => finish(created ? "crews" : undefined)} disabled={closing} data-testid="finish-guide">
          {created ? "Done — go to my crew" : "Done"}
        </button>
      </div>
    </section>
  );
}
