import '@datasync/runtime/testing';
import { inject } from 'vitest';

export const redisUrl = inject('redisUrl');
