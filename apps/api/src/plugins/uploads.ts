import type { Readable } from 'node:stream';
import type { EnvConfig } from '@datasync/schemas';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { unsupportedMediaType } from '../errors.js';
import { type SavedUpload, withSavedUpload } from '../ingest/upload.js';

/** Sales files beyond CSV (POST /v1/sales/imports): the type names the format. */
export const FILE_FORMAT_TYPES = {
  'application/vnd.apache.parquet': 'parquet',
  'application/x-ndjson': 'ndjson',
} as const;

/** The Content-Types a file upload may come as (curl sends octet-stream or text/plain for files). */
export const UPLOAD_TYPES = [
  'text/csv',
  'application/csv',
  'application/octet-stream',
  'text/plain',
  ...Object.keys(FILE_FORMAT_TYPES),
];

declare module 'fastify' {
  interface FastifyRequest {
    /** The body is a file (one of UPLOAD_TYPES), still unread. */
    isUpload: boolean;
    /**
     * Streams the file to IMPORT_DIR and runs `use` with it; when `use` fails (Redis down...) the
     * file is removed. A body that is not a file is a 415.
     */
    withUpload<T>(use: (saved: SavedUpload) => Promise<T>): Promise<T>;
  }
}

export function contentTypeOf(headers: { 'content-type'?: string | undefined }): string {
  return (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * CSV uploads for a route tree: the body arrives as a raw stream (any size, never buffered) and
 * goes to IMPORT_DIR under MAX_UPLOAD_BYTES. Registered once in the tree that takes files.
 */
export const uploads = fp<{ config: Pick<EnvConfig, 'IMPORT_DIR' | 'MAX_UPLOAD_BYTES'> }>(
  async (app, { config }) => {
    app.addContentTypeParser(UPLOAD_TYPES, (_request, payload, done) => done(null, payload));
    app.decorateRequest('isUpload', {
      getter(this: FastifyRequest) {
        return UPLOAD_TYPES.includes(contentTypeOf(this.headers));
      },
    });
    app.decorateRequest('withUpload', function <
      T,
    >(this: FastifyRequest, use: (saved: SavedUpload) => Promise<T>) {
      if (!this.isUpload) {
        const type = contentTypeOf(this.headers) || 'none';
        return Promise.reject(
          unsupportedMediaType(
            `Content-Type ${type} is not accepted here: send the file as text/csv (or, for sales, application/vnd.apache.parquet or application/x-ndjson)`,
          ),
        );
      }
      const options = {
        importDir: config.IMPORT_DIR,
        maxBytes: config.MAX_UPLOAD_BYTES,
        declaredLength: this.headers['content-length'],
      };
      return withSavedUpload(this.body as Readable, options, use);
    });
  },
  { fastify: '5.x' },
);
