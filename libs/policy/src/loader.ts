import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { PolicyError, type PolicyIssue } from './errors.js';
import { POLICY_NAMES, type LoadedPolicy, type PolicyName, type PolicyValues, type RawPolicyDocument } from './types.js';

export interface PolicyLoadOptions {
  /** Directory holding `<name>.yaml` and `schemas/<name>.schema.json`; default 'configs' (relative to cwd). */
  dir?: string;
}
export interface PolicyParseOptions {
  /** Label used in messages and `LoadedPolicy.path`. */
  path?: string;
  /** Directory of the JSON Schemas; default 'configs/schemas'. */
  schemaDir?: string;
}

const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
const validators = new Map<string, ValidateFunction>();

function validatorFor(name: PolicyName, schemaDir: string): ValidateFunction {
  const file = resolve(schemaDir, `${name}.schema.json`);
  const cached = validators.get(file);
  if (cached) return cached;
  let schema: Record<string, unknown>;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new PolicyError('OPS_CONFIG_NOTFOUND', [{ policy: name, pointer: '', message: `cannot read schema ${file}: ${(err as Error).message}` }]);
  }
  // Schemas of different directories may share an $id: compile each one anonymously.
  const { $id: _id, ...anonymous } = schema;
  const validate = ajv.compile(anonymous);
  validators.set(file, validate);
  return validate;
}

export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}

function decodePointer(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}
function encodeToken(t: string): string {
  return t.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describe(e: ErrorObject): { pointer: string; message: string } {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') {
    return { pointer: `${e.instancePath}/${encodeToken(String(params['additionalProperty']))}`, message: 'is not an allowed property here' };
  }
  if (e.keyword === 'required') {
    return { pointer: e.instancePath, message: `must have required property '${String(params['missingProperty'])}'` };
  }
  if (e.keyword === 'enum') {
    return { pointer: e.instancePath, message: `must be one of ${JSON.stringify(params['allowedValues'])}` };
  }
  if (e.keyword === 'propertyNames') {
    return { pointer: e.instancePath, message: `has an invalid property name ${JSON.stringify(params['propertyName'])}` };
  }
  return { pointer: e.instancePath, message: e.message ?? e.keyword };
}

/** Parses and validates one policy document given as YAML text. Throws PolicyError (OPS_CONFIG_PARSE / OPS_CONFIG_SCHEMA). */
export function parsePolicy<N extends PolicyName>(name: N, text: string, opts: PolicyParseOptions = {}): LoadedPolicy<N> {
  if (!isPolicyName(name)) {
    throw new PolicyError('OPS_CONFIG_NOTFOUND', [{ policy: String(name), pointer: '', message: `unknown policy; known: ${POLICY_NAMES.join(', ')}` }]);
  }
  const path = opts.path ?? `${name}.yaml`;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      'OPS_CONFIG_PARSE',
      doc.errors.map((e) => ({ policy: name, pointer: '', message: e.message.split('\n')[0] ?? e.code, line: lineCounter.linePos(e.pos[0]).line })),
      `${path} is not valid YAML`,
    );
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const validate = validatorFor(name, opts.schemaDir ?? join('configs', 'schemas'));
  if (!validate(raw)) {
    const seen = new Set<string>();
    const issues: PolicyIssue[] = [];
    for (const e of validate.errors ?? []) {
      // if/then wrappers repeat the inner error: keep the specific ones.
      if (e.keyword === 'if') continue;
      const { pointer, message } = describe(e);
      const key = `${pointer} ${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const offset = offsetOf(doc, decodePointer(pointer));
      issues.push({ policy: name, pointer: pointer || '/', message, ...(offset !== undefined ? { line: lineCounter.linePos(offset).line } : {}) });
    }
    throw new PolicyError('OPS_CONFIG_SCHEMA', issues, `${path} does not match schemas/${name}.schema.json`);
  }
  const document = raw as RawPolicyDocument<PolicyValues[N]>;
  const values = Object.fromEntries(Object.entries(document).map(([k, entry]) => [k, (entry as { value: unknown }).value])) as unknown as PolicyValues[N];
  return {
    name,
    path,
    values: deepFreeze(values),
    raw: deepFreeze(document),
    sha256: createHash('sha256').update(text, 'utf8').digest('hex'),
  };
}

/** Reads `<dir>/<name>.yaml`, validates it against `<dir>/schemas/<name>.schema.json` and unwraps the values. */
export function loadPolicy<N extends PolicyName>(name: N, opts: PolicyLoadOptions = {}): LoadedPolicy<N> {
  const dir = opts.dir ?? 'configs';
  const path = join(dir, `${name}.yaml`);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new PolicyError('OPS_CONFIG_NOTFOUND', [{ policy: name, pointer: '', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  const loaded = parsePolicy(name, bytes.toString('utf8'), { path, schemaDir: join(dir, 'schemas') });
  return { ...loaded, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Source offset of the node at `tokens` (for a map entry: its key, so the line names the key). */
function offsetOf(doc: Document, tokens: string[]): number | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined = (node as { range?: number[] } | null)?.range?.[0];
  for (const t of tokens) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === t);
      if (!pair) return offset;
      offset = (pair.key as { range?: number[] } | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(t)] as { range?: number[] } | undefined;
      if (!item) return offset;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      return offset;
    }
  }
  return offset;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
