import {
  type DatabaseWriter,
  findUserImport,
  findUsers,
  insertUsers,
  recordUserImport,
  type UserRejectRow,
  type UserWrite,
  updateUsers,
} from '@datasync/db';
import { type UserImportCounts, type UserImportReportRow, UserImportResult } from '@datasync/schemas';
import type { Logger } from 'pino';
import type { PasswordHasher } from './password-hasher.js';
import { decideRow, indexUsers } from './plan.js';
import { type CandidateRow, parseUserFile, REDACTED } from './user-csv.js';

export interface UserImportDeps {
  writer: DatabaseWriter;
  hasher: PasswordHasher;
  logger: Logger;
  /** Rows per write transaction. */
  chunkSize?: number;
}

export interface UserImportRequest {
  /** Stable across retries of one job and unique across jobs (job id + creation time). */
  importId: string;
  /** The BullMQ job id: the batch id of this import's rejected rows. */
  jobId: string;
  file: string;
  updateExisting: boolean;
  onProgress?: (percent: number) => Promise<unknown>;
}

/** The state changed between planning and writing so that a row needs a hash it does not have. */
export class UserImportRaceError extends Error {
  override readonly name = 'UserImportRaceError';
}

export const REJECTS_SOURCE = 'user-import';

type Hashed = Map<number, string>;

/**
 * Imports a user file: validates every row, hashes the passwords of the rows that will be
 * written on the hasher's threads (never inside a transaction, so the writer lock is not held
 * while hashing), and writes one transaction per chunk while the next chunk is being hashed. The
 * last transaction stores the rejected rows and the result; a retry of an import that got that
 * far returns the stored result, and one that crashed earlier finds its own users by importId.
 */
export async function importUsers(
  deps: UserImportDeps,
  request: UserImportRequest,
): Promise<UserImportResult> {
  const started = performance.now();
  const { writer, logger } = deps;
  const done = await writer.read((conn) => findUserImport(conn, request.importId));
  if (done !== null) {
    logger.info({ jobId: request.jobId }, 'user import already committed by an earlier attempt');
    return UserImportResult.parse(JSON.parse(done));
  }

  const file = await parseUserFile(request.file);
  const outcomes = new Map<number, UserImportReportRow>();
  // Reasons carry their line as `index`, the shape every reject's reasons have (GET /v1/rejects).
  const rejects: UserRejectRow[] = file.rejected.map((r) => ({
    line: r.line,
    raw: r.raw,
    reasons: r.reasons.map((reason) => ({ index: r.line, ...reason })),
  }));
  for (const r of file.rejected) {
    const reason = r.reasons.map((e) => e.message).join('; ');
    outcomes.set(r.line, { line: r.line, username: r.username, status: 'rejected', reason });
  }

  const { candidates } = file;
  const before = indexUsers(
    await writer.read((conn) =>
      findUsers(
        conn,
        candidates.map((c) => c.user.username),
        candidates.map((c) => c.user.email),
      ),
    ),
  );
  const toHash = new Set(
    candidates
      .filter((c) => {
        const { action } = decideRow(c.user, before, request.importId, request.updateExisting);
        return action === 'create' || action === 'update';
      })
      .map((c) => c.line),
  );

  const size = deps.chunkSize ?? 250;
  const chunks: CandidateRow[][] = [];
  for (let i = 0; i < candidates.length; i += size) chunks.push(candidates.slice(i, i + size));
  const hashChunk = (chunk: CandidateRow[]): Promise<Hashed> => {
    const hashing = Promise.all(
      chunk
        .filter((c) => toHash.has(c.line))
        .map(async (c) => [c.line, await deps.hasher.hash(c.user.initial_password)] as const),
    ).then((pairs) => new Map(pairs));
    hashing.catch(() => undefined); // awaited later; a failure must not be an unhandled rejection
    return hashing;
  };

  // Two chunks in flight: the pool hashes chunk k+1 while chunk k commits, so it never idles.
  const pending = chunks.slice(0, 2).map(hashChunk);
  let next = pending.length;
  let written = 0;
  for (const [k, chunk] of chunks.entries()) {
    const hashes = await pending.shift()!;
    if (next < chunks.length) pending.push(hashChunk(chunks[next++]!));
    const t0 = performance.now();
    const { rows, rejected } = await writeChunk(deps, request, chunk, hashes);
    for (const row of rows) outcomes.set(row.line, row);
    rejects.push(...rejected);
    written += chunk.length;
    logger.debug(
      {
        jobId: request.jobId,
        chunk: k,
        rows: chunk.length,
        hashed: hashes.size,
        commitMs: Math.round(performance.now() - t0),
      },
      'user import chunk committed',
    );
    await request.onProgress?.(Math.min(99, Math.floor((written / Math.max(1, candidates.length)) * 100)));
  }

  const report = [...outcomes.values()].sort((a, b) => a.line - b.line);
  const counts: UserImportCounts = { created: 0, updated: 0, exists: 0, rejected: 0 };
  for (const row of report) counts[row.status]++;
  const result: UserImportResult = {
    jobId: request.jobId,
    updateExisting: request.updateExisting,
    rows: file.rows,
    counts,
    report,
    durationMs: Math.round(performance.now() - started),
    finishedAt: new Date().toISOString(),
    warnings: file.warnings,
  };
  const stored = await writer.transaction(async (tx) => {
    // A duplicate delivery of this job running beside us may have finished first.
    const earlier = await findUserImport(tx.conn, request.importId);
    if (earlier !== null) return UserImportResult.parse(JSON.parse(earlier));
    await recordUserImport(tx, {
      importId: request.importId,
      fileSha256: file.sha256,
      updateExisting: request.updateExisting,
      counts,
      resultJson: JSON.stringify(result),
      rejects: rejects.sort((a, b) => a.line - b.line),
      batchId: request.jobId,
      source: REJECTS_SOURCE,
    });
    return result;
  });
  await request.onProgress?.(100);
  return stored;
}

async function writeChunk(
  deps: UserImportDeps,
  request: UserImportRequest,
  chunk: CandidateRow[],
  hashes: Hashed,
): Promise<{ rows: UserImportReportRow[]; rejected: UserRejectRow[] }> {
  return deps.writer.transaction(async (tx) => {
    const stored = indexUsers(
      await findUsers(
        tx.conn,
        chunk.map((c) => c.user.username),
        chunk.map((c) => c.user.email),
      ),
    );
    const creates: UserWrite[] = [];
    const updates: UserWrite[] = [];
    const rows: UserImportReportRow[] = [];
    const rejected: UserRejectRow[] = [];
    for (const { line, user } of chunk) {
      const decision = decideRow(user, stored, request.importId, request.updateExisting);
      if (decision.action === 'report') {
        rows.push({ line, username: user.username, status: decision.status, reason: decision.reason });
        continue;
      }
      if (decision.action === 'reject') {
        rows.push({ line, username: user.username, status: 'rejected', reason: decision.error.message });
        rejected.push({
          line,
          raw: JSON.stringify({ ...user, initial_password: REDACTED }),
          reasons: [{ index: line, ...decision.error }],
        });
        continue;
      }
      const passwordHash = hashes.get(line);
      if (passwordHash === undefined) {
        throw new UserImportRaceError(`line ${line}: users changed during the import; retrying`);
      }
      const write = { username: user.username, email: user.email, role: user.role, passwordHash };
      (decision.action === 'create' ? creates : updates).push(write);
      rows.push({
        line,
        username: user.username,
        status: decision.action === 'create' ? 'created' : 'updated',
        reason: null,
      });
    }
    await insertUsers(tx, creates, request.importId);
    await updateUsers(tx, updates, request.importId);
    return { rows, rejected };
  });
}
