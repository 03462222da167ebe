import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, read } from './helpers.js';

const dockerfile = read('deploy/Dockerfile');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

describe('deploy/Dockerfile', () => {
  it('is multi-stage: build (npm ci + npm run build), prod deps (npm ci --omit=dev), runtime', () => {
    const stages = instructions.filter((l) => /^FROM\s/i.test(l)).map((l) => /\sAS\s+(\S+)/i.exec(l)?.[1]);
    expect(stages).toEqual(['build', 'prod-deps', 'runtime']);
    expect(dockerfile).toMatch(/RUN npm ci [^\n]*&& npm run build/);
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev/);
    expect(read('package.json')).toContain('"build": "swc libs services bench -d dist');
  });

  it('every COPY source taken from the build context exists in the repository', () => {
    const copies = instructions.filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(4);
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect({ src, exists: existsSync(join(ROOT, src)) }).toEqual({ src, exists: true });
    }
  });

  it('runtime copies dist/ and configs/ and runs as a non-root numeric user', () => {
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/COPY --from=build \/app\/dist/);
    expect(runtime).toMatch(/COPY configs\//);
    const user = /^USER\s+(\d+)(?::(\d+))?$/m.exec(runtime);
    expect(user).not.toBeNull();
    expect(Number(user![1])).toBeGreaterThan(0);
  });

  it('CMD starts dist/services/<service>/src/main.js, and every service has that entry in the build layout', () => {
    const cmd = instructions.find((l) => l.startsWith('CMD'))!;
    expect(cmd).toContain('dist/services/${NOCTRIA_SERVICE}/src/main.js');
    const defaultService = /NOCTRIA_SERVICE=(\S+)/.exec(dockerfile)![1]!;
    const services = readdirSync(join(ROOT, 'services')).filter((s) => existsSync(join(ROOT, 'services', s, 'src', 'main.ts')));
    expect(services).toContain(defaultService);
    // src/<x>.ts compiles to dist/services/<svc>/src/<x>.js (swc mirrors the tree).
    for (const s of services) expect(existsSync(join(ROOT, 'services', s, 'src', 'main.ts'))).toBe(true);
  });

  it('the context ignore file keeps node_modules and build output out of the image context', () => {
    const ignore = read('deploy/Dockerfile.dockerignore');
    expect(ignore).toMatch(/^\*\*\/node_modules$/m);
    expect(ignore).toMatch(/^dist$/m);
  });
});
