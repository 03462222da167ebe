/**
 * NATS subject rules shared by both adapters: tokens separated by `.`, `*` matches exactly one token and
 * `>` (last token only) matches one or more tokens.
 */

const INVALID = /[\s]/;

function tokens(subject: string): string[] {
  return subject.split('.');
}

/** True when `subject` is a syntactically valid subject or pattern (wildcards allowed when `allowWildcards`). */
export function isValidSubject(subject: string, allowWildcards: boolean): boolean {
  if (subject.length === 0 || INVALID.test(subject)) return false;
  const parts = tokens(subject);
  for (let i = 0; i < parts.length; i++) {
    const t = parts[i]!;
    if (t.length === 0) return false;
    const wildcard = t === '*' || t === '>';
    if (!wildcard && (t.includes('*') || t.includes('>'))) return false;
    if (wildcard && !allowWildcards) return false;
    if (t === '>' && i !== parts.length - 1) return false;
  }
  return true;
}

/** Does the literal `subject` match `pattern` (which may contain `*` and `>`)? */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = tokens(pattern);
  const s = tokens(subject);
  for (let i = 0; i < p.length; i++) {
    const t = p[i]!;
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

/** Can at least one literal subject match both patterns? */
export function subjectsOverlap(a: string, b: string): boolean {
  const x = tokens(a);
  const y = tokens(b);
  for (let i = 0; ; i++) {
    const tx = x[i];
    const ty = y[i];
    if (tx === undefined && ty === undefined) return true;
    if (tx === '>') return ty !== undefined;
    if (ty === '>') return tx !== undefined;
    if (tx === undefined || ty === undefined) return false;
    if (tx !== '*' && ty !== '*' && tx !== ty) return false;
  }
}

/** First token of a subject: the low-cardinality metric label `subject_root`. */
export function subjectRoot(subject: string): string {
  const i = subject.indexOf('.');
  return i === -1 ? subject : subject.slice(0, i);
}
