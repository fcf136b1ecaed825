import type { ListBackupsResult, RestoreJobResult } from '@datasync/schemas';
import { type Command, parse, print, runJob, UsageError } from '../command.js';
import { printKeyValues, printTable } from '../output.js';

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export const backupCommand: Command = {
  name: 'backup',
  usage: 'datasync backup',
  summary: 'take a backup now (local, and S3 when configured)',
  run: (ctx) => {
    parse(ctx.argv, {}, false);
    return runJob(ctx, { path: '/v1/jobs/backup', json: {} });
  },
};

export const backupsCommand: Command = {
  name: 'backups',
  usage: 'datasync backups [--json]',
  summary: 'list backups with size, checksum, verification and location',
  async run(ctx) {
    parse(ctx.argv, {}, false);
    const list = await ctx.client.request<ListBackupsResult>('GET', '/v1/backups');
    print(ctx.json, list, () => {
      printTable(
        list.backups.map((b) => ({
          name: b.name,
          created: b.createdAt,
          size: formatBytes(b.size),
          verification: b.verification.state,
          where: b.locations.join('+'),
          sha256: `${b.sha256.slice(0, 12)}...`,
        })),
      );
      if (list.s3.error) process.stdout.write(`S3 could not be listed: ${list.s3.error}\n`);
    });
    return 0;
  },
};

export const cleanupBackupsCommand: Command = {
  name: 'cleanup-backups',
  usage: 'datasync cleanup-backups [--days N]',
  summary: 'remove backups older than N days (default BACKUP_RETENTION_DAYS), never the newest verified one',
  async run(ctx) {
    const { values } = parse(ctx.argv, { days: { type: 'string' } });
    const days = values.days === undefined ? undefined : Number(values.days);
    if (days !== undefined && (!Number.isInteger(days) || days < 1))
      throw new UsageError('--days must be a whole number of 1 or more');
    return runJob(ctx, { path: '/v1/jobs/backup-cleanup', json: days === undefined ? {} : { days } });
  },
};

export const restoreCommand: Command = {
  name: 'restore',
  usage: 'datasync restore NAME',
  summary: 'restore a backup by name (the current database is kept aside)',
  async run(ctx) {
    const { positionals } = parse(ctx.argv, {});
    if (!positionals[0]) throw new UsageError('restore needs a backup NAME (see datasync backups)');
    return runJob(ctx, { path: '/v1/jobs/restore', json: { name: positionals[0] } }, printRestore);
  },
};

/** The restore's summary, then every batch it rolled back: what the senders must send again. */
function printRestore(result: unknown): void {
  const { rolledBack = [], ...rest } = (result ?? {}) as Partial<RestoreJobResult>;
  printKeyValues(rest);
  if (rolledBack.length === 0) {
    process.stdout.write('rolled back: none (no batch was committed after this backup)\n');
    return;
  }
  const rows = rolledBack.reduce((n, b) => n + b.rows, 0);
  process.stdout.write(
    `rolled back: ${rolledBack.length} batch(es), ${rows} rows committed after this backup are gone. Ask their senders to send them again (their idempotency records were cleared, so the same Idempotency-Key is accepted as new):\n`,
  );
  printTable(
    rolledBack.map((b) => ({
      batch: b.batchId,
      source: b.source,
      kind: b.kind,
      rows: b.rows,
      received: b.receivedAt ?? '',
      committed: b.committedAt,
      cleared: b.idempotencyCleared ? 'yes' : 'NO',
    })),
  );
}

export const verifyBackupCommand: Command = {
  name: 'verify-backup',
  usage: 'datasync verify-backup [NAME]',
  summary: 'check a backup (default: the newest) by restoring it to a scratch file and comparing counts',
  async run(ctx) {
    const { positionals } = parse(ctx.argv, {});
    return runJob(ctx, {
      path: '/v1/jobs/verify-backup',
      json: positionals[0] ? { name: positionals[0] } : {},
    });
  },
};
