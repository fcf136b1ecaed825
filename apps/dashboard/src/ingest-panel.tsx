import type { QueueDepths } from '@datasync/schemas';
import { useMemo } from 'preact/hooks';
import { TimeChart } from './chart.js';
import { count } from './format.js';
import { INGEST_BUCKET_MS, useLive, useThrottled } from './live.js';
import { useApi } from './use-api.js';

/**
 * Live ingest: rows committed per 5 s and per source since the page opened, from the commit
 * events themselves (no query), and the queue depths, read again when a commit or job event
 * arrives (at most once a second), never on a timer.
 */
const perSecond = (n: number) => (n >= 10 || n === 0 ? count(Math.round(n)) : n.toFixed(n < 1 ? 2 : 1));

export function IngestPanel() {
  const { ingest, commits, jobs, connected } = useLive();
  const events = useThrottled(commits + jobs, 1_000);
  const { data: depths, error } = useApi<QueueDepths>('/v1/queues', [events]);
  const points = useMemo(() => {
    // Every 5 s step of the last 5 minutes, empty ones too, ending now.
    const end = Math.floor(Date.now() / INGEST_BUCKET_MS) * INGEST_BUCKET_MS;
    const rows = new Map(ingest.buckets);
    const start = end - 300_000;
    const out = [];
    for (let t = start; t <= end; t += INGEST_BUCKET_MS)
      out.push({ key: new Date(t).toISOString(), value: (rows.get(t) ?? 0) / (INGEST_BUCKET_MS / 1000) });
    return out;
  }, [ingest]);
  const lastMinute = ingest.buckets
    .filter(([t]) => t > Date.now() - 60_000)
    .reduce((n, [, rows]) => n + rows, 0);
  const sources = Object.entries(ingest.bySource).sort(([a], [b]) => (a < b ? -1 : 1));
  return (
    <section class="panel" aria-label="Live ingest">
      <h2>Live ingest</h2>
      <p class="muted">
        {connected ? 'Live' : 'Reconnecting…'}: {perSecond(lastMinute / 60)} rows/s over the last minute. Rows
        committed per source since this page opened, and the jobs on each queue:
      </p>
      <TimeChart points={points} label="Rows committed per second" height={160} instants />
      <div class="two">
        <div class="scroll">
          <table aria-label="Committed per source">
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col" class="num">
                  Stored
                </th>
                <th scope="col" class="num">
                  Rejected
                </th>
              </tr>
            </thead>
            <tbody>
              {sources.map(([source, s]) => (
                <tr>
                  <td>{source}</td>
                  <td class="num">{count(s.rows)}</td>
                  <td class="num">{count(s.rejected)}</td>
                </tr>
              ))}
              {sources.length === 0 && (
                <tr>
                  <td colSpan={3} class="muted">
                    Nothing committed since this page opened.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <div class="scroll">
          <table aria-label="Queue depths">
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col" class="num">
                  Waiting
                </th>
                <th scope="col" class="num">
                  Delayed
                </th>
                <th scope="col" class="num">
                  Active
                </th>
                <th scope="col" class="num">
                  Failed
                </th>
                <th scope="col" class="num">
                  Workers
                </th>
              </tr>
            </thead>
            <tbody>
              {depths?.queues.map((q) => (
                <tr>
                  <td>{q.queue}</td>
                  <td class="num">{count(q.waiting)}</td>
                  <td class="num" title="retries waiting out their backoff, and scheduled runs">
                    {count(q.delayed)}
                  </td>
                  <td class="num">{count(q.active)}</td>
                  <td class="num">{count(q.failed)}</td>
                  <td class={q.workers === 0 ? 'num warn' : 'num'}>{q.workers}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </section>
  );
}
