import type { Migration } from '../migrations.js';

// csv_imports.error: why an import failed (state `failed`), in words meant for the user. A failed
// import's rows and rejects are deleted when it fails, so its file can be imported again.
export const migration: Migration = {
  version: 5,
  name: 'csv-import-failures',
  sql: 'ALTER TABLE csv_imports ADD COLUMN error VARCHAR;',
};
