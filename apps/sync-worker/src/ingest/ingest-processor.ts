import { IngestJobData, type IngestJobResult, tupleToSale } from '@datasync/schemas';
import { type Job, UnrecoverableError } from 'bullmq';
import type { GroupCommitter } from './group-committer.js';

// The records were validated by the api with the sale rule set; checking every one again here
// would double the CPU spent per row, so only the envelope is checked.
const Envelope = IngestJobData.omit({ sales: true, rejects: true });

/**
 * The ingest queue's processor: a malformed job is a bug, failed at once and never retried; a
 * good one is committed through the group committer. Running it twice is harmless: the ledger
 * makes the second run a no-op.
 */
export function createIngestProcessor(committer: GroupCommitter) {
  return async (job: Job): Promise<IngestJobResult> => {
    const envelope = Envelope.safeParse(job.data);
    const data = job.data as IngestJobData;
    if (!envelope.success || !Array.isArray(data.sales) || !Array.isArray(data.rejects)) {
      const reason = envelope.success
        ? 'sales and rejects must be arrays'
        : envelope.error.issues[0]?.message;
      throw new UnrecoverableError(`malformed ingest job ${job.id}: ${reason ?? 'invalid'}`);
    }
    return committer.submit({ ...data, sales: data.sales.map(tupleToSale) });
  };
}
