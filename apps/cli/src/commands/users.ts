import { type Command, parse, runJob, UsageError } from '../command.js';
import { printKeyValues } from '../output.js';

/** The old `import-users FILE`: username,email,role,initial_password. */
export const importUsersCommand: Command = {
  name: 'import-users',
  usage: 'datasync import-users FILE [--update-existing]',
  summary: 'import users from a CSV file (username,email,role,initial_password)',
  async run(ctx) {
    const { values, positionals } = parse(ctx.argv, { 'update-existing': { type: 'boolean' } });
    const file = positionals[0];
    if (!file) throw new UsageError('import-users needs a CSV FILE');
    const query = values['update-existing'] ? '?updateExisting=true' : '';
    return runJob(ctx, { path: `/v1/jobs/user-import${query}`, file }, (result) =>
      printKeyValues((result ?? {}) as Record<string, unknown>),
    );
  },
};
