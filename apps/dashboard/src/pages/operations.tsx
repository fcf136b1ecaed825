import type { HealthCheckResult, JobStatus, ListBackupsResult, SchedulesBody } from '@datasync/schemas';
import { useState } from 'preact/hooks';
import { api, csrfHeader } from '../api.js';
import { ago, bytes, timeIn, timeZone } from '../format.js';
import { IngestPanel } from '../ingest-panel.js';
import { useLive, useThrottled } from '../live.js';
import { useApi } from '../use-api.js';

const progressOf = (job: JobStatus) =>
  typeof job.progress === 'number'
    ? job.progress
    : ((job.progress as { percent?: number } | null)?.percent ?? null);

/** A bar only where it says something: a running job, or one that reported progress. */
const showsProgress = (job: JobStatus) => job.state === 'active' || (progressOf(job) ?? 0) > 0;

/** Waits for a job to end (the live events nudge it; a poll every second is the fallback). */
async function finished(jobId: string, onUpdate: (job: JobStatus) => void): Promise<JobStatus> {
  for (;;) {
    const job = await api<JobStatus>(`/v1/jobs/${encodeURIComponent(jobId)}`);
    onUpdate(job);
    if (job.state === 'completed' || job.state === 'failed') return job;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** The CSV upload: the file streams to the api (progress from the browser), then the import runs. */
function uploadCsv(file: File, onProgress: (percent: number) => void): Promise<{ jobId: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/sales/imports');
    xhr.setRequestHeader('content-type', 'text/csv');
    for (const [k, v] of Object.entries(csrfHeader())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(Math.round((e.loaded / e.total) * 100));
    xhr.onload = () => {
      let body: { jobId?: string; detail?: string } = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status === 202 && body.jobId) resolve({ jobId: body.jobId });
      else reject(new Error(body.detail ?? `upload refused: ${xhr.status}`));
    };
    xhr.onerror = () => reject(new Error('the upload was cut off'));
    xhr.send(file);
  });
}

function Actions({ onJob }: { onJob: (line: string) => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [status, setStatus] = useState<string>('');
  const run = async (label: string, start: () => Promise<{ jobId: string }>) => {
    setBusy(label);
    try {
      const { jobId } = await start();
      const job = await finished(jobId, (j) =>
        setStatus(`${label}: ${j.state}${progressOf(j) !== null ? ` ${progressOf(j)}%` : ''}`),
      );
      const line =
        job.state === 'completed'
          ? `${label} done: ${summary(job.result)}`
          : `${label} failed: ${job.error ?? 'no reason given'}`;
      setStatus(line);
      onJob(line);
    } catch (e) {
      setStatus(`${label}: ${(e as Error).message}`);
    } finally {
      setBusy(null);
    }
  };
  const job =
    (type: string, body: unknown = {}) =>
    () =>
      api<{ jobId: string }>(`/v1/jobs/${type}`, { method: 'POST', json: body });
  return (
    <section class="panel" aria-label="Actions">
      <h2>Run</h2>
      <div class="actions">
        <button type="button" disabled={!!busy} onClick={() => run('Backup', job('backup'))}>
          Back up now
        </button>
        <button type="button" disabled={!!busy} onClick={() => run('Verify backup', job('verify-backup'))}>
          Verify the newest backup
        </button>
        <button type="button" disabled={!!busy} onClick={() => run('Health check', job('health-check'))}>
          Run a health check
        </button>
        <label class="upload">
          Import a sales CSV{' '}
          <input
            type="file"
            accept=".csv,text/csv"
            disabled={!!busy}
            onChange={(e) => {
              const input = e.target as HTMLInputElement;
              const file = input.files?.[0];
              if (file)
                void run(`CSV import of ${file.name}`, () =>
                  uploadCsv(file, (p) => setStatus(`Uploading ${file.name}: ${p}%`)),
                ).then(() => (input.value = ''));
            }}
          />
        </label>
      </div>
      <p role="status" aria-live="polite" class="status">
        {status}
      </p>
    </section>
  );
}

function summary(result: unknown): string {
  if (!result || typeof result !== 'object') return 'ok';
  const r = result as Record<string, unknown>;
  if ('accepted' in r)
    return `${r.received} read, ${r.accepted} stored, ${r.rejected} rejected, ${r.duplicates ?? 0} duplicates`;
  if ('status' in r) return `overall ${r.status}`;
  if ('backup' in r) return `backup ${(r.backup as { name: string }).name}`;
  if ('ok' in r) return r.ok ? 'the backup restores and matches' : 'the backup does NOT match';
  return 'ok';
}

function Restore({ backups, onJob }: { backups: ListBackupsResult; onJob: (line: string) => void }) {
  const [name, setName] = useState('');
  const [message, setMessage] = useState('');
  const restore = async () => {
    const chosen = backups.backups.find((b) => b.name === name);
    if (!chosen) return;
    const ok = confirm(
      `Restore ${chosen.name} (made ${timeIn(chosen.createdAt)} ${timeZone()}, ${chosen.tables.sales ?? 0} sales)?\n\nThis REPLACES the live database: every batch committed after ${timeIn(chosen.createdAt)} is rolled back (listed in the result; their senders may send them again).`,
    );
    if (!ok) return;
    try {
      const { jobId } = await api<{ jobId: string }>('/v1/jobs/restore', { method: 'POST', json: { name } });
      const job = await finished(jobId, (j) => setMessage(`Restore: ${j.state}`));
      const line = job.state === 'completed' ? `Restored ${name}` : `Restore failed: ${job.error}`;
      setMessage(line);
      onJob(line);
    } catch (e) {
      setMessage((e as Error).message);
    }
  };
  return (
    <div class="restore">
      <label>
        Restore{' '}
        <select value={name} onChange={(e) => setName((e.target as HTMLSelectElement).value)}>
          <option value="">choose a backup</option>
          {backups.backups.map((b) => (
            <option value={b.name}>{b.name}</option>
          ))}
        </select>
      </label>{' '}
      <button type="button" class="danger" disabled={!name} onClick={restore}>
        Restore…
      </button>
      <p role="status" aria-live="polite">
        {message}
      </p>
    </div>
  );
}

export function OperationsPage() {
  const jobEvents = useThrottled(useLive().jobs, 1_000);
  const [done, setDone] = useState(0);
  const jobs = useApi<{ jobs: JobStatus[] }>('/v1/jobs?limit=20', [jobEvents, done]);
  const backups = useApi<ListBackupsResult>('/v1/backups', [done]);
  const schedules = useApi<SchedulesBody>('/v1/schedules', [done]);
  const lastHealth = jobs.data?.jobs.find((j) => j.type === 'health-check' && j.state === 'completed');
  const health = lastHealth?.result as HealthCheckResult | undefined;
  const onJob = () => setDone((n) => n + 1);
  return (
    <>
      <h1>Operations</h1>
      <IngestPanel />
      <Actions onJob={onJob} />
      <section class="panel">
        <h2>Recent jobs</h2>
        {jobs.error && <p class="error">{jobs.error}</p>}
        <table>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                Progress
              </th>
              <th scope="col">Started</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>
            {(jobs.data?.jobs ?? []).map((j) => (
              <tr>
                <td>
                  {j.type} <span class="muted">{j.id.slice(0, 8)}</span>
                </td>
                <td class={`state ${j.state}`}>{j.state}</td>
                <td class="num">
                  {showsProgress(j) ? (
                    <progress max={100} value={progressOf(j)!} aria-label={`${j.type} progress`} />
                  ) : (
                    ''
                  )}
                </td>
                <td title={timeIn(j.createdAt)}>{ago(j.createdAt)}</td>
                <td>{j.state === 'failed' ? j.error : j.state === 'completed' ? summary(j.result) : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <div class="two">
        <section class="panel">
          <h2>Health</h2>
          {health ? (
            <>
              <p>
                Overall <strong class={`state ${health.status}`}>{health.status}</strong>, checked{' '}
                {ago(health.checkedAt)}
              </p>
              <ul class="checks">
                {health.checks.map((c) => (
                  <li>
                    <span class={`state ${c.status}`}>{c.status}</span> <strong>{c.name}</strong>: {c.detail}
                  </li>
                ))}
              </ul>
            </>
          ) : (
            <p class="muted">No health check in the recent jobs: run one.</p>
          )}
        </section>
        <section class="panel">
          <h2>Timetable</h2>
          {schedules.error && <p class="error">{schedules.error}</p>}
          <table>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">When</th>
                <th scope="col">Next</th>
                <th scope="col">Last</th>
                <th scope="col" class="num">
                  Skipped
                </th>
              </tr>
            </thead>
            <tbody>
              {(schedules.data?.schedules ?? []).map((s) => (
                <tr>
                  <td title={s.description}>{s.id}</td>
                  <td>{s.enabled ? `${s.cron} ${s.tz}` : 'off'}</td>
                  <td>{timeIn(s.nextRun, false)}</td>
                  <td>
                    {s.lastRun ? `${ago(s.lastRun.startedAt)} (${s.lastRun.state ?? 'gone'})` : 'never'}
                  </td>
                  <td class="num">{s.skippedRuns}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <section class="panel">
        <h2>Backups</h2>
        {backups.error && <p class="error">{backups.error}</p>}
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Made</th>
              <th scope="col" class="num">
                Size
              </th>
              <th scope="col">Verification</th>
              <th scope="col">Where</th>
              <th scope="col">SHA-256</th>
            </tr>
          </thead>
          <tbody>
            {(backups.data?.backups ?? []).map((b) => (
              <tr>
                <td>{b.name}</td>
                <td title={timeIn(b.createdAt)}>{ago(b.createdAt)}</td>
                <td class="num">{bytes(b.size)}</td>
                <td>{b.verification.state}</td>
                <td>{b.locations.join(', ')}</td>
                <td>
                  <code title={b.sha256}>{b.sha256.slice(0, 12)}…</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {backups.data && <Restore backups={backups.data} onJob={onJob} />}
      </section>
    </>
  );
}
