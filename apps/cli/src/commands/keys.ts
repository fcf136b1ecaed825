import { type ApiKeyEntry, ApiKeyScope, hashApiKey, newApiKeySecret } from '@datasync/schemas';
import { type Command, parse, UsageError } from '../command.js';

/** Local: makes a key and prints it once with its API_KEYS_FILE entry. No server involved. */
export const keysCommand: Command = {
  name: 'keys',
  usage: 'datasync keys create NAME --scope ingest|operator[,operator]',
  summary: 'create an API key (printed once) and its API_KEYS_FILE entry',
  async run(ctx) {
    const { positionals, values } = parse(ctx.argv, { scope: { type: 'string', multiple: true } });
    const [action, name] = positionals;
    if (action !== 'create' || !name) throw new UsageError('usage: datasync keys create NAME --scope ingest');
    const scopes = ([values.scope ?? []].flat() as string[])
      .flatMap((s) => String(s).split(/[,+]/))
      .filter(Boolean);
    if (scopes.length === 0) throw new UsageError('--scope is required: ingest and/or operator');
    const parsed = scopes.map((s) => ApiKeyScope.safeParse(s));
    if (parsed.some((p) => !p.success))
      throw new UsageError(`--scope must be ingest or operator (got ${scopes.join(', ')})`);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
      throw new UsageError('NAME: 1 to 64 of letters, digits, dot, dash, underscore');
    const secret = newApiKeySecret();
    const entry: ApiKeyEntry = { name, scopes: parsed.map((p) => p.data!), sha256: hashApiKey(secret) };
    if (ctx.json) {
      process.stdout.write(`${JSON.stringify({ key: secret, entry }, null, 2)}\n`);
    } else {
      process.stdout.write(
        `key (shown once; give it to ${name}):\n  ${secret}\n\nAPI_KEYS_FILE entry (add it to the JSON array):\n  ${JSON.stringify(entry)}\n\nor in API_KEYS:\n  ${name}:${entry.scopes.join('+')}:${secret}\n`,
      );
    }
    return 0;
  },
};
