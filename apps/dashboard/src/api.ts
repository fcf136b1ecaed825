// The dashboard's one way to the api: same origin, the session cookie, the CSRF token on every
// call that changes something, and a problem's detail as the error a user reads.

export interface Session {
  name: string;
  scopes: string[];
  csrfToken: string;
  expiresAt: string;
  /** The business time zone: DASHBOARD_TZ, else SCHEDULE_TZ. */
  timeZone: string;
  /** Directory sign-in: the group that granted the scope. */
  grantedBy?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';
export const setCsrfToken = (token: string) => {
  csrfToken = token;
};

/** Where a 401 sends the page: back to sign-in. */
let onSignedOut: () => void = () => undefined;
export const whenSignedOut = (fn: () => void) => {
  onSignedOut = fn;
};

async function problem(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as {
      detail?: string;
      title?: string;
      errors?: { path: string; message: string }[];
    };
    const lead = body.detail ?? body.title ?? '';
    // The detail already names the first field error: only the others are added.
    const fields = body.errors
      ?.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message))
      .filter((text) => !lead.includes(text))
      .join('; ');
    message = [lead, fields].filter(Boolean).join(': ') || message;
  } catch {
    // not JSON: the status line says enough
  }
  return new ApiError(res.status, message);
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const headers = new Headers(init.headers);
  const method = (init.method ?? 'GET').toUpperCase();
  if (method !== 'GET' && method !== 'HEAD') headers.set('x-csrf-token', csrfToken);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set('content-type', 'application/json');
    body = JSON.stringify(init.json);
  }
  const res = await fetch(path, { ...init, method, headers, body, credentials: 'same-origin' });
  if (res.status === 401 && !path.startsWith('/auth/')) onSignedOut();
  if (!res.ok) throw await problem(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** A query string from the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

/** The CSRF header for a request made without api() (an upload with progress). */
export const csrfHeader = (): Record<string, string> => ({ 'x-csrf-token': csrfToken });
