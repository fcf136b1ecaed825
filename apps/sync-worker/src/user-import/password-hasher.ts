import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

export interface PasswordHasherOptions {
  /** Worker threads (default: every core). Each hash holds 19 MiB while it runs. */
  threads?: number;
  /** The built hash worker; tests running from src point this at dist. */
  workerUrl?: URL;
}

/**
 * A pool of worker threads hashing passwords with argon2id (ARGON2ID_OPTIONS). Threads start on
 * first use and stop after a minute idle, so an idle sync-worker holds no hashing memory.
 */
export class PasswordHasher {
  private readonly pool: Piscina<string, string>;

  constructor(options: PasswordHasherOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    this.pool = new Piscina({
      filename: (options.workerUrl ?? new URL('./hash-worker.js', import.meta.url)).href,
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  get threads(): number {
    return this.pool.maxThreads;
  }

  hash(password: string): Promise<string> {
    return this.pool.run(password);
  }

  /** Safe to call twice. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
