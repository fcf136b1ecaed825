export {
  createSampleOldDatabase as createSmallOldDatabase,
  OLD_SCRIPT_PLAINTEXT as PLAINTEXT,
} from '@datasync/db';
