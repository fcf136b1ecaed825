import type { SalesAnalytics, SalesGroup } from '@datasync/schemas';
import { useMemo } from 'preact/hooks';
import { query } from '../api.js';
import { TimeChart } from '../chart.js';
import { addDays, ago, change, count, dayIn, isoDay, money, timeZone } from '../format.js';
import { useLive, useThrottled } from '../live.js';
import { useApi } from '../use-api.js';
import { rowsLink } from './rows.js';

const DAY = 86_400_000;

interface Filters {
  from: string;
  to: string;
  bucket: 'day' | 'week' | 'month';
  region: string;
  product: string;
  source: string;
}

function filtersFrom(params: URLSearchParams): Filters {
  // The last 30 days up to today in the business time zone.
  const today = dayIn(new Date());
  return {
    from: params.get('from') ?? addDays(today, -29),
    to: params.get('to') ?? today,
    bucket: (params.get('bucket') as Filters['bucket']) ?? 'day',
    region: params.get('region') ?? '',
    product: params.get('product') ?? '',
    source: params.get('source') ?? '',
  };
}

/** The rows behind a figure: the page's filters without the bucket, narrowed by `more`. */
const rowsOf = (f: Filters, more: Partial<Record<'from' | 'to' | 'region' | 'product', string>> = {}) =>
  rowsLink({ from: f.from, to: f.to, region: f.region, product: f.product, source: f.source, ...more });

/** The last day of the bucket that starts on `key`, within the period. */
function bucketEnd(key: string, bucket: Filters['bucket'], to: string): string {
  const start = new Date(`${key}T00:00:00Z`);
  const end =
    bucket === 'day'
      ? start
      : bucket === 'week'
        ? new Date(start.getTime() + 6 * DAY)
        : new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 0));
  const day = isoDay(end);
  return day < to ? day : to;
}

const go = (f: Filters) => {
  location.hash = `#/sales${query({ ...f })}`;
};

function Kpi({
  label,
  now,
  before,
  show,
}: {
  label: string;
  now: string | number;
  before: string | number;
  show: (v: never) => string;
}) {
  const delta = change(now, before);
  return (
    <div class="kpi">
      <span class="kpi-label">{label}</span>
      <span class="kpi-value" data-kpi={label}>
        {show(now as never)}
      </span>
      <span class={`kpi-delta ${delta.trend}`} title={`previous period: ${show(before as never)}`}>
        {delta.text} <span class="muted">vs {show(before as never)}</span>
      </span>
    </div>
  );
}

function GroupTable({
  title,
  rows,
  filterKey,
  filters,
}: {
  title: string;
  rows: SalesGroup[];
  filterKey: 'region' | 'product';
  filters: Filters;
}) {
  const max = Math.max(1, ...rows.map((r) => Number(r.revenue)));
  return (
    <section class="panel">
      <h2>{title}</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">{filterKey === 'region' ? 'Region' : 'Product'}</th>
            <th scope="col" class="num">
              Revenue
            </th>
            <th scope="col" class="num">
              Orders
            </th>
            <th scope="col" class="num">
              Units
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr>
              <td>
                <a href={`#/sales${query({ ...filters, [filterKey]: r.key })}`} title={`only ${r.key}`}>
                  {r.key}
                </a>
                <span class="bar" style={{ width: `${(Number(r.revenue) / max) * 100}%` }} />
              </td>
              <td class="num">{money(r.revenue)}</td>
              <td class="num">
                <a href={rowsOf(filters, { [filterKey]: r.key })} title={`the ${r.key} sales rows`}>
                  {count(r.orders)}
                </a>
              </td>
              <td class="num">{count(r.units)}</td>
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td colSpan={4} class="muted">
                No sales in this period.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}

export function SalesPage({ params }: { params: URLSearchParams }) {
  const filters = useMemo(() => filtersFrom(params), [params.toString()]);
  const { commits } = useLive();
  // Re-read on a filter change, and when a commit lands (at most every 500 ms).
  const commitsSeen = useThrottled(commits, 500);
  const { data, error } = useApi<SalesAnalytics>(`/v1/sales/analytics${query({ ...filters })}`, [
    commitsSeen,
  ]);

  const onSubmit = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    go(Object.fromEntries(form.entries()) as unknown as Filters);
  };
  const points = useMemo(
    () => (data?.series ?? []).map((s) => ({ key: s.key, value: Number(s.revenue) })),
    [data],
  );

  return (
    <>
      <h1>Sales</h1>
      <form class="filters" onSubmit={onSubmit} aria-label="Filters">
        <label>
          From <input type="date" name="from" value={filters.from} required />
        </label>
        <label>
          To <input type="date" name="to" value={filters.to} required />
        </label>
        <label>
          By{' '}
          <select name="bucket" value={filters.bucket}>
            <option value="day">day</option>
            <option value="week">week</option>
            <option value="month">month</option>
          </select>
        </label>
        <label>
          Region <input name="region" value={filters.region} placeholder="all" size={12} />
        </label>
        <label>
          Product <input name="product" value={filters.product} placeholder="all" size={12} />
        </label>
        <label>
          Source <input name="source" value={filters.source} placeholder="all" size={10} />
        </label>
        <button type="submit">Apply</button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {/* Figures of another selection never stand under an error about this one. */}
      {data && !error && (
        <>
          <section class="kpis" aria-label="Key figures">
            <Kpi label="Revenue" now={data.current.revenue} before={data.previous.revenue} show={money} />
            <Kpi label="Orders" now={data.current.orders} before={data.previous.orders} show={count} />
            <Kpi label="Units" now={data.current.units} before={data.previous.units} show={count} />
            <Kpi
              label="Average order"
              now={data.current.averageOrder}
              before={data.previous.averageOrder}
              show={money}
            />
          </section>
          <p class="muted period">
            {data.from} to {data.to} against {data.previous.from} to {data.previous.to} (days in {timeZone()}
            ). Fresh as of:{' '}
            {data.freshness.length === 0
              ? 'no sales in this selection'
              : data.freshness.map((f) => `${f.source} ${ago(f.lastCommit)}`).join(', ')}
            . <a href={rowsOf(filters)}>See the {count(data.current.orders)} sales rows</a>
          </p>
          <section class="panel">
            <h2>Revenue by {data.bucket}</h2>
            <TimeChart points={points} label="Revenue" />
            <details>
              <summary>The figures</summary>
              <table>
                <thead>
                  <tr>
                    <th scope="col">{data.bucket} from</th>
                    <th scope="col" class="num">
                      Revenue
                    </th>
                    <th scope="col" class="num">
                      Orders
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.series.map((s) => (
                    <tr>
                      <td>{s.key}</td>
                      <td class="num">{money(s.revenue)}</td>
                      <td class="num">
                        <a
                          href={rowsOf(filters, {
                            from: s.key < filters.from ? filters.from : s.key,
                            to: bucketEnd(s.key, data.bucket, filters.to),
                          })}
                        >
                          {count(s.orders)}
                        </a>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          </section>
          <div class="two">
            <GroupTable title="By region" rows={data.byRegion} filterKey="region" filters={filters} />
            <GroupTable title="Top products" rows={data.topProducts} filterKey="product" filters={filters} />
          </div>
        </>
      )}
    </>
  );
}
