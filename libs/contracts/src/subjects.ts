import { ContractError } from './errors.js';

/**
 * Subject names of the bus. Every subject is `<prefix><root>.<...>`; the prefix ('' in production,
 * e.g. 't1a2b.' in tests) gives each test file its own namespace on a shared NATS server.
 *
 * Facts (persisted in JetStream streams):
 *   md.bar.<tf>.<symbol>      closed canonical bars          (stream MD)
 *   md.stale.<tf>.<symbol>    freshness-budget breaches      (stream MD)
 *   feat.<tf>.<pair_id>       feature vectors                (stream FEAT)
 *   sig.<pair_id>             signals                        (stream SIG)
 *   exec.order.<pair_id>      order intents / order states   (stream EXEC)
 *   exec.fill.<pair_id>       fills                          (stream EXEC)
 *   ops.flags                 ops flags (halt/flatten/scale) (stream OPS)
 *   bt.run.<run_id>           backtest progress              (stream BT)
 *   config.applied.<name>     applied configuration          (stream CONFIG)
 *   dlq.<durable>             dead letters of a consumer     (stream DLQ)
 * Commands/queries (core request/reply, never persisted):
 *   rpc.<service>.<verb>
 */

/** One NATS subject token: letters, digits, '_' and '-' (no '.', wildcards, blanks or control chars). */
export const TOKEN_RE = /^[A-Za-z0-9_-]+$/;
const PREFIX_RE = /^(?:[A-Za-z0-9_-]+\.)*$/;

/** First tokens of all subject families. A test prefix must not start with one of them. */
export const SUBJECT_ROOTS = ['md', 'feat', 'sig', 'exec', 'ops', 'bt', 'config', 'dlq', 'rpc'] as const;
export type SubjectRoot = (typeof SUBJECT_ROOTS)[number];

/** Known request/reply commands, `rpc.<service>.<verb>` (the builder accepts other token-safe verbs too). */
export const RPC_COMMANDS = {
  ingest: ['backfill', 'export', 'status', 'watermarks', 'quarantine'],
  features: ['snapshot', 'export', 'status'],
  inference: ['models', 'train', 'thresholds', 'status'],
  execution: ['positions', 'fills', 'status'],
  backtest: ['run', 'summary', 'trades', 'status'],
  analytics: ['metrics', 'report', 'alert', 'status'],
  config: ['validate', 'pr', 'approve', 'merge', 'apply', 'rollback', 'audit'],
  ops: ['halt', 'flatten', 'resume', 'rollback', 'flags', 'gonogo'],
} as const satisfies Record<string, readonly string[]>;

export function isToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

/** Returns `value` when it is a NATS-token-safe string, else throws DATA_CONTRACT_TOKEN naming the field. */
export function assertToken(value: string, what: string): string {
  if (typeof value !== 'string' || !TOKEN_RE.test(value)) {
    throw new ContractError('DATA_CONTRACT_TOKEN', `${what} must be a NATS subject token ([A-Za-z0-9_-]+), got ${JSON.stringify(value)}`);
  }
  return value;
}

function filterToken(value: string, what: string): string {
  return value === '*' ? value : assertToken(value, what);
}

/** Validates a subject prefix: '' or dot-terminated tokens ('t1a2b.'), not starting with a subject root. */
export function assertPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new ContractError('DATA_CONTRACT_TOKEN', `subject prefix must be '' or tokens each followed by '.', e.g. 't1a2b.', got ${JSON.stringify(prefix)}`);
  }
  const first = prefix.split('.')[0] ?? '';
  if ((SUBJECT_ROOTS as readonly string[]).includes(first)) {
    throw new ContractError('DATA_CONTRACT_TOKEN', `subject prefix ${JSON.stringify(prefix)} must not start with the subject root '${first}'`);
  }
  return prefix;
}

/** True when `subject` is a valid NATS subject; with `wildcards`, '*' tokens and a final '>' are allowed. */
export function isValidSubject(subject: string, wildcards = false): boolean {
  if (typeof subject !== 'string' || subject.length === 0) return false;
  const tokens = subject.split('.');
  return tokens.every((t, i) => TOKEN_RE.test(t) || (wildcards && (t === '*' || (t === '>' && i === tokens.length - 1))));
}

/** NATS matching: does the concrete `subject` match `filter` ('*' = one token, '>' = one or more trailing tokens)? */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    const ft = f[i];
    if (ft === '>') return s.length > i;
    if (i >= s.length) return false;
    if (ft !== '*' && ft !== s[i]) return false;
  }
  return f.length === s.length;
}

/** Do two (possibly wildcard) filters share at least one concrete subject? */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    const xt = x[i];
    const yt = y[i];
    if (xt === undefined || yt === undefined) return xt === undefined && yt === undefined;
    if (xt === '>' || yt === '>') return true; // the other has a token at i, so '>' can absorb the rest
    if (xt !== '*' && yt !== '*' && xt !== yt) return false;
  }
}

/** Does `general` match every subject that `specific` can match (filter ⊆ stream subject)? */
export function filterCovers(general: string, specific: string): boolean {
  const g = general.split('.');
  const s = specific.split('.');
  for (let i = 0; i < g.length; i++) {
    const gt = g[i];
    const st = s[i];
    if (gt === '>') return st !== undefined;
    if (st === undefined || st === '>') return false;
    if (gt === '*') continue;
    if (st === '*' || st !== gt) return false;
  }
  return g.length === s.length;
}

export interface SubjectBuilders {
  readonly prefix: string;
  /** md.bar.<tf>.<symbol> */
  barClosed(tf: string, symbol: string): string;
  /** md.bar.<tf|*>.<symbol|*> */
  barClosedFilter(tf?: string, symbol?: string): string;
  /** md.stale.<tf>.<symbol> */
  barStale(tf: string, symbol: string): string;
  barStaleFilter(tf?: string, symbol?: string): string;
  /** feat.<tf>.<pair_id> */
  features(tf: string, pairId: string): string;
  featuresFilter(tf?: string, pairId?: string): string;
  /** sig.<pair_id> */
  signal(pairId: string): string;
  signalFilter(pairId?: string): string;
  /** exec.order.<pair_id> */
  execOrder(pairId: string): string;
  /** exec.fill.<pair_id> */
  execFill(pairId: string): string;
  execOrderFilter(pairId?: string): string;
  execFillFilter(pairId?: string): string;
  /** ops.flags */
  opsFlags(): string;
  /** bt.run.<run_id> */
  btRun(runId: string): string;
  btRunFilter(runId?: string): string;
  /** config.applied.<name> (name without extension, e.g. core_policy) */
  configApplied(name: string): string;
  configAppliedFilter(name?: string): string;
  /** dlq.<durable> */
  deadLetter(durable: string): string;
  deadLetterFilter(durable?: string): string;
  /** rpc.<service>.<verb> */
  rpc(service: string, verb: string): string;
  /** rpc.<service|*>.<verb|*> */
  rpcFilter(service?: string, verb?: string): string;
  /** Every `rpc.<service>.<verb>` of RPC_COMMANDS. */
  allRpc(): string[];
  /** Subject filter of a whole family, e.g. 'md.>'. */
  root(root: SubjectRoot): string;
}

/** Subject builders under `prefix` ('' in production). Every token is validated as NATS-safe. */
export function subjects(prefix = ''): SubjectBuilders {
  const p = assertPrefix(prefix);
  const f = (v: string | undefined, what: string) => filterToken(v ?? '*', what);
  return {
    prefix: p,
    barClosed: (tf, symbol) => `${p}md.bar.${assertToken(tf, 'timeframe')}.${assertToken(symbol, 'symbol')}`,
    barClosedFilter: (tf, symbol) => `${p}md.bar.${f(tf, 'timeframe')}.${f(symbol, 'symbol')}`,
    barStale: (tf, symbol) => `${p}md.stale.${assertToken(tf, 'timeframe')}.${assertToken(symbol, 'symbol')}`,
    barStaleFilter: (tf, symbol) => `${p}md.stale.${f(tf, 'timeframe')}.${f(symbol, 'symbol')}`,
    features: (tf, pairId) => `${p}feat.${assertToken(tf, 'timeframe')}.${assertToken(pairId, 'pair_id')}`,
    featuresFilter: (tf, pairId) => `${p}feat.${f(tf, 'timeframe')}.${f(pairId, 'pair_id')}`,
    signal: (pairId) => `${p}sig.${assertToken(pairId, 'pair_id')}`,
    signalFilter: (pairId) => `${p}sig.${f(pairId, 'pair_id')}`,
    execOrder: (pairId) => `${p}exec.order.${assertToken(pairId, 'pair_id')}`,
    execFill: (pairId) => `${p}exec.fill.${assertToken(pairId, 'pair_id')}`,
    execOrderFilter: (pairId) => `${p}exec.order.${f(pairId, 'pair_id')}`,
    execFillFilter: (pairId) => `${p}exec.fill.${f(pairId, 'pair_id')}`,
    opsFlags: () => `${p}ops.flags`,
    btRun: (runId) => `${p}bt.run.${assertToken(runId, 'run_id')}`,
    btRunFilter: (runId) => `${p}bt.run.${f(runId, 'run_id')}`,
    configApplied: (name) => `${p}config.applied.${assertToken(name, 'config name')}`,
    configAppliedFilter: (name) => `${p}config.applied.${f(name, 'config name')}`,
    deadLetter: (durable) => `${p}dlq.${assertToken(durable, 'durable')}`,
    deadLetterFilter: (durable) => `${p}dlq.${f(durable, 'durable')}`,
    rpc: (service, verb) => `${p}rpc.${assertToken(service, 'service')}.${assertToken(verb, 'verb')}`,
    rpcFilter: (service, verb) => `${p}rpc.${f(service, 'service')}.${f(verb, 'verb')}`,
    allRpc: () =>
      Object.entries(RPC_COMMANDS).flatMap(([service, verbs]) => verbs.map((verb) => `${p}rpc.${service}.${verb}`)),
    root: (root) => {
      if (!(SUBJECT_ROOTS as readonly string[]).includes(root)) throw new ContractError('DATA_CONTRACT_TOKEN', `unknown subject root ${JSON.stringify(root)}`);
      return `${p}${root}.>`;
    },
  };
}
