import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/index.js';

describe('docs/openapi.json', () => {
  it('is the document the api serves (regenerate with `pnpm --filter @datasync/api openapi`)', async () => {
    const committed = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'openapi.json'), 'utf8'),
    );
    const current = JSON.parse(JSON.stringify(await openApiDocument()));
    expect(current.paths).toEqual(committed.paths);
    expect(current.components).toEqual(committed.components);
    expect(Object.keys(current.paths)).toEqual(
      expect.arrayContaining([
        '/v1/sales/batches',
        '/v1/sales/imports',
        '/v1/jobs/{type}',
        '/v1/jobs/{id}',
        '/v1/sales/summary',
        '/v1/rejects',
        '/v1/backups',
        '/v1/schedules',
        '/health',
        '/ready',
      ]),
    );
  });
});
