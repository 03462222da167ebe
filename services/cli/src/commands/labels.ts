/**
 * `noctria labels compute`: the labels of "ラベリング仕様 v1" for a pair given as two canonical-bar CSV files —
 * AI1 reversion events (`ts_utc,direction,outcome,end_ts_utc,end_reason`) and, optionally, the per-bar AI2 risk
 * label with its four conditions (`ts_utc,risk,defined,corr,vol,speed,dd`). The features come from the same
 * batch path as `features compute` (same input validation, alignment and parameters); the labels from the labels
 * module of `@noctria/features`, with the drawdown condition from the plain z-rule equity curve.
 */
import type { Calendar, Timeframe } from '@noctria/canonical-bar';
import {
  classWeights,
  computeAi1Events,
  computeAi2Risk,
  computeFeatureMatrix,
  DEFAULT_LABEL_PARAMS,
  FeatureError,
  labelParamsFromPolicy,
  plainZRuleDrawdown,
  resolveLabelParams,
  type Ai1Event,
  type Ai2Risk,
  type FeatureMatrix,
  type FeatureParams,
  type LabelParams,
} from '@noctria/features';
import type { CorePolicy } from '@noctria/policy';
import { argsError, CliError, EXIT, type Output } from '../io.js';
import { featureErrorText, humanInput, inputSummary, readPair, writeCsv, type PairInput } from './features.js';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** LabelParams of core_policy for the timeframe/calendar, with `key=value` overrides (validated together). */
export function labelParamsFor(core: CorePolicy, timeframe: Timeframe, calendar: Calendar, overrides: readonly string[] | undefined): LabelParams {
  let base: LabelParams;
  try {
    base = labelParamsFromPolicy(core, timeframe, calendar);
  } catch (err) {
    if (err instanceof FeatureError) throw new CliError(err.id, `core_policy: ${featureErrorText(err)}`, EXIT.CONFIG);
    throw err;
  }
  const partial: Record<string, number> = { ...base };
  for (const item of overrides ?? []) {
    for (const kv of item.split(',').filter((s) => s.trim() !== '')) {
      const m = /^\s*([A-Za-z]+)\s*=\s*(\S+)\s*$/.exec(kv);
      if (!m) throw argsError(`--label-param expects key=value, got ${JSON.stringify(kv)}`, { option: '--label-param', value: kv });
      const key = m[1] as string;
      if (!(key in DEFAULT_LABEL_PARAMS)) {
        throw argsError(`--label-param: unknown label parameter ${JSON.stringify(key)} (known: ${Object.keys(DEFAULT_LABEL_PARAMS).join(', ')})`, { option: '--label-param', key });
      }
      if (!NUMBER.test(m[2] as string)) throw argsError(`--label-param ${key} expects a number, got ${JSON.stringify(m[2])}`, { option: '--label-param', key });
      partial[key] = Number(m[2]);
    }
  }
  try {
    return resolveLabelParams(partial as Partial<LabelParams>);
  } catch (err) {
    if (err instanceof FeatureError) throw argsError(`--label-param: ${featureErrorText(err)}`, { option: '--label-param', label_error: err.id });
    throw err;
  }
}

export interface LabelsComputeRequest {
  a: string;
  b: string;
  out: string;
  riskOut?: string;
  timeframe: Timeframe;
  timeframeAllowed: readonly string[];
  featureParams: FeatureParams;
  labelParams: LabelParams;
}

export interface LabelsComputeResult {
  input: PairInput;
  matrix: FeatureMatrix;
  events: Ai1Event[];
  risk: Ai2Risk;
  out: string;
  riskOut?: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export async function computeLabelsFromFiles(req: LabelsComputeRequest): Promise<LabelsComputeResult> {
  const input = await readPair(req.a, req.b, req.timeframe, req.timeframeAllowed);
  const matrix = computeFeatureMatrix(input.series, req.featureParams);
  const c = matrix.columns;
  const events = computeAi1Events({ tsMs: matrix.tsMs, z: c.z, absDeltaZ: c.abs_delta_z }, req.labelParams);
  const dd = plainZRuleDrawdown({ z: c.z, beta: c.beta, closeA: input.series.aClose, closeB: input.series.bClose }, req.labelParams);
  const risk = computeAi2Risk({ corrStability: c.corr_stability, volRatioSpread: c.vol_ratio_spread, absDeltaZ: c.abs_delta_z, ddRecent: dd.ddRecent }, req.labelParams);
  const out = await writeCsv(req.out, ['ts_utc', 'direction', 'outcome', 'end_ts_utc', 'end_reason'], events.length, (i) => {
    const e = events[i]!;
    return `${iso(e.tsMs)},${e.direction},${e.outcome},${iso(matrix.tsMs[e.endIndex] as number)},${e.endReason}`;
  });
  let riskOut: string | undefined;
  if (req.riskOut !== undefined) {
    const k = risk.conditions;
    riskOut = await writeCsv(req.riskOut, ['ts_utc', 'risk', 'defined', 'corr', 'vol', 'speed', 'dd'], matrix.tsMs.length, (i) =>
      [iso(matrix.tsMs[i] as number), risk.risk[i], risk.defined[i], k.corr[i], k.vol[i], k.speed[i], k.dd[i]].join(','),
    );
  }
  return { input, matrix, events, risk, out, ...(riskOut !== undefined ? { riskOut } : {}) };
}

export function reportLabels(out: Output, r: LabelsComputeResult, timeframe: Timeframe, labelParams: LabelParams): void {
  const reasons: Record<string, number> = { exit: 0, horizon: 0, opposite: 0, data_end: 0 };
  for (const e of r.events) reasons[e.endReason] = (reasons[e.endReason] ?? 0) + 1;
  // Censored events (data ended before the horizon without an exit) carry no outcome for training.
  const decided = r.events.filter((e) => e.endReason !== 'data_end').map((e) => e.outcome);
  const positives = decided.reduce<number>((a, v) => a + v, 0);
  let defined = 0;
  let risky = 0;
  const conditions = { corr: 0, vol: 0, speed: 0, dd: 0 };
  for (let i = 0; i < r.risk.defined.length; i++) {
    if (r.risk.defined[i] !== 1) continue;
    defined++;
    risky += r.risk.risk[i] as number;
    for (const k of ['corr', 'vol', 'speed', 'dd'] as const) conditions[k] += r.risk.conditions[k][i] as number;
  }
  const riskLabels = Array.from(r.risk.risk).filter((_, i) => r.risk.defined[i] === 1);
  const ai1 = {
    events: r.events.length,
    long_spread: r.events.filter((e) => e.direction === -1).length,
    short_spread: r.events.filter((e) => e.direction === 1).length,
    outcome_1: positives,
    outcome_0: decided.length - positives,
    censored_data_end: reasons['data_end'],
    end_reasons: reasons,
    class_weights: classWeights(decided, labelParams.classWeightMaxRatio),
  };
  const ai2 = {
    defined_bars: defined,
    risk_bars: risky,
    condition_bars: conditions,
    class_weights: classWeights(riskLabels, labelParams.classWeightMaxRatio),
  };
  out.record(
    'labels',
    { out: r.out, ...(r.riskOut !== undefined ? { risk_out: r.riskOut } : {}), timeframe, bars: r.matrix.tsMs.length, schema_hash: r.matrix.schemaHash, label_params: labelParams, ai1, ai2, ...inputSummary(r.input) },
    [
      ...humanInput(r.input),
      `AI1: ${ai1.events} events (${ai1.outcome_1} reached the exit band, ${ai1.outcome_0} did not, ${ai1.censored_data_end} censored at the data end) → ${r.out}`,
      `AI2: risk on ${risky} of ${defined} defined bars (corr ${conditions.corr}, vol ${conditions.vol}, speed ${conditions.speed}, dd ${conditions.dd})${r.riskOut !== undefined ? ` → ${r.riskOut}` : ''}`,
    ],
  );
}
