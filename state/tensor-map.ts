// Tensor maps (named tensors) and their storage and wire forms: base64 in LevelDB JSON, raw bytes on the bus.
import type { Tensor } from './tensor.ts';
import { isDType } from './tensor.ts';
import { OptinferError } from './errors.ts';

export type TensorMap = Record<string, Tensor>;
export type StoredTensorMap = Record<string, { dtype: string; dims: number[]; b64: string }>;
export type WireTensorMap = Record<string, { dtype: string; dims: number[]; data: Uint8Array }>;

/**
 * Sets `obj[name]` as an own property, whatever the name: plain assignment of `__proto__` would set the object's
 * prototype instead, and the tensor would be lost (review 24, review 27 "stored input named __proto__").
 */
export function putNamed<T>(obj: Record<string, T>, name: string, value: NoInfer<T>): void {
  Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
}

export function toStored(m: TensorMap): StoredTensorMap {
  const out: StoredTensorMap = {};
  for (const [k, t] of Object.entries(m))
    putNamed(out, k, {
      dtype: t.dtype,
      dims: t.dims,
      b64: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64'),
    });
  return out;
}

export function fromStored(m: StoredTensorMap): TensorMap {
  const out: TensorMap = {};
  for (const [k, t] of Object.entries(m)) {
    if (!isDType(t.dtype))
      throw new OptinferError('STORE_CORRUPT', `stored tensor ${k}: unknown dtype ${t.dtype}`);
    putNamed(out, k, { dtype: t.dtype, dims: t.dims, data: new Uint8Array(Buffer.from(t.b64, 'base64')) });
  }
  return out;
}

export function toWire(m: TensorMap): WireTensorMap {
  return m as WireTensorMap;
}

/** Checks a tensor map that arrived over the bus (another process may be buggy or hostile). */
export function fromWire(m: unknown, what: string): TensorMap {
  if (m === null || typeof m !== 'object')
    throw new OptinferError('INVALID_INPUT', `${what}: expected an object of tensors`);
  const out: TensorMap = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    const t = v as { dtype?: unknown; dims?: unknown; data?: unknown };
    if (!isDType(t.dtype) || !Array.isArray(t.dims) || !(t.data instanceof Uint8Array)) {
      throw new OptinferError('INVALID_INPUT', `${what}.${k}: expected {dtype, dims, data: bytes}`);
    }
    putNamed(out, k, { dtype: t.dtype, dims: t.dims as number[], data: t.data });
  }
  return out;
}
