import { describe, expect, it } from 'vitest';
import { InvalidCsvFileError } from '../src/sales-sync/csv-file.js';
import { CHUNKINGS, HEADER, INTERNAL, row, setupCsvImport } from './csv-test-helpers.js';

/**
 * Sales files mangled at random (quotes, line ends of every kind, NUL, bytes that are not UTF-8,
 * text after a closing quote, put anywhere): whatever DuckDB makes of them, the import accounts
 * for every record or refuses the file for the one reason it may (a quote never closed).
 */

/** mulberry32: a small seeded generator, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MUTATIONS = [
  '"',
  '""',
  ',',
  '\r',
  '\n',
  '\r\n',
  ' ',
  '"q"',
  '"a,b"',
  '\0',
  '\xe9',
  '\t',
  'é',
  '"x"y',
  '""""',
];
const EOLS = ['\n', '\r\n', '\r'];

/** A sales file whose rows have up to 3 of MUTATIONS put anywhere, and random line ends. */
function mutatedFile(seed: number): Buffer {
  const next = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const parts = [Buffer.from(HEADER + pick(EOLS))];
  for (let r = 0, n = 1 + Math.floor(next() * 8); r < n; r++) {
    let bytes = Buffer.from(row(seed * 10 + r));
    for (let k = Math.floor(next() * 4); k > 0; k--) {
      const at = Math.floor(next() * (bytes.length + 1));
      // latin1: '\xe9' is the byte E9 (not UTF-8); 'é' goes in as its two UTF-8 bytes.
      const piece = pick(MUTATIONS);
      const inserted = piece === 'é' ? Buffer.from(piece) : Buffer.from(piece, 'latin1');
      bytes = Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
    }
    parts.push(bytes, Buffer.from(pick(EOLS)));
  }
  return Buffer.concat(parts);
}

describe('CSV import: files mangled at random', () => {
  it.each(CHUNKINGS)(
    'every file imports with its counts adding up and no DuckDB text, or is refused for an unclosed quote: %s',
    async (_name, limits) => {
      const t = setupCsvImport(limits);
      let imported = 0;
      let accepted = 0;
      for (let seed = 1; seed <= 40; seed++) {
        const file = t.file(`mangled-${seed}.csv`, mutatedFile(seed));
        const result = await t.run(file).catch((error: Error) => error);
        if (result instanceof Error) {
          expect(result, `seed ${seed}`).toBeInstanceOf(InvalidCsvFileError);
          expect(result.message, `seed ${seed}`).toMatch(
            /^not valid CSV: a quoted field that starts on line \d+ is never closed$/,
          );
          continue;
        }
        imported++;
        expect(result.received, `seed ${seed}`).toBe(result.accepted + result.rejected);
        expect((await t.rejects(result.importId)).total, `seed ${seed}`).toBe(result.rejected);
        for (const w of result.warnings) expect(w, `seed ${seed}`).not.toMatch(INTERNAL);
        accepted += result.accepted - result.duplicates;
      }
      expect(await t.sales()).toHaveLength(accepted);
      expect(imported).toBeGreaterThan(30);
    },
    120_000,
  );
});
