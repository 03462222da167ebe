import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { compileForChild } from '../src/index.js';

const run = promisify(execFile);

describe('compileForChild', () => {
  it('adds the sources of every @noctria project the listed sources import, transitively, and the child runs', async () => {
    // libs/policy imports @noctria/canonical-bar and @noctria/features; neither is listed.
    const compiled = await compileForChild(['libs/policy/src']);
    try {
      expect(existsSync(compiled.file('libs/features/src/index.ts'))).toBe(true);
      expect(existsSync(compiled.file('libs/canonical-bar/src/index.ts'))).toBe(true);
      expect(existsSync(compiled.file('libs/platform/src/index.ts'))).toBe(false);
      const script = `import('${compiled.file('libs/policy/src/index.ts')}').then((m) => console.log(typeof m.loadPolicySet))`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
      expect(stdout.trim()).toBe('function');
    } finally {
      await compiled.remove();
    }
  });
});
