import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest } from '../errors.js';

export interface SavedUpload {
  /** Absolute path under IMPORT_DIR: what the job carries instead of the contents. */
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * Streams an upload to IMPORT_DIR (mode 0600: it may hold passwords) without buffering it, under a
 * temporary name renamed when complete, so a worker never sees half a file. IMPORT_DIR must be a
 * folder the workers see at the same path (shared volume when the api runs elsewhere).
 */
export async function saveUpload(body: Readable, importDir: string, extension = 'csv'): Promise<SavedUpload> {
  mkdirSync(importDir, { recursive: true, mode: 0o700 });
  const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.${extension}`;
  const final = join(importDir, name);
  const partial = `${final}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  try {
    await pipeline(body, createWriteStream(partial, { mode: 0o600 }));
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  if (bytes === 0) {
    await rm(partial, { force: true });
    throw badRequest('the uploaded file is empty');
  }
  await rename(partial, final);
  return { path: final, bytes, sha256: hash.digest('hex') };
}
