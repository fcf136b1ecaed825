/** For tests that run a sync-worker's processors in-process beside the api (tests/e2e); main.ts is the process entry. */

export { ExportSweeper, exportsDirOf, sweepExports, writeExport } from './exports/export-files.js';
export { createReportsProcessor } from './reports/reports-processor.js';
export { createSalesSyncProcessor } from './sales-sync/sales-sync-processor.js';
