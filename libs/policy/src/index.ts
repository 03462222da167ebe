/**
 * @noctria/policy — framework-free loader of the policy files in configs/: YAML → JSON Schema (ajv, 2020-12)
 * → unwrapped typed values, content sha256, cross-file rules, secret references.
 */
export * from './types.js';
export * from './errors.js';
export * from './loader.js';
export * from './cross.js';
export * from './set.js';
export * from './calendar.js';
export * from './secrets.js';
