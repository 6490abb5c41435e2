// The Workflows tab of the task board: reusable DAGs of steps, starting a
// run with an input, and each run drawn as a live graph of its steps.
import { useEffect, useState } from "react";
import { api, ApiError, toApiError } from "../api";
import type { Workflow } from "../bindings/Workflow";
import type { WorkflowDefinition } from "../bindings/WorkflowDefinition";
import type { WorkflowRun } from "../bindings/WorkflowRun";
import { useQuery } from "../hooks";
import { WorkflowDag } from "../components/Dag";
import { Badge, Empty, ErrorText, Field, Modal, QueryView, relativeTime } from "../components/ui";
import { statusLabel, statusTone } from "./TaskDrawer";

const EXAMPLE = `{
  "steps": [
    { "key": "research", "title": "Research", "prompt": "Collect facts about {{input}}", "capabilities": ["research"] },
    { "key": "write", "title": "Write", "prompt": "Write a short brief from: {{research.output}}", "depends_on": ["research"], "capabilities": ["writing"] }
  ],
  "on_failure": "fail"
}`;

export function WorkflowsPanel(props: { onOpenTask: (id: string) => void }) {
  const workflows = useQuery(() => api.workflows.list(false, { limit: 500 }), [], ["workflow"]);
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const items = workflows.data?.items ?? [];
  const current = items.find((w) => w.id === selected) ?? items[0];

  return (
    <div className="workflows">
      <div className="wf-list panel">
        <div className="panel-head">
          <h2>Workflows</h2>
          <button type="button" className="btn small" onClick={() => setCreating(true)} data-testid="new-workflow">
            New workflow
          </button>
        </div>
        <QueryView query={workflows} label="Loading workflows…">
          {(page) =>
            page.items.length === 0 ? (
              <Empty title="No workflows yet">A workflow is a graph of steps; each step becomes a task for an agent.</Empty>
            ) : (
              <ul className="plain" aria-label="Workflows">
                {page.items.map((w) => (
                  <li key={w.id}>
                    <button
                      type="button"
                      className={w.id === current?.id ? "wf-item active" : "wf-item"}
                      aria-current={w.id === current?.id ? "true" : undefined}
                      onClick={() => setSelected(w.id)}
                    >
                      <strong>{w.name}</strong>
                      <span className="muted small">
                        {w.definition.steps.length} step{w.definition.steps.length === 1 ? "" : "s"}
                        {w.is_template && " · template"}
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            )
          }
        </QueryView>
      </div>
      <div className="wf-detail">
        {current ? <WorkflowDetail key={current.id} workflow={current} onOpenTask={props.onOpenTask} /> : null}
      </div>
      {creating && (
        <WorkflowCreator
          onClose={() => setCreating(false)}
          onSaved={(w) => {
            setSelected(w.id);
            workflows.reload();
          }}
        />
      )}
    </div>
  );
}

function WorkflowDetail(props: { workflow: Workflow; onOpenTask: (id: string) => void }) {
  const wf = props.workflow;
  const runs = useQuery(() => api.workflows.runs(wf.id), [wf.id], ["workflow_run"]);
  const [runId, setRunId] = useState<string | null>(null);
  const [input, setInput] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const shown = runId ?? runs.data?.[0]?.id ?? null;

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      const run = await api.workflows.run(wf.id, input);
      setRunId(run.id);
      runs.reload();
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="panel wf-panel">
      <div className="panel-head">
        <h2>{wf.name}</h2>
        {wf.is_template && <Badge tone="info">template</Badge>}
      </div>
      {wf.description && <p className="muted">{wf.description}</p>}
      {wf.is_template ? (
        <p className="muted small">A template: make a workflow from it to run it.</p>
      ) : (
        <form
          className="wf-run-form"
          onSubmit={(e) => {
            e.preventDefault();
            void start();
          }}
        >
          <Field label="Input" hint="Steps see it as {{input}}.">
            <textarea name="workflow-input" aria-label="Workflow input" rows={2} value={input} onChange={(e) => setInput(e.target.value)} />
          </Field>
          <button type="submit" className="btn primary" disabled={busy} data-testid="start-run">
            Start run
          </button>
        </form>
      )}
      <ErrorText error={error} />
      <div className="wf-runs">
        <QueryView query={runs} label="Loading runs…">
          {(list) =>
            list.length === 0 ? (
              <>
                <p className="muted small">No run yet. The steps:</p>
                <WorkflowDag steps={wf.definition.steps} states={[]} label={`${wf.name}: steps`} />
              </>
            ) : (
              <>
                <label className="inline run-picker">
                  Run
                  <select aria-label="Run" value={shown ?? ""} onChange={(e) => setRunId(e.target.value)}>
                    {list.map((r) => (
                      <option key={r.id} value={r.id}>
                        {relativeTime(r.created_at)} · {r.status}
                      </option>
                    ))}
                  </select>
                </label>
                {shown && <RunGraph runId={shown} onOpenTask={props.onOpenTask} />}
              </>
            )
          }
        </QueryView>
      </div>
    </div>
  );
}

/** One run, live: its status, the graph coloured by step state, outputs. */
export function RunGraph(props: { runId: string; onOpenTask: (id: string) => void }) {
  const run = useQuery(() => api.workflows.runStatus(props.runId), [props.runId], ["workflow_run", "task"]);
  return (
    <QueryView query={run} label="Loading the run…">
      {(r) => <RunBody run={r} onOpenTask={props.onOpenTask} />}
    </QueryView>
  );
}

function RunBody(props: { run: WorkflowRun; onOpenTask: (id: string) => void }) {
  const r = props.run;
  const titles = new Map(r.definition.steps.map((s) => [s.key, s.title || s.key]));
  return (
    <div className="wf-run" data-run-id={r.id} data-status={r.status}>
      <div className="card-meta">
        <Badge tone={statusTone(r.status)}>{statusLabel(r.status)}</Badge>
        {r.started_at && <span className="muted small">started {relativeTime(r.started_at)}</span>}
        {r.finished_at && <span className="muted small">finished {relativeTime(r.finished_at)}</span>}
      </div>
      {r.error && <p className="error-text">{r.error}</p>}
      <WorkflowDag
        steps={r.definition.steps}
        states={r.steps}
        onSelect={(s) => s.task_id && props.onOpenTask(s.task_id)}
        label="Workflow run graph"
      />
      <div className="dag-legend muted small" aria-hidden="true">
        {(["pending", "running", "completed", "skipped", "failed"] as const).map((s) => (
          <span key={s} className={`legend ${s}`}>
            {s}
          </span>
        ))}
      </div>
      <ul className="plain wf-steps">
        {r.steps.map((s) => (
          <li key={s.key} data-step={s.key}>
            <Badge tone={statusTone(s.status)}>{s.status}</Badge> {titles.get(s.key) ?? s.key}
            {s.task_id && (
              <>
                {" "}
                <button type="button" className="link small" onClick={() => props.onOpenTask(s.task_id as string)}>
                  open task
                </button>
              </>
            )}
            {s.error && <span className="error-text small"> · {s.error}</span>}
            {s.output && <pre className="action">{s.output}</pre>}
          </li>
        ))}
      </ul>
    </div>
  );
}

function WorkflowCreator(props: { onClose: () => void; onSaved: (w: Workflow) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [definition, setDefinition] = useState(EXAMPLE);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => setError(null), [definition]);
  const save = async () => {
    let def: WorkflowDefinition;
    try {
      def = JSON.parse(definition) as WorkflowDefinition;
    } catch (e) {
      setError(new ApiError("INVALID_JSON", `The definition is not valid JSON: ${(e as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      const w = await api.workflows.create({ name, description, definition: def });
      props.onSaved(w);
      props.onClose();
    } catch (e) {
      setError(toApiError(e));
      setBusy(false);
    }
  };
  return (
    <Modal title="New workflow" onClose={props.onClose} wide>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <Field label="Name">
          <input name="workflow-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </Field>
        <Field label="Description">
          <input name="workflow-description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </Field>
        <Field
          label="Definition (JSON)"
          hint="Steps with a unique key, a prompt ({{input}}, {{step.output}}), depends_on, and an agent_id or capabilities."
        >
          <textarea
            name="workflow-definition"
            className="mono"
            rows={12}
            spellCheck={false}
            value={definition}
            onChange={(e) => setDefinition(e.target.value)}
          />
        </Field>
        <ErrorText error={error} />
        <div className="modal-actions">
          <button type="button" className="btn" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="btn primary" disabled={busy}>
            Create workflow
          </button>
        </div>
      </form>
    </Modal>
  );
}
