import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

export interface Loaded<T> {
  data: T | null;
  error: string | null;
}

/**
 * GET `path`, again whenever it or one of `deps` changes. Only the newest request's answer is
 * shown: a slower, older one arriving late is dropped. The last data stays on screen while the
 * next request runs, and beside an error.
 */
export function useApi<T>(path: string, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null });
  useEffect(() => {
    let current = true;
    api<T>(path)
      .then((data) => current && setState({ data, error: null }))
      .catch((e: Error) => current && setState((s) => ({ ...s, error: e.message })));
    return () => {
      current = false;
    };
  }, [path, ...deps]);
  return state;
}
