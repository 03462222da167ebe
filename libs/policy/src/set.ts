import { assertCrossRules } from './cross.js';
import { PolicyError, type PolicyIssue } from './errors.js';
import { loadPolicy, parsePolicy } from './loader.js';
import { join } from 'node:path';
import { POLICY_NAMES, type LoadedPolicy, type PolicyName, type PolicySet } from './types.js';

export interface PolicySetOptions {
  /**
   * Proposed YAML text for some policies (config-workflow validation of a change): used instead of the
   * file in `dir`; the rest is read from `dir`.
   */
  overrides?: Partial<Record<PolicyName, string>>;
}

/**
 * Loads every policy of `dir` (default 'configs'), validates each against its schema (all schema problems are
 * reported together as OPS_CONFIG_SCHEMA) and then the cross-file rules (OPS_CONFIG_CROSS).
 */
export function loadPolicySet(dir = 'configs', opts: PolicySetOptions = {}): PolicySet {
  const loaded: Partial<Record<PolicyName, LoadedPolicy>> = {};
  const schemaIssues: PolicyIssue[] = [];
  let firstOther: PolicyError | undefined;
  for (const name of POLICY_NAMES) {
    try {
      const override = opts.overrides?.[name];
      loaded[name] =
        override === undefined
          ? loadPolicy(name, { dir })
          : parsePolicy(name, override, { path: `${name}.yaml (proposed)`, schemaDir: join(dir, 'schemas') });
    } catch (err) {
      if (err instanceof PolicyError && err.id === 'OPS_CONFIG_SCHEMA') schemaIssues.push(...err.issues);
      else if (err instanceof PolicyError) firstOther ??= err;
      else throw err;
    }
  }
  if (firstOther) throw firstOther;
  if (schemaIssues.length) throw new PolicyError('OPS_CONFIG_SCHEMA', schemaIssues, `${schemaIssues.length} schema problem(s) in ${dir}`);
  const set = loaded as PolicySet;
  assertCrossRules(set);
  return set;
}
