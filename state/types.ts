// The protocol's vocabulary: branded types for every unit, checked where data crosses a boundary.
import { OptinferError, type OptinferErrorCode } from './errors.ts';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };
declare const kind: unique symbol;
/** A Hash32 with a meaning: usable wherever a Hash32 is, but one kind never passes for another. */
type HashOf<K extends string> = Hash32 & { readonly [kind]: K };

/** A SHA-256 digest as 64 lowercase hex characters. */
export type Hash32 = Brand<string, 'Hash32'>;
/** sha256 of a model's original ONNX file bytes. */
export type ModelId = HashOf<'ModelId'>;
/** H(JOB_ID || sequence || modelId || inputDigest). */
export type JobId = HashOf<'JobId'>;
/** A Solana public key in base58 identifying an executor. */
export type ExecutorId = Brand<string, 'ExecutorId'>;
export type BatchIndex = Brand<number, 'BatchIndex'>;
export type LayerIndex = Brand<number, 'LayerIndex'>;
export type ChunkIndex = Brand<number, 'ChunkIndex'>;
/** Fees and bonds in lamports. */
export type Lamports = Brand<bigint, 'Lamports'>;

const HEX32 = /^[0-9a-f]{64}$/;
const BASE58 = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;

export function isHash32(v: unknown): v is Hash32 {
  return typeof v === 'string' && HEX32.test(v);
}

/** Checks a value read from outside (JSON, HTTP, disk) and brands it. */
export function asHash32(v: unknown, what = 'hash'): Hash32 {
  if (!isHash32(v)) {
    throw new OptinferError(
      'INVALID_HASH',
      `${what}: expected 64 lowercase hex characters, got ${describe(v)}`,
    );
  }
  return v;
}

/** A model id read from outside: 64 hex characters, the sha256 of the model's file. */
export function asModelId(v: unknown, what = 'modelId'): ModelId {
  return asHash32(v, what) as ModelId;
}

/** A job id read from outside. */
export function asJobId(v: unknown, what = 'jobId'): JobId {
  return asHash32(v, what) as JobId;
}

export function asExecutorId(v: unknown, what = 'executor'): ExecutorId {
  if (typeof v !== 'string' || !BASE58.test(v)) {
    throw new OptinferError(
      'INVALID_EXECUTOR_ID',
      `${what}: expected a base58 public key, got ${describe(v)}`,
    );
  }
  return v as ExecutorId;
}

function asIndex<T>(v: unknown, what: string, code: OptinferErrorCode): T {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new OptinferError(code, `${what}: expected a non-negative integer, got ${describe(v)}`);
  }
  return v as T;
}

export const asBatchIndex = (v: unknown, what = 'batch index'): BatchIndex =>
  asIndex<BatchIndex>(v, what, 'INVALID_BATCH_INDEX');
export const asLayerIndex = (v: unknown, what = 'layer index'): LayerIndex =>
  asIndex<LayerIndex>(v, what, 'INVALID_LAYER_INDEX');
export const asChunkIndex = (v: unknown, what = 'chunk index'): ChunkIndex =>
  asIndex<ChunkIndex>(v, what, 'INVALID_CHUNK_INDEX');

export function describe(v: unknown): string {
  if (typeof v === 'string')
    return v.length > 80 ? JSON.stringify(v.slice(0, 77) + '...') : JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return Array.isArray(v) ? `an array of ${v.length}` : 'an object';
  return `${typeof v} ${String(v)}`;
}
