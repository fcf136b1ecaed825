import type { RecordError, Sale } from '@datasync/schemas';
import { validateSaleRecord } from '@datasync/schemas';

/**
 * One Redis Stream entry as a sale: either one field `sale` holding the record as JSON, or one
 * field per column (`date`, `user_id`, ... as CSV cells are: text). Either way the record goes
 * through the one rule set (validateSaleRecord); other fields are ignored, as extra keys of a JSON
 * record are.
 */

/** The field that holds a whole record as JSON. */
export const SALE_FIELD = 'sale';

export type EntryVerdict =
  | { kind: 'sale'; sale: Sale; raw: string }
  | { kind: 'rejected'; reasons: Omit<RecordError, 'index'>[]; raw: string }
  | { kind: 'empty'; raw: string };

/** Redis returns fields as a flat [name, value, ...] list, or null for an entry deleted while pending. */
export function entryFields(flat: readonly string[] | null): Record<string, string> | null {
  if (flat === null) return null;
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    if (!(name in fields)) fields[name] = flat[i + 1]!;
  }
  return fields;
}

/** The entry as the quarantine keeps it: its id and its fields, as JSON text. */
export function entryRaw(entryId: string, fields: Record<string, string> | null): string {
  return JSON.stringify({ entry: entryId, fields });
}

export function judgeStreamEntry(
  entryId: string,
  flat: readonly string[] | null,
  latestDate: string,
): EntryVerdict {
  const fields = entryFields(flat);
  const raw = entryRaw(entryId, fields);
  if (fields === null) return { kind: 'empty', raw };
  let record: unknown = fields;
  if (SALE_FIELD in fields) {
    try {
      record = JSON.parse(fields[SALE_FIELD]!);
    } catch (error) {
      return {
        kind: 'rejected',
        raw,
        reasons: [
          { path: SALE_FIELD, message: `${SALE_FIELD} is not valid JSON: ${(error as Error).message}` },
        ],
      };
    }
  }
  const verdict = validateSaleRecord(record, latestDate);
  if (verdict.sale) return { kind: 'sale', sale: verdict.sale, raw };
  return { kind: 'rejected', raw, reasons: verdict.errors };
}
