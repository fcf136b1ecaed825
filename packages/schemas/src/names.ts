import { z } from 'zod';

/**
 * Names that become file names or paths on a worker's disk. Checked in the job payload schemas,
 * so a name that would leave its folder is a 400 naming the field at the api, not a failed job.
 * (A module of its own: backups.ts and jobs.ts both use it, and backups.ts imports jobs.ts.)
 */

/** Safe as a file name and an S3 key part: no slashes, no leading dot (temp files start with one). */
export const BACKUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const BackupName = z
  .string()
  .regex(BACKUP_NAME, 'a backup name is letters, digits, ".", "_" and "-" (as GET /v1/backups lists it)');

/**
 * A file under IMPORT_DIR, as the api names the uploads it saved (absolute paths): no `..` parts,
 * no NUL. Whether it is under IMPORT_DIR is checked where IMPORT_DIR is known (api and worker).
 */
export const ImportFilePath = z
  .string()
  .min(1)
  .max(4096)
  .refine(
    (p) => !p.includes('\0') && !p.split(/[\\/]/).includes('..'),
    'must be the path of a file under IMPORT_DIR, without ".." parts',
  );
