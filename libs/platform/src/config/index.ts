export * from './env-schemas.js';
export * from './load-env.js';
