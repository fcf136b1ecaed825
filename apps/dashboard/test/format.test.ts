import { describe, expect, it } from 'vitest';
import { addDays, dayIn, money, setTimeZone, timeIn, timeZone } from '../src/format.js';

describe('days and times in the business time zone', () => {
  it('"today" is the calendar day in the zone, not in UTC', () => {
    const lateEvening = new Date('2026-03-28T23:30:00Z');
    expect(dayIn(lateEvening, 'UTC')).toBe('2026-03-28');
    expect(dayIn(lateEvening, 'Europe/Berlin')).toBe('2026-03-29');
    expect(dayIn(lateEvening, 'America/New_York')).toBe('2026-03-28');
  });

  it('times follow daylight saving time', () => {
    // Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 2026-03-29.
    expect(timeIn('2026-03-29T00:59:59Z', true, 'Europe/Berlin')).toBe('2026-03-29 01:59:59');
    expect(timeIn('2026-03-29T01:00:00Z', true, 'Europe/Berlin')).toBe('2026-03-29 03:00:00');
    expect(timeIn('2026-07-01T12:00:00Z', false, 'America/New_York')).toBe('2026-07-01 08:00');
    expect(timeIn('2026-12-01T00:00:00Z', false, 'UTC')).toBe('2026-12-01 00:00');
  });

  it('falls back to UTC for a zone this browser does not know', () => {
    setTimeZone('Europe/Berlin');
    expect(timeZone()).toBe('Europe/Berlin');
    setTimeZone('Mars/Olympus_Mons');
    expect(timeZone()).toBe('UTC');
    expect(timeIn('2026-07-01T12:00:00Z')).toBe('2026-07-01 12:00:00');
  });

  it('keeps what it cannot read, and says when there is no time', () => {
    expect(timeIn('not a time')).toBe('not a time');
    expect(timeIn(null)).toBe('-');
  });

  it('counts calendar days across month, year and DST boundaries', () => {
    expect(addDays('2026-03-31', -29)).toBe('2026-03-02');
    expect(addDays('2026-01-05', -29)).toBe('2025-12-07');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
  });
});

describe('money', () => {
  it('groups the exact decimal text', () => {
    expect(money('1234567.5')).toBe('1,234,567.50');
    expect(money('-0.05')).toBe('-0.05');
  });
});
