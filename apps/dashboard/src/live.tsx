import { type ComponentChildren, createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';

/**
 * One EventSource per page (GET /v1/events): the api pushes what the workers publish when a batch
 * commits or a job moves. Pages re-read only what an event touched: no timer re-runs queries.
 */
export interface LiveEvent {
  type: 'commit' | 'job' | 'alert';
  data: Record<string, unknown>;
}

interface Live {
  connected: boolean;
  /** Bumped by every commit: figures that depend on the sales table re-read on it. */
  commits: number;
  /** Bumped by every job event. */
  jobs: number;
  /** The last events, newest first, for the live ingest panel. */
  recent: LiveEvent[];
  ingest: Ingest;
}

/** What the commit events said since the page opened: rows per source, and per 5 s for 5 min. */
export interface Ingest {
  since: number;
  bySource: Record<string, { rows: number; rejected: number }>;
  /** [bucket start (ms), rows committed in it], oldest first, the last 5 minutes. */
  buckets: [number, number][];
}

export const INGEST_BUCKET_MS = 5_000;
const INGEST_WINDOW_MS = 300_000;

function addCommit(ingest: Ingest, data: Record<string, unknown>): Ingest {
  const sources = Array.isArray(data.sources)
    ? (data.sources as { source: string; rows: number; rejected: number }[])
    : [];
  const bySource = { ...ingest.bySource };
  let rows = 0;
  for (const s of sources) {
    const was = bySource[s.source] ?? { rows: 0, rejected: 0 };
    bySource[s.source] = { rows: was.rows + (s.rows || 0), rejected: was.rejected + (s.rejected || 0) };
    rows += s.rows || 0;
  }
  const at = typeof data.at === 'string' ? Date.parse(data.at) : Date.now();
  const start = Math.floor((Number.isFinite(at) ? at : Date.now()) / INGEST_BUCKET_MS) * INGEST_BUCKET_MS;
  const buckets = ingest.buckets.filter(([t]) => t > start - INGEST_WINDOW_MS);
  const last = buckets[buckets.length - 1];
  if (last && last[0] === start) buckets[buckets.length - 1] = [start, last[1] + rows];
  else buckets.push([start, rows]);
  return { ...ingest, bySource, buckets };
}

const empty = (): Live => ({
  connected: false,
  commits: 0,
  jobs: 0,
  recent: [],
  ingest: { since: Date.now(), bySource: {}, buckets: [] },
});
const LiveContext = createContext<Live>(empty());

export function LiveProvider({ children }: { children: ComponentChildren }) {
  const [live, setLive] = useState<Live>(empty);
  const source = useRef<EventSource | null>(null);
  useEffect(() => {
    const events = new EventSource('/v1/events');
    source.current = events;
    const push = (type: LiveEvent['type']) => (message: MessageEvent<string>) => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      setLive((l) => ({
        ...l,
        commits: l.commits + (type === 'commit' ? 1 : 0),
        jobs: l.jobs + (type === 'job' ? 1 : 0),
        recent: [{ type, data }, ...l.recent].slice(0, 50),
        ingest: type === 'commit' ? addCommit(l.ingest, data) : l.ingest,
      }));
    };
    events.addEventListener('commit', push('commit'));
    events.addEventListener('job', push('job'));
    events.addEventListener('alert', push('alert'));
    events.onopen = () => setLive((l) => ({ ...l, connected: true }));
    events.onerror = () => setLive((l) => ({ ...l, connected: false }));
    return () => events.close();
  }, []);
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

export const useLive = () => useContext(LiveContext);

/**
 * `value`, passed on at most once per `ms` and always at the end: a throttle, not a debounce, so a
 * steady stream of commit events (one per 250 ms under load) still refreshes the page.
 */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const latest = useRef(value);
  latest.current = value;
  useEffect(() => {
    if (timer.current) return;
    timer.current = setTimeout(
      () => {
        timer.current = null;
        last.current = Date.now();
        setShown(latest.current);
      },
      Math.max(0, last.current + ms - Date.now()),
    );
  }, [value, ms]);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return shown;
}
