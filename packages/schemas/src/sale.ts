import { z } from 'zod';

/**
 * The one rule set for a sale record. The JSON path validates with `validateSaleRecord` (hand
 * written: it runs on every record of every batch, ten times faster than composed zod
 * transforms), and the zod schema `Sale` wraps the same function for typing and OpenAPI. The CSV
 * path validates inside DuckDB with SQL that must agree with it (packages/db `sale-rules-sql.ts`); a
 * parity test feeds both the same cases.
 *
 * Numbers arrive as JSON numbers or as strings holding plain decimals (`"12.50"`, never `"1e3"`);
 * CSV cells are always strings, so both paths go through the same string rules: trimmed, at most
 * 2 significant decimals (trailing zeros do not count), integers may be written `7.0`.
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

/** The sale after validation: trimmed text, money as exact decimal text with 2 places. */
export interface ValidSale {
  id: string | null;
  date: string;
  user_id: number;
  product_name: string;
  quantity: number;
  unit_price: string;
  total_amount: string;
  region: string;
}

export interface FieldError {
  path: string;
  message: string;
}

/** Integer cents as a number while exact (up to 13 integer digits), else as a bigint. */
type Cents = number | bigint;

export function centsToText(cents: Cents): string {
  if (typeof cents === 'number') {
    const fraction = cents % 100;
    return `${(cents - fraction) / 100}.${fraction < 10 ? '0' : ''}${fraction}`;
  }
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
}

export function isoDateOrNull(text: string): string | null {
  const m = ISO_DATE.exec(text);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return text;
}

/** The latest date a sale may carry: tomorrow in UTC (upstreams east of UTC are already there). */
export function latestSaleDate(now: Date = new Date()): string {
  return new Date(now.getTime() + 86_400_000).toISOString().slice(0, 10);
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/** A JSON number or a numeric string as trimmed plain-decimal text, or null. */
function plainDecimalText(value: unknown): string | null {
  const text =
    typeof value === 'number'
      ? Number.isFinite(value)
        ? String(value)
        : ''
      : typeof value === 'string'
        ? value.trim()
        : '';
  return PLAIN_DECIMAL.test(text) ? text : null;
}

/** Plain-decimal text to integer cents when it has at most 2 significant decimals. */
function toCents(text: string): Cents | null {
  const dot = text.indexOf('.');
  const whole = dot === -1 ? text : text.slice(0, dot);
  let fraction = dot === -1 ? '' : text.slice(dot + 1);
  let end = fraction.length;
  while (end > 0 && fraction.charCodeAt(end - 1) === 48) end--;
  if (end > 2) return null;
  fraction = fraction.slice(0, end).padEnd(2, '0');
  if (whole.length <= 13) return Number(whole) * 100 + Number(fraction);
  return BigInt(whole) * 100n + BigInt(fraction);
}

const big = (c: Cents): bigint => (typeof c === 'bigint' ? c : BigInt(c));

/** The fields of a sale, in the order their errors are reported (the CSV columns are these too). */
export const SALE_KEYS = [
  'id',
  'date',
  'user_id',
  'product_name',
  'quantity',
  'unit_price',
  'total_amount',
  'region',
] as const;

/**
 * No lone surrogate: a JSON string may carry one (`"\ud800"`), and the api turns invalid UTF-8
 * bytes into them (apps/api json-text.ts). Such a value has no UTF-8 form, so it is never stored.
 */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed(); // ES2024, in Node 20
}

/** Characters as a person counts them (code points), the same as DuckDB's `length()`. */
function charLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++; // a low surrogate belongs to the character before it
  }
  return n;
}

function integerField(value: unknown, min: number, max: number, path: string, errors: FieldError[]): number {
  if (isMissing(value)) return fail(errors, path, `${path} is required`);
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (value < min || value > max) return fail(errors, path, rangeMessage(path, min, max));
    return value;
  }
  const text = plainDecimalText(value);
  const cents = text === null ? null : toCents(text);
  if (cents === null || big(cents) % 100n !== 0n) return fail(errors, path, `${path} must be an integer`);
  const n = Number(big(cents) / 100n);
  if (n < min || n > max) return fail(errors, path, rangeMessage(path, min, max));
  return n;
}

function rangeMessage(path: string, min: number, max: number): string {
  return `${path} must be ${max >= Number.MAX_SAFE_INTEGER ? `${min} or more` : `between ${min} and ${max}`}`;
}

function moneyField(value: unknown, path: string, errors: FieldError[]): Cents | null {
  let problem: string | null = null;
  let cents: Cents | null = null;
  if (isMissing(value)) problem = `${path} is required`;
  else {
    const text = plainDecimalText(value);
    if (text === null) problem = `${path} must be a non-negative decimal number`;
    else {
      cents = toCents(text);
      if (cents === null) problem = `${path} must have at most 2 decimals`;
    }
  }
  if (problem !== null) fail(errors, path, problem);
  return cents;
}

function textField(value: unknown, max: number, path: string, errors: FieldError[]): string {
  if (isMissing(value)) return String(fail(errors, path, `${path} is required`));
  if (typeof value !== 'string') return String(fail(errors, path, `${path} must be a string`));
  const text = value.trim();
  const length = charLength(text);
  if (length < 1 || length > max)
    return String(fail(errors, path, `${path} must be 1 to ${max} characters after trimming`));
  if (CONTROL_CHARS.test(text))
    return String(fail(errors, path, `${path} must not contain control characters`));
  return text;
}

function fail(errors: FieldError[], path: string, message: string): number {
  errors.push({ path, message });
  return Number.NaN;
}

type SaleVerdict = { sale: ValidSale; errors?: undefined } | { sale?: undefined; errors: FieldError[] };

/**
 * Validates one record. `latestDate` is `latestSaleDate()`, computed once per batch by callers.
 * Every field is checked (all errors reported); the total is checked once the fields are valid.
 * A field that is not well-formed text is named first ("<field> must be valid UTF-8 text"), then
 * what the rules find in the other fields: the reasons the CSV path gives for a record with bytes
 * that are not UTF-8 (apps/sync-worker csv-set-aside.ts).
 */
export function validateSaleRecord(raw: unknown, latestDate: string = latestSaleDate()): SaleVerdict {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { errors: [{ path: '', message: 'record must be a JSON object' }] };
  }
  const r = raw as Record<string, unknown>;
  const bad: string[] = [];
  for (const key of SALE_KEYS) {
    const value = r[key];
    if (typeof value === 'string' && !isWellFormed(value)) bad.push(key);
  }
  const verdict = checkFields(r, latestDate);
  if (bad.length === 0) return verdict;
  return {
    errors: [
      ...bad.map((path) => ({ path, message: `${path} must be valid UTF-8 text` })),
      ...(verdict.errors ?? []).filter((e) => !bad.includes(e.path)),
    ],
  };
}

function checkFields(r: Record<string, unknown>, latestDate: string): SaleVerdict {
  const errors: FieldError[] = [];
  let id: string | null = null;
  if (!(r.id === undefined || r.id === null || r.id === '')) {
    if (typeof r.id !== 'string' || charLength(r.id) > SALE_LIMITS.idMax) {
      errors.push({ path: 'id', message: `id must be a string of 1 to ${SALE_LIMITS.idMax} characters` });
    } else id = r.id;
  }
  let date = '';
  if (isMissing(r.date)) errors.push({ path: 'date', message: 'date is required' });
  else {
    const text = typeof r.date === 'string' ? isoDateOrNull(r.date.trim()) : null;
    if (text === null) errors.push({ path: 'date', message: 'date must be a calendar date YYYY-MM-DD' });
    else if (text > latestDate)
      errors.push({ path: 'date', message: 'date must not be after tomorrow (UTC)' });
    else date = text;
  }
  const user_id = integerField(r.user_id, 1, Number.MAX_SAFE_INTEGER, 'user_id', errors);
  const product_name = textField(r.product_name, SALE_LIMITS.productNameMax, 'product_name', errors);
  const quantity = integerField(r.quantity, 1, SALE_LIMITS.quantityMax, 'quantity', errors);
  const unitPrice = moneyField(r.unit_price, 'unit_price', errors);
  if (unitPrice !== null && unitPrice >= SALE_LIMITS.unitPriceBelow * 100) {
    errors.push({ path: 'unit_price', message: 'unit_price must be below 1e9' });
  }
  const total = moneyField(r.total_amount, 'total_amount', errors);
  if (total !== null && total <= 0)
    errors.push({ path: 'total_amount', message: 'total_amount must be greater than 0' });
  else if (total !== null && big(total) >= SALE_LIMITS.totalAmountBelow * 100n) {
    errors.push({ path: 'total_amount', message: 'total_amount is too large' });
  }
  const region = textField(r.region, SALE_LIMITS.regionMax, 'region', errors);
  if (errors.length > 0) return { errors };

  const fast =
    typeof unitPrice === 'number' &&
    typeof total === 'number' &&
    quantity * unitPrice <= Number.MAX_SAFE_INTEGER;
  const expected: Cents = fast ? quantity * (unitPrice as number) : BigInt(quantity) * big(unitPrice!);
  const diff = fast ? (total as number) - (expected as number) : big(total!) - big(expected);
  if (diff > 1 || diff < -1) {
    return {
      errors: [
        {
          path: 'total_amount',
          message: `total_amount ${centsToText(total!)} is not within 0.01 of quantity x unit_price (${centsToText(expected)})`,
        },
      ],
    };
  }
  return {
    sale: {
      id,
      date,
      user_id,
      product_name,
      quantity,
      unit_price: centsToText(unitPrice!),
      total_amount: centsToText(total!),
      region,
    },
  };
}

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

/**
 * A validated sale as it travels in ingest job data: a tuple in the column order below. Against
 * objects with repeated keys this halves the JSON the api writes, Redis stores and the worker
 * parses for every row (the ingest path's biggest cost after validation).
 */
export const StoredSaleTuple = z.tuple([
  z.string().nullable().describe('id'),
  z.string().describe('date'),
  z.number().int().describe('user_id'),
  z.string().describe('product_name'),
  z.number().int().describe('quantity'),
  z.string().describe('unit_price'),
  z.string().describe('total_amount'),
  z.string().describe('region'),
]);
export type StoredSaleTuple = z.infer<typeof StoredSaleTuple>;

export function saleToTuple(s: ValidSale): StoredSaleTuple {
  return [s.id, s.date, s.user_id, s.product_name, s.quantity, s.unit_price, s.total_amount, s.region];
}

export function tupleToSale(t: StoredSaleTuple): ValidSale {
  return {
    id: t[0],
    date: t[1],
    user_id: t[2],
    product_name: t[3],
    quantity: t[4],
    unit_price: t[5],
    total_amount: t[6],
    region: t[7],
  };
}

/** The sale rule set as a zod schema: parses raw input into a `ValidSale`. */
export const Sale = z.unknown().transform((value, ctx): ValidSale => {
  const result = validateSaleRecord(value);
  if (result.sale) return result.sale;
  for (const error of result.errors)
    ctx.addIssue({ code: 'custom', path: error.path ? [error.path] : [], message: error.message });
  return z.NEVER;
});
export type Sale = ValidSale;

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
  const latest = latestSaleDate();
  for (let index = 0; index < records.length; index++) {
    const raw = records[index];
    const result = validateSaleRecord(raw, latest);
    if (result.sale) accepted.push(result.sale);
    else rejected.push({ index, raw, reasons: result.errors.map((e) => ({ index, ...e })) });
  }
  return { accepted, rejected };
}
