// Barrel of @noctria/platform. Each area owns its own index.ts; add a line here when an area appears.
export * from './artifacts/index.js';
export * from './bus/index.js';
export * from './db/index.js';
export * from './errors/index.js';
export * from './config/index.js';
export * from './logging/index.js';
export * from './telemetry/index.js';
export * from './metrics/index.js';
export * from './health/index.js';
export * from './cache/index.js';
export * from './runtime/index.js';
export * from './nest/index.js';
export * from './outbox/index.js';
export * from './http/index.js';
