// Data loading that follows the store: a query re-runs when the backend
// reports a change to one of the entities it depends on. A busy runner sends
// many change batches (every step, heartbeat and move); a query coalesces
// the ones arriving within COALESCE_MS and refetches once.
import { useCallback, useEffect, useRef, useState } from "react";
import { listen } from "@tauri-apps/api/event";
import type { Change } from "./bindings/Change";
import type { Entity } from "./bindings/Entity";
import { ApiError, toApiError } from "./api";

export const STORE_CHANGED = "store://changed";
/** Changes arriving within this window cause one refetch. */
export const COALESCE_MS = 150;

export interface Query<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** Calls `fn` on mount, when `deps` change, and when the store reports a change to `entities`. */
export function useQuery<T>(fn: () => Promise<T>, deps: unknown[], entities: Entity[] = []): Query<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;

  const reload = useCallback(() => {
    const mine = ++seq.current;
    setLoading(true);
    fnRef
      .current()
      .then((d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(undefined);
      })
      .catch((e) => {
        if (mine !== seq.current) return;
        setError(toApiError(e));
      })
      .finally(() => {
        if (mine === seq.current) setLoading(false);
      });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    reload();
  }, [reload]);

  const key = entities.join(",");
  useEffect(() => {
    if (entities.length === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = onStoreChange((changes) => {
      if (!changes.some((c) => c.entity === "external" || entities.includes(c.entity))) return;
      // Already due: this batch rides along with the refetch that is coming.
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        reload();
      }, COALESCE_MS);
    });
    return () => {
      stop();
      if (timer !== undefined) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, reload]);

  return { data, error, loading, reload };
}

/** Subscribes to batched store changes; returns the unsubscribe function. */
export function onStoreChange(cb: (changes: Change[]) => void): () => void {
  let stop: (() => void) | undefined;
  let cancelled = false;
  listen<Change[]>(STORE_CHANGED, (e) => cb(e.payload))
    .then((un) => {
      if (cancelled) un();
      else stop = un;
    })
    .catch(() => {
      /* no event system (tests without mocks): nothing to follow */
    });
  return () => {
    cancelled = true;
    stop?.();
  };
}

/** Re-renders every `ms` with the current time (countdowns, "started 2 min ago"). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
