import { sql, type Kysely } from 'kysely';
import { NoctriaError, tryAdvisoryLock, type Logger } from '@noctria/platform';
import { checkCrossRules, type PolicySet } from '@noctria/policy';
import { INGEST_ERROR } from '../errors.js';
import type { DB } from '../db/schema.js';
import { BarsRepository } from '../repositories/bars.repository.js';
import { OutboxRepository } from '../repositories/outbox.repository.js';
import { RawResponsesRepository } from '../repositories/raw.repository.js';
import { logEvent } from '../telemetry.js';
import { addMonthsMs } from './months.js';

const DAY_MS = 86_400_000;
export const RETENTION_LOCK_KEY = 'ingest.retention';

export interface RetentionSettings {
  /** data_retention.yaml `canonical_months`. */
  canonicalMonths: number;
  /** data_retention.yaml `raw_days`. */
  rawDays: number;
  /** Grace period before physical deletion (seed: default 3 days). */
  graceDays: number;
  /** Sent outbox rows are kept this long for diagnostics (default 1 day). */
  outboxSentDays?: number;
}

export interface RetentionResult {
  ran: boolean;
  canonicalCutoffMs: number;
  rawCutoffMs: number;
  droppedPartitions: string[];
  rawDeleted: number;
  outboxDeleted: number;
}

/**
 * Physical deletion of the data_retention.yaml windows: whole month partitions of canonical_bars whose
 * entire month lies before `now − canonical_months − grace`, raw responses older than `raw_days + grace`,
 * sent outbox rows. Runs under a non-waiting advisory lock: one replica does it, the others skip.
 * The settings must already have passed the policy validator (which refuses windows shorter than what the
 * feature windows need).
 */
export class RetentionService {
  constructor(
    private readonly db: Kysely<DB>,
    private readonly logger: Logger,
  ) {}

  async run(settings: RetentionSettings, nowMs: number): Promise<RetentionResult> {
    const canonicalCutoffMs = addMonthsMs(nowMs, -settings.canonicalMonths) - settings.graceDays * DAY_MS;
    const rawCutoffMs = nowMs - (settings.rawDays + settings.graceDays) * DAY_MS;
    const outboxCutoffMs = nowMs - (settings.outboxSentDays ?? 1) * DAY_MS;
    const locked = await tryAdvisoryLock(this.db, RETENTION_LOCK_KEY, async () => {
      const bars = new BarsRepository(this.db);
      const dropped: string[] = [];
      for (const p of await bars.listPartitions()) {
        if (p.toMs <= canonicalCutoffMs) {
          // Partition names come from the catalog and match canonical_bars_pYYYYMM.
          if (!/^canonical_bars_p\d{6}$/.test(p.name)) continue;
          await sql`drop table if exists ${sql.table(`ingest.${p.name}`)}`.execute(this.db);
          dropped.push(p.name);
        }
      }
      const rawDeleted = await new RawResponsesRepository(this.db).deleteOlderThan(rawCutoffMs);
      const outboxDeleted = await new OutboxRepository(this.db).deleteSentBefore(outboxCutoffMs);
      return { droppedPartitions: dropped, rawDeleted, outboxDeleted };
    });
    if (!locked.acquired) {
      logEvent(this.logger, 'info', 'retention_skipped', { details: { reason: 'another replica holds the retention lock' } });
      return { ran: false, canonicalCutoffMs, rawCutoffMs, droppedPartitions: [], rawDeleted: 0, outboxDeleted: 0 };
    }
    logEvent(this.logger, 'info', 'retention_done', {
      details: { ...locked.value, canonical_cutoff: new Date(canonicalCutoffMs).toISOString(), raw_cutoff: new Date(rawCutoffMs).toISOString() },
    });
    return { ran: true, canonicalCutoffMs, rawCutoffMs, ...locked.value };
  }
}

/**
 * Retention settings from a loaded policy set, refused (NoctriaError `DATA_CONFIG_INVALID`) when the policy
 * cross-rules of libs/policy reject data_retention — e.g. canonical_months below what the feature windows
 * need, or below history_lookback_months.
 */
export function retentionSettingsFromPolicies(set: PolicySet): RetentionSettings {
  const issues = checkCrossRules(set).filter((i) => i.policy === 'data_retention');
  if (issues.length > 0) {
    throw new NoctriaError(INGEST_ERROR.CONFIG, `data_retention refused: ${issues.map((i) => i.message).join('; ')}`, {
      severity: 'CRITICAL',
      details: { issues },
    });
  }
  const r = set.data_retention.values;
  return { canonicalMonths: r.canonical_months, rawDays: r.raw_days, graceDays: r.deletion_grace_days };
}
