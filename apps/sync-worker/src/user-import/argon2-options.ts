import type { Algorithm, Options } from '@node-rs/argon2';

/**
 * OWASP Password Storage Cheat Sheet, argon2id first option: m=19 MiB, t=2, p=1. Changing these
 * changes every new hash (old hashes keep their own parameters in the PHC string).
 */
export const ARGON2ID_OPTIONS: Options = {
  // Algorithm is a const enum in the typings; isolatedModules forbids reading it at runtime.
  algorithm: 2 as Algorithm, // Argon2id
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

/** How a stored hash starts: tests and checks compare against it. */
export const ARGON2ID_PREFIX = '$argon2id$v=19$m=19456,t=2,p=1$';
