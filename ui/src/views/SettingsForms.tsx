// The editable parts of Settings: work limits and defaults, what tools may
// reach (web_fetch allow-list, code_run without a sandbox, SQLite files for
// sql_query), and the data panel (where the data lives, export, import,
// demo data). Each form checks its values before sending them, saves only
// what changed, and shows the app's own error when it refuses them.
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from "react";
import { api, ApiError, toApiError } from "../api";
import type { AppInfo } from "../bindings/AppInfo";
import { SETTINGS_LIMITS } from "../bindings/limits";
import type { Autonomy } from "../bindings/Autonomy";
import type { Settings } from "../bindings/Settings";
import type { SettingsPatch } from "../bindings/SettingsPatch";
import type { SqlDatabase } from "../bindings/SqlDatabase";
import { ErrorText, Modal } from "../components/ui";
import "./settings.css";

// ------------------------------------------------------------ validation

/** The settings' bounds, generated from the Rust rules (ui/src/bindings/limits.ts). */
export const LIMITS = SETTINGS_LIMITS;

/** A whole number within bounds, or why not. */
export function wholeNumberError(text: string, min: number, max: number): string | null {
  const t = text.trim();
  if (t === "") return "Required.";
  if (!/^\d+$/.test(t)) return `Enter a whole number from ${min} to ${max}.`;
  const n = Number(t);
  if (n < min || n > max) return `Enter a whole number from ${min} to ${max}.`;
  return null;
}

/** A web_fetch allow-list entry: a host or host:port, no scheme or path. */
export function hostError(entry: string, existing: string[]): string | null {
  const v = entry.trim().toLowerCase();
  if (v === "") return "Enter a host such as localhost or 192.168.1.20:8080.";
  if (v.includes("://")) return "Leave out the scheme (http://): only the host, and a port if needed.";
  if (v.includes("/")) return "Leave out the path: only the host, and a port if needed.";
  if (/\s/.test(v)) return "A host has no spaces.";
  if (v.length > 255) return "That host is too long.";
  const port = /^(?:\[[^\]]+\]|[^:]+):(\d*)$/.exec(v);
  const { min, max } = LIMITS.port;
  if (port && (port[1] === "" || Number(port[1]) < min || Number(port[1]) > max)) return `The port must be a number from ${min} to ${max}.`;
  if (existing.includes(v)) return `${v} is already in the list.`;
  return null;
}

/** An absolute path on Linux/macOS (/…) or Windows (C:\… or \\server\…). */
export function isAbsolutePath(p: string): boolean {
  return p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith("\\\\");
}

/** Errors of a new SQL database entry, by field. */
export function sqlDatabaseErrors(db: SqlDatabase, existing: SqlDatabase[]): { name?: string; path?: string } {
  const out: { name?: string; path?: string } = {};
  const name = db.name.trim();
  if (name === "") out.name = "Give it a name; agents use it to pick the database.";
  else if (name.length > 200) out.name = "At most 200 characters.";
  else if (existing.some((d) => d.name === name)) out.name = `${name} is already registered.`;
  const path = db.path.trim();
  if (path === "") out.path = "Enter the full path of the SQLite file.";
  else if (!isAbsolutePath(path)) out.path = "Enter the full path, starting with / (or C:\\ on Windows).";
  return out;
}

// ------------------------------------------------------------ building blocks

/** A labelled control with a hint and an inline error tied to it. */
/** A file path field with a "Choose…" dialog button and the action it feeds (export, import). */
function PathAction(props: {
  label: string;
  hint: string;
  name: string;
  placeholder?: string;
  value: string;
  error?: string;
  onChange: (value: string) => void;
  chooseLabel: string;
  onChoose: () => void;
  actionLabel: string;
  onAction: () => void;
  disabled: boolean;
}) {
  return (
    <div className="data-action">
      <FormRow label={props.label} hint={props.hint} error={props.error}>
        {({ id, describedBy, invalid }) => (
          <input
            id={id}
            name={props.name}
            className="mono"
            placeholder={props.placeholder}
            value={props.value}
            aria-invalid={invalid}
            aria-describedby={describedBy}
            onChange={(e) => props.onChange(e.target.value)}
          />
        )}
      </FormRow>
      <button type="button" className="btn" aria-label={props.chooseLabel} onClick={props.onChoose} disabled={props.disabled}>
        Choose…
      </button>
      <button type="button" className="btn" onClick={props.onAction} disabled={props.disabled}>
        {props.actionLabel}
      </button>
    </div>
  );
}

function FormRow(props: {
  label: string;
  hint?: string;
  error?: string | null;
  children: (ids: { id: string; describedBy: string | undefined; invalid: boolean }) => ReactNode;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errId = `${id}-error`;
  const describedBy = [props.hint ? hintId : null, props.error ? errId : null].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {props.label}
      </label>
      {props.children({ id, describedBy, invalid: !!props.error })}
      {props.hint && (
        <span className="field-hint" id={hintId}>
          {props.hint}
        </span>
      )}
      {props.error && (
        <span className="field-error" id={errId} role="alert">
          {props.error}
        </span>
      )}
    </div>
  );
}

/** The save button of a section, with "Saving…" and "Saved" feedback. */
function SaveBar(props: { saving: boolean; saved: boolean; dirty: boolean; label: string; error: ApiError | null }) {
  return (
    <>
      <ErrorText error={props.error} />
      <div className="save-bar">
        <button type="submit" className="btn primary" disabled={props.saving || !props.dirty}>
          {props.saving ? "Saving…" : props.label}
        </button>
        {props.saved && !props.dirty && (
          <span className="saved" role="status">
            Saved
          </span>
        )}
        {props.dirty && !props.saving && <span className="muted small">Unsaved changes</span>}
      </div>
    </>
  );
}

/**
 * Local form state over a part of the settings: follows the stored values
 * while it has no unsaved edits (the tray, an import or another window may
 * change them), saves the patch `toPatch` builds from what changed, and
 * remembers "Saved".
 */
function useSection<V>(settings: Settings, fromSettings: (s: Settings) => V, toPatch: (v: V, base: V) => SettingsPatch) {
  const stored = fromSettings(settings);
  const key = JSON.stringify(stored);
  const [base, setBase] = useState<V>(stored);
  const [values, setValues] = useState<V>(stored);
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // The stored values the form last took in, and whether it has edits now
  // (a ref: the effect must see an edit made before it runs). Only a real
  // change of the stored values resets the fields: on mount the state
  // already holds them, and an effect that ran late — after the user's
  // first keystrokes, as under load — put the old value back under them.
  const synced = useRef(key);
  const dirtyNow = useRef(false);
  useEffect(() => {
    if (synced.current === key) return;
    synced.current = key;
    setBase(stored);
    if (!dirtyNow.current) setValues(stored);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const edit = (next: V) => {
    setValues(next);
    dirtyNow.current = JSON.stringify(next) !== JSON.stringify(base);
    setDirty(dirtyNow.current);
    setSaved(false);
    setError(null);
  };
  const save = async (): Promise<boolean> => {
    setSaving(true);
    setError(null);
    try {
      const s = await api.settings.update(toPatch(values, base));
      const now = fromSettings(s);
      setBase(now);
      setValues(now);
      dirtyNow.current = false;
      setDirty(false);
      setSaved(true);
      return true;
    } catch (e) {
      setError(toApiError(e));
      return false;
    } finally {
      setSaving(false);
    }
  };
  return { values, base, edit, dirty, saving, saved, error, save };
}

// ------------------------------------------------------------ work

type WorkValues = { max_concurrent_tasks: string; approval_expiry_hours: string; default_autonomy: Autonomy };

const AUTONOMY: { value: Autonomy; label: string }[] = [
  { value: "manual", label: "Manual — the agent suggests, you act" },
  { value: "copilot", label: "Copilot — consequential actions wait for your approval" },
  { value: "autopilot", label: "Autopilot — the agent acts, you are told afterwards" },
];

/** Limits and defaults of the task runner. */
export function WorkSettings(props: { settings: Settings }) {
  const s = props.settings;
  const f = useSection<WorkValues>(
    s,
    (x) => ({
      max_concurrent_tasks: String(x.max_concurrent_tasks),
      approval_expiry_hours: String(x.approval_expiry_hours),
      default_autonomy: x.default_autonomy,
    }),
    (v, stored) => {
      const patch: SettingsPatch = {};
      if (v.max_concurrent_tasks.trim() !== stored.max_concurrent_tasks) patch.max_concurrent_tasks = Number(v.max_concurrent_tasks.trim());
      if (v.approval_expiry_hours.trim() !== stored.approval_expiry_hours) patch.approval_expiry_hours = Number(v.approval_expiry_hours.trim());
      if (v.default_autonomy !== stored.default_autonomy) patch.default_autonomy = v.default_autonomy;
      return patch;
    },
  );
  const [tried, setTried] = useState(false);
  const errors = {
    max_concurrent_tasks: wholeNumberError(f.values.max_concurrent_tasks, LIMITS.max_concurrent_tasks.min, LIMITS.max_concurrent_tasks.max),
    approval_expiry_hours: wholeNumberError(f.values.approval_expiry_hours, LIMITS.approval_expiry_hours.min, LIMITS.approval_expiry_hours.max),
  };
  const shown = (k: keyof typeof errors) => (tried || f.values[k] !== f.base[k] ? errors[k] : null);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (errors.max_concurrent_tasks || errors.approval_expiry_hours) return;
    void f.save().then((ok) => ok && setTried(false));
  };
  return (
    <form className="form settings-form" aria-label="Work settings" onSubmit={submit} noValidate>
      <div className="grid-2">
        <FormRow
          label="Tasks at once"
          hint={`How many tasks may run at the same time (${LIMITS.max_concurrent_tasks.min}–${LIMITS.max_concurrent_tasks.max}). A local model serves few at once.`}
          error={shown("max_concurrent_tasks")}
        >
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              name="max_concurrent_tasks"
              inputMode="numeric"
              value={f.values.max_concurrent_tasks}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              onChange={(e) => f.edit({ ...f.values, max_concurrent_tasks: e.target.value })}
            />
          )}
        </FormRow>
        <FormRow
          label="Approvals expire after (hours)"
          hint="A request nobody decides in time is rejected."
          error={shown("approval_expiry_hours")}
        >
          {({ id, describedBy, invalid }) => (
            <input
              id={id}
              name="approval_expiry_hours"
              inputMode="numeric"
              value={f.values.approval_expiry_hours}
              aria-invalid={invalid}
              aria-describedby={describedBy}
              onChange={(e) => f.edit({ ...f.values, approval_expiry_hours: e.target.value })}
            />
          )}
        </FormRow>
      </div>
      <FormRow label="Default autonomy" hint="For new agents that do not start from a template.">
        {({ id, describedBy }) => (
          <select
            id={id}
            name="default_autonomy"
            value={f.values.default_autonomy}
            aria-describedby={describedBy}
            onChange={(e) => f.edit({ ...f.values, default_autonomy: e.target.value as Autonomy })}
          >
            {AUTONOMY.map((a) => (
              <option key={a.value} value={a.value}>
                {a.label}
              </option>
            ))}
          </select>
        )}
      </FormRow>
      <SaveBar saving={f.saving} saved={f.saved} dirty={f.dirty} label="Save work settings" error={f.error} />
    </form>
  );
}

// ------------------------------------------------------------ tools

type ToolValues = { allow: string[]; unsandboxed: boolean; databases: SqlDatabase[] };

/** What the built-in tools may reach. */
export function ToolSettings(props: { settings: Settings }) {
  const s = props.settings;
  const f = useSection<ToolValues>(
    s,
    (x) => ({
      allow: x.web_fetch_allow_list ?? [],
      unsandboxed: x.code_run_unsandboxed_with_approval ?? false,
      databases: x.sql_databases ?? [],
    }),
    (v, stored) => {
      const patch: SettingsPatch = {};
      if (JSON.stringify(v.allow) !== JSON.stringify(stored.allow)) patch.web_fetch_allow_list = v.allow;
      if (v.unsandboxed !== stored.unsandboxed) patch.code_run_unsandboxed_with_approval = v.unsandboxed;
      if (JSON.stringify(v.databases) !== JSON.stringify(stored.databases)) patch.sql_databases = v.databases;
      return patch;
    },
  );
  const [host, setHost] = useState("");
  const [hostErr, setHostErr] = useState<string | null>(null);
  const [db, setDb] = useState<SqlDatabase>({ name: "", path: "" });
  const [dbErr, setDbErr] = useState<{ name?: string; path?: string }>({});
  const addHost = () => {
    const err = hostError(host, f.values.allow);
    setHostErr(err);
    if (err) return;
    f.edit({ ...f.values, allow: [...f.values.allow, host.trim().toLowerCase()] });
    setHost("");
  };
  const addDb = () => {
    const errs = sqlDatabaseErrors(db, f.values.databases);
    setDbErr(errs);
    if (errs.name || errs.path) return;
    f.edit({ ...f.values, databases: [...f.values.databases, { name: db.name.trim(), path: db.path.trim() }] });
    setDb({ name: "", path: "" });
  };
  const onEnter = (add: () => void) => (e: KeyboardEvent) => {
    if (e.key === "Enter") {
      e.preventDefault();
      add();
    }
  };
  return (
    <form
      className="form settings-form"
      aria-label="Tool settings"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void f.save();
      }}
    >
      <fieldset className="field">
        <legend className="field-label">web_fetch may also reach</legend>
        <span className="field-hint">
          Local and private addresses are refused unless listed here: a host, or host:port (no http://, no path).
        </span>
        {f.values.allow.length === 0 ? (
          <p className="muted small">Nothing listed: only public internet addresses.</p>
        ) : (
          <ul className="entry-list" aria-label="Allowed hosts">
            {f.values.allow.map((h) => (
              <li key={h}>
                <span className="mono">{h}</span>
                <button
                  type="button"
                  className="btn small"
                  aria-label={`Remove ${h}`}
                  onClick={() => f.edit({ ...f.values, allow: f.values.allow.filter((x) => x !== h) })}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
        <div className="inline-form">
          <input
            aria-label="Host to allow"
            placeholder="localhost:8080"
            value={host}
            aria-invalid={!!hostErr}
            onChange={(e) => {
              setHost(e.target.value);
              setHostErr(null);
            }}
            onKeyDown={onEnter(addHost)}
          />
          <button type="button" className="btn small" onClick={addHost}>
            Add host
          </button>
        </div>
        {hostErr && (
          <span className="field-error" role="alert">
            {hostErr}
          </span>
        )}
      </fieldset>

      <label className="check-row">
        <input
          type="checkbox"
          name="code_run_unsandboxed_with_approval"
          checked={f.values.unsandboxed}
          onChange={(e) => f.edit({ ...f.values, unsandboxed: e.target.checked })}
        />
        <span>
          <strong>Run code without a sandbox, with approval</strong>
          <span className="field-hint block">
            Where no sandbox is available, code_run may still run — each run waits for your approval first.
          </span>
        </span>
      </label>

      <fieldset className="field">
        <legend className="field-label">SQLite files for sql_query</legend>
        <span className="field-hint">Agents read these (read-only) by name.</span>
        {f.values.databases.length === 0 ? (
          <p className="muted small">No database registered.</p>
        ) : (
          <table className="table" aria-label="SQL databases">
            <thead>
              <tr>
                <th>Name</th>
                <th>File</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {f.values.databases.map((d) => (
                <tr key={d.name} data-database={d.name}>
                  <td className="strong">{d.name}</td>
                  <td className="mono small">{d.path}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="btn small"
                      aria-label={`Remove database ${d.name}`}
                      onClick={() => f.edit({ ...f.values, databases: f.values.databases.filter((x) => x.name !== d.name) })}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="db-add">
          <FormRow label="Name" error={dbErr.name}>
            {({ id, describedBy, invalid }) => (
              <input
                id={id}
                placeholder="sales"
                value={db.name}
                aria-invalid={invalid}
                aria-describedby={describedBy}
                onChange={(e) => {
                  setDb({ ...db, name: e.target.value });
                  setDbErr({ ...dbErr, name: undefined });
                }}
                onKeyDown={onEnter(addDb)}
              />
            )}
          </FormRow>
          <FormRow label="File path" error={dbErr.path}>
            {({ id, describedBy, invalid }) => (
              <input
                id={id}
                placeholder="/home/me/data/sales.db"
                value={db.path}
                aria-invalid={invalid}
                aria-describedby={describedBy}
                onChange={(e) => {
                  setDb({ ...db, path: e.target.value });
                  setDbErr({ ...dbErr, path: undefined });
                }}
                onKeyDown={onEnter(addDb)}
              />
            )}
          </FormRow>
          <button type="button" className="btn small" onClick={addDb}>
            Add database
          </button>
        </div>
      </fieldset>
      <SaveBar saving={f.saving} saved={f.saved} dirty={f.dirty} label="Save tool settings" error={f.error} />
    </form>
  );
}

// ------------------------------------------------------------ data

/** Copies text: the clipboard API where the page may use it, else a selection. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall back to a selection below */
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

function kb(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.ceil(bytes / 1024))} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

type Confirm = "import" | "demo" | null;

/** Where the data lives, export, import and demo data. */
export function DataPanel(props: { info: AppInfo }) {
  const i = props.info;
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const [exportPath, setExportPath] = useState("");
  const [importPath, setImportPath] = useState("");
  const [busy, setBusy] = useState<"export" | "import" | "demo" | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [pathErr, setPathErr] = useState<{ export?: string; import?: string }>({});
  const [confirm, setConfirm] = useState<Confirm>(null);
  const suggested = useRef(false);

  useEffect(() => {
    if (suggested.current) return;
    suggested.current = true;
    api.data
      .exportPath()
      .then((p) => {
        if (typeof p === "string") setExportPath((cur) => cur || p);
      })
      .catch(() => {
        /* the field stays empty; the user types a path */
      });
  }, []);

  const copy = async () => setCopied((await copyText(i.data_dir)) ? "yes" : "no");
  const choose = async (which: "export" | "import") => {
    setError(null);
    try {
      const p = which === "export" ? await api.files.saveAs(exportPath.trim() || undefined) : await api.files.openOne();
      if (!p) return;
      if (which === "export") setExportPath(p);
      else setImportPath(p);
      setPathErr({ ...pathErr, [which]: undefined });
    } catch (e) {
      setError(toApiError(e));
    }
  };
  const run = async (what: "export" | "import" | "demo", f: () => Promise<string>) => {
    setBusy(what);
    setError(null);
    setResult(null);
    try {
      setResult(await f());
    } catch (e) {
      setError(toApiError(e));
    } finally {
      setBusy(null);
    }
  };
  const checkPath = (which: "export" | "import", p: string) => {
    const err = p.trim() === "" ? "Enter the file's full path." : isAbsolutePath(p.trim()) ? undefined : "Enter the full path, starting with / (or C:\\ on Windows).";
    setPathErr({ ...pathErr, [which]: err });
    return !err;
  };
  const doExport = () =>
    checkPath("export", exportPath) &&
    void run("export", async () => {
      const s = await api.data.export(exportPath.trim());
      return `Exported ${s.rows} records to ${s.path} (${kb(s.bytes)}). API keys are not in the file.`;
    });
  const doImport = () =>
    void run("import", async () => {
      const s = await api.data.import(importPath.trim());
      const requeued = s.requeued > 0 ? ` ${s.requeued} tasks that were running in the file are back in the queue.` : "";
      return `Imported ${s.path}: ${s.added} records added, ${s.updated} replaced.${requeued}`;
    });
  const doDemo = () =>
    void run("demo", async () => {
      const s = await api.data.resetDemo();
      const removed = s.removed.agents + s.removed.crews + s.removed.tasks;
      const kept = s.kept.agents + s.kept.crews + s.kept.tasks;
      return (
        `Demo data ready: ${s.created.agents} agents, ${s.created.crews} crew and ${s.created.tasks} tasks.` +
        (removed > 0 ? ` The previous demo (${removed} records) was removed.` : "") +
        (kept > 0 ? ` ${kept} demo records your own data uses were kept; they are yours now.` : "")
      );
    });

  return (
    <div className="panel data-panel">
      <h2>Data</h2>
      <dl className="facts">
        <dt>Version</dt>
        <dd>{i.version}</dd>
        <dt>Schema</dt>
        <dd>version {i.schema_version}</dd>
        <dt>Data folder</dt>
        <dd>
          <span className="mono path" data-testid="data-dir">
            {i.data_dir}
          </span>{" "}
          <button type="button" className="btn small" onClick={() => void copy()}>
            Copy path
          </button>
          {copied === "yes" && (
            <span className="saved" role="status">
              Copied
            </span>
          )}
          {copied === "no" && (
            <span className="field-error" role="alert">
              Could not copy; select the path and copy it by hand.
            </span>
          )}
        </dd>
      </dl>

      <PathAction
        label="Export all data to"
        hint="One JSON file with every agent, crew, task, run, approval, chat, memory, workflow and setting. API keys are not included."
        name="export_path"
        value={exportPath}
        error={pathErr.export}
        onChange={(v) => {
          setExportPath(v);
          setPathErr({ ...pathErr, export: undefined });
        }}
        chooseLabel="Choose where to export"
        onChoose={() => void choose("export")}
        actionLabel={busy === "export" ? "Exporting…" : "Export"}
        onAction={doExport}
        disabled={busy !== null}
      />
      <PathAction
        label="Import a data file"
        hint="Records with the same id are replaced by the file's; your other records stay. All or nothing."
        name="import_path"
        placeholder="/home/me/ensemble-export.json"
        value={importPath}
        error={pathErr.import}
        onChange={(v) => {
          setImportPath(v);
          setPathErr({ ...pathErr, import: undefined });
        }}
        chooseLabel="Choose a file to import"
        onChoose={() => void choose("import")}
        actionLabel={busy === "import" ? "Importing…" : "Import…"}
        onAction={() => checkPath("import", importPath) && setConfirm("import")}
        disabled={busy !== null}
      />

      <div className="data-action single">
        <div className="field">
          <span className="field-label">Demo data</span>
          <span className="field-hint">
            A crew with three agents, an analyst and five tasks to explore the app with. Resetting replaces the previous demo
            records; your own records are never touched.
          </span>
        </div>
        <button type="button" className="btn" onClick={() => setConfirm("demo")} disabled={busy !== null}>
          {busy === "demo" ? "Resetting…" : "Reset demo data…"}
        </button>
      </div>

      {result && (
        <p className="data-result" role="status">
          {result}
        </p>
      )}
      <ErrorText error={error} />

      {confirm === "import" && (
        <Modal title="Import this file?" onClose={() => setConfirm(null)}>
          <p>
            Import <span className="mono">{importPath.trim()}</span>? Records that are in the file and here are replaced by the
            file's version. This cannot be undone: export first if you may want today's data back.
          </p>
          <div className="modal-actions">
            <button type="button" className="btn" onClick={() => setConfirm(null)}>
              Cancel
            </button>
            <button
              type="button"
              className="btn primary"
              onClick={() => {
                setConfirm(null);
                doImport();
              }}
            >
              Import
            </button>
          </div>
        </Modal>
      )}
      {confirm === "demo" && (
        <Modal title="Reset demo data?" onClose={() => setConfirm(null)}>
          <p>
            This removes the agents, crew and tasks the last reset created (with their runs and messages) and creates a fresh
            set. Demo records your own data uses are kept. The demo's queued tasks start running unless work is paused.
          </p>
          <div className="modal-actions">
            <button type="button" className="btn" onClick={() => setConfirm(null)}>
              Cancel
            </button>
            <button
              type="button"
              className="btn primary"
              onClick={() => {
                setConfirm(null);
                doDemo();
              }}
            >
              Reset demo data
            </button>
          </div>
        </Modal>
      )}
    </div>
  );
}
