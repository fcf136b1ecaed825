export * from './backup.js';
export * from './errors.js';
export { MIGRATIONS, type Migration, migrate, SCHEMA_VERSION } from './migrations.js';
export * from './sales.js';
export * from './users.js';
export * from './writer.js';
export * from './writer-lock.js';
