import { createRedis, EVENTS_CHANNEL } from '@datasync/runtime';
import { type EnvConfig, QUEUES, type QueueName } from '@datasync/schemas';
import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';

export interface LiveEvent {
  type: 'commit' | 'job' | 'alert';
  data: Record<string, unknown>;
}

type Listener = (event: LiveEvent) => void;

const COMMIT_EVERY_MS = 250;

/**
 * The api's one reader of live events, shared by every open dashboard: a Redis subscriber on the
 * events channel (commits, published once by the sync-worker) and the queues' job events. Commits
 * are merged over 250 ms, so a busy ingest sends a dashboard at most four updates a second.
 * `version` counts commits: cached report answers older than it are read again.
 */
export class LiveEvents {
  version = 0;
  private readonly listeners = new Set<Listener>();
  private subscriber: Redis | null = null;
  private pending: Map<string, { source: string; rows: number; rejected: number }> | null = null;
  private started = false;
  private subscriberReady = false;

  constructor(
    private readonly config: EnvConfig,
    private readonly queueEvents: (name: QueueName) => QueueEvents,
  ) {}

  private subscribed: Promise<void> = Promise.resolve();

  /**
   * Starts reading on the first listener (an api nobody watches holds no subscription); resolves
   * once the subscription stands, so nothing published after it is missed.
   */
  async listen(listener: Listener): Promise<() => void> {
    this.listeners.add(listener);
    this.start();
    // Redis away: the stream opens anyway (its events start once Redis is back).
    await Promise.race([this.subscribed, new Promise((r) => setTimeout(r, 2_000).unref())]);
    return () => this.listeners.delete(listener);
  }

  /**
   * True while this api reads the commit events (a dashboard is open): only then does `version`
   * move with every commit, so only then may an answer be kept until the next one.
   */
  get watching(): boolean {
    return this.started && this.subscriberReady;
  }

  get size(): number {
    return this.listeners.size;
  }

  private emit(event: LiveEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    const subscriber = createRedis(this.config.REDIS_URL, 'worker');
    subscriber.on('error', () => undefined); // reconnects and re-subscribes by itself
    this.subscriber = subscriber;
    // A reconnect may miss commits: answers kept until then are dropped (version moves on).
    subscriber.on('ready', () => this.version++);
    subscriber.on('close', () => {
      this.subscriberReady = false;
      this.version++;
    });
    this.subscribed = subscriber.subscribe(EVENTS_CHANNEL).then(
      () => {
        this.subscriberReady = true;
      },
      () => undefined, // Redis down: the stream stays open and fills once it is back
    );
    subscriber.on('message', (_channel, text: string) => {
      let event: { type?: string; sources?: { source: string; rows: number; rejected: number }[] };
      try {
        event = JSON.parse(text);
      } catch {
        return;
      }
      if (event.type === 'commit') this.commit(event.sources ?? []);
      else if (event.type === 'alert') this.emit({ type: 'alert', data: event as Record<string, unknown> });
    });
    for (const queue of Object.values(QUEUES)) {
      const events = this.queueEvents(queue);
      const job = (state: string) => (args: { jobId: string; data?: unknown }) => {
        this.emit({
          type: 'job',
          data: { queue, jobId: args.jobId, state, ...(state === 'progress' ? { progress: args.data } : {}) },
        });
        // A finished import or sync changed the sales: as good as a commit for the figures.
        if (state === 'completed' && (queue === QUEUES.salesSync || queue === QUEUES.userImport))
          this.commit([]);
      };
      if (queue !== QUEUES.ingest && queue !== QUEUES.reports) {
        events.on('active', job('active'));
        events.on('progress', job('progress'));
        events.on('completed', job('completed'));
        events.on('failed', job('failed'));
      }
    }
  }

  private commit(sources: { source: string; rows: number; rejected: number }[]): void {
    this.version++;
    const first = this.pending === null;
    this.pending ??= new Map();
    for (const s of sources) {
      const entry = this.pending.get(s.source) ?? { source: s.source, rows: 0, rejected: 0 };
      entry.rows += s.rows;
      entry.rejected += s.rejected;
      this.pending.set(s.source, entry);
    }
    if (!first) return;
    setTimeout(() => {
      const merged = [...(this.pending?.values() ?? [])];
      this.pending = null;
      this.emit({
        type: 'commit',
        data: { sources: merged, version: this.version, at: new Date().toISOString() },
      });
    }, COMMIT_EVERY_MS).unref();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.subscriber) this.subscriber.disconnect();
  }
}
