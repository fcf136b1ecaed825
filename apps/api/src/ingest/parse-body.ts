import { createHash } from 'node:crypto';
import { badRequest, payloadTooLarge } from '../errors.js';
import { checkJsonDepth, decodeJsonBody } from './json-text.js';

export interface ParsedBatch {
  records: unknown[];
  /** Lines of an NDJSON body that are not JSON: rejected records, not a rejected batch. */
  unparsable: { index: number; raw: string; message: string }[];
  bodyHash: string;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A batch body: a JSON array, `{"records": [...]}`, or NDJSON (one record a line; blank lines
 * skipped). A body that is not JSON at all, or nested too deep, is 400; an NDJSON line that is
 * not JSON becomes a rejected record with its line, so one bad line loses nothing else. Invalid
 * UTF-8 inside a string is kept detectable (see decodeJsonBody): only its record is rejected.
 */
export function parseBatchBody(body: Buffer, kind: 'json' | 'ndjson', maxRecords: number): ParsedBatch {
  const bodyHash = sha256(body);
  checkJsonDepth(body, kind === 'ndjson');
  const text = decodeJsonBody(body);
  if (text.trim() === '')
    throw badRequest('body is empty: send a JSON array of sales, {"records": [...]}, or NDJSON');
  let records: unknown[];
  const unparsable: ParsedBatch['unparsable'] = [];
  if (kind === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw badRequest(`body is not valid JSON: ${(error as Error).message}`);
    }
    if (Array.isArray(parsed)) records = parsed;
    else if (
      parsed &&
      typeof parsed === 'object' &&
      Array.isArray((parsed as { records?: unknown }).records)
    ) {
      records = (parsed as { records: unknown[] }).records;
    } else {
      throw badRequest('body must be a JSON array of sales or an object {"records": [...]}');
    }
  } else {
    records = [];
    const lines = text.split('\n');
    for (const line of lines) {
      const trimmed = line.trim();
      if (trimmed === '') continue;
      try {
        records.push(JSON.parse(trimmed));
      } catch (error) {
        unparsable.push({
          index: records.length,
          raw: trimmed,
          message: `line is not valid JSON: ${(error as Error).message}`,
        });
        records.push(undefined);
      }
    }
  }
  if (records.length === 0) throw badRequest('the batch has no records');
  if (records.length > maxRecords) {
    throw payloadTooLarge(
      `the batch has ${records.length} records; the limit is ${maxRecords} (MAX_BATCH_RECORDS)`,
    );
  }
  return { records, unparsable, bodyHash };
}
