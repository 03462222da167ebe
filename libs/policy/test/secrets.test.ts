import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSecretRef, resolveSecretRef } from '../src/index.js';
import { errorOf } from './helpers.js';

describe('resolveSecretRef', () => {
  it('resolves ENV: references from the given environment', () => {
    expect(resolveSecretRef('ENV:TWELVEDATA_API_KEY', { TWELVEDATA_API_KEY: 'k-123' })).toBe('k-123');
    const err = errorOf(() => resolveSecretRef('ENV:TWELVEDATA_API_KEY', {}));
    expect(err.id).toBe('OPS_CONFIG_SECRET');
    expect(err.message).toContain('environment variable TWELVEDATA_API_KEY');
    expect(() => resolveSecretRef('ENV:BAD-NAME', { 'BAD-NAME': 'x' })).toThrow(/invalid variable name/);
  });

  it('resolves FILE: references, dropping one trailing newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'noctria-secret-'));
    try {
      const file = join(dir, 'key');
      writeFileSync(file, 'file-secret\n');
      expect(resolveSecretRef(`FILE:${file}`, {})).toBe('file-secret');
      writeFileSync(file, '');
      expect(() => resolveSecretRef(`FILE:${file}`, {})).toThrow(/empty/);
      expect(() => resolveSecretRef(`FILE:${join(dir, 'missing')}`, {})).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses VAULT: (resolved by the deployment) and literal keys without echoing them', () => {
    expect(() => resolveSecretRef('VAULT:secret/td', {})).toThrow(/resolved by the deployment/);
    const err = errorOf(() => resolveSecretRef('sk_live_0123456789abcdef', {}));
    expect(err.message).not.toContain('0123456789abcdef');
    expect(isSecretRef('ENV:X')).toBe(true);
    expect(isSecretRef('env:X')).toBe(false);
    expect(isSecretRef('ENV:')).toBe(false);
  });
});
