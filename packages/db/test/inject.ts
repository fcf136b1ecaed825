import '@datasync/testkit';
import { inject } from 'vitest';

export const redisUrl = inject('redisUrl');
