import { SALE_CSV_OPTIONAL_COLUMNS, SALE_CSV_REQUIRED_COLUMNS, SALE_LIMITS } from '@datasync/schemas';

/**
 * The sale rule set of `packages/schemas/src/sale.ts` as one DuckDB query, for the CSV path: it
 * validates inside DuckDB over the raw text instead of row by row in JS. It must accept and reject
 * exactly what `validateSaleRecord` does, with the same field paths and messages (the parity test
 * in test/sale-rule-parity.test.ts feeds both the same cases).
 *
 * Two tiers keep it fast: a strict fast path (saleFastSql: one regex per field, no trimming, canonical forms)
 * accepts the ordinary row; only rows it does not accept are trimmed and checked field by field,
 * which also normalises valid rows written loosely (" 7 ", "7.0", "1.500", padded names).
 * DuckDB evaluates a CASE branch only for the rows that reach it, so the slow tier costs nothing
 * for the rows the fast tier accepts.
 *
 * One rule of validateSaleRecord has no SQL here: "<field> must be valid UTF-8 text". A DuckDB
 * VARCHAR is always valid UTF-8 (read_csv refuses a cell that is not), so an ill-formed value
 * cannot reach these rules; the CSV file check quarantines such a record before them, with the
 * same words.
 */

/** Characters JS `String.prototype.trim` removes: WhiteSpace and LineTerminator. */
const JS_SPACE =
  '\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}';
/** C0 and C1 control characters, DEL included (CONTROL_CHARS in sale.ts). */
const CONTROL = '\\x00-\\x1f\\x7f-\\x9f';
const TRIMMED_TEXT = `[^${CONTROL}${JS_SPACE}](?:[^${CONTROL}]*[^${CONTROL}${JS_SPACE}])?`;
const PLAIN_DECIMAL = `'[0-9]+(\\.[0-9]+)?'`;
const ISO_DATE = `'[0-9]{4}-[0-9]{2}-[0-9]{2}'`;
const MAX_SAFE_INTEGER = '9007199254740991';

/** The sale fields in the order validateSaleRecord reports them (the CSV columns, id first). */
export const SALE_FIELDS = [...SALE_CSV_OPTIONAL_COLUMNS, ...SALE_CSV_REQUIRED_COLUMNS] as const;

const jsTrim = (x: string) =>
  `regexp_replace(coalesce(${x}, ''), '^[${JS_SPACE}]+|[${JS_SPACE}]+$', '', 'g')`;
const whole = (t: string) => `split_part(${t}, '.', 1)`;
const significantFraction = (t: string) => `rtrim(split_part(${t}, '.', 2), '0')`;

function integerRule(field: string, max: string, rangeMessage: string): string {
  const t = `s_${field}`;
  return `CASE WHEN ${t} = '' THEN '${field} is required'
      WHEN NOT regexp_full_match(${t}, ${PLAIN_DECIMAL}) OR ${significantFraction(t)} <> '' THEN '${field} must be an integer'
      WHEN coalesce(TRY_CAST(${whole(t)} AS BIGINT) NOT BETWEEN 1 AND ${max}, true) THEN '${rangeMessage}' END`;
}

function moneyRule(field: string, limits: string): string {
  const t = `s_${field}`;
  return `CASE WHEN ${t} = '' THEN '${field} is required'
      WHEN NOT regexp_full_match(${t}, ${PLAIN_DECIMAL}) THEN '${field} must be a non-negative decimal number'
      WHEN length(${significantFraction(t)}) > 2 THEN '${field} must have at most 2 decimals'
      ${limits} END`;
}

function textRule(field: string, max: number): string {
  const t = `s_${field}`;
  return `CASE WHEN ${t} = '' THEN '${field} is required'
      WHEN length(${t}) > ${max} THEN '${field} must be 1 to ${max} characters after trimming'
      WHEN regexp_matches(${t}, '[${CONTROL}]') THEN '${field} must not contain control characters' END`;
}

const unitPriceLimit = `WHEN coalesce(TRY_CAST(${whole('s_unit_price')} AS BIGINT) >= ${SALE_LIMITS.unitPriceBelow}, true)
      THEN 'unit_price must be below 1e9'`;
const totalLimits = `WHEN ltrim(${whole('s_total_amount')}, '0') = '' AND ${significantFraction('s_total_amount')} = ''
      THEN 'total_amount must be greater than 0'
      WHEN coalesce(TRY_CAST(${whole('s_total_amount')} AS BIGINT) >= ${SALE_LIMITS.totalAmountBelow}, true)
      THEN 'total_amount is too large'`;

const ERROR_COLUMNS = SALE_FIELDS.map((f) => `e_${f}`);

/**
 * The strict fast path as one condition over the sale fields (VARCHAR columns named as
 * SALE_FIELDS; binds `$latest`): true for a row in canonical form that the rule set accepts, whose
 * values are the plain casts of its cells (SALE_FAST_VALUES_SQL). A row it does not accept is not
 * necessarily invalid: saleRulesSql checks it field by field. Both use this one condition, so an
 * import can insert the fast rows straight from the file and run the full rules over the others.
 */
export function saleFastSql(): string {
  return `coalesce(
      regexp_full_match(date, ${ISO_DATE}) AND NOT starts_with(date, '00') AND date <= $latest
      AND regexp_full_match(user_id, '[1-9][0-9]{0,14}')
      AND regexp_full_match(quantity, '[1-9][0-9]{0,5}|1000000')
      AND regexp_full_match(unit_price, '[0-9]{1,9}(?:\\.[0-9]{1,2})?')
      AND regexp_full_match(total_amount, '[0-9]{1,16}(?:\\.[0-9]{1,2})?')
      AND regexp_full_match(product_name, '${TRIMMED_TEXT}') AND length(product_name) <= ${SALE_LIMITS.productNameMax}
      AND regexp_full_match(region, '${TRIMMED_TEXT}') AND length(region) <= ${SALE_LIMITS.regionMax}
      AND (id IS NULL OR length(id) <= ${SALE_LIMITS.idMax})
      AND TRY_CAST(date AS DATE) IS NOT NULL AND TRY_CAST(total_amount AS DECIMAL(18,2)) > 0
      AND abs(TRY_CAST(total_amount AS DECIMAL(18,2))
        - TRY_CAST(quantity AS INTEGER) * TRY_CAST(unit_price AS DECIMAL(18,2))) <= 0.01, false)`;
}

/** The stored values of a row saleFastSql accepts, in the order of the sales columns date..region. */
export const SALE_FAST_VALUES_SQL = `TRY_CAST(date AS DATE), TRY_CAST(user_id AS BIGINT), product_name,
  TRY_CAST(quantity AS INTEGER), TRY_CAST(unit_price AS DECIMAL(18,2)), TRY_CAST(total_amount AS DECIMAL(18,2)), region`;

/**
 * Validation over `source`, a query yielding the sale fields as VARCHAR columns named as
 * SALE_FIELDS (NULL when empty or absent). Binds `$latest` (latestSaleDate(), the same for every
 * row of an import). Yields the source's columns and: `valid`; the normalised values `v_date`,
 * `v_user_id`, `v_product_name`, `v_quantity`, `v_unit_price`, `v_total_amount`, `v_region`;
 * and per field `e_<field>` (NULL or the message), plus `e_sum` for the total check.
 */
export function saleRulesSql(source: string): string {
  const slowText = (f: string) => `CASE WHEN NOT fast THEN ${jsTrim(f)} END AS s_${f}`;
  return `
WITH fast_checked AS (
  SELECT *, ${saleFastSql()} AS fast FROM (${source})
), fast_values AS (
  SELECT *,
    CASE WHEN fast THEN TRY_CAST(date AS DATE) END AS f_date,
    CASE WHEN fast THEN TRY_CAST(user_id AS BIGINT) END AS f_user_id,
    CASE WHEN fast THEN TRY_CAST(quantity AS INTEGER) END AS f_quantity,
    CASE WHEN fast THEN TRY_CAST(unit_price AS DECIMAL(18,2)) END AS f_unit_price,
    CASE WHEN fast THEN TRY_CAST(total_amount AS DECIMAL(18,2)) END AS f_total_amount
  FROM fast_checked
), trimmed AS (
  SELECT *, ${SALE_FIELDS.filter((f) => f !== 'id')
    .map(slowText)
    .join(', ')}
  FROM fast_values
), field_errors AS (
  SELECT *,
    CASE WHEN NOT fast AND length(id) > ${SALE_LIMITS.idMax}
      THEN 'id must be a string of 1 to ${SALE_LIMITS.idMax} characters' END AS e_id,
    CASE WHEN NOT fast THEN CASE WHEN s_date = '' THEN 'date is required'
      WHEN NOT regexp_full_match(s_date, ${ISO_DATE}) OR starts_with(s_date, '00') OR TRY_CAST(s_date AS DATE) IS NULL
      THEN 'date must be a calendar date YYYY-MM-DD'
      WHEN s_date > $latest THEN 'date must not be after tomorrow (UTC)' END END AS e_date,
    CASE WHEN NOT fast THEN ${integerRule('user_id', MAX_SAFE_INTEGER, 'user_id must be 1 or more')} END AS e_user_id,
    CASE WHEN NOT fast THEN ${textRule('product_name', SALE_LIMITS.productNameMax)} END AS e_product_name,
    CASE WHEN NOT fast THEN ${integerRule('quantity', String(SALE_LIMITS.quantityMax), `quantity must be between 1 and ${SALE_LIMITS.quantityMax}`)} END AS e_quantity,
    CASE WHEN NOT fast THEN ${moneyRule('unit_price', unitPriceLimit)} END AS e_unit_price,
    CASE WHEN NOT fast THEN ${moneyRule('total_amount', totalLimits)} END AS e_total_amount,
    CASE WHEN NOT fast THEN ${textRule('region', SALE_LIMITS.regionMax)} END AS e_region
  FROM trimmed
), slow_checked AS (
  SELECT *, NOT fast AND coalesce(${ERROR_COLUMNS.join(', ')}) IS NULL AS slow_fields_ok FROM field_errors
), normalised AS (
  SELECT *,
    CASE WHEN slow_fields_ok THEN CAST(s_date AS DATE) ELSE f_date END AS v_date,
    CASE WHEN slow_fields_ok THEN CAST(${whole('s_user_id')} AS BIGINT) ELSE f_user_id END AS v_user_id,
    CASE WHEN slow_fields_ok THEN s_product_name ELSE product_name END AS v_product_name,
    CASE WHEN slow_fields_ok THEN CAST(${whole('s_quantity')} AS INTEGER) ELSE f_quantity END AS v_quantity,
    CASE WHEN slow_fields_ok THEN CAST(s_unit_price AS DECIMAL(18,2)) ELSE f_unit_price END AS v_unit_price,
    CASE WHEN slow_fields_ok THEN CAST(s_total_amount AS DECIMAL(18,2)) ELSE f_total_amount END AS v_total_amount,
    CASE WHEN slow_fields_ok THEN s_region ELSE region END AS v_region
  FROM slow_checked
)
SELECT *,
  CASE WHEN slow_fields_ok AND abs(v_total_amount - v_quantity * v_unit_price) > 0.01
    THEN 'total_amount ' || v_total_amount || ' is not within 0.01 of quantity x unit_price ('
      || CAST(v_quantity * v_unit_price AS DECIMAL(18,2)) || ')' END AS e_sum,
  fast OR coalesce(slow_fields_ok AND abs(v_total_amount - v_quantity * v_unit_price) <= 0.01, false) AS valid
FROM normalised`;
}

/**
 * The reasons of a rejected row as JSON text, `[{index, path, message}]` like the JSON path
 * stores them; `lineExpr` is the row's line, reported as the index of each reason.
 */
export function reasonsJsonSql(lineExpr: string): string {
  return `to_json(list_filter(${reasonItemsSql(lineExpr)}, x -> x IS NOT NULL))`;
}

function reasonItemsSql(lineExpr: string): string {
  const items = SALE_FIELDS.map(
    (f) => `CASE WHEN e_${f} IS NOT NULL THEN {'index': ${lineExpr}, 'path': '${f}', 'message': e_${f}} END`,
  );
  items.push(
    `CASE WHEN e_sum IS NOT NULL THEN {'index': ${lineExpr}, 'path': 'total_amount', 'message': e_sum} END`,
  );
  return `[${items.join(', ')}]`;
}

/**
 * The reasons of a row its reader refused (`refusedExpr`: JSON text of `[{path, message}]`), then
 * the rules' reasons for the other fields; a path '' refuses the whole record, alone.
 */
export function refusedReasonsSql(lineExpr: string, refusedExpr: string): string {
  const refused = `from_json(${refusedExpr}, '[{"path":"VARCHAR","message":"VARCHAR"}]')`;
  const paths = `list_transform(${refused}, y -> y.path)`;
  return `to_json(list_concat(
    list_transform(${refused}, x -> {'index': ${lineExpr}, 'path': x.path, 'message': x.message}),
    list_filter(${reasonItemsSql(lineExpr)}, x -> x IS NOT NULL AND NOT list_contains(${paths}, '')
      AND NOT list_contains(${paths}, x.path))))`;
}
