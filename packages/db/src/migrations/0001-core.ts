import type { Migration } from '../migrations.js';

export const migration: Migration = {
  version: 1,
  name: 'sales, rejects, ingest ledger, writer fence',
  sql: `
      CREATE TABLE sales (
        source VARCHAR NOT NULL,
        external_id VARCHAR,
        date DATE NOT NULL,
        user_id BIGINT NOT NULL,
        product_name VARCHAR NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price DECIMAL(18,2) NOT NULL,
        total_amount DECIMAL(18,2) NOT NULL,
        region VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE rejects (
        source VARCHAR NOT NULL,
        batch_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        row_number INTEGER NOT NULL,
        raw VARCHAR NOT NULL,
        reasons VARCHAR NOT NULL,
        rejected_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE ingest_batches (
        batch_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        idempotency_key_hash VARCHAR,
        body_hash VARCHAR NOT NULL,
        received INTEGER NOT NULL,
        stored INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        writer_epoch BIGINT NOT NULL,
        committed_at TIMESTAMPTZ NOT NULL
      );
      CREATE TABLE writer_fence (epoch BIGINT NOT NULL);
      INSERT INTO writer_fence VALUES (0);
    `,
};
