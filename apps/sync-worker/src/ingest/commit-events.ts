import { type CommitEvent, EVENTS_CHANNEL } from '@datasync/runtime';
import type { Redis } from 'ioredis';
import type { CommitStats } from './group-committer.js';

/**
 * Publishes each commit on the live events channel, once, whatever the number of dashboards open
 * (the api fans it out). Fire and forget: a lost event only delays a dashboard's refresh.
 */
export function commitEventPublisher(redis: Redis) {
  return (stats: CommitStats) => {
    if (stats.sources.length === 0) return; // duplicates only: nothing changed
    const event: CommitEvent = {
      type: 'commit',
      sources: stats.sources,
      batches: stats.batches,
      at: new Date().toISOString(),
    };
    redis.publish(EVENTS_CHANNEL, JSON.stringify(event)).catch(() => undefined);
  };
}
