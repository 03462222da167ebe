import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { PolicyError, loadPolicySet, type PolicyName, type PolicySetOptions } from '../src/index.js';

export const CONFIGS = fileURLToPath(new URL('../../../configs', import.meta.url));

export function configText(name: PolicyName): string {
  return readFileSync(`${CONFIGS}/${name}.yaml`, 'utf8');
}

/** The shipped YAML of `name` with `path` set to `value` (comments and layout kept). */
export function mutated(name: PolicyName, path: (string | number)[], value: unknown, base = configText(name)): string {
  const doc = parseDocument(base);
  doc.setIn(path, doc.createNode(value));
  return String(doc);
}

/** Loads the shipped set with some files replaced and returns the PolicyError it throws. */
export function setError(overrides: PolicySetOptions['overrides']): PolicyError {
  try {
    loadPolicySet(CONFIGS, { overrides });
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected loadPolicySet to throw');
}

export function errorOf(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected a PolicyError');
}
