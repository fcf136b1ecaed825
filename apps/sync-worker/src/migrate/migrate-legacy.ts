import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import {
  attachLegacy,
  commitMigratedUsers,
  committedLegacyChunk,
  type DatabaseWriter,
  describeLegacy,
  detachLegacy,
  existingUserKeys,
  migrateSalesChunk,
  readLegacyUsers,
  recordLegacyMigration,
  type WriteContext,
} from '@datasync/db';
import { latestSaleDate, type MigrationReport, parseMigrationMapping } from '@datasync/schemas';
import type { Logger } from 'pino';
import { planMigratedUsers } from './legacy-users-plan.js';
import { buildMigrationReport, type ReportContext } from './migration-report.js';

export interface MigrateLegacyDeps {
  writer: DatabaseWriter;
  logger: Logger;
  /** Old rows per transaction (CSV_CHUNK_ROWS). */
  chunkRows: number;
}

export interface MigrateLegacyInput {
  jobId: string;
  file: string;
  fileName: string;
  dryRun: boolean;
  map: readonly string[];
  onProgress?: (percent: number) => unknown;
}

/** Thrown inside the dry run's one transaction to roll it back with the report in hand. */
class DryRunRollback extends Error {
  constructor(readonly report: MigrationReport) {
    super('dry run: rolled back');
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * Copies the old script's sales and users into this database. The old file is attached read-only.
 * Its identity is its content (sha256): each chunk of sales commits with its ledger row, so a
 * second run of the same file skips every chunk and changes nothing, and a run killed midway
 * resumes after the last committed chunk. A dry run does the same work in one transaction and
 * rolls it back: the report is exactly what a real run would say, and nothing is written.
 */
export async function migrateLegacyDatabase(
  deps: MigrateLegacyDeps,
  input: MigrateLegacyInput,
): Promise<MigrationReport> {
  const started = performance.now();
  const sha256 = await sha256Of(input.file);
  const migrationId = `migrate-${sha256.slice(0, 16)}`;
  const log = deps.logger.child({ migrationId, dryRun: input.dryRun });
  const mapping = parseMigrationMapping(input.map);
  const latestDate = latestSaleDate();
  const run = async <T>(tx: WriteContext, fn: () => Promise<T>) => {
    // Again in every transaction: a writer handover between chunks closed the instance.
    await attachLegacy(tx.conn, input.file);
    return fn();
  };
  const tables = await deps.writer.transaction((tx) => run(tx, () => describeLegacy(tx.conn, mapping)));
  const sales = tables.find((t) => t.table === 'sales')!;
  const users = tables.find((t) => t.table === 'users')!;
  const salesChunks = sales.oldTable ? Math.ceil(sales.rowidEnd / deps.chunkRows) : 0;
  const ctx: ReportContext = {
    migrationId,
    file: input.fileName,
    sha256,
    dryRun: input.dryRun,
    tables,
    batchIds: { sales: `${migrationId}-sales`, users: `${migrationId}-users` },
    chunks: {
      sales: { planned: salesChunks, skipped: 0 },
      users: { planned: users.oldTable ? 1 : 0, skipped: 0 },
    },
    started,
  };
  log.info(
    { file: input.fileName, sales: sales.rows, users: users.rows, chunks: salesChunks },
    'migration from the old database started',
  );
  const total = salesChunks + ctx.chunks.users.planned;
  let done = 0;
  const progress = async () => {
    done++;
    await input.onProgress?.(Math.min(99, Math.round((done / Math.max(1, total)) * 100)));
  };

  const salesChunk = async (tx: WriteContext, chunk: number) => {
    if (await committedLegacyChunk(tx.conn, migrationId, 'sales', chunk)) {
      ctx.chunks.sales.skipped++;
      return;
    }
    const counts = await migrateSalesChunk(tx, {
      migrationId,
      batchId: ctx.batchIds.sales,
      table: sales,
      chunk,
      from: chunk * deps.chunkRows,
      to: (chunk + 1) * deps.chunkRows,
      latestDate,
    });
    log.debug({ chunk, ...counts }, 'sales chunk migrated');
  };
  const usersChunk = async (tx: WriteContext) => {
    if (await committedLegacyChunk(tx.conn, migrationId, 'users', 0)) {
      ctx.chunks.users.skipped++;
      return;
    }
    const plan = planMigratedUsers(
      await readLegacyUsers(tx.conn, users),
      users,
      await existingUserKeys(tx.conn),
    );
    await commitMigratedUsers(tx, { migrationId, batchId: ctx.batchIds.users, ...plan });
  };

  try {
    if (input.dryRun) {
      return await deps.writer
        .transaction((tx) =>
          run(tx, async () => {
            for (let chunk = 0; chunk < salesChunks; chunk++) {
              await salesChunk(tx, chunk);
              await progress();
            }
            if (users.oldTable) await usersChunk(tx);
            throw new DryRunRollback(await buildMigrationReport(tx.conn, ctx));
          }),
        )
        .catch((error: unknown) => {
          if (error instanceof DryRunRollback) return error.report;
          throw error;
        });
    }
    for (let chunk = 0; chunk < salesChunks; chunk++) {
      await deps.writer.transaction((tx) => run(tx, () => salesChunk(tx, chunk)));
      await progress();
    }
    if (users.oldTable) {
      await deps.writer.transaction((tx) => run(tx, () => usersChunk(tx)));
      await progress();
    }
    return await deps.writer.transaction((tx) =>
      run(tx, async () => {
        const report = await buildMigrationReport(tx.conn, ctx);
        await recordLegacyMigration(tx, {
          migrationId,
          jobId: input.jobId,
          fileName: input.fileName,
          sha256,
          report: JSON.stringify(report),
        });
        return report;
      }),
    );
  } finally {
    await deps.writer
      .read((conn) => detachLegacy(conn))
      .catch((error: unknown) =>
        log.warn({ err: (error as Error).message }, 'could not detach the old database'),
      );
  }
}
