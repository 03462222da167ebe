/** Error ids raised by the contracts library (framework-free: plain string ids, `{DOMAIN}_{CATEGORY}_{CODE}`). */
export type ContractErrorId =
  | 'DATA_CONTRACT_TOKEN'
  | 'DATA_CONTRACT_ENCODE'
  | 'DATA_CONTRACT_DECODE'
  | 'DATA_CONTRACT_CONSUMER';

export class ContractError extends Error {
  override readonly name = 'ContractError';
  constructor(
    readonly id: ContractErrorId,
    message: string,
  ) {
    super(`${id}: ${message}`);
  }
}
