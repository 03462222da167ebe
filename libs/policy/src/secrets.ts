import { readFileSync } from 'node:fs';
import { PolicyError } from './errors.js';

/** Allowed secret reference schemes in policy files (never a literal key). */
export const SECRET_REF_RE = /^(ENV|FILE|VAULT):(.+)$/;

export function isSecretRef(ref: string): boolean {
  return SECRET_REF_RE.test(ref);
}

const fail = (message: string) => new PolicyError('OPS_CONFIG_SECRET', [{ policy: 'sources', pointer: '', message }], message);

/**
 * Resolves `ENV:NAME` (from `env`) or `FILE:/path` (file content without the trailing newline, as mounted
 * Kubernetes secrets are). `VAULT:` references are resolved by the deployment (injected as ENV/FILE), not here.
 */
export function resolveSecretRef(ref: string, env: Record<string, string | undefined> = process.env): string {
  const m = SECRET_REF_RE.exec(ref);
  if (!m) throw fail(`secret reference ${JSON.stringify(ref.length > 8 ? `${ref.slice(0, 4)}…` : ref)} must be ENV:NAME, FILE:/path or VAULT:path`);
  const scheme = m[1];
  const target = m[2] as string;
  if (scheme === 'ENV') {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(target)) throw fail(`ENV reference has an invalid variable name ${JSON.stringify(target)}`);
    const value = env[target];
    if (value === undefined || value === '') throw fail(`environment variable ${target} (from ${ref}) is not set`);
    return value;
  }
  if (scheme === 'FILE') {
    let content: string;
    try {
      content = readFileSync(target, 'utf8');
    } catch (err) {
      throw fail(`cannot read secret file ${target} (from ${ref}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const value = content.replace(/\r?\n$/, '');
    if (value === '') throw fail(`secret file ${target} (from ${ref}) is empty`);
    return value;
  }
  throw fail(`${ref} is a VAULT reference; it is resolved by the deployment (inject it as ENV: or FILE:), not by the process`);
}
