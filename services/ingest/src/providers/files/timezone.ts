/**
 * Broker wall-clock → UTC. A zone is an IANA name ('Europe/Athens', 'EET'), a fixed offset ('+02:00' or
 * `{ offsetMinutes: 120 }`), or an IANA zone shifted by a constant (`{ zone: 'America/New_York', shiftMinutes: 420 }`
 * — the "GMT+2/+3 on US DST" clock most MT5 servers run). Offsets come from Intl.DateTimeFormat, so DST is exact.
 */
export type BrokerTimeZone = string | { offsetMinutes: number } | { zone: string; shiftMinutes: number };

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** Offset (local − UTC, ms) of an IANA zone at a UTC instant. */
export function ianaOffsetMs(zone: string, utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(utcMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(parts['year'] as number, (parts['month'] as number) - 1, parts['day'] as number, parts['hour'] as number, parts['minute'] as number, parts['second'] as number);
  return asUtc - (utcMs - (((utcMs % 1000) + 1000) % 1000));
}

export class ZoneConverter {
  private readonly offsetAt: (utcMs: number) => number;
  private readonly cache = new Map<number, number>();
  readonly fixed: boolean;

  constructor(zone: BrokerTimeZone = 'UTC') {
    if (typeof zone === 'string') {
      const m = /^(?:UTC|GMT)?([+-])(\d{1,2}):?(\d{2})?$/.exec(zone.trim());
      if (zone === 'UTC' || zone === 'Z' || zone === 'GMT') {
        this.offsetAt = () => 0;
        this.fixed = true;
      } else if (m) {
        const off = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000;
        this.offsetAt = () => off;
        this.fixed = true;
      } else {
        formatter(zone); // throws RangeError for an unknown zone
        this.offsetAt = (u) => ianaOffsetMs(zone, u);
        this.fixed = false;
      }
    } else if ('offsetMinutes' in zone) {
      const off = zone.offsetMinutes * 60_000;
      this.offsetAt = () => off;
      this.fixed = true;
    } else {
      formatter(zone.zone);
      const shift = zone.shiftMinutes * 60_000;
      this.offsetAt = (u) => ianaOffsetMs(zone.zone, u) + shift;
      this.fixed = false;
    }
  }

  /** Offset at a UTC instant, cached per 15-minute bucket (every real-world transition falls on one). */
  offset(utcMs: number): number {
    const key = Math.floor(utcMs / 900_000);
    let off = this.cache.get(key);
    if (off === undefined) {
      off = this.offsetAt(key * 900_000);
      if (this.cache.size > 100_000) this.cache.clear();
      this.cache.set(key, off);
    }
    return off;
  }

  /**
   * The UTC instants a wall-clock time (given as if it were UTC) can denote: one normally, two in a repeated
   * (fall-back) hour, none in a skipped (spring-forward) hour.
   */
  candidates(localAsUtcMs: number): number[] {
    if (this.fixed) return [localAsUtcMs - this.offset(localAsUtcMs)];
    const out = new Set<number>();
    for (const probe of [localAsUtcMs - 86_400_000, localAsUtcMs, localAsUtcMs + 86_400_000]) {
      const u = localAsUtcMs - this.offset(probe);
      if (this.offset(u) === localAsUtcMs - u) out.add(u);
    }
    return [...out].sort((a, b) => a - b);
  }
}
