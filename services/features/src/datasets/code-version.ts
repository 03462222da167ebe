import { execFileSync } from 'node:child_process';

let cached: string | undefined;

/**
 * The code version recorded in snapshot manifests: `NOCTRIA_CODE_VERSION` (set by the image build), else the git
 * commit of the working directory when git is there (development), else 'unknown'. Read once per process.
 */
export function codeVersion(env: Record<string, string | undefined> = process.env): string {
  const fromEnv = env['NOCTRIA_CODE_VERSION']?.trim();
  if (fromEnv) return fromEnv;
  if (cached !== undefined) return cached;
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim();
    cached = /^[0-9a-f]{40}$/.test(out) ? out : 'unknown';
  } catch {
    cached = 'unknown';
  }
  return cached;
}
