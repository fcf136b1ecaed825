// Writes docs/openapi.json from the routes' zod schemas (the same document /openapi.json serves),
// so the spec can be read and diffed without running the api. A test fails when it is stale.
//   pnpm --filter @datasync/api openapi
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiDocument } from '../dist/openapi.js';

const target = join(import.meta.dirname, '..', '..', '..', 'docs', 'openapi.json');
writeFileSync(target, `${JSON.stringify(await openApiDocument(), null, 2)}\n`);
console.log(`wrote ${target}`);
