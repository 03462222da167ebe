/**
 * Loader for models saved by XGBoost's `Booster.save_model('m.json')` (JSON schema of XGBoost ≥ 1.6) with
 * objective `binary:logistic`. Tree arrays map one to one onto ours: split_indices → feature,
 * split_conditions → threshold (for a leaf: its value, already scaled by eta), left/right_children (−1 at a
 * leaf), default_left. JSON prints XGBoost's float32 numbers in shortest float32 form, so thresholds are rounded
 * back to float32 on load (else a training value equal to a cut lands on the wrong side). XGBoost's margin starts at logit(base_score); DMatrix holds float32, so inputs are rounded
 * to float32 before comparing (a double just below a float32 threshold can round onto it).
 */
import { ML_ERROR, MlError } from './errors.js';
import { validateTree, type GbdtTree } from './model.js';
import { FlatForest } from './predictor.js';

function bad(message: string): never {
  throw new MlError(ML_ERROR.MODEL, `XGBoost model: ${message}`);
}

function obj(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${name} is missing or not an object`);
  return v as Record<string, unknown>;
}

function nums(v: unknown, name: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) bad(`${name} is not an array of finite numbers`);
  return v as number[];
}

export interface XgboostModelInfo {
  forest: FlatForest;
  numFeatures: number;
  featureNames: string[] | null;
  baseScore: number;
  numTrees: number;
}

export function loadXgboostModel(input: string | unknown): XgboostModelInfo {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (err) {
      bad(`not JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const learner = obj(obj(doc, 'document')['learner'], 'learner');
  const objective = obj(learner['objective'], 'learner.objective');
  if (objective['name'] !== 'binary:logistic') bad(`objective ${String(objective['name'])} is not supported (binary:logistic only)`);
  const lmp = obj(learner['learner_model_param'], 'learner.learner_model_param');
  const baseScore = Number(lmp['base_score']);
  if (!(baseScore > 0 && baseScore < 1)) bad(`base_score ${String(lmp['base_score'])} is not in (0, 1)`);
  const numFeatures = Number(lmp['num_feature']);
  if (!Number.isInteger(numFeatures) || numFeatures < 1) bad(`num_feature ${String(lmp['num_feature'])}`);
  const gb = obj(learner['gradient_booster'], 'learner.gradient_booster');
  if (gb['name'] !== 'gbtree') bad(`booster ${String(gb['name'])} is not supported (gbtree only)`);
  const model = obj(gb['model'], 'gradient_booster.model');
  const rawTrees = model['trees'];
  if (!Array.isArray(rawTrees) || rawTrees.length === 0) bad('no trees');
  const trees: GbdtTree[] = rawTrees.map((raw: unknown, ti) => {
    const t = obj(raw, `tree ${ti}`);
    const left = nums(t['left_children'], `tree ${ti} left_children`);
    const right = nums(t['right_children'], `tree ${ti} right_children`);
    const split = nums(t['split_indices'], `tree ${ti} split_indices`);
    const cond = nums(t['split_conditions'], `tree ${ti} split_conditions`);
    const dl = nums(t['default_left'], `tree ${ti} default_left`);
    const n = left.length;
    if ([right, split, cond, dl].some((a) => a.length !== n)) bad(`tree ${ti} arrays differ in length`);
    const tree: GbdtTree = { feature: [], threshold: [], left: [], right: [], defaultLeft: [], value: [] };
    for (let i = 0; i < n; i++) {
      const leaf = left[i] === -1;
      tree.feature.push(leaf ? -1 : split[i]!);
      tree.threshold.push(leaf ? 0 : Math.fround(cond[i]!));
      tree.left.push(leaf ? -1 : left[i]!);
      tree.right.push(leaf ? -1 : right[i]!);
      tree.defaultLeft.push(dl[i] === 1);
      tree.value.push(leaf ? Math.fround(cond[i]!) : 0);
    }
    validateTree(tree, numFeatures, `XGBoost tree ${ti}`);
    return tree;
  });
  const fn = learner['feature_names'];
  const featureNames = Array.isArray(fn) && fn.length === numFeatures && fn.every((s) => typeof s === 'string') ? (fn as string[]) : null;
  const forest = FlatForest.fromTrees(trees, numFeatures, Math.log(baseScore / (1 - baseScore)), true);
  return { forest, numFeatures, featureNames, baseScore, numTrees: trees.length };
}
