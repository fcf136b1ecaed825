import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest, HttpProblem } from '../errors.js';

export interface SavedUpload {
  /** Absolute path under IMPORT_DIR: what the job carries instead of the contents. */
  path: string;
  bytes: number;
  sha256: string;
}

// The rest of the body is not read: the answer closes the connection.
const tooLarge = (limit: number) =>
  new HttpProblem(
    413,
    'Payload Too Large',
    `the file is larger than the limit of ${limit} bytes (MAX_UPLOAD_BYTES)`,
    {
      headers: { connection: 'close' },
    },
  );

/**
 * Streams an upload to IMPORT_DIR (mode 0600: it may hold passwords) without buffering it, under a
 * temporary name renamed when complete, so a worker never sees half a file. IMPORT_DIR must be a
 * folder the workers see at the same path (shared volume when the api runs elsewhere). Whatever
 * goes wrong (aborted, too large, empty), nothing is left behind.
 */
export async function saveUpload(
  body: Readable,
  importDir: string,
  maxBytes: number,
  declaredLength?: string | undefined,
): Promise<SavedUpload> {
  // A declared size over the limit is refused before a byte is written.
  if (declaredLength !== undefined && Number(declaredLength) > maxBytes) throw tooLarge(maxBytes);
  mkdirSync(importDir, { recursive: true, mode: 0o700 });
  const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID()}.csv`;
  // Absolute even when IMPORT_DIR is relative: the job then names the file the api wrote.
  const final = resolve(importDir, name);
  const partial = `${final}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(tooLarge(maxBytes));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  // Not pipeline(body, ...): that would destroy the request, and with it the socket the 413 is
  // answered on. A body that breaks or ends early fails the counter instead.
  body.on('error', (error) => counter.destroy(error));
  body.on('close', () => {
    if (!body.readableEnded) counter.destroy(new Error('the body ended early'));
  });
  body.pipe(counter);
  try {
    await pipeline(counter, createWriteStream(partial, { mode: 0o600 }));
  } catch (error) {
    body.unpipe(counter);
    await rm(partial, { force: true });
    if (error instanceof HttpProblem) throw error;
    // The client went away or the body stream broke (e.g. the body timeout): not a server fault.
    throw new HttpProblem(400, 'Bad Request', 'the upload did not complete: the body ended early');
  }
  if (bytes === 0) {
    await rm(partial, { force: true });
    throw badRequest('the uploaded file is empty');
  }
  await rename(partial, final);
  return { path: final, bytes, sha256: hash.digest('hex') };
}

/** Saves an upload and runs `use` with it; when `use` fails (Redis down...), the file is removed. */
export async function withSavedUpload<T>(
  body: Readable,
  options: { importDir: string; maxBytes: number; declaredLength?: string | undefined },
  use: (saved: SavedUpload) => Promise<T>,
): Promise<T> {
  const saved = await saveUpload(body, options.importDir, options.maxBytes, options.declaredLength);
  try {
    return await use(saved);
  } catch (error) {
    await rm(saved.path, { force: true });
    throw error;
  }
}

/**
 * A file named in a JSON job body must be a file under IMPORT_DIR (what the workers accept): told
 * at once as a 400 naming the field, rather than as a job that fails later.
 */
export function checkImportFile(file: string, importDir: string): void {
  const path = resolve(file);
  const rel = relative(resolve(importDir), path);
  const problem =
    rel === '' || rel.startsWith('..') || isAbsolute(rel)
      ? 'file must be a path under IMPORT_DIR'
      : !statSync(path, { throwIfNoEntry: false })?.isFile()
        ? 'file: no such file under IMPORT_DIR'
        : null;
  if (problem) throw badRequest('invalid options', [{ index: 0, path: 'file', message: problem }]);
}
