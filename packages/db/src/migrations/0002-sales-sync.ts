import type { Migration } from '../migrations.js';

// Placeholder reserved for sales sync (issue 3): import ledger, watermarks. Empty SQL is skipped, not recorded, so filling it later applies.
export const migration: Migration = {
  version: 2,
  name: 'sales-sync',
  sql: '',
};
