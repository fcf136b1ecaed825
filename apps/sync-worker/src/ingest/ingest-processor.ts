import { IngestJobData, type IngestJobResult } from '@datasync/schemas';
import { type Job, UnrecoverableError } from 'bullmq';
import type { GroupCommitter } from './group-committer.js';

/**
 * The ingest queue's processor: the batch was validated by the api; it is checked against the
 * schema once more (a malformed job is a bug, never retried) and committed through the group
 * committer. Running it twice is harmless: the ledger makes the second run a no-op.
 */
export function createIngestProcessor(committer: GroupCommitter) {
  return async (job: Job): Promise<IngestJobResult> => {
    const parsed = IngestJobData.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`malformed ingest job ${job.id}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    return committer.submit(parsed.data);
  };
}
