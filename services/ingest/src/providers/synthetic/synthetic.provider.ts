/**
 * Seeded synthetic market: cointegrated pairs for demos and tests.
 *
 * For each pair (A, B): log B is a random walk with GARCH(1,1) volatility clustering, occasional jumps and Monday
 * open gaps; log A = α + β·log B + s, where s is an Ornstein–Uhlenbeck spread (exact discretisation); at
 * `breakAt` β changes (α is re-anchored so A stays continuous). Bars exist Monday–Friday UTC only (24/5).
 *
 * Every bar is a pure function of (seed, symbol, timeframe, bar time): per-bar randomness comes from a counter-based
 * hash of (seed, family, bar index), and the path is integrated from a fixed origin with state checkpoints cached
 * every CHECKPOINT bars — so any sub-range equals the same bars of a larger range, and chunked backfill equals
 * live emission. Different timeframes are independent paths of the same model.
 */
import type { CanonicalBar, CanonicalTick, Timeframe } from '@noctria/canonical-bar';
import { ProviderError, PROVIDER_ERROR_IDS } from '../errors.js';
import type {
  FetchResult,
  FetchTimeSeriesRequest,
  MarketDataProvider,
  ProviderCapabilities,
  ProviderHealth,
  QuoteStreamHandle,
  RateLimitInfo,
  SymbolMeta,
} from '../market-data-provider.port.js';
import { AsyncQueue } from '../internal/async-queue.js';
import { KNOWN_TIMEFRAMES_LIST } from '../internal/known-timeframes.js';
import { canonicalSymbol } from '../internal/symbol.js';
import { DAY_MS, timeframeMs, toTsUtc, WEEK_MS } from '../internal/timeframe.js';
import { AcceleratedClock, type MarketClock } from './clock.js';
import { gaussian, seed32, streamId, uniform } from './prng.js';

export const SYNTHETIC_PROVIDER_VERSION = 'synthetic/1.0.0';

export interface SyntheticSymbolSpec {
  /** Price at the origin. */
  start: number;
  /** Price decimals (tick size 10^-decimals). */
  decimals: number;
  /** Annualised volatility of a driver (B or standalone) symbol. */
  annualVol: number;
  /** Quoted bid/ask spread in price units (ticks from streamQuotes). */
  spread: number;
  assetClass: string;
}

export interface SyntheticPairSpec {
  a: string;
  b: string;
  beta: number;
  /** β after the regime break (default: unchanged). */
  betaAfterBreak?: number;
  /** Regime break time (ISO string or epoch ms). */
  breakAt?: string | number;
  /** OU mean-reversion speed per day. */
  kappaPerDay: number;
  /** OU diffusion per √day (stationary sd = σ/√(2κ)). */
  sigmaDaily: number;
  mean?: number;
}

export interface SyntheticFaults {
  /** Bar open times (ISO) to drop / duplicate / spike. */
  dropAt?: string[];
  duplicateAt?: string[];
  spikeAt?: string[];
  /** Per-bar probabilities (deterministic under the seed). */
  dropRate?: number;
  duplicateRate?: number;
  spikeRate?: number;
  /** Spike size in bar sigmas. Default 15. */
  spikeSigmas?: number;
}

export interface SyntheticProviderOptions {
  seed: number;
  sourceId?: string;
  symbols?: Record<string, SyntheticSymbolSpec>;
  pairs?: SyntheticPairSpec[];
  /**
   * A Monday 00:00 UTC; no bars before it. The path is integrated from here, so a later origin makes the first
   * fetch of a recent range cheaper (checkpoints are cached afterwards). Default 2022-01-03.
   */
  originMs?: number;
  garch?: { alpha: number; beta: number };
  /** Expected jumps per trading day and their size in daily sigmas. */
  jumps?: { perDay: number; dailySigmas: number };
  /** Monday open gap size in daily sigmas. */
  weekendGapDailySigmas?: number;
  faults?: SyntheticFaults;
  /** Market clock for streamQuotes/liveBars. Default: real time. */
  clock?: MarketClock;
  /** Bar size behind streamQuotes ticks. Default '1m'. */
  tickTimeframe?: Timeframe;
}

export const DEFAULT_SYNTHETIC_SYMBOLS: Record<string, SyntheticSymbolSpec> = {
  XAUUSD: { start: 2000, decimals: 2, annualVol: 0.15, spread: 0.3, assetClass: 'COMMODITY' },
  XAGUSD: { start: 25, decimals: 3, annualVol: 0.25, spread: 0.025, assetClass: 'COMMODITY' },
  EURUSD: { start: 1.08, decimals: 5, annualVol: 0.07, spread: 0.0001, assetClass: 'FX' },
  GBPUSD: { start: 1.27, decimals: 5, annualVol: 0.08, spread: 0.00012, assetClass: 'FX' },
  AUDUSD: { start: 0.66, decimals: 5, annualVol: 0.1, spread: 0.00012, assetClass: 'FX' },
  NZDUSD: { start: 0.61, decimals: 5, annualVol: 0.11, spread: 0.00015, assetClass: 'FX' },
};

export const DEFAULT_SYNTHETIC_PAIRS: SyntheticPairSpec[] = [
  { a: 'XAUUSD', b: 'XAGUSD', beta: 0.6, betaAfterBreak: 0.8, breakAt: '2025-01-06T00:00:00Z', kappaPerDay: 0.5, sigmaDaily: 0.01 },
  { a: 'GBPUSD', b: 'EURUSD', beta: 0.9, kappaPerDay: 0.4, sigmaDaily: 0.004 },
  { a: 'NZDUSD', b: 'AUDUSD', beta: 1.0, kappaPerDay: 0.4, sigmaDaily: 0.005 },
];

const CHECKPOINT = 2048;
const TRADING_YEAR_MS = 260 * DAY_MS;

interface MemberSpec {
  symbol: string;
  spec: SyntheticSymbolSpec;
  pair?: { beta0: number; beta1: number; breakIndex: number; kappa: number; sigma: number; mean: number; decay: number; sdStep: number };
}

interface FamilyState {
  logB: number;
  h: number;
  eps2: number;
  /** Per A member: spread, alpha, beta. */
  s: number[];
  alpha: number[];
  beta: number[];
}

interface Family {
  key: string;
  tf: Timeframe;
  tfMs: number;
  barsPerDay: number;
  stream: number;
  driver: MemberSpec;
  followers: MemberSpec[];
  sigmaBar: number;
  sigmaDay: number;
  omega: number;
  garchAlpha: number;
  garchBeta: number;
  barsPerWeek: number;
  gapSd: number;
  jumpProb: number;
  jumpSd: number;
  checkpoints: Map<number, FamilyState>;
}

/** log-space OHLC of one bar for every family member (index 0 = driver). */
type FamilyBar = Array<{ o: number; h: number; l: number; c: number }>;

export class SyntheticProvider implements MarketDataProvider {
  readonly sourceId: string;
  readonly providerVersion = SYNTHETIC_PROVIDER_VERSION;
  private readonly seed: number;
  private readonly origin: number;
  private readonly symbols: Record<string, SyntheticSymbolSpec>;
  private readonly pairs: SyntheticPairSpec[];
  private readonly families = new Map<string, Family>();
  private readonly clock: MarketClock;
  private readonly faultSets: { drop: Set<number>; duplicate: Set<number>; spike: Set<number> };

  constructor(private readonly options: SyntheticProviderOptions) {
    this.sourceId = options.sourceId ?? 'synthetic';
    this.seed = seed32(options.seed);
    this.origin = options.originMs ?? Date.UTC(2022, 0, 3);
    if (new Date(this.origin).getUTCDay() !== 1 || this.origin % DAY_MS !== 0) throw new RangeError('originMs must be a Monday 00:00 UTC');
    this.symbols = Object.fromEntries(Object.entries(options.symbols ?? DEFAULT_SYNTHETIC_SYMBOLS).map(([k, v]) => [canonicalSymbol(k), v]));
    this.pairs = (options.pairs ?? DEFAULT_SYNTHETIC_PAIRS).map((p) => ({ ...p, a: canonicalSymbol(p.a), b: canonicalSymbol(p.b) }));
    const seenA = new Set<string>();
    for (const p of this.pairs) {
      if (!this.symbols[p.a] || !this.symbols[p.b]) throw new RangeError(`pair ${p.a}/${p.b} uses an undefined symbol`);
      if (seenA.has(p.a) || this.pairs.some((q) => q.a === p.b)) throw new RangeError(`symbol ${p.a} cannot follow two drivers, and a follower cannot drive`);
      seenA.add(p.a);
    }
    this.clock = options.clock ?? new AcceleratedClock();
    const times = (xs?: string[]) => new Set((xs ?? []).map((x) => Date.parse(x)));
    this.faultSets = { drop: times(options.faults?.dropAt), duplicate: times(options.faults?.duplicateAt), spike: times(options.faults?.spikeAt) };
  }

  // ---- calendar ------------------------------------------------------------------------------------------------

  /** Open time of trading bar k. */
  barTime(tf: Timeframe, k: number): number {
    const tfMs = timeframeMs(tf);
    const bpd = DAY_MS / tfMs;
    const bpw = 5 * bpd;
    const w = Math.floor(k / bpw);
    const r = k - w * bpw;
    const day = Math.floor(r / bpd);
    return this.origin + w * WEEK_MS + day * DAY_MS + (r - day * bpd) * tfMs;
  }

  /** Index of the first trading bar opening at or after `ms`. */
  indexAtOrAfter(tf: Timeframe, ms: number): number {
    if (ms <= this.origin) return 0;
    const tfMs = timeframeMs(tf);
    const bpd = DAY_MS / tfMs;
    const bpw = 5 * bpd;
    const d = ms - this.origin;
    const w = Math.floor(d / WEEK_MS);
    const r = d - w * WEEK_MS;
    const day = Math.floor(r / DAY_MS);
    if (day >= 5) return (w + 1) * bpw;
    const slot = Math.ceil((r - day * DAY_MS) / tfMs);
    return slot >= bpd ? w * bpw + (day + 1) * bpd : w * bpw + day * bpd + slot;
  }

  // ---- path ----------------------------------------------------------------------------------------------------

  private family(symbol: string, tf: Timeframe): { family: Family; member: number } {
    const asFollower = this.pairs.find((p) => p.a === symbol);
    const driver = asFollower ? asFollower.b : symbol;
    const key = `${driver}|${tf}`;
    let fam = this.families.get(key);
    if (!fam) {
      const tfMs = timeframeMs(tf);
      const driverSpec = this.symbols[driver] as SyntheticSymbolSpec;
      const sigmaBar = driverSpec.annualVol * Math.sqrt(tfMs / TRADING_YEAR_MS);
      const garch = this.options.garch ?? { alpha: 0.05, beta: 0.9 };
      if (!(garch.alpha >= 0 && garch.beta >= 0 && garch.alpha + garch.beta < 1)) throw new RangeError('GARCH needs alpha, beta ≥ 0 and alpha + beta < 1');
      const jumps = this.options.jumps ?? { perDay: 0.05, dailySigmas: 1 };
      const sigmaDay = driverSpec.annualVol * Math.sqrt(DAY_MS / TRADING_YEAR_MS);
      const followers: MemberSpec[] = this.pairs
        .filter((p) => p.b === driver)
        .map((p) => ({
          symbol: p.a,
          spec: this.symbols[p.a] as SyntheticSymbolSpec,
          pair: {
            beta0: p.beta,
            beta1: p.betaAfterBreak ?? p.beta,
            breakIndex: p.breakAt === undefined ? Number.POSITIVE_INFINITY : this.indexAtOrAfter(tf, typeof p.breakAt === 'number' ? p.breakAt : Date.parse(p.breakAt)),
            kappa: p.kappaPerDay,
            sigma: p.sigmaDaily,
            mean: p.mean ?? 0,
            // Exact OU discretisation over one bar: s' = μ + (s − μ)e^{−κΔ} + σ√((1 − e^{−2κΔ})/2κ)·z.
            decay: Math.exp(-p.kappaPerDay * (tfMs / DAY_MS)),
            sdStep: p.sigmaDaily * Math.sqrt((1 - Math.exp(-2 * p.kappaPerDay * (tfMs / DAY_MS))) / (2 * p.kappaPerDay)),
          },
        }));
      fam = {
        key,
        tf,
        tfMs,
        barsPerDay: DAY_MS / tfMs,
        stream: streamId(key),
        driver: { symbol: driver, spec: driverSpec },
        followers,
        sigmaBar,
        sigmaDay,
        omega: sigmaBar * sigmaBar * (1 - garch.alpha - garch.beta),
        garchAlpha: garch.alpha,
        garchBeta: garch.beta,
        barsPerWeek: 5 * (DAY_MS / tfMs),
        gapSd: sigmaDay * (this.options.weekendGapDailySigmas ?? 0.5),
        jumpProb: jumps.perDay / (DAY_MS / tfMs),
        jumpSd: sigmaDay * jumps.dailySigmas,
        checkpoints: new Map(),
      };
      const logB0 = Math.log(driverSpec.start);
      fam.checkpoints.set(0, {
        logB: logB0,
        h: sigmaBar * sigmaBar,
        eps2: sigmaBar * sigmaBar,
        s: followers.map((f) => f.pair?.mean ?? 0),
        alpha: followers.map((f) => Math.log(f.spec.start) - (f.pair?.beta0 ?? 1) * logB0 - (f.pair?.mean ?? 0)),
        beta: followers.map((f) => f.pair?.beta0 ?? 1),
      });
      this.families.set(key, fam);
    }
    const member = asFollower ? 1 + fam.followers.findIndex((f) => f.symbol === symbol) : 0;
    return { family: fam, member };
  }

  private step(f: Family, k: number, st: FamilyState, out?: FamilyBar): void {
    const seed = this.seed;
    const h = f.omega + f.garchAlpha * st.eps2 + f.garchBeta * st.h;
    const mondayOpen = k > 0 && k % f.barsPerWeek === 0;
    const gap = mondayOpen ? gaussian(seed, f.stream, k, 0) * f.gapSd : 0;
    const jump = uniform(seed, f.stream, k, 2) < f.jumpProb ? gaussian(seed, f.stream, k, 2) * f.jumpSd : 0;
    const sd = Math.sqrt(h);
    const eps = sd * gaussian(seed, f.stream, k, 3);
    const oB = st.logB + gap;
    const cB = oB + eps + jump;
    if (out) {
      out[0] = {
        o: oB,
        c: cB,
        h: Math.max(oB, cB) + Math.abs(gaussian(seed, f.stream, k, 4)) * sd * 0.6,
        l: Math.min(oB, cB) - Math.abs(gaussian(seed, f.stream, k, 5)) * sd * 0.6,
      };
    }
    for (let i = 0; i < f.followers.length; i++) {
      const p = (f.followers[i] as MemberSpec).pair as NonNullable<MemberSpec['pair']>;
      let alpha = st.alpha[i] as number;
      let beta = st.beta[i] as number;
      if (k === p.breakIndex && p.beta1 !== beta) {
        alpha = alpha + (beta - p.beta1) * oB;
        beta = p.beta1;
      }
      const sPrev = st.s[i] as number;
      const sNew = p.mean + (sPrev - p.mean) * p.decay + p.sdStep * gaussian(seed, f.stream, k, 8 + 3 * i);
      if (out) {
        const oA = alpha + beta * oB + sPrev;
        const cA = alpha + beta * cB + sNew;
        const wig = Math.abs(beta) * sd + p.sdStep;
        out[1 + i] = {
          o: oA,
          c: cA,
          h: Math.max(oA, cA) + Math.abs(gaussian(seed, f.stream, k, 9 + 3 * i)) * wig * 0.6,
          l: Math.min(oA, cA) - Math.abs(gaussian(seed, f.stream, k, 10 + 3 * i)) * wig * 0.6,
        };
      }
      st.alpha[i] = alpha;
      st.beta[i] = beta;
      st.s[i] = sNew;
    }
    st.logB = cB;
    st.h = h;
    st.eps2 = (eps + jump) * (eps + jump);
  }

  private clone(st: FamilyState): FamilyState {
    return { logB: st.logB, h: st.h, eps2: st.eps2, s: [...st.s], alpha: [...st.alpha], beta: [...st.beta] };
  }

  /** Log OHLC of bars [k0, k1) for every member of a family. */
  private familyBars(f: Family, k0: number, k1: number): FamilyBar[] {
    let base = Math.floor(k0 / CHECKPOINT) * CHECKPOINT;
    while (!f.checkpoints.has(base)) base -= CHECKPOINT;
    const st = this.clone(f.checkpoints.get(base) as FamilyState);
    const out: FamilyBar[] = [];
    for (let k = base; k < k1; k++) {
      if (k % CHECKPOINT === 0 && !f.checkpoints.has(k)) f.checkpoints.set(k, this.clone(st));
      if (k >= k0) {
        const bar: FamilyBar = [];
        this.step(f, k, st, bar);
        out.push(bar);
      } else this.step(f, k, st);
    }
    return out;
  }

  private isFault(kind: 'drop' | 'duplicate' | 'spike', stream: number, k: number, t: number): boolean {
    const f = this.options.faults;
    if (!f) return false;
    if (this.faultSets[kind].has(t)) return true;
    const rate = kind === 'drop' ? f.dropRate : kind === 'duplicate' ? f.duplicateRate : f.spikeRate;
    const slot = kind === 'drop' ? 1001 : kind === 'duplicate' ? 1002 : 1003;
    return rate !== undefined && rate > 0 && uniform(this.seed, stream, k, slot) < rate;
  }

  /** Canonical bars of one symbol for trading-bar indices [k0, k1). */
  barsByIndex(symbol: string, tf: Timeframe, k0: number, k1: number, ingestRunId: string): CanonicalBar[] {
    const sym = canonicalSymbol(symbol);
    const spec = this.symbols[sym];
    if (!spec) throw new ProviderError(PROVIDER_ERROR_IDS.apiStatus, `synthetic source has no symbol ${symbol}`, { retryable: false, status: 404, sourceId: this.sourceId });
    if (k1 <= k0) return [];
    const { family, member } = this.family(sym, tf);
    const pow = 10 ** spec.decimals;
    const round = (logp: number) => Math.round(Math.exp(logp) * pow) / pow;
    const faultStream = streamId(`fault|${sym}|${tf}`);
    const out: CanonicalBar[] = [];
    this.familyBars(family, k0, k1).forEach((fb, i) => {
      const k = k0 + i;
      const t = this.barTime(tf, k);
      if (this.isFault('drop', faultStream, k, t)) return;
      const b = fb[member] as FamilyBar[number];
      const open = round(b.o);
      let close = round(b.c);
      let high = Math.max(round(b.h), open, close);
      let low = Math.min(round(b.l), open, close);
      const metadata: CanonicalBar['metadata'] = { symbol_source: sym, provider_version: this.providerVersion, source_latency_ms: 0, bar_index: k };
      if (this.isFault('spike', faultStream, k, t)) {
        const dir = uniform(this.seed, faultStream, k, 1004) < 0.5 ? -1 : 1;
        close = round(b.c + dir * (this.options.faults?.spikeSigmas ?? 15) * family.sigmaBar);
        high = Math.max(high, close);
        low = Math.min(low, close);
        metadata['synthetic_fault'] = 'spike';
      }
      const bar: CanonicalBar = {
        ts_utc: toTsUtc(t),
        symbol: sym,
        timeframe: tf,
        open,
        high,
        low,
        close,
        volume: null,
        quality_flag: 'ok',
        source_id: this.sourceId,
        ingest_run_id: ingestRunId,
        metadata,
      };
      out.push(bar);
      if (this.isFault('duplicate', faultStream, k, t)) out.push({ ...bar, metadata: { ...metadata, synthetic_fault: 'duplicate' } });
    });
    return out;
  }

  async fetchTimeSeries(req: FetchTimeSeriesRequest): Promise<FetchResult> {
    const started = performance.now();
    const k0 = this.indexAtOrAfter(req.timeframe, req.startMs);
    let k1 = this.indexAtOrAfter(req.timeframe, req.endMs);
    if (req.limit !== undefined) k1 = Math.min(k1, k0 + req.limit);
    const bars = this.barsByIndex(req.symbol, req.timeframe, k0, k1, req.ingestRunId);
    return { bars: req.limit !== undefined ? bars.slice(0, req.limit) : bars, rejected: [], latencyMs: performance.now() - started };
  }

  /**
   * Closed bars as market time passes on `clock`: starts with the bar in progress at clock.now() (or at `fromMs`),
   * emits each bar of every symbol once its close time is reached, skipping weekends.
   */
  async *liveBars(
    symbols: string[],
    timeframe: Timeframe,
    clock: MarketClock = this.clock,
    options: { signal?: AbortSignal; fromMs?: number; ingestRunId?: string } = {},
  ): AsyncGenerator<CanonicalBar> {
    const tfMs = timeframeMs(timeframe);
    let k = this.indexAtOrAfter(timeframe, (options.fromMs ?? clock.now()) - tfMs + 1);
    for (;;) {
      const closeMs = this.barTime(timeframe, k) + tfMs;
      await clock.waitUntil(closeMs, options.signal);
      for (const s of symbols) yield* this.barsByIndex(s, timeframe, k, k + 1, options.ingestRunId ?? 'live');
      k++;
    }
  }

  async streamQuotes(symbols: string[], options: { signal?: AbortSignal } = {}): Promise<QuoteStreamHandle> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const queue = new AsyncQueue<CanonicalTick>(() => ac.abort());
    const tf = this.options.tickTimeframe ?? '1m';
    const tfMs = timeframeMs(tf);
    void (async () => {
      try {
        for await (const bar of this.liveBars(symbols, tf, this.clock, { signal: ac.signal })) {
          const spec = this.symbols[bar.symbol] as SyntheticSymbolSpec;
          const pow = 10 ** spec.decimals;
          const half = spec.spread / 2;
          queue.push({
            ts_utc: toTsUtc(Date.parse(bar.ts_utc) + tfMs),
            symbol: bar.symbol,
            bid: Math.round((bar.close - half) * pow) / pow,
            ask: Math.round((bar.close + half) * pow) / pow,
            mid: bar.close,
            size: null,
            metadata: { symbol_source: bar.symbol, provider_version: this.providerVersion, source_id: this.sourceId },
          });
        }
      } catch (err) {
        if (ac.signal.aborted) queue.end();
        else queue.fail(err);
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
    })();
    return {
      ticks: queue,
      close: async () => {
        ac.abort();
        queue.end();
      },
    };
  }

  async listSymbols(filters: { assetClass?: string; search?: string } = {}): Promise<SymbolMeta[]> {
    const search = filters.search?.toUpperCase();
    return Object.entries(this.symbols)
      .map(([symbol, spec]) => ({ symbol, symbolSource: symbol, assetClass: spec.assetClass, description: 'synthetic' }))
      .filter((s) => (!filters.assetClass || s.assetClass === filters.assetClass) && (!search || s.symbol.includes(search)));
  }

  getCapabilities(): ProviderCapabilities {
    return {
      timeframes: [...KNOWN_TIMEFRAMES_LIST],
      assets: [...new Set(Object.values(this.symbols).map((s) => s.assetClass))],
      limits: { maxBarsPerRequest: Number.MAX_SAFE_INTEGER },
      latencyProfile: 'realtime',
    };
  }

  getRateLimit(): RateLimitInfo {
    return { restQps: Number.POSITIVE_INFINITY, wsChannels: Number.MAX_SAFE_INTEGER, burst: Number.MAX_SAFE_INTEGER, policy: 'in-process: unlimited' };
  }

  async healthCheck(): Promise<ProviderHealth> {
    return { status: 'up', details: { seed: this.options.seed, symbols: Object.keys(this.symbols).length, pairs: this.pairs.length } };
  }
}
