export * from './embedded-postgres.js';
export * from './infra.js';
export * from './process-shutdown.js';
