// Figures as people read them. Money stays the exact decimal text the api sends: grouped by
// string, never through a float.

export function money(decimal: string): string {
  const negative = decimal.startsWith('-');
  const [whole = '0', frac = '00'] = decimal.replace('-', '').split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}.${frac.padEnd(2, '0').slice(0, 2)}`;
}

export const count = (n: number) => n.toLocaleString('en-US');

/** Change against the period before, as "+12.5%", "-3.0%", "new" or "=". */
export function change(
  now: string | number,
  before: string | number,
): { text: string; trend: 'up' | 'down' | 'flat' } {
  const a = Number(now);
  const b = Number(before);
  if (a === b) return { text: '=', trend: 'flat' };
  if (b === 0) return { text: 'new', trend: 'up' };
  const pct = ((a - b) / Math.abs(b)) * 100;
  return { text: `${pct > 0 ? '+' : ''}${pct.toFixed(1)}%`, trend: pct > 0 ? 'up' : 'down' };
}

export function ago(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

/**
 * The business time zone (DASHBOARD_TZ, else SCHEDULE_TZ), from the session: "today" and every
 * time the pages print are in it. Sales dates are calendar dates and are never shifted.
 */
let zone = 'UTC';
/** Sets the zone; one this browser does not know falls back to UTC (the header then says UTC). */
export function setTimeZone(tz: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    zone = tz;
  } catch {
    zone = 'UTC';
  }
}
export const timeZone = () => zone;

/** One formatter per zone: a page prints a time per row, and building one is the costly part. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function partsIn(instant: Date, tz: string): Record<string, string> {
  let format = formatters.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(tz, format);
  }
  return Object.fromEntries(format.formatToParts(instant).map((p) => [p.type, p.value]));
}

const dayOf = (p: Record<string, string>) => `${p.year}-${p.month}-${p.day}`;

/** The calendar day an instant falls on in the business zone, as YYYY-MM-DD. */
export function dayIn(instant: Date, tz = zone): string {
  return dayOf(partsIn(instant, tz));
}

/** A calendar day `days` after (or before) `day`, both YYYY-MM-DD. */
export function addDays(day: string, days: number): string {
  return isoDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000));
}

/** An ISO instant as the business zone's wall-clock time, "YYYY-MM-DD HH:MM[:SS]". */
export function timeIn(iso: string | null | undefined, withSeconds = true, tz = zone): string {
  if (!iso) return '-';
  const instant = new Date(iso);
  if (Number.isNaN(instant.getTime())) return iso;
  const p = partsIn(instant, tz);
  return `${dayOf(p)} ${p.hour}:${p.minute}${withSeconds ? `:${p.second}` : ''}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
