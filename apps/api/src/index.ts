/** For tests and tools that build the api in-process (main.ts is the process entry). */
export { API_VERSION, buildApp } from './app.js';
export { ApiKeyStore, loadApiKeys, parseApiKeysVariable } from './auth/api-keys.js';
export { type ApiDeps, createApiDeps } from './deps.js';
export { openApiDocument } from './openapi.js';
