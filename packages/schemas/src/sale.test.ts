import { describe, expect, it } from 'vitest';
import { latestSaleDate, validateSales } from './sale.js';

const base = {
  date: '2026-01-15',
  user_id: 7,
  product_name: 'Laptop',
  quantity: 2,
  unit_price: 999.99,
  total_amount: 1999.98,
  region: 'North America',
};

const verdict = (overrides: Record<string, unknown>) => {
  const { accepted, rejected } = validateSales([{ ...base, ...overrides }]);
  return accepted[0] ?? rejected[0]!.reasons.map((r) => `${r.path}: ${r.message}`);
};

describe('the sale rule set', () => {
  it('accepts the old script format and normalises money to 2 decimals and text by trimming', () => {
    expect(
      verdict({
        product_name: '  Laptop  ',
        region: ' EU ',
        unit_price: '999.990',
        user_id: '7.0',
        quantity: ' 2 ',
      }),
    ).toEqual({
      id: null,
      date: '2026-01-15',
      user_id: 7,
      product_name: 'Laptop',
      quantity: 2,
      unit_price: '999.99',
      total_amount: '1999.98',
      region: 'EU',
    });
  });

  it.each([
    [{ date: '2026-02-30' }, 'date: date must be a calendar date YYYY-MM-DD'],
    [{ date: '15/01/2026' }, 'date: date must be a calendar date YYYY-MM-DD'],
    [{ date: undefined }, 'date: date is required'],
    [{ user_id: 0 }, 'user_id: user_id must be 1 or more'],
    [{ user_id: 1.5 }, 'user_id: user_id must be an integer'],
    [{ user_id: '1e3' }, 'user_id: user_id must be an integer'],
    [
      { quantity: 1_000_001, total_amount: 999_990_999.99 },
      'quantity: quantity must be between 1 and 1000000',
    ],
    [{ unit_price: '1.234' }, 'unit_price: unit_price must have at most 2 decimals'],
    [{ unit_price: -1 }, 'unit_price: unit_price must be a non-negative decimal number'],
    [{ unit_price: '1000000000', total_amount: '2000000000' }, 'unit_price: unit_price must be below 1e9'],
    [{ total_amount: 0, unit_price: 0 }, 'total_amount: total_amount must be greater than 0'],
    [
      { total_amount: 2000.0 },
      'total_amount: total_amount 2000.00 is not within 0.01 of quantity x unit_price (1999.98)',
    ],
    [{ product_name: '   ' }, 'product_name: product_name is required'],
    [{ product_name: 'a\tb' }, 'product_name: product_name must not contain control characters'],
    [
      { product_name: 'é'.repeat(201) },
      'product_name: product_name must be 1 to 200 characters after trimming',
    ],
    [{ region: 'x'.repeat(65) }, 'region: region must be 1 to 64 characters after trimming'],
    [{ region: 42 }, 'region: region must be a string'],
    [{ id: 'x'.repeat(129) }, 'id: id must be a string of 1 to 128 characters'],
    // Not well-formed Unicode (a lone surrogate has no UTF-8 form): never stored as U+FFFD.
    [{ product_name: 'ab\ud800cd' }, 'product_name: product_name must be valid UTF-8 text'],
    [{ region: '\udcff' }, 'region: region must be valid UTF-8 text'],
    [{ id: 'A-\udc80' }, 'id: id must be valid UTF-8 text'],
    [{ unit_price: '1\ud83d' }, 'unit_price: unit_price must be valid UTF-8 text'],
  ])('rejects %j with a reason naming the field', (overrides, reason) => {
    expect(verdict(overrides)).toEqual([reason]);
  });

  it('allows a total within 0.01 of quantity x unit_price, exactly, even for large amounts', () => {
    expect(verdict({ total_amount: 1999.99 })).toMatchObject({ total_amount: '1999.99' });
    expect(verdict({ total_amount: 1999.97 })).toMatchObject({ total_amount: '1999.97' });
    const big = { quantity: 1_000_000, unit_price: '999999999.99' };
    expect(verdict({ ...big, total_amount: '999999999990000.01' })).toMatchObject({
      total_amount: '999999999990000.01',
    });
    expect(Array.isArray(verdict({ ...big, total_amount: '999999999990000.02' }))).toBe(true);
  });

  it('names every field that is not well-formed first, then what is wrong with the others, and accepts a surrogate pair (one character)', () => {
    expect(verdict({ date: '\ud800', region: 'x\udfff', quantity: 0 })).toEqual([
      'date: date must be valid UTF-8 text',
      'region: region must be valid UTF-8 text',
      'quantity: quantity must be between 1 and 1000000',
    ]);
    expect(verdict({ product_name: 'a\ud83d\ude00b' })).toMatchObject({ product_name: 'a😀b' });
  });

  it('accepts 200 characters of non-ASCII text and dates up to tomorrow (UTC), not after', () => {
    expect(verdict({ product_name: '😀'.repeat(200) })).toMatchObject({ product_name: '😀'.repeat(200) });
    const tomorrow = latestSaleDate();
    expect(verdict({ date: tomorrow })).toMatchObject({ date: tomorrow });
    const after = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    expect(verdict({ date: after })).toEqual(['date: date must not be after tomorrow (UTC)']);
  });

  it('reports every bad field of a record, and a record that is not an object', () => {
    const { rejected } = validateSales([{ ...base, quantity: 0, region: '' }, 'nope', null]);
    expect(rejected.map((r) => [r.index, r.reasons.map((x) => x.path)])).toEqual([
      [0, ['quantity', 'region']],
      [1, ['']],
      [2, ['']],
    ]);
  });
});
