/**
 * Counter-based randomness: every draw is a pure function of (seed, stream, counter, slot), so any bar can be
 * regenerated on its own — the basis of the synthetic source's random access.
 */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** FNV-1a of a string, for naming random streams (symbol, timeframe…). */
export function streamId(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return mix32(h >>> 0);
}

export function seed32(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return mix32(lo ^ mix32(hi ^ 0x9e3779b9));
}

export function hash4(seed: number, stream: number, counter: number, slot: number): number {
  return mix32(seed ^ mix32(stream ^ mix32((counter >>> 0) ^ mix32(slot + 0x632be5ab))));
}

/** Uniform in the open interval (0, 1). */
export function uniform(seed: number, stream: number, counter: number, slot: number): number {
  return (hash4(seed, stream, counter, slot) + 0.5) / 4294967296;
}

/** Standard normal (Box–Muller) from two counter-based uniforms at slots 2j and 2j+1. */
export function gaussian(seed: number, stream: number, counter: number, j: number): number {
  const u1 = uniform(seed, stream, counter, 2 * j);
  const u2 = uniform(seed, stream, counter, 2 * j + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
