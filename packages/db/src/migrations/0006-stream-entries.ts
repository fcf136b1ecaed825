import type { Migration } from '../migrations.js';

// Real-time stream source (issue 13, part 3). One row per Redis Stream entry the sync-worker
// committed, written in the transaction that stores its sale (or its reject), so an entry
// delivered again (a lost XACK, a claim from a dead consumer) is recognised and stored once.
// `outcome`: stored, rejected (quarantined: failed the record rules), dead-letter (delivered more
// than SALES_STREAM_MAX_DELIVERIES times, quarantined unread) or empty (deleted from the stream
// before it was read). `batch_id` is the ledger record (ingest_batches, kind `stream`) of its
// group; `entry_ms` is the id's time part, increasing, so its zone maps keep the duplicate check
// of a group to a few row groups. No PRIMARY KEY (see migrations.ts): the anti-join runs under the
// single writer lock.
export const migration: Migration = {
  version: 6,
  name: 'stream-entries',
  sql: `
      CREATE TABLE stream_entries (
        stream VARCHAR NOT NULL,
        entry_id VARCHAR NOT NULL,
        entry_ms BIGINT NOT NULL,
        batch_id VARCHAR NOT NULL,
        outcome VARCHAR NOT NULL,
        deliveries INTEGER NOT NULL,
        writer_epoch BIGINT NOT NULL,
        committed_at TIMESTAMPTZ NOT NULL
      );
    `,
};
