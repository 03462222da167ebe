export * from './error-id.js';
export * from './noctria-error.js';
export * from './report-error.js';
