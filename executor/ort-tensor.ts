// Conversion between canonical tensors (little-endian bytes) and onnxruntime tensors: no bit changes but NaN payloads.
import ort from 'onnxruntime-node';
import { OptinferError } from '../state/errors.ts';
import { canonicalizeNaNs, isDType, type DType, type Tensor } from '../state/tensor.ts';

type Ctor = { new (buf: ArrayBuffer, offset: number, length: number): ArrayBufferView & { length: number } };

const TYPED: Record<DType, Ctor> = {
  float32: Float32Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
  float16: Uint16Array,
  float64: Float64Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
};

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Canonical bytes are little-endian and typed arrays use host order: a big-endian host would need byte swaps.
  throw new OptinferError('INTERNAL', 'optinfer executor requires a little-endian host');
}

export function toOrtTensor(t: Tensor): ort.Tensor {
  // Copy into a fresh, aligned buffer: typed arrays need alignment and onnxruntime may keep a reference.
  const buf = new ArrayBuffer(t.data.byteLength);
  new Uint8Array(buf).set(t.data);
  const Ctor = TYPED[t.dtype];
  const bytesPer = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const arr = new Ctor(buf, 0, t.data.byteLength / bytesPer);
  return new ort.Tensor(t.dtype, arr as never, t.dims);
}

/**
 * Copies an onnxruntime output into canonical form, every float NaN the canonical one (the only change to a
 * bit: PROTOCOL.md "Canonical NaNs"); `what` names it in errors.
 */
export function fromOrtValue(v: unknown, what: string): Tensor {
  if (!(v instanceof ort.Tensor)) {
    throw new OptinferError(
      'UNPROVABLE_MODEL',
      `${what}: expected a tensor output, got a non-tensor value (sequence, map or optional)`,
    );
  }
  const type = v.type as string;
  if (!isDType(type)) {
    throw new OptinferError(
      'UNPROVABLE_MODEL',
      `${what}: expected a tensor of a supported dtype, got ${type}`,
    );
  }
  const data = v.data as ArrayBufferView;
  const bytes = new Uint8Array(data.byteLength);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { dtype: type, dims: v.dims.map(Number), data: canonicalizeNaNs(type, bytes) };
}
