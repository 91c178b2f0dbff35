// Typed errors of the erasure code. Every bad argument that reaches the code
// from a caller (a geometry, a shard list, a presence mask) gets an
// ErasureError with a stable `code` and a message naming the field; internal
// invariants use node:assert instead.

export type ErasureErrorCode =
  | 'E_GEOMETRY' // k, m or k + m out of range
  | 'E_SHARD_SIZE' // shardBytes not a positive multiple of the granularity, or too large
  | 'E_SHARD_COUNT' // wrong number of shards or presence flags
  | 'E_SHARD_LENGTH' // one shard view has the wrong byteLength
  | 'E_SHARD_INDEX' // a data-shard index out of range
  | 'E_TOO_MANY_MISSING' // more than m shards missing
  | 'E_ENGINE' // a requested engine is not available here
  | 'E_ARENA'; // arena exhausted or memory too large

export class ErasureError extends Error {
  readonly code: ErasureErrorCode;
  constructor(code: ErasureErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'ErasureError';
    this.code = code;
  }
}
