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
    const response = await this.send(path, {
      method,
      headers,
      body,
      ...(duplex ? { duplex } : {}),
    } as RequestInit);
    const text = await response.text();
    const parsed = parseBody(text);
    if (!response.ok) throw problemError(response, text, parsed);
    return parsed as T;
  }

  /**
   * A GET whose answer is a file: the response, its body unread, once the status is a success;
   * a problem+json answer is thrown as an ApiError like any other.
   */
  async download(path: string): Promise<Response> {
    const headers: Record<string, string> = { accept: '*/*' };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    const response = await this.send(path, { method: 'GET', headers });
    if (response.ok) return response;
    const text = await response.text();
    throw problemError(response, text, parseBody(text));
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new ApiError(
        `cannot reach the datasync api at ${this.baseUrl} (${cause}); is it running? (DATASYNC_URL)`,
        0,
      );
    }
  }
}

function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text; // a non-JSON answer is shown as it is
  }
}

/** A failed answer (problem+json or not) as the error the CLI prints. */
function problemError(response: Response, text: string, parsed: unknown): ApiError {
  const problem = parsed as
    | { detail?: string; title?: string; errors?: { path: string; message: string }[] }
    | undefined;
  const extra = problem?.errors?.length
    ? `\n${problem.errors.map((e) => `  - ${e.path || '(body)'}: ${e.message}`).join('\n')}`
    : '';
  const hint =
    response.status === 401 ? ' (set DATASYNC_API_KEY to an operator key, or run `datasync login`)' : '';
  return new ApiError(
    `${response.status} ${problem?.title ?? response.statusText}: ${problem?.detail ?? text}${hint}${extra}`,
    response.status,
    parsed,
  );
}
