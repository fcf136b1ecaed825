import type { Migration } from '../migrations.js';

// `datasync migrate --from OLD.duckdb`: each chunk of an old table commits with its ledger row
// (so a rerun or a resume after a kill skips what is done), and each run stores its report.
export const migration: Migration = {
  version: 7,
  name: 'legacy-migration',
  sql: `
      CREATE TABLE legacy_migration_chunks (
        migration_id VARCHAR NOT NULL,
        table_name VARCHAR NOT NULL,
        chunk INTEGER NOT NULL,
        read INTEGER NOT NULL,
        stored INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        existing INTEGER NOT NULL,
        writer_epoch BIGINT NOT NULL,
        committed_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE legacy_migrations (
        migration_id VARCHAR NOT NULL,
        job_id VARCHAR NOT NULL,
        file_name VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        report VARCHAR NOT NULL,
        finished_at TIMESTAMPTZ NOT NULL
      );
    `,
};
