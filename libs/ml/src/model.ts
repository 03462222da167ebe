import { ML_ERROR, MlError } from './errors.js';
import { resolveGbdtParams, type GbdtParams } from './params.js';

/**
 * One tree in array form. Node 0 is the root; a leaf has feature −1 (its left/right are −1, its threshold 0).
 * An internal node sends x to `left` when x < threshold, NaN to `left` when defaultLeft, else to `right`.
 * `value` is the leaf value already multiplied by the learning rate (0 for internal nodes).
 */
export interface GbdtTree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  defaultLeft: boolean[];
  value: number[];
}

/** The versioned model document (`format: 'noctria-gbdt', version: 1`). */
export interface GbdtModel {
  format: 'noctria-gbdt';
  version: 1;
  featureNames: string[];
  params: GbdtParams;
  seed: number;
  /** Initial probability; the margin starts at its log-odds. */
  baseScore: number;
  /** 0-based index of the last kept round; `trees.length` = bestIteration + 1. */
  bestIteration: number;
  trees: GbdtTree[];
}

export const MODEL_FORMAT = 'noctria-gbdt';
export const MODEL_VERSION = 1;

/**
 * JSON text of a model. Key order is fixed by construction and JS prints every double in its shortest
 * round-tripping form, so parse(serialize(m)) holds bit-identical numbers and equal models give equal bytes.
 */
export function serializeModel(model: GbdtModel): string {
  const ordered: GbdtModel = {
    format: model.format,
    version: model.version,
    featureNames: [...model.featureNames],
    params: { ...model.params },
    seed: model.seed,
    baseScore: model.baseScore,
    bestIteration: model.bestIteration,
    trees: model.trees.map((t) => ({
      feature: t.feature,
      threshold: t.threshold,
      left: t.left,
      right: t.right,
      defaultLeft: t.defaultLeft,
      value: t.value,
    })),
  };
  return JSON.stringify(ordered);
}

function bad(message: string): never {
  throw new MlError(ML_ERROR.MODEL, message);
}

function numArray(v: unknown, name: string, n: number | null, integer: boolean): number[] {
  if (!Array.isArray(v)) bad(`${name} is not an array`);
  if (n !== null && v.length !== n) bad(`${name} has ${v.length} entries, expected ${n}`);
  for (const x of v) {
    if (typeof x !== 'number' || !Number.isFinite(x) || (integer && !Number.isInteger(x))) bad(`${name} holds ${String(x)}`);
  }
  return v as number[];
}

/** Checks the node arrays of one tree: every child index in range, no node reached twice, leaves well formed. */
export function validateTree(t: GbdtTree, nFeatures: number, where: string): void {
  const n = t.feature.length;
  if (n === 0) bad(`${where}: empty tree`);
  const seen = new Uint8Array(n);
  const stack = [0];
  seen[0] = 1;
  let reached = 0;
  while (stack.length > 0) {
    const i = stack.pop()!;
    reached++;
    const f = t.feature[i]!;
    if (f === -1) {
      if (t.left[i] !== -1 || t.right[i] !== -1) bad(`${where}: leaf ${i} has children`);
      continue;
    }
    if (f < 0 || f >= nFeatures) bad(`${where}: node ${i} splits on feature ${f} of ${nFeatures}`);
    for (const c of [t.left[i]!, t.right[i]!]) {
      if (c <= 0 || c >= n || seen[c] === 1) bad(`${where}: node ${i} has invalid child ${c}`);
      seen[c] = 1;
      stack.push(c);
    }
  }
  if (reached !== n) bad(`${where}: ${n - reached} unreachable nodes`);
}

/** Parses and validates a model document (text or already-parsed JSON). */
export function parseModel(input: string | unknown): GbdtModel {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (err) {
      bad(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (typeof doc !== 'object' || doc === null) bad('model is not an object');
  const m = doc as Record<string, unknown>;
  if (m['format'] !== MODEL_FORMAT) bad(`format is ${String(m['format'])}, expected ${MODEL_FORMAT}`);
  if (m['version'] !== MODEL_VERSION) bad(`version ${String(m['version'])} is not supported (expected ${MODEL_VERSION})`);
  const names = m['featureNames'];
  if (!Array.isArray(names) || names.length === 0 || !names.every((s) => typeof s === 'string')) bad('featureNames must be a non-empty string array');
  let params: GbdtParams;
  try {
    params = resolveGbdtParams(m['params'] as Partial<GbdtParams>);
  } catch (err) {
    bad(`params: ${err instanceof Error ? err.message : String(err)}`);
  }
  const seed = m['seed'];
  if (typeof seed !== 'number' || !Number.isInteger(seed)) bad('seed must be an integer');
  const baseScore = m['baseScore'];
  if (typeof baseScore !== 'number' || !(baseScore > 0 && baseScore < 1)) bad('baseScore must be in (0, 1)');
  const trees = m['trees'];
  if (!Array.isArray(trees) || trees.length === 0) bad('trees must be a non-empty array');
  const best = m['bestIteration'];
  if (best !== trees.length - 1) bad(`bestIteration ${String(best)} does not match ${trees.length} trees`);
  const parsed: GbdtTree[] = trees.map((raw: unknown, ti) => {
    if (typeof raw !== 'object' || raw === null) bad(`tree ${ti} is not an object`);
    const r = raw as Record<string, unknown>;
    const feature = numArray(r['feature'], `tree ${ti} feature`, null, true);
    const n = feature.length;
    const dl = r['defaultLeft'];
    if (!Array.isArray(dl) || dl.length !== n || !dl.every((b) => typeof b === 'boolean')) bad(`tree ${ti} defaultLeft`);
    const t: GbdtTree = {
      feature,
      threshold: numArray(r['threshold'], `tree ${ti} threshold`, n, false),
      left: numArray(r['left'], `tree ${ti} left`, n, true),
      right: numArray(r['right'], `tree ${ti} right`, n, true),
      defaultLeft: dl as boolean[],
      value: numArray(r['value'], `tree ${ti} value`, n, false),
    };
    validateTree(t, names.length, `tree ${ti}`);
    return t;
  });
  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    featureNames: names as string[],
    params,
    seed,
    baseScore,
    bestIteration: best,
    trees: parsed,
  };
}
