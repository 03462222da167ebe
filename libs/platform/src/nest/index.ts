export * from './bootstrap.js';
export * from './health.controller.js';
export * from './http-metrics.js';
export * from './platform.module.js';
export * from './shutdown-coordinator.js';
export * from './tokens.js';
