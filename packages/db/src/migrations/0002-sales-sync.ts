import type { Migration } from '../migrations.js';

// Sales sync (issue 3). No PRIMARY KEY/UNIQUE (see migrations.ts): an import id, a file hash, a
// source's watermark and a run id are kept unique by checks inside write transactions, which the
// single writer lock serialises.
//
// csv_imports: one row per CSV import, committed chunk by chunk. `state` is running, done or
// superseded; `chunks_done` and the counts advance in the transaction that commits each chunk, so
// a killed worker resumes after the last committed chunk and a finished import is never redone.
// `chunk_rows`/`chunk_bytes` keep the chunking an import started with, so a resume splits the
// file the same way. upstream_syncs: one row per committed upstream pull (its result as JSON, so a
// redelivered job answers without pulling again); sync_watermarks: one row per upstream source.
export const migration: Migration = {
  version: 2,
  name: 'sales-sync',
  sql: `
      CREATE TABLE csv_imports (
        import_id VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        file_name VARCHAR,
        bytes BIGINT NOT NULL,
        forced BOOLEAN NOT NULL,
        state VARCHAR NOT NULL,
        chunk_rows INTEGER NOT NULL,
        chunk_bytes BIGINT NOT NULL,
        chunks_done INTEGER NOT NULL,
        received BIGINT NOT NULL,
        accepted BIGINT NOT NULL,
        rejected BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        writer_epoch BIGINT NOT NULL,
        started_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ
      );
      CREATE TABLE upstream_syncs (
        run_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        window_from DATE NOT NULL,
        window_to DATE NOT NULL,
        pages INTEGER NOT NULL,
        received INTEGER NOT NULL,
        accepted INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        result VARCHAR NOT NULL,
        writer_epoch BIGINT NOT NULL,
        committed_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE sync_watermarks (
        source VARCHAR NOT NULL,
        watermark DATE NOT NULL,
        run_id VARCHAR NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
      );
    `,
};
