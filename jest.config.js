// Jest runs in native ESM mode (NestJS 12 is ESM-only); SWC transpiles TypeScript with decorator metadata.
import { readFileSync } from 'node:fs';

const swcrc = JSON.parse(readFileSync(new URL('./.swcrc', import.meta.url), 'utf8'));
const swc = { ...swcrc, sourceMaps: 'inline', module: { type: 'es6' }, jsc: { ...swcrc.jsc, baseUrl: undefined, paths: undefined } };

const project = (displayName, roots) => ({
  displayName,
  roots,
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: {
    '^@noctria/ingest$': '<rootDir>/services/ingest/src/index.ts',
    '^@noctria/features-service$': '<rootDir>/services/features/src/index.ts',
    '^@noctria/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['**/*.test.ts', '**/*.spec.ts'],
});

export default {
  projects: [
    project('libs', ['<rootDir>/libs']),
    project('services', ['<rootDir>/services']),
    project('e2e', ['<rootDir>/e2e']),
    // Helm chart, Dockerfile, Prometheus rules, Grafana dashboards and docs checks (deploy/test).
    project('deploy', ['<rootDir>/deploy']),
  ].map((p) => ({ ...p, rootDir: '.' })),
  testTimeout: 60_000,
};
