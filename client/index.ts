// The optinfer client library: one import for Node and browsers (no node: modules; SHA-256 by @noble/hashes).
export { OptinferClient, DEFAULT_NODE_URL } from './client.ts';
export type { ClientOptions, JobEvent, JobPhase, Verification, WaitOptions, WatchOptions } from './client.ts';
export { narrowing } from './bisection.ts';
export type { NarrowingStep } from './bisection.ts';
export { OptinferApiError, OptinferError, apiErrorOf, isOptinferApiError } from './errors.ts';
export type { OptinferErrorCode } from './errors.ts';
export {
  base58,
  decodeJobRecord,
  inclusionProofError,
  jobLeafHash,
  merkleRoot,
  nodeHash,
  treeDepth,
  verifyInclusionProof,
} from './proof.ts';
export type * from './types.ts';
