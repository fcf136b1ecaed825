import type { Migration } from '../migrations.js';

// Placeholder reserved for user import (issue 4): users. Empty SQL is skipped, not recorded, so filling it later applies.
export const migration: Migration = {
  version: 3,
  name: 'users',
  sql: '',
};
