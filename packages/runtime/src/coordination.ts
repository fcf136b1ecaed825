/**
 * Redis coordination alone (keys, Lua scripts, the lease), without the queues, metrics and logger:
 * what packages/db needs for the writer lock, as `@datasync/runtime/coordination`.
 */
export * from './keys.js';
export * from './lease.js';
export * from './scripts.js';
