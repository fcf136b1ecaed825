import { z } from 'zod';

/**
 * The one rule set for a sale record. The JSON path validates with this schema; the CSV path
 * validates inside DuckDB with SQL that must agree with it (packages/db `csv-validation.ts`),
 * and a parity test feeds both the same cases.
 *
 * Numbers arrive as JSON numbers or as strings holding plain decimals (`"12.50"`, never `"1e3"`);
 * CSV cells are always strings, so both paths go through the same string rules.
 */

export const SALE_LIMITS = {
  idMax: 128,
  productNameMax: 200,
  regionMax: 64,
  quantityMax: 1_000_000,
  unitPriceBelow: 1_000_000_000,
  totalAmountBelow: 10_000_000_000_000_000n, // what DECIMAL(18,2) holds: 16 integer digits
} as const;

const PLAIN_DECIMAL = /^\d+(\.\d+)?$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// C0 and C1 control characters, DEL included. Tabs and newlines inside a name are garbage too.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Turns a JSON number or a numeric string into trimmed plain-decimal text, or null. */
function plainDecimalText(value: unknown): string | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    const text = String(value);
    return PLAIN_DECIMAL.test(text) ? text : null;
  }
  if (typeof value === 'string') {
    const text = value.trim();
    return PLAIN_DECIMAL.test(text) ? text : null;
  }
  return null;
}

/** Plain-decimal text to integer cents when it has at most 2 significant decimals. */
function toCents(text: string): bigint | null {
  const dot = text.indexOf('.');
  const whole = dot === -1 ? text : text.slice(0, dot);
  let fraction = dot === -1 ? '' : text.slice(dot + 1).replace(/0+$/, '');
  if (fraction.length > 2) return null;
  fraction = fraction.padEnd(2, '0');
  return BigInt(whole) * 100n + BigInt(fraction);
}

export function centsToText(cents: bigint): string {
  const whole = cents / 100n;
  const fraction = (cents % 100n).toString().padStart(2, '0');
  return `${whole}.${fraction}`;
}

/** Characters as a person counts them (code points), the same as DuckDB's `length()`. */
function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

export function isoDateOrNull(text: string): string | null {
  const m = ISO_DATE.exec(text);
  if (!m) return null;
  const [, y, mo, d] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (
    date.getUTCFullYear() !== Number(y) ||
    date.getUTCMonth() !== Number(mo) - 1 ||
    date.getUTCDate() !== Number(d)
  ) {
    return null;
  }
  return text;
}

/** The latest date a sale may carry: tomorrow in UTC (upstreams east of UTC are already there). */
export function latestSaleDate(now: Date = new Date()): string {
  const tomorrow = new Date(now.getTime() + 86_400_000);
  return tomorrow.toISOString().slice(0, 10);
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function integerField(min: number, max: number, label: string) {
  return z.unknown().transform((value, ctx) => {
    if (isMissing(value)) {
      ctx.addIssue({ code: 'custom', message: `${label} is required` });
      return z.NEVER;
    }
    const text = plainDecimalText(value);
    if (text === null) {
      ctx.addIssue({ code: 'custom', message: `${label} must be an integer` });
      return z.NEVER;
    }
    const cents = toCents(text);
    if (cents === null || cents % 100n !== 0n) {
      ctx.addIssue({ code: 'custom', message: `${label} must be an integer` });
      return z.NEVER;
    }
    const n = Number(cents / 100n);
    if (n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `${label} must be between ${min} and ${max}` });
      return z.NEVER;
    }
    return n;
  });
}

function moneyField(label: string, rule: (cents: bigint) => string | null) {
  return z.unknown().transform((value, ctx) => {
    if (isMissing(value)) {
      ctx.addIssue({ code: 'custom', message: `${label} is required` });
      return z.NEVER;
    }
    const text = plainDecimalText(value);
    if (text === null) {
      ctx.addIssue({ code: 'custom', message: `${label} must be a non-negative decimal number` });
      return z.NEVER;
    }
    const cents = toCents(text);
    if (cents === null) {
      ctx.addIssue({ code: 'custom', message: `${label} must have at most 2 decimals` });
      return z.NEVER;
    }
    const problem = rule(cents);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: `${label} ${problem}` });
      return z.NEVER;
    }
    return cents;
  });
}

function textField(max: number, label: string) {
  return z.unknown().transform((value, ctx) => {
    if (isMissing(value)) {
      ctx.addIssue({ code: 'custom', message: `${label} is required` });
      return z.NEVER;
    }
    if (typeof value !== 'string') {
      ctx.addIssue({ code: 'custom', message: `${label} must be a string` });
      return z.NEVER;
    }
    const text = value.trim();
    const length = charLength(text);
    if (length < 1 || length > max) {
      ctx.addIssue({ code: 'custom', message: `${label} must be 1 to ${max} characters after trimming` });
      return z.NEVER;
    }
    if (CONTROL_CHARS.test(text)) {
      ctx.addIssue({ code: 'custom', message: `${label} must not contain control characters` });
      return z.NEVER;
    }
    return text;
  });
}

/** What the schema yields before the cross-field check. */
const saleFields = z.object({
  id: z
    .unknown()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value === null || value === '') return null;
      if (typeof value !== 'string' || value.length > SALE_LIMITS.idMax) {
        ctx.addIssue({
          code: 'custom',
          message: `id must be a string of 1 to ${SALE_LIMITS.idMax} characters`,
        });
        return z.NEVER;
      }
      return value;
    }),
  date: z.unknown().transform((value, ctx) => {
    if (isMissing(value)) {
      ctx.addIssue({ code: 'custom', message: 'date is required' });
      return z.NEVER;
    }
    const text = typeof value === 'string' ? isoDateOrNull(value.trim()) : null;
    if (text === null) {
      ctx.addIssue({ code: 'custom', message: 'date must be a calendar date YYYY-MM-DD' });
      return z.NEVER;
    }
    if (text > latestSaleDate()) {
      ctx.addIssue({ code: 'custom', message: 'date must not be after tomorrow (UTC)' });
      return z.NEVER;
    }
    return text;
  }),
  user_id: integerField(1, Number.MAX_SAFE_INTEGER, 'user_id'),
  product_name: textField(SALE_LIMITS.productNameMax, 'product_name'),
  quantity: integerField(1, SALE_LIMITS.quantityMax, 'quantity'),
  unit_price: moneyField('unit_price', (c) =>
    c >= BigInt(SALE_LIMITS.unitPriceBelow) * 100n ? 'must be below 1e9' : null,
  ),
  total_amount: moneyField('total_amount', (c) => {
    if (c <= 0n) return 'must be greater than 0';
    if (c >= SALE_LIMITS.totalAmountBelow * 100n) return 'is too large';
    return null;
  }),
  region: textField(SALE_LIMITS.regionMax, 'region'),
});

/** The sale as the upstream sends it (what OpenAPI documents). */
export const SaleInput = z
  .object({
    id: z.string().min(1).max(SALE_LIMITS.idMax).optional(),
    date: z.string().describe('YYYY-MM-DD, not after tomorrow (UTC)'),
    user_id: z.union([z.number().int(), z.string()]),
    product_name: z.string(),
    quantity: z.union([z.number().int(), z.string()]),
    unit_price: z.union([z.number(), z.string()]),
    total_amount: z.union([z.number(), z.string()]),
    region: z.string(),
  })
  .describe('A sale in the upstream API format; numbers may be strings holding plain decimals');
export type SaleInput = z.input<typeof SaleInput>;

/** The sale after validation: trimmed text, money as exact decimal text with 2 places. */
export const Sale = saleFields
  .superRefine((sale, ctx) => {
    const expected = BigInt(sale.quantity) * sale.unit_price;
    const diff = sale.total_amount - expected;
    if (diff > 1n || diff < -1n) {
      ctx.addIssue({
        code: 'custom',
        path: ['total_amount'],
        message: `total_amount ${centsToText(sale.total_amount)} is not within 0.01 of quantity x unit_price (${centsToText(expected)})`,
      });
    }
  })
  .transform((sale) => ({
    id: sale.id,
    date: sale.date,
    user_id: sale.user_id,
    product_name: sale.product_name,
    quantity: sale.quantity,
    unit_price: centsToText(sale.unit_price),
    total_amount: centsToText(sale.total_amount),
    region: sale.region,
  }));
export type Sale = z.output<typeof Sale>;

export const RecordError = z.object({
  index: z.number().int().describe('0-based position of the record in the batch (CSV: the line number)'),
  path: z.string().describe('the field, or "" for the whole record'),
  message: z.string(),
});
export type RecordError = z.infer<typeof RecordError>;

export interface RejectedRecord {
  index: number;
  raw: unknown;
  reasons: RecordError[];
}

export interface SalesValidation {
  accepted: Sale[];
  rejected: RejectedRecord[];
}

/** Validates a batch: every record ends up either accepted or rejected with its reasons. */
export function validateSales(records: readonly unknown[]): SalesValidation {
  const accepted: Sale[] = [];
  const rejected: RejectedRecord[] = [];
  records.forEach((raw, index) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      rejected.push({ index, raw, reasons: [{ index, path: '', message: 'record must be a JSON object' }] });
      return;
    }
    const result = Sale.safeParse(raw);
    if (result.success) {
      accepted.push(result.data);
    } else {
      rejected.push({
        index,
        raw,
        reasons: result.error.issues.map((issue) => ({
          index,
          path: issue.path.map(String).join('.'),
          message:
            issue.code === 'invalid_type' && issue.path.length
              ? `${issue.path.join('.')} is required`
              : issue.message,
        })),
      });
    }
  });
  return { accepted, rejected };
}
