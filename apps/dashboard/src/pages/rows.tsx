import type { SalesBatchOrigin, SalesRowsPage } from '@datasync/schemas';
import { useMemo } from 'preact/hooks';
import { query } from '../api.js';
import { bytes, count, money, timeIn, timeZone } from '../format.js';
import { useLive, useThrottled } from '../live.js';
import { useApi } from '../use-api.js';

// The drill-down: the sales rows behind a figure (the sales page links here with its filters),
// and for a batch, where it came from: a POSTed batch, a CSV file or an upstream pull.

const PAGE = 50;
const FIELDS = ['from', 'to', 'region', 'product', 'source', 'batchId'] as const;
const LABELS = {
  from: 'dated from',
  to: 'to',
  region: 'region',
  product: 'product',
  source: 'source',
  batchId: 'batch',
};

/** The rows page for these filters: the sales page's links use it. */
export const rowsLink = (filters: Record<string, string | undefined>) => `#/rows${query(filters)}`;

function Origin({ batchId }: { batchId: string }) {
  const { data: origin, error } = useApi<SalesBatchOrigin>(
    `/v1/sales/batches/${encodeURIComponent(batchId)}`,
  );
  if (error)
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  if (!origin) return null;
  const what = { 'api-batch': 'A batch POSTed by', csv: 'A CSV import by', upstream: 'An upstream pull by' }[
    origin.kind
  ];
  return (
    <section class="panel" aria-label="Where the batch came from">
      <h2>Batch {origin.batchId}</h2>
      <dl class="facts">
        <dt>What</dt>
        <dd>
          {what ?? `${origin.kind} from`} {origin.source}
        </dd>
        {origin.file && (
          <>
            <dt>File</dt>
            <dd>
              {origin.file.name ?? '(no name)'}, {bytes(origin.file.bytes)}, SHA-256{' '}
              <code>{origin.file.sha256.slice(0, 16)}…</code>, {origin.file.state}
            </dd>
          </>
        )}
        {origin.window && (
          <>
            <dt>Dates replaced</dt>
            <dd>
              {origin.window.from} to {origin.window.to}
            </dd>
          </>
        )}
        <dt>Committed</dt>
        <dd>{origin.committedAt ? timeIn(origin.committedAt) : 'still running'}</dd>
        <dt>Records</dt>
        <dd>
          {count(origin.received)} received, {count(origin.stored)} stored,{' '}
          <a href={`#/quarantine${query({ [origin.kind === 'csv' ? 'importId' : 'batchId']: batchId })}`}>
            {count(origin.rejected)} quarantined
          </a>
          {origin.duplicates ? `, ${count(origin.duplicates)} already stored` : ''}
        </dd>
      </dl>
    </section>
  );
}

export function RowsPage({ params }: { params: URLSearchParams }) {
  const filters = useMemo(
    () => Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ''])) as Record<string, string>,
    [params.toString()],
  );
  const offset = Number(params.get('offset') ?? 0) || 0;
  const commits = useThrottled(useLive().commits, 1_000);
  const { data: page, error } = useApi<SalesRowsPage>(
    `/v1/sales/rows${query({ ...filters, limit: PAGE, offset })}`,
    [commits],
  );
  const go = (f: Record<string, string | number>) => {
    location.hash = `#/rows${query(f)}`;
  };
  const chosen = FIELDS.filter((f) => filters[f]).map((f) => `${LABELS[f]} ${filters[f]}`);
  return (
    <>
      <h1>Sales rows</h1>
      <p class="muted">{chosen.length ? `Sales ${chosen.join(', ')}.` : 'Every sale.'}</p>
      {filters.batchId && <Origin batchId={filters.batchId} />}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {page && (
        <section class="panel">
          <p class="muted">
            {count(page.total)} {page.total === 1 ? 'row' : 'rows'}
            {page.total > 0 && `; ${offset + 1} to ${offset + page.items.length}, newest sale date first`}
          </p>
          <div class="scroll">
            <table class="rows">
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">Region</th>
                  <th scope="col">Product</th>
                  <th scope="col" class="num">
                    User
                  </th>
                  <th scope="col" class="num">
                    Qty
                  </th>
                  <th scope="col" class="num">
                    Unit price
                  </th>
                  <th scope="col" class="num">
                    Total
                  </th>
                  <th scope="col">Source</th>
                  <th scope="col">Batch</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((r) => (
                  <tr>
                    <td>{r.date}</td>
                    <td>{r.region}</td>
                    <td>{r.productName}</td>
                    <td class="num">{r.userId}</td>
                    <td class="num">{count(r.quantity)}</td>
                    <td class="num">{money(r.unitPrice)}</td>
                    <td class="num">{money(r.totalAmount)}</td>
                    <td>{r.source}</td>
                    <td>
                      <a
                        href={rowsLink({ batchId: r.batchId })}
                        title={`committed ${timeIn(r.ingestedAt)} ${timeZone()}`}
                      >
                        {r.batchId}
                      </a>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
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
