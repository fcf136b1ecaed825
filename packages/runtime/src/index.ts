export * from './config.js';
export * from './local-redis.js';
export * from './logger.js';
export * from './queues.js';
export * from './redis.js';
export * from './shutdown.js';
