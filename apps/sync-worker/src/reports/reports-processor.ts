import {
  type DatabaseWriter,
  findSalesBatch,
  listRejects,
  listSales,
  salesAnalytics,
  salesSummary,
} from '@datasync/db';
import {
  BatchIdParams,
  ExportTableJobData,
  REPORT_JOBS,
  RejectsFilter,
  SalesAnalyticsQuery,
  SalesRowsQuery,
  SalesSummaryRequest,
} from '@datasync/schemas';
import { type Job, UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import { writeExport } from '../exports/export-files.js';

/**
 * The reports queue's processor: the api's reads (it never opens DuckDB) run here on a read
 * connection of their own beside any write transaction, so a report never holds up ingest.
 */
export function createReportsProcessor(deps: {
  writer: DatabaseWriter;
  /** Where export-table jobs write their files (IMPORT_DIR/.exports); without it they fail. */
  exportsDir?: string;
}) {
  const parse = <T extends z.ZodType>(schema: T, job: Job): z.output<T> => {
    const parsed = schema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(
        `malformed ${job.name} job: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      );
    }
    return parsed.data;
  };
  return async (job: Job): Promise<unknown> => {
    switch (job.name) {
      case REPORT_JOBS.salesSummary: {
        const query = parse(SalesSummaryRequest, job);
        return deps.writer.read((conn) => salesSummary(conn, query));
      }
      case REPORT_JOBS.salesAnalytics: {
        const query = parse(SalesAnalyticsQuery, job);
        return deps.writer.read((conn) => salesAnalytics(conn, query));
      }
      case REPORT_JOBS.rejects: {
        const filter = parse(RejectsFilter, job);
        return deps.writer.read((conn) => listRejects(conn, filter));
      }
      case REPORT_JOBS.salesRows: {
        const query = parse(SalesRowsQuery, job);
        return deps.writer.read((conn) => listSales(conn, query));
      }
      case REPORT_JOBS.salesBatchOrigin: {
        const { batchId } = parse(BatchIdParams, job);
        // null (no such batch) is an answer the api turns into a 404.
        return deps.writer.read((conn) => findSalesBatch(conn, batchId));
      }
      case REPORT_JOBS.exportTable: {
        const data = parse(ExportTableJobData, job);
        if (!deps.exportsDir) throw new UnrecoverableError('this worker writes no exports (no exportsDir)');
        return writeExport(deps.writer, deps.exportsDir, data);
      }
      default:
        throw new UnrecoverableError(`the reports queue has no job ${job.name}`);
    }
  };
}
