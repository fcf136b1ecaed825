import { hashSync } from '@node-rs/argon2';
import { ARGON2ID_OPTIONS } from './argon2-options.js';

/**
 * Runs in a piscina worker thread: hashing synchronously here keeps it off the main event loop
 * (BullMQ lock renewal) and off libuv's thread pool (DuckDB's I/O), using one core per thread.
 * Errors are replaced so no message or stack can carry the input.
 */
export default function hashPassword(password: string): string {
  try {
    return hashSync(password, ARGON2ID_OPTIONS);
  } catch {
    throw new Error('argon2id hashing failed');
  }
}
