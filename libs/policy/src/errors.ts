/** Plain error ids of the policy loader (framework-free library: `{DOMAIN}_{CATEGORY}_{CODE}` strings). */
export type PolicyErrorId =
  | 'OPS_CONFIG_NOTFOUND'
  | 'OPS_CONFIG_PARSE'
  | 'OPS_CONFIG_SCHEMA'
  | 'OPS_CONFIG_CROSS'
  | 'OPS_CONFIG_SECRET';

export interface PolicyIssue {
  /** Policy file name without extension, e.g. "pipeline_policy". */
  policy: string;
  /** JSON pointer into the YAML document, e.g. "/freshness_budget_seconds/value/1h". */
  pointer: string;
  message: string;
  /** 1-based line in the YAML file when known. */
  line?: number;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly id: PolicyErrorId,
    readonly issues: PolicyIssue[],
    summary?: string,
  ) {
    super(
      `${id}: ${summary ?? `${issues.length} problem(s)`}\n` +
        issues.map((i) => `  - ${i.policy}.yaml${i.pointer ? ` ${i.pointer}` : ''}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`).join('\n'),
    );
  }
}
