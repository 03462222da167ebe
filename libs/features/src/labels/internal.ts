import { LABEL_ERROR, labelError } from './errors.js';

/** Input checks shared by the label modules (not part of the package exports). */
export function assertSameLength(what: string, n: number, arrays: Record<string, ArrayLike<number> | undefined>): void {
  for (const [k, a] of Object.entries(arrays)) {
    if (a !== undefined && a.length !== n) {
      throw labelError(LABEL_ERROR.INPUT, `${what}: ${k} has length ${a.length}, expected ${n}`);
    }
  }
}

export function assertIncreasing(what: string, tsMs: ArrayLike<number>): void {
  for (let i = 1; i < tsMs.length; i++) {
    if (!(tsMs[i]! > tsMs[i - 1]!)) throw labelError(LABEL_ERROR.INPUT, `${what}: tsMs must be strictly increasing (index ${i})`);
  }
}
