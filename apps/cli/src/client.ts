import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';

/** A problem+json answer (or a network failure) as an error the CLI prints and exits on. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ClientOptions {
  baseUrl: string;
  apiKey: string | undefined;
}

/** The CLI's only way to the system: HTTP to the api, with the operator key. */
export class ApiClient {
  constructor(private readonly options: ClientOptions) {}

  get baseUrl() {
    return this.options.baseUrl.replace(/\/+$/, '');
  }

  async request<T>(
    method: string,
    path: string,
    init: { json?: unknown; file?: string; contentType?: string } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let body: RequestInit['body'];
    let duplex: 'half' | undefined;
    if (init.file) {
      headers['content-type'] = init.contentType ?? 'text/csv';
      headers['content-length'] = String(statSync(init.file).size);
      body = Readable.toWeb(createReadStream(init.file)) as unknown as RequestInit['body'];
      duplex = 'half';
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body,
        ...(duplex ? { duplex } : {}),
      } as RequestInit);
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ApiError(
        `cannot reach the datasync api at ${this.baseUrl} (${cause}); is it running? (DATASYNC_URL)`,
        0,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // a non-JSON answer is shown as it is
    }
    if (!response.ok) {
      const problem = parsed as
        | { detail?: string; title?: string; errors?: { path: string; message: string }[] }
        | undefined;
      const extra = problem?.errors?.length
        ? `\n${problem.errors.map((e) => `  - ${e.path || '(body)'}: ${e.message}`).join('\n')}`
        : '';
      const hint = response.status === 401 ? ' (set DATASYNC_API_KEY to an operator key)' : '';
      throw new ApiError(
        `${response.status} ${problem?.title ?? response.statusText}: ${problem?.detail ?? text}${hint}${extra}`,
        response.status,
        parsed,
      );
    }
    return parsed as T;
  }
}
