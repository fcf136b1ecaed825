import { type EnvConfig, type ScheduleDefinition, TIMETABLE } from '@datasync/schemas';
import { CronExpressionParser } from 'cron-parser';

/** One schedule as configured: its definition, and its cron and zone, or `off`. */
export interface ConfiguredSchedule {
  definition: ScheduleDefinition;
  /** null when its variable is `off`. */
  pattern: string | null;
  tz: string;
}

/** A cron expression the parser refuses; the message names the variable, like every config error. */
export class TimetableError extends Error {
  override readonly name = 'TimetableError';
}

export type TimetableConfig = Pick<EnvConfig, 'SCHEDULE_TZ' | ScheduleDefinition['variable']> &
  Partial<Pick<EnvConfig, 'SCHEDULE_SALES_SYNC_SOURCE'>>;

/** The nightly sales sync pulls from the SQL database instead of the API when so configured. */
function withSource(definition: ScheduleDefinition, config: TimetableConfig): ScheduleDefinition {
  if (definition.variable !== 'SCHEDULE_SALES_SYNC' || config.SCHEDULE_SALES_SYNC_SOURCE !== 'sql')
    return definition;
  return {
    ...definition,
    data: { source: 'sql' },
    description: 'sales sync from the SQL database (SALES_DB_URL, incremental from its watermark)',
  };
}

/** The contract's timetable read from the configuration, each pattern checked by the cron parser. */
export function configuredTimetable(config: TimetableConfig): ConfiguredSchedule[] {
  const problems: string[] = [];
  const schedules = TIMETABLE.map((listed) => withSource(listed, config)).map((definition) => {
    const value = config[definition.variable].trim();
    if (value === 'off') return { definition, pattern: null, tz: config.SCHEDULE_TZ };
    try {
      CronExpressionParser.parse(value, { tz: config.SCHEDULE_TZ, strict: false }).next();
    } catch (error) {
      problems.push(`  ${definition.variable}=${JSON.stringify(value)}: ${(error as Error).message}`);
    }
    return { definition, pattern: value, tz: config.SCHEDULE_TZ };
  });
  if (problems.length) throw new TimetableError(`invalid timetable:\n${problems.join('\n')}`);
  return schedules;
}

/** The newest due time of a pattern at or before `now` (ms), or null when it has none. */
export function previousDueTime(pattern: string, tz: string, now: number): number | null {
  try {
    const expression = CronExpressionParser.parse(pattern, { tz, currentDate: new Date(now + 1) });
    return expression.prev().getTime();
  } catch {
    return null;
  }
}
