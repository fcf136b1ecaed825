import type { RejectEntry, RejectsPage } from '@datasync/schemas';
import { useMemo, useState } from 'preact/hooks';
import { api, query } from '../api.js';
import { timeIn } from '../format.js';
import { useLive, useThrottled } from '../live.js';
import { useApi } from '../use-api.js';

const PAGE = 50;
const FIELDS = ['batchId', 'importId', 'source', 'reason'] as const;

const csvCell = (v: string | number) => {
  const text = String(v);
  // A leading =, +, - or @ would run as a formula in a spreadsheet: quoted with a ' first.
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

/** Every reject the filters select (page by page), as one CSV file. */
async function download(filters: Record<string, string>) {
  const rows: RejectEntry[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api<RejectsPage>(`/v1/rejects${query({ ...filters, limit: 1000, offset })}`);
    rows.push(...page.items);
    if (page.items.length < 1000 || rows.length >= page.total) break;
  }
  const lines = [['rejected_at', 'source', 'batch_id', 'kind', 'row_number', 'reasons', 'raw'].join(',')];
  for (const r of rows)
    lines.push(
      [
        r.rejectedAt,
        r.source,
        r.batchId,
        r.kind,
        r.rowNumber,
        r.reasons.map((x) => `${x.path}: ${x.message}`).join('; '),
        r.raw,
      ]
        .map(csvCell)
        .join(','),
    );
  const url = URL.createObjectURL(new Blob([`${lines.join('\r\n')}\r\n`], { type: 'text/csv' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = 'rejects.csv';
  a.click();
  URL.revokeObjectURL(url);
}

export function QuarantinePage({ params }: { params: URLSearchParams }) {
  const filters = useMemo(
    () => Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ''])) as Record<string, string>,
    [params.toString()],
  );
  const offset = Number(params.get('offset') ?? 0) || 0;
  const commits = useThrottled(useLive().commits, 1_000);
  const listed = useApi<RejectsPage>(
    `/v1/rejects${query({ ...filters, limit: PAGE, offset, newest: 'true' })}`,
    [commits],
  );
  const page = listed.data;
  const [downloadError, setError] = useState<string | null>(null);
  const error = downloadError ?? listed.error;
  const [open, setOpen] = useState<number | null>(null);
  const go = (f: Record<string, string | number>) => {
    location.hash = `#/quarantine${query(f)}`;
  };
  return (
    <>
      <h1>Quarantine</h1>
      <form
        class="filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          go(
            Object.fromEntries(new FormData(e.target as HTMLFormElement).entries()) as Record<string, string>,
          );
        }}
      >
        <label>
          Batch <input name="batchId" value={filters.batchId} size={16} />
        </label>
        <label>
          Import <input name="importId" value={filters.importId} size={16} />
        </label>
        <label>
          Source <input name="source" value={filters.source} size={10} />
        </label>
        <label>
          Reason contains <input name="reason" value={filters.reason} size={16} />
        </label>
        <button type="submit">Search</button>
        <button type="button" onClick={() => void download(filters).catch((e: Error) => setError(e.message))}>
          Download CSV
        </button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {page && (
        <section class="panel">
          <p class="muted">
            {page.total.toLocaleString('en-US')} rejected records
            {page.total > 0 && `; ${offset + 1} to ${offset + page.items.length}, newest first`}
          </p>
          <table class="rejects">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Source</th>
                <th scope="col">Batch or import</th>
                <th scope="col" class="num">
                  Row
                </th>
                <th scope="col">Reasons</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((r, i) => (
                <>
                  <tr>
                    <td>{timeIn(r.rejectedAt)}</td>
                    <td>{r.source}</td>
                    <td>
                      <a
                        href={`#/quarantine${query({ [r.kind === 'csv' ? 'importId' : 'batchId']: r.batchId })}`}
                      >
                        {r.batchId}
                      </a>
                    </td>
                    <td class="num">{r.rowNumber}</td>
                    <td>
                      <ul class="reasons">
                        {r.reasons.map((x) => (
                          <li>
                            {x.path && <code>{x.path}</code>} {x.message}
                          </li>
                        ))}
                      </ul>
                      <button
                        type="button"
                        class="link"
                        aria-expanded={open === i}
                        onClick={() => setOpen(open === i ? null : i)}
                      >
                        {open === i ? 'Hide' : 'Show'} the raw record
                      </button>
                    </td>
                  </tr>
                  {open === i && (
                    <tr class="raw">
                      <td colSpan={5}>
                        <pre>{r.raw}</pre>
                      </td>
                    </tr>
                  )}
                </>
              ))}
            </tbody>
          </table>
          <nav class="pager" aria-label="Pages">
            <button
              type="button"
              disabled={offset === 0}
              onClick={() => go({ ...filters, offset: Math.max(0, offset - PAGE) })}
            >
              Newer
            </button>
            <button
              type="button"
              disabled={offset + PAGE >= page.total}
              onClick={() => go({ ...filters, offset: offset + PAGE })}
            >
              Older
            </button>
          </nav>
        </section>
      )}
    </>
  );
}
