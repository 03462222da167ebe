import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'libs/contracts/src/gen/**', '.noctria/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'off',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          enforceBuildableLibDependency: false,
          depConstraints: [
            // Services and apps use libraries, never each other.
            { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib'] },
            // The CLI runs one-shot jobs (import, backfill, export) by composing a service's public module in-process.
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib', 'type:service'] },
            // The embedded launcher is the one place that composes services into a single process.
            { sourceTag: 'type:launcher', onlyDependOnLibsWithTags: ['type:lib', 'type:service'] },
            { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
            // Math libraries stay framework-free so they run in backtests, CLIs and workers alike.
            {
              sourceTag: 'scope:math',
              onlyDependOnLibsWithTags: ['scope:math'],
              bannedExternalImports: ['@nestjs/*', 'kysely', 'pg', 'ioredis', '@nats-io/*', 'fastify'],
            },
            { sourceTag: 'scope:contracts', onlyDependOnLibsWithTags: ['scope:contracts', 'scope:math'], bannedExternalImports: ['@nestjs/*'] },
            { sourceTag: 'scope:policy', onlyDependOnLibsWithTags: ['scope:math'], bannedExternalImports: ['@nestjs/*'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
