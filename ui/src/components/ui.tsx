// Shared building blocks: page frame, states (loading / empty / error),
// modal dialog, form field, badges.
import { useEffect, useId, useRef, type ReactNode } from "react";
import type { ApiError } from "../api";

export function PageHeader(props: { title: string; subtitle?: string; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{props.title}</h1>
        {props.subtitle && <p className="muted">{props.subtitle}</p>}
      </div>
      {props.actions && <div className="actions">{props.actions}</div>}
    </header>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {props.label ?? "Loading…"}
    </div>
  );
}

export function Empty(props: { title: string; children?: ReactNode }) {
  return (
    <div className="state empty">
      <strong>{props.title}</strong>
      {props.children && <div className="muted">{props.children}</div>}
    </div>
  );
}

/** A failed command: its message, its code, and a way forward. */
export function ErrorPanel(props: { error: ApiError; onRetry?: () => void; title?: string }) {
  return (
    <div className="state error" role="alert">
      <strong>{props.title ?? "Something went wrong"}</strong>
      <p className="error-message">{props.error.message}</p>
      <p className="muted small">Code: {props.error.code}</p>
      {props.onRetry && (
        <button type="button" className="btn" onClick={props.onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Inline error for forms and actions. */
export function ErrorText(props: { error?: ApiError | null }) {
  if (!props.error) return null;
  return (
    <p className="error-text" role="alert">
      {props.error.message}
    </p>
  );
}

/** Shows loading, error or content for a query. */
export function QueryView<T>(props: {
  query: { data: T | undefined; error?: ApiError; loading: boolean; reload: () => void };
  children: (data: T) => ReactNode;
  label?: string;
}) {
  const { data, error, loading, reload } = props.query;
  if (error && data === undefined) return <ErrorPanel error={error} onRetry={reload} />;
  if (data === undefined) return loading ? <Loading label={props.label} /> : null;
  return (
    <>
      {error && <ErrorPanel error={error} onRetry={reload} title="Could not refresh" />}
      {props.children(data)}
    </>
  );
}

export function Modal(props: { title: string; onClose: () => void; children: ReactNode; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input, select, textarea, button");
    first?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") props.onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      prev?.focus?.();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <div className="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <div
        className={props.wide ? "modal wide" : "modal"}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        ref={ref}
      >
        <div className="modal-head">
          <h2 id={titleId}>{props.title}</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={props.onClose}>
            ×
          </button>
        </div>
        {props.children}
      </div>
    </div>
  );
}

/** A panel sliding in from the right, over the view (the task drawer). */
export function Drawer(props: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLElement>(null);
  const titleId = useId();
  useEffect(() => {
    const prev = document.activeElement as HTMLElement | null;
    ref.current?.querySelector<HTMLElement>(".drawer-close")?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") props.onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => {
      window.removeEventListener("keydown", onKey);
      prev?.focus?.();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <div className="drawer-backdrop" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <aside className="drawer-panel" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={ref}>
        <div className="modal-head">
          <h2 id={titleId}>{props.title}</h2>
          <button type="button" className="icon-btn drawer-close" aria-label="Close" onClick={props.onClose}>
            ×
          </button>
        </div>
        {props.children}
      </aside>
    </div>
  );
}

export function Field(props: { label: string; hint?: string; children: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{props.label}</span>
      {props.children}
      {props.hint && <span className="field-hint">{props.hint}</span>}
    </label>
  );
}

export function Badge(props: { tone?: "neutral" | "good" | "warn" | "bad" | "info"; children: ReactNode }) {
  return <span className={`badge ${props.tone ?? "neutral"}`}>{props.children}</span>;
}

export function priorityTone(p: number): "bad" | "warn" | "info" | "neutral" {
  if (p >= 9) return "bad";
  if (p >= 7) return "warn";
  if (p >= 4) return "info";
  return "neutral";
}

/** "12 s", "3 min", "1 h 5 min" */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** When a retry is due, to the second: "retry in 12 s", "retry due". */
export function retryIn(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return `retry at ${iso}`;
  const ms = t - now;
  return ms <= 0 ? "retry due" : `retry in ${duration(ms)}`;
}

/** "3 min ago", "in 2 h" */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const diff = Math.round((t - now) / 1000);
  const abs = Math.abs(diff);
  const fmt = (v: number, u: string) => (diff < 0 ? `${v} ${u} ago` : `in ${v} ${u}`);
  // Small clock differences between the app and the page read as "now".
  if (abs < 45) return "just now";
  if (abs < 3600) return fmt(Math.round(abs / 60), "min");
  if (abs < 86400) return fmt(Math.round(abs / 3600), "h");
  return fmt(Math.round(abs / 86400), "d");
}
