import type { Migration } from '../migrations.js';

// Legacy SQL database source (issue 13, part 2). One row per source: the cursor column's value of
// the last row committed (its text exactly as the source database prints it, so no precision or
// time zone is lost on the way) and the keys of the rows committed at that value, which the next
// page or run skips (it reads `cursor >= watermark`, so rows sharing the boundary value are never
// lost). Written in the transaction of each page with its sales and rejects.
export const migration: Migration = {
  version: 9,
  name: 'sql-cursors',
  sql: `
      CREATE TABLE sql_cursors (
        source VARCHAR NOT NULL,
        cursor_value VARCHAR NOT NULL,
        boundary_keys VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        writer_epoch BIGINT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
      );
    `,
};
