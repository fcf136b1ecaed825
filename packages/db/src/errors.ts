/** The writer lease was lost (expired, taken over, or Redis unreachable): nothing was committed. */
export class LockLostError extends Error {
  override readonly name = 'LockLostError';
}

/** Waiting for the writer lock took longer than the caller allowed. */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
}

/**
 * DuckDB said the database is invalidated (a fatal error inside DuckDB). The instance is unusable;
 * the process must exit and let its supervisor restart it, and BullMQ redelivers the job.
 */
export class DatabaseFatalError extends Error {
  override readonly name = 'DatabaseFatalError';
}

export function isFatalDuckDbError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /database has been invalidated|FATAL Error/i.test(message);
}

export function isFileLockError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Could not set lock on file/i.test(message);
}
