export * from './backups.js';
export * from './env.js';
export * from './http.js';
export * from './jobs.js';
export * from './operations.js';
export * from './sale.js';
export * from './sales-sync.js';
export * from './users.js';
