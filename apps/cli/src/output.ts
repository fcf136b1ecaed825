/** Human output: aligned key/value lines and tables, plain text that survives a pipe. */
export function printKeyValues(values: Record<string, unknown>, indent = ''): void {
  const width = Math.max(0, ...Object.keys(values).map((k) => k.length));
  for (const [key, value] of Object.entries(values)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      process.stdout.write(`${indent}${key}:\n`);
      printKeyValues(value as Record<string, unknown>, `${indent}  `);
    } else {
      const shown = Array.isArray(value) ? (value.length ? JSON.stringify(value) : '[]') : String(value);
      process.stdout.write(`${indent}${key.padEnd(width)}  ${shown}\n`);
    }
  }
}

export function printTable(rows: Record<string, unknown>[], columns?: string[]): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const cols = columns ?? Object.keys(rows[0]!);
  const cell = (v: unknown) =>
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(cols)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of rows) process.stdout.write(`${line(cols.map((c) => cell(row[c])))}\n`);
}
