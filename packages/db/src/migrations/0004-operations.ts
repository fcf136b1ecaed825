import type { Migration } from '../migrations.js';

// Placeholder reserved for operations (issue 6): job runs, alerts. Empty SQL is skipped, not recorded, so filling it later applies.
export const migration: Migration = {
  version: 4,
  name: 'operations',
  sql: '',
};
