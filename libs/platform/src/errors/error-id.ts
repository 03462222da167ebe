/**
 * Error / alert ids: `{DOMAIN}_{CATEGORY}_{CODE}` (seeds/003 "エラーコード / アラートID 命名規約 v1").
 *
 * The seed states CODE is "英数字3–6桁" but its own examples use longer codes (`DATA_API_TIMEOUT`,
 * `DATA_DQ_THRESHOLD`, `OPS_CONFIG_REJECTED`, `ANALYTICS_ALERT_DISPATCH`). Rejecting the seed's canonical
 * examples would break every service that copies them, so CODE accepts 3–{@link ERROR_CODE_MAX_LENGTH}
 * upper-case alphanumerics; {@link isStrictErrorId} applies the literal 3–6 rule for callers that want it.
 */
export const ERROR_DOMAINS = ['DATA', 'CORE', 'BT', 'ANALYTICS', 'OPS', 'UI'] as const;
export type ErrorDomain = (typeof ERROR_DOMAINS)[number];

export const ERROR_CODE_MIN_LENGTH = 3;
export const ERROR_CODE_MAX_LENGTH = 12;
export const ERROR_CODE_STRICT_MAX_LENGTH = 6;

export type ErrorId = `${ErrorDomain}_${string}_${string}`;

export interface ParsedErrorId {
  domain: ErrorDomain;
  category: string;
  code: string;
}

const CATEGORY_RE = /^[A-Z][A-Z0-9]*$/;
const CODE_RE = /^[A-Z0-9]+$/;

/** Why `id` is not a valid error id, or `undefined` when it is valid. */
export function errorIdProblem(id: string, maxCodeLength = ERROR_CODE_MAX_LENGTH): string | undefined {
  const parts = id.split('_');
  if (parts.length !== 3) return `expected {DOMAIN}_{CATEGORY}_{CODE} (3 parts separated by "_"), got ${parts.length}`;
  const [domain, category, code] = parts as [string, string, string];
  if (!(ERROR_DOMAINS as readonly string[]).includes(domain)) return `DOMAIN "${domain}" is not one of ${ERROR_DOMAINS.join('|')}`;
  if (!CATEGORY_RE.test(category)) return `CATEGORY "${category}" must be upper-case alphanumerics starting with a letter`;
  if (!CODE_RE.test(code)) return `CODE "${code}" must be upper-case alphanumerics`;
  if (code.length < ERROR_CODE_MIN_LENGTH || code.length > maxCodeLength) {
    return `CODE "${code}" must be ${ERROR_CODE_MIN_LENGTH}-${maxCodeLength} characters`;
  }
  return undefined;
}

export function isErrorId(id: string): id is ErrorId {
  return errorIdProblem(id) === undefined;
}

/** The seed's literal rule (CODE of 3–6 characters). */
export function isStrictErrorId(id: string): id is ErrorId {
  return errorIdProblem(id, ERROR_CODE_STRICT_MAX_LENGTH) === undefined;
}

export function parseErrorId(id: string): ParsedErrorId {
  const problem = errorIdProblem(id);
  if (problem) throw new TypeError(`Invalid error id "${id}": ${problem}`);
  const [domain, category, code] = id.split('_') as [ErrorDomain, string, string];
  return { domain, category, code };
}
