import type { Migration } from '../migrations.js';

// No PRIMARY KEY/UNIQUE (see migrations.ts): usernames and emails are kept unique by set-based
// checks inside write transactions, which the single writer lock serialises.
export const migration: Migration = {
  version: 3,
  name: 'users',
  sql: `
      CREATE TABLE users (
        username VARCHAR NOT NULL,
        email VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        password_hash VARCHAR NOT NULL,
        must_change_password BOOLEAN NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        created_by_job VARCHAR,
        updated_by_job VARCHAR
      );
      CREATE TABLE user_imports (
        job_id VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        update_existing BOOLEAN NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        existing INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        result VARCHAR NOT NULL,
        writer_epoch BIGINT NOT NULL,
        committed_at TIMESTAMPTZ NOT NULL
      );
    `,
};
