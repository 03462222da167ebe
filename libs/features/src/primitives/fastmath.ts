/**
 * Module-scope aliases of the globals used in hot loops. Inside a vm context (Jest's ESM runner, sandboxes)
 * every read of a global such as `Math` or `NaN` goes through the context's property interceptor, which made
 * the per-bar code ~100× slower there; module bindings are plain slot loads everywhere.
 */
export const NAN = NaN;
export const INF = Infinity;
export const EPS = Number.EPSILON;
export const LN2 = Math.LN2;
export const abs = Math.abs;
export const sqrt = Math.sqrt;
export const log = Math.log;
