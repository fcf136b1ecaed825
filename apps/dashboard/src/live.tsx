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
}

const LiveContext = createContext<Live>({ connected: false, commits: 0, jobs: 0, recent: [] });

export function LiveProvider({ children }: { children: ComponentChildren }) {
  const [live, setLive] = useState<Live>({ connected: false, commits: 0, jobs: 0, recent: [] });
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
