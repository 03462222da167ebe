/**
 * GBDT benchmark (one thread, seeded data, our figures next to XGBoost measured in the same run):
 * synthetic 240 000 × 25 training matrix with a nonlinear signal and missing values, a later 60 000-row held-out
 * set; 300 rounds, depth 6, η 0.1, λ 1, min_child_weight 1, no subsampling, base score = label mean, 256 bins
 * for XGBoost (`tree_method=hist`, `max_bin=256`, `nthread=1`) and 255 for ours (254 value bins + the missing
 * bin: our codes are one byte). Reports training seconds (binning included on both sides: XGBoost's time covers
 * DMatrix construction and train), held-out ROC-AUC of both computed by the same `rocAuc`, the ratios against
 * the targets (≤ 1.5× XGBoost's time, AUC within 0.003) and our batch scoring rate. XGBoost runs through
 * `/usr/bin/python3` (BENCH_ML_PYTHON overrides); if it cannot import xgboost the reference is reported
 * unavailable with the reason. BENCH_ML_ROWS / BENCH_ML_ROUNDS shrink the run for a quick look.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { compileModel, rocAuc, Rng, trainGbdt, type Dataset } from '@noctria/ml';

const COLS = 25;

/** Seeded data: sines, an interaction, a threshold step and a missing-value effect; 6 % NaN in five features. */
export function syntheticGbdtData(rows: number, seed: number): Dataset {
  const u = new Rng(seed);
  const x = new Float64Array(rows * COLS);
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * COLS;
    for (let c = 0; c < COLS; c++) {
      // Box–Muller normal, so quantile bins differ from equal-width ones.
      const g = Math.sqrt(-2 * Math.log(1 - u.next())) * Math.cos(2 * Math.PI * u.next());
      x[o + c] = c % 5 === 4 ? Math.round(g * 3) : g;
    }
    for (const c of [2, 7, 11, 16, 21]) if (u.next() < 0.06) x[o + c] = Number.NaN;
    const x2 = x[o + 2]!;
    const logit =
      1.2 * Math.sin(1.5 * x[o]!) +
      0.8 * x[o + 1]! * x[o + 3]! +
      (Number.isNaN(x2) ? 0.7 : 0.5 * x2 * x2 - 0.5) +
      (x[o + 4]! > 1 ? 0.9 : -0.3) +
      0.4 * Math.tanh(2 * x[o + 5]!) -
      0.3 * Math.abs(x[o + 6]!) +
      0.25 * x[o + 8]! * (Number.isNaN(x[o + 7]!) ? -1 : 1);
    y[r] = u.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
  }
  return { x, rows, cols: COLS, y };
}

const XGB_SCRIPT = `
import json, sys, time
import numpy as np
try:
    import xgboost as xgb
except Exception as e:
    print(json.dumps({"unavailable": repr(e)})); sys.exit(0)
d, rows, test_rows, cols, rounds, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
x = np.fromfile(d + "/x.bin", dtype=np.float64).reshape(rows, cols)
y = np.fromfile(d + "/y.bin", dtype=np.float64)
xt = np.fromfile(d + "/xt.bin", dtype=np.float64).reshape(test_rows, cols)
params = {"objective": "binary:logistic", "tree_method": "hist", "max_bin": 256, "max_depth": 6, "eta": 0.1,
          "lambda": 1.0, "min_child_weight": 1.0, "gamma": 0.0, "subsample": 1.0, "colsample_bytree": 1.0,
          "base_score": base, "nthread": 1, "seed": 0}
t0 = time.perf_counter()
dtrain = xgb.DMatrix(x, label=y, missing=np.nan, nthread=1)
bst = xgb.train(params, dtrain, num_boost_round=rounds)
train_s = time.perf_counter() - t0
p = bst.predict(xgb.DMatrix(xt, missing=np.nan, nthread=1))
p.astype(np.float64).tofile(d + "/pt.bin")
print(json.dumps({"version": xgb.__version__, "trainSeconds": train_s}))
`;

export async function run(): Promise<Record<string, unknown>> {
  const rows = Number(process.env['BENCH_ML_ROWS'] ?? 240_000);
  const testRows = Math.round(rows / 4);
  const rounds = Number(process.env['BENCH_ML_ROUNDS'] ?? 300);
  const train = syntheticGbdtData(rows, 20261123);
  const test = syntheticGbdtData(testRows, 20261124);
  const base = train.y.reduce((s, v) => s + v, 0) / rows;

  const t0 = performance.now();
  const { model } = trainGbdt(train, { params: { rounds, maxDepth: 6, learningRate: 0.1, lambda: 1, minChildWeight: 1, maxBin: 255, baseScore: 'mean' }, seed: 0 });
  const oursSeconds = (performance.now() - t0) / 1000;
  const forest = compileModel(model);
  const pred = new Float64Array(testRows);
  forest.predictBatch({ data: test.x, rows: testRows, cols: COLS }, pred);
  const oursAuc = rocAuc(pred, test.y);
  let scored = 0;
  const s0 = performance.now();
  while (performance.now() - s0 < 2000) {
    forest.predictBatch({ data: test.x, rows: testRows, cols: COLS }, pred);
    scored += testRows;
  }
  const rowsPerSecond = scored / ((performance.now() - s0) / 1000);
  const ours = { trainSeconds: +oursSeconds.toFixed(2), heldOutAuc: +oursAuc.toFixed(5), trees: model.trees.length, batchRowsPerSecond: Math.round(rowsPerSecond) };

  const python = process.env['BENCH_ML_PYTHON'] ?? '/usr/bin/python3';
  const dir = mkdtempSync(join(tmpdir(), 'noctria-ml-bench-'));
  let reference: Record<string, unknown>;
  try {
    writeFileSync(join(dir, 'x.bin'), new Uint8Array(train.x.buffer, train.x.byteOffset, train.x.byteLength));
    writeFileSync(join(dir, 'y.bin'), new Uint8Array(train.y.buffer, train.y.byteOffset, train.y.byteLength));
    writeFileSync(join(dir, 'xt.bin'), new Uint8Array(test.x.buffer, test.x.byteOffset, test.x.byteLength));
    const res = spawnSync(python, ['-c', XGB_SCRIPT, dir, String(rows), String(testRows), String(COLS), String(rounds), String(base)], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    if (res.error || res.status !== 0) {
      reference = { reference: 'unavailable', reason: res.error?.message ?? `exit ${res.status}: ${res.stderr.slice(-500)}` };
    } else {
      const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { unavailable?: string; version?: string; trainSeconds?: number };
      if (out.unavailable !== undefined) reference = { reference: 'unavailable', reason: `import xgboost failed: ${out.unavailable}` };
      else {
        const buf = readFileSync(join(dir, 'pt.bin'));
        const pt = new Float64Array(buf.buffer, buf.byteOffset, testRows);
        const auc = rocAuc(pt, test.y);
        const secs = out.trainSeconds!;
        reference = {
          reference: `xgboost ${out.version} hist (${python})`,
          trainSeconds: +secs.toFixed(2),
          heldOutAuc: +auc.toFixed(5),
          timeRatio: +(oursSeconds / secs).toFixed(2),
          timeTargetMet: oursSeconds <= 1.5 * secs,
          aucDelta: +(oursAuc - auc).toFixed(5),
          aucTargetMet: Math.abs(oursAuc - auc) <= 0.003,
        };
      }
    }
  } catch (err) {
    reference = { reference: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, testRows, cols: COLS, rounds, depth: 6, ours, xgboost: reference };
}
