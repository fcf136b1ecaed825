import { LOGIN_KEYS } from '@datasync/runtime';
import type { Redis } from 'ioredis';

/** Outcomes of a directory sign-in, counted in Redis for /metrics. */
export type LoginOutcome = 'success' | 'invalid' | 'forbidden' | 'locked' | 'unavailable';

/** One client address may fail this many times more than one user name (a shared NAT, an office). */
const ADDRESS_FACTOR = 4;
/** Each earlier failure makes the next attempt wait this long, up to MAX_DELAY_MS. */
const DELAY_PER_FAILURE_MS = 250;
const MAX_DELAY_MS = 3_000;

export type ThrottleDecision =
  | { refused: true; retryAfterSeconds: number }
  | { refused: false; delayMs: number };

/**
 * Failed sign-ins per user name and per client address, in Redis so every api shares them. Each
 * failure extends its counter's life to the whole window: a name (or address) that keeps failing
 * stays refused until it has been quiet for LOGIN_LOCKOUT_MINUTES.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly maxFailures: number,
    private readonly windowMs: number,
  ) {}

  async check(name: string, address: string): Promise<ThrottleDecision> {
    const byName = LOGIN_KEYS.failuresByName(name);
    const byAddress = LOGIN_KEYS.failuresByAddress(address);
    const [nameCount, addressCount, nameTtl, addressTtl] = (await this.redis
      .multi()
      .get(byName)
      .get(byAddress)
      .pttl(byName)
      .pttl(byAddress)
      .exec()
      .then((replies) =>
        (replies ?? []).map(([error, value]) => (error ? 0 : Number(value) || 0)),
      )) as number[];
    const nameFailures = nameCount ?? 0;
    const addressFailures = addressCount ?? 0;
    const lockedFor = Math.max(
      nameFailures >= this.maxFailures ? (nameTtl ?? 0) : 0,
      addressFailures >= this.maxFailures * ADDRESS_FACTOR ? (addressTtl ?? 0) : 0,
    );
    if (lockedFor > 0) return { refused: true, retryAfterSeconds: Math.ceil(lockedFor / 1000) };
    const earlier = Math.max(nameFailures, Math.floor(addressFailures / ADDRESS_FACTOR));
    return { refused: false, delayMs: Math.min(MAX_DELAY_MS, earlier * DELAY_PER_FAILURE_MS) };
  }

  async failed(name: string, address: string): Promise<void> {
    const byName = LOGIN_KEYS.failuresByName(name);
    const byAddress = LOGIN_KEYS.failuresByAddress(address);
    await this.redis
      .multi()
      .incr(byName)
      .pexpire(byName, this.windowMs)
      .incr(byAddress)
      .pexpire(byAddress, this.windowMs)
      .exec();
  }

  async succeeded(name: string): Promise<void> {
    await this.redis.del(LOGIN_KEYS.failuresByName(name));
  }

  async count(outcome: LoginOutcome): Promise<void> {
    await this.redis.hincrby(LOGIN_KEYS.outcomes, outcome, 1);
  }
}
