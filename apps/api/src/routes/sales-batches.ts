import {
  BatchQuery,
  BatchReceipt,
  INGEST_JOB,
  type IngestJobData,
  type IngestJobResult,
  Problem,
  QUEUES,
  type RecordError,
  SalesBatchBody,
  type StoredReject,
  saleToTuple,
  validateSales,
} from '@datasync/schemas';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { type ApiDeps, queueOf } from '../deps.js';
import { badRequest, gatewayTimeout, HttpProblem, tooManyRequests } from '../errors.js';
import { IdempotencyStore } from '../ingest/idempotency.js';
import { parseBatchBody } from '../ingest/parse-body.js';
import { rawBody } from '../validation.js';
import { JobFailed, JobWaitTimeout, waitForJob } from '../wait-for-job.js';

const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl'];

/** `POST /v1/sales/batches`: validate, quarantine, enqueue, receipt. */
export const salesBatchesRoutes: FastifyPluginAsyncZod<ApiDeps> = async (app, deps) => {
  const { config } = deps;
  const queue = queueOf(deps, QUEUES.ingest);
  const idempotency = new IdempotencyStore({ redis: deps.redis, ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS });
  const backlog = backlogProbe(async () => {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
    return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
  });

  // Raw bodies: the body hash feeds idempotency, and per-record validation needs the records as sent.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(
    ['application/json', ...NDJSON_TYPES],
    { parseAs: 'buffer', bodyLimit: config.MAX_BODY_BYTES },
    (_request, body, done) => done(null, body),
  );

  app.post(
    '/v1/sales/batches',
    {
      // Records are checked one by one by the sale rule set below, so a bad record never fails the
      // whole batch; the body schema documents the body and is not used to validate it.
      schema: {
        summary: 'Ingest a batch of sales',
        description:
          'Body: a JSON array of sales, {"records": [...]}, or NDJSON (application/x-ndjson). Invalid records are quarantined and listed in `errors`; valid ones are queued. Send an Idempotency-Key header to make retries safe; without one, the same body from the same source within 24 h returns the first answer.',
        tags: ['ingest'],
        security: [{ bearer: [] }],
        querystring: BatchQuery,
        body: rawBody(SalesBatchBody),
        response: {
          202: BatchReceipt,
          400: Problem,
          409: Problem,
          413: Problem,
          422: Problem,
          429: Problem,
          503: Problem,
        },
      },
    },
    async (request, reply) => {
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const parsed = parseBatchBody(
        request.body as unknown as Buffer,
        NDJSON_TYPES.includes(contentType) ? 'ndjson' : 'json',
        config.MAX_BATCH_RECORDS,
      );
      const idempotencyKey = readIdempotencyKey(request.headers['idempotency-key']);
      const source = request.apiKey!.name;

      const outcome = await idempotency.begin(source, idempotencyKey, parsed.bodyHash);
      if (outcome.kind === 'replay') {
        reply.header('idempotent-replayed', 'true');
        // A retry that asks to wait waits for the commit like the first request, as long as the
        // job is still known (completed jobs are kept 7 days); otherwise the receipt as it was.
        if (!request.query.wait || (await queue.getJobState(outcome.receipt.jobId)) === 'unknown')
          return reply.status(202).send(outcome.receipt);
        return answerOnceCommitted(reply, outcome.receipt);
      }
      let receipt: BatchReceipt;
      try {
        const waiting = await backlog();
        if (waiting >= config.MAX_INGEST_BACKLOG) {
          throw tooManyRequests(
            `the ingest backlog is ${waiting} batches (limit ${config.MAX_INGEST_BACKLOG}); retry later`,
            5,
          );
        }
        const { accepted, rejected } = validateSales(parsed.records);
        const unparsable = new Map(parsed.unparsable.map((u) => [u.index, u]));
        const rejects: StoredReject[] = rejected.map((r) => {
          const line = unparsable.get(r.index);
          return line
            ? {
                index: r.index,
                raw: line.raw,
                reasons: [{ index: r.index, path: '', message: line.message }],
              }
            : { index: r.index, raw: JSON.stringify(r.raw), reasons: r.reasons };
        });
        const errors: RecordError[] = rejects.flatMap((r) => r.reasons);
        const data: IngestJobData = {
          batchId: outcome.batchId,
          source,
          receivedAt: new Date().toISOString(),
          idempotencyKeyHash: idempotencyKey === null ? null : IdempotencyStore.keyHash(idempotencyKey),
          bodyHash: parsed.bodyHash,
          received: parsed.records.length,
          sales: accepted.map(saleToTuple),
          rejects,
        };
        await queue.add(INGEST_JOB, data, { jobId: outcome.batchId });
        receipt = {
          batchId: outcome.batchId,
          jobId: outcome.batchId,
          received: data.received,
          accepted: accepted.length,
          rejected: rejects.length,
          errors,
          duplicates: repeatedIds(accepted),
        };
      } catch (error) {
        await idempotency.release(outcome);
        throw error;
      }
      await idempotency.complete(outcome, receipt);
      if (!request.query.wait) {
        reply.header('location', `/v1/jobs/${receipt.jobId}`);
        return reply.status(202).send(receipt);
      }
      return answerOnceCommitted(reply, receipt);
    },
  );

  /** `?wait=true`: the receipt once the batch is committed in DuckDB (504 past WAIT_TIMEOUT_MS). */
  async function answerOnceCommitted(reply: FastifyReply, receipt: BatchReceipt) {
    reply.header('location', `/v1/jobs/${receipt.jobId}`);
    try {
      const result = await waitForJob<IngestJobResult>(
        deps,
        QUEUES.ingest,
        receipt.jobId,
        config.WAIT_TIMEOUT_MS,
      );
      return reply.status(202).send({ ...receipt, committed: true, duplicate: result.duplicate });
    } catch (error) {
      if (error instanceof JobWaitTimeout) {
        throw gatewayTimeout(
          `batch ${receipt.batchId} is queued but was not committed within ${config.WAIT_TIMEOUT_MS} ms; poll GET /v1/jobs/${receipt.jobId} or retry with the same Idempotency-Key`,
        );
      }
      if (error instanceof JobFailed) {
        throw new HttpProblem(
          500,
          'Commit Failed',
          `batch ${receipt.batchId} failed to commit: ${error.message}`,
        );
      }
      throw error;
    }
  }
};

/** Accepted records whose id comes again later in the batch (the last occurrence is stored). */
function repeatedIds(accepted: readonly { id: string | null }[]): number {
  const seen = new Set<string>();
  let repeats = 0;
  for (const sale of accepted) {
    if (sale.id === null) continue;
    if (seen.has(sale.id)) repeats++;
    else seen.add(sale.id);
  }
  return repeats;
}

function readIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.length === 0 || value.length > 255 || /[^\x21-\x7e]/.test(value)) {
    throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  return value;
}

/** The backlog size, asked of Redis at most every 250 ms. */
function backlogProbe(count: () => Promise<number>) {
  let cached = 0;
  let at = 0;
  return async () => {
    if (Date.now() - at > 250) {
      cached = await count();
      at = Date.now();
    }
    return cached;
  };
}
