/**
 * Seeded PRNG (mulberry32 over a splitmix32-scrambled seed). The trainer never touches Math.random, so the same
 * data, parameters and seed give the same model on every machine.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // splitmix32 scramble so that nearby seeds (0, 1, 2…) start from unrelated states.
    let z = (Math.trunc(seed) + 0x9e3779b9) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
