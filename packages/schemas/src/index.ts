export * from './env.js';
export * from './http.js';
export * from './jobs.js';
export * from './sale.js';
