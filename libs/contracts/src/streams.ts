import { ContractError } from './errors.js';
import type { ConsumerDefinition, StreamDefinition } from './streams.types.js';
import { assertPrefix, assertToken, filterCovers, isValidSubject, subjects, type SubjectRoot } from './subjects.js';

export type { ConsumerDefinition, StreamDefinition } from './streams.types.js';

/** JetStream de-duplication window of every stream (`Nats-Msg-Id`), 2 minutes. */
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

interface StreamSpec {
  root: SubjectRoot;
  maxAgeMs: number;
}

/**
 * Durable streams of facts. Retention is transport retention (replay/catch-up); the owning services keep
 * the long-term history in Postgres under data_retention.yaml.
 */
export const STREAM_SPECS = {
  MD: { root: 'md', maxAgeMs: 7 * DAY_MS },
  FEAT: { root: 'feat', maxAgeMs: 7 * DAY_MS },
  SIG: { root: 'sig', maxAgeMs: 30 * DAY_MS },
  EXEC: { root: 'exec', maxAgeMs: 90 * DAY_MS },
  OPS: { root: 'ops', maxAgeMs: 30 * DAY_MS },
  BT: { root: 'bt', maxAgeMs: 7 * DAY_MS },
  CONFIG: { root: 'config', maxAgeMs: 365 * DAY_MS },
  DLQ: { root: 'dlq', maxAgeMs: 30 * DAY_MS },
} as const satisfies Record<string, StreamSpec>;

export type StreamKey = keyof typeof STREAM_SPECS;
export const STREAM_KEYS = Object.keys(STREAM_SPECS) as StreamKey[];

/** Stream name under a prefix: '' → 'MD'; 't1a2b.' → 'T1A2B_MD'; 'a.b-c.' → 'A_B-C_MD'. */
export function streamName(prefix: string, key: StreamKey): string {
  const p = assertPrefix(prefix);
  if (!(key in STREAM_SPECS)) throw new ContractError('DATA_CONTRACT_TOKEN', `unknown stream ${JSON.stringify(key)}`);
  return p === '' ? key : `${p.slice(0, -1).replace(/\./g, '_').toUpperCase()}_${key}`;
}

export function streamFor(prefix: string, key: StreamKey): StreamDefinition {
  const spec: StreamSpec = STREAM_SPECS[key];
  return {
    name: streamName(prefix, key),
    subjects: [subjects(prefix).root(spec.root)],
    maxAgeMs: spec.maxAgeMs,
    duplicateWindowMs: DUPLICATE_WINDOW_MS,
    storage: 'file',
  };
}

/** All streams (MD, FEAT, SIG, EXEC, OPS, BT, CONFIG, DLQ) under `prefix`. */
export function streams(prefix = ''): StreamDefinition[] {
  return STREAM_KEYS.map((key) => streamFor(prefix, key));
}

export interface ConsumerOptions {
  prefix?: string;
  stream: StreamKey;
  /** Durable consumer name (a NATS token); also names the dead-letter subject `dlq.<durable>`. */
  durable: string;
  /** Must lie inside the stream's subjects. */
  filterSubjects: string[];
  maxDeliver?: number;
  backoffMs?: number[];
  ackWaitMs?: number;
  maxAckPending?: number;
}

/** Durable consumer definition with the dead-letter subject `${prefix}dlq.${durable}`. */
export function consumerFor(opts: ConsumerOptions): ConsumerDefinition {
  const prefix = assertPrefix(opts.prefix ?? '');
  const durable = assertToken(opts.durable, 'durable');
  const stream = streamFor(prefix, opts.stream);
  const maxDeliver = opts.maxDeliver ?? 5;
  const backoffMs = opts.backoffMs ?? [1000, 5000, 15000];
  const ackWaitMs = opts.ackWaitMs ?? 30_000;
  const maxAckPending = opts.maxAckPending ?? 1000;
  const bad = (msg: string) => new ContractError('DATA_CONTRACT_CONSUMER', `consumer ${durable} on ${stream.name}: ${msg}`);
  if (opts.filterSubjects.length === 0) throw bad('filterSubjects must not be empty');
  for (const fs of opts.filterSubjects) {
    if (!isValidSubject(fs, true)) throw bad(`filter subject ${JSON.stringify(fs)} is not a valid NATS subject`);
    if (!stream.subjects.some((s) => filterCovers(s, fs))) {
      throw bad(`filter subject ${JSON.stringify(fs)} is outside the stream subjects ${stream.subjects.join(', ')}`);
    }
  }
  if (!Number.isInteger(maxDeliver) || maxDeliver < 1) throw bad(`maxDeliver must be a positive integer, got ${maxDeliver}`);
  if (backoffMs.some((b) => !Number.isInteger(b) || b <= 0)) throw bad(`backoffMs must be positive integers, got [${backoffMs.join(', ')}]`);
  if (backoffMs.length > maxDeliver) throw bad(`backoffMs has ${backoffMs.length} steps but maxDeliver is ${maxDeliver}`);
  if (!Number.isInteger(ackWaitMs) || ackWaitMs <= 0) throw bad(`ackWaitMs must be a positive integer, got ${ackWaitMs}`);
  if (!Number.isInteger(maxAckPending) || maxAckPending < 1) throw bad(`maxAckPending must be a positive integer, got ${maxAckPending}`);
  return {
    stream: stream.name,
    durable,
    filterSubjects: [...opts.filterSubjects],
    maxDeliver,
    backoffMs: [...backoffMs],
    ackWaitMs,
    maxAckPending,
    deadLetterSubject: subjects(prefix).deadLetter(durable),
  };
}
