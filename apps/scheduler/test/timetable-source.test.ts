import { parseEnvConfig } from '@datasync/schemas';
import { describe, expect, it } from 'vitest';
import { configuredTimetable } from '../src/timetable.js';

describe('the nightly sales sync source', () => {
  const salesSync = (env: Record<string, string>) =>
    configuredTimetable(parseEnvConfig(env)).find((s) => s.definition.id === 'sales-sync')!.definition;

  it('pulls the upstream API by default and the SQL database with SCHEDULE_SALES_SYNC_SOURCE=sql', () => {
    expect(salesSync({}).data).toEqual({ source: 'api', days: 1 });
    expect(salesSync({ SCHEDULE_SALES_SYNC_SOURCE: 'sql' }).data).toEqual({ source: 'sql' });
    expect(() => parseEnvConfig({ SCHEDULE_SALES_SYNC_SOURCE: 'csv' })).toThrow(/SCHEDULE_SALES_SYNC_SOURCE/);
  });
});
