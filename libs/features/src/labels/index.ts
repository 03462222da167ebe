export * from './errors.js';
export * from './params.js';
export * from './ai1.js';
export * from './ai2.js';
export * from './weights.js';
