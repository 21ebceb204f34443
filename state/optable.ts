// The op table and tensor headers the one-step referee parses (programs/optinfer/src/pure/ops.rs, tensor.rs).
import { OptinferError } from './errors.ts';
import { u16 } from './le.ts';

/** Op codes of the referee (pure/ops.rs OP_*), keyed by the ONNX op each one recomputes. */
export const OP = {
  Identity: 1,
  Reshape: 2,
  Flatten: 3,
  Transpose: 4,
  Relu: 5,
  Add: 6,
  Sub: 7,
  Mul: 8,
  MatMulInteger: 9,
  Clip: 10,
  QuantizeLinear: 11,
  DequantizeLinear: 12,
  Cast: 13,
  Concat: 14,
  Gather: 15,
  Slice: 16,
  Squeeze: 17,
  Unsqueeze: 18,
  Shape: 19,
  Equal: 20,
  Not: 21,
  Where: 22,
  ConstantOfShape: 23,
  Pad: 24,
  Neg: 25,
  Abs: 26,
  Less: 27,
  Greater: 28,
  LessOrEqual: 29,
  GreaterOrEqual: 30,
  Div: 31,
  Sqrt: 32,
  Pow: 33,
  DynamicQuantizeLinear: 34,
  ConvInteger: 35,
  // Tolerant mode only (pure/ops.rs is_tolerant): judged within a bound, not recomputed bit for bit.
  Exp: 36,
  Log: 37,
  Tanh: 38,
  Sigmoid: 39,
  MatMul: 40,
} as const;
export type OpName = keyof typeof OP;
export type OpCode = (typeof OP)[OpName];

const OP_NAMES = new Map<number, OpName>(Object.entries(OP).map(([name, code]) => [code, name as OpName]));

/** Ops the one-step judges within a bound (pure/ops.rs is_tolerant): registrable in tolerant mode only. */
export const isTolerantOp = (code: number): boolean => code >= OP.Exp && code <= OP.MatMul;

/** A model's registered mode (state/model.rs MODE_*): bit-exact layers, or float layers judged within a bound. */
export const MODE = { exact: 0, tolerant: 1 } as const;
export type ModelMode = keyof typeof MODE;

/** The ONNX op an op code recomputes; undefined for a code the referee does not know. */
export function opName(code: number): OpName | undefined {
  return OP_NAMES.get(code);
}

/** One op entry: `u8 op || u8 n_inputs || 4 x u16 refs || 14 attribute bytes`. */
export const OP_ENTRY_BYTES = 24;
export const MAX_OP_INPUTS = 4;
export const OP_ATTR_BYTES = 14;
const REFS_AT = 2;
const ATTRS_AT = REFS_AT + 2 * MAX_OP_INPUTS;

/** Op entries per OpsPage account (state/model.rs): layer i lives in page i / OPS_PER_PAGE. */
export const OPS_PER_PAGE = 32;

/** What a ref names: `kind << 14 | index`. Inputs are indexed in byte order of their names. */
export const REF_KIND = { LAYER: 0, INPUT: 1, WEIGHT: 2 } as const;
export type RefKind = (typeof REF_KIND)[keyof typeof REF_KIND];
const REF_INDEX_BITS = 14;
export const MAX_REF_INDEX = (1 << REF_INDEX_BITS) - 1;

export function opRef(kind: RefKind, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index > MAX_REF_INDEX) {
    throw new OptinferError(
      'INVALID_MODEL',
      `op ref: expected an index in [0, ${MAX_REF_INDEX}], got ${index}`,
    );
  }
  return (kind << REF_INDEX_BITS) | index;
}
export const refKind = (ref: number): number => ref >> REF_INDEX_BITS;
export const refIndex = (ref: number): number => ref & MAX_REF_INDEX;

export interface OpEntry {
  /** Any u8: registration, not encoding, refuses codes the referee does not know. */
  op: number;
  refs: readonly number[];
  /** Up to OP_ATTR_BYTES bytes, zero-padded; their meaning depends on the op (docs/PROGRAM.md "Op entry"). */
  attrs?: Uint8Array;
}

export function encodeOpEntry(e: OpEntry): Buffer {
  if (!Number.isInteger(e.op) || e.op < 0 || e.op > 0xff) {
    throw new OptinferError('INVALID_MODEL', `op entry: expected a u8 op code, got ${e.op}`);
  }
  if (e.refs.length > MAX_OP_INPUTS) {
    throw new OptinferError(
      'INVALID_MODEL',
      `op entry: expected at most ${MAX_OP_INPUTS} inputs, got ${e.refs.length}`,
    );
  }
  const attrs = e.attrs ?? new Uint8Array(0);
  if (attrs.length > OP_ATTR_BYTES) {
    throw new OptinferError(
      'INVALID_MODEL',
      `op entry: expected at most ${OP_ATTR_BYTES} attribute bytes, got ${attrs.length}`,
    );
  }
  const b = Buffer.alloc(OP_ENTRY_BYTES);
  b[0] = e.op;
  b[1] = e.refs.length;
  e.refs.forEach((r, i) => u16(r).copy(b, REFS_AT + 2 * i));
  b.set(attrs, ATTRS_AT);
  return b;
}

/** The entry's op, its n_inputs refs and all OP_ATTR_BYTES attribute bytes (a copy). */
export function decodeOpEntry(entry: Uint8Array): { op: number; refs: number[]; attrs: Buffer } {
  if (entry.length !== OP_ENTRY_BYTES) {
    throw new OptinferError(
      'INVALID_MODEL',
      `op entry: expected ${OP_ENTRY_BYTES} bytes, got ${entry.length}`,
    );
  }
  const b = Buffer.from(entry.buffer, entry.byteOffset, entry.length);
  const n = b[1];
  if (n > MAX_OP_INPUTS) {
    throw new OptinferError('INVALID_MODEL', `op entry: expected at most ${MAX_OP_INPUTS} inputs, got ${n}`);
  }
  const refs: number[] = [];
  for (let i = 0; i < n; i++) refs.push(b.readUInt16LE(REFS_AT + 2 * i));
  return { op: b[0], refs, attrs: Buffer.from(b.subarray(ATTRS_AT, OP_ENTRY_BYTES)) };
}

/** A tensor header by ONNX dtype code (state/tensor.ts DTYPE_CODES). */
export interface TensorHeader {
  dtype: number;
  dims: readonly number[];
}

/**
 * `u8 dtype || u8 rank || rank x u64 dims`: what reveal_layer and openings carry, and what the
 * tensor digest hashes (docs/PROTOCOL.md).
 */
export function encodeTensorHeader(h: TensorHeader): Buffer {
  const b = Buffer.allocUnsafe(tensorHeaderBytes(h));
  writeTensorHeader(b, 0, h);
  return b;
}

export const tensorHeaderBytes = (h: TensorHeader): number => 2 + 8 * h.dims.length;

/** Writes the header at `offset` (hashing writes it straight into the digest's input); returns its end. */
export function writeTensorHeader(b: Buffer, offset: number, h: TensorHeader): number {
  if (!Number.isInteger(h.dtype) || h.dtype < 0 || h.dtype > 0xff) {
    throw new OptinferError('INVALID_INPUT', `tensor header: expected a u8 dtype code, got ${h.dtype}`);
  }
  if (h.dims.length > 0xff) {
    throw new OptinferError('INVALID_INPUT', `tensor header: expected rank <= 255, got ${h.dims.length}`);
  }
  b[offset] = h.dtype;
  b[offset + 1] = h.dims.length;
  h.dims.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new OptinferError(
        'INVALID_INPUT',
        `tensor header: dim ${i}: expected a non-negative integer, got ${d}`,
      );
    }
    b.writeBigUInt64LE(BigInt(d), offset + 2 + 8 * i);
  });
  return offset + tensorHeaderBytes(h);
}

/** Reads one header from the start of `b`; `bytes` is how many it took. */
export function decodeTensorHeader(b: Uint8Array): { dtype: number; dims: number[]; bytes: number } {
  const rank = b.length >= 2 ? b[1] : 0;
  const bytes = 2 + 8 * rank;
  if (b.length < bytes) {
    throw new OptinferError(
      'INVALID_INPUT',
      `tensor header: expected ${Math.max(bytes, 2)} bytes, got ${b.length}`,
    );
  }
  const buf = Buffer.from(b.buffer, b.byteOffset, bytes);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) {
    const d = buf.readBigUInt64LE(2 + 8 * i);
    if (d > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new OptinferError('INVALID_INPUT', `tensor header: dim ${i} is ${d}, past 2^53 - 1`);
    }
    dims.push(Number(d));
  }
  return { dtype: buf[0], dims, bytes };
}

/** Most dims a header the program stores can hold (pure/tensor.rs MAX_RANK). */
export const MAX_RANK = 6;
/** A header as the Dispute account stores it: `u8 dtype || u8 rank || 6 x u32 dims`, zero-padded. */
export const STORED_HEADER_BYTES = 2 + 4 * MAX_RANK;

export function encodeStoredHeader(h: TensorHeader): Buffer {
  if (h.dims.length > MAX_RANK) {
    throw new OptinferError(
      'INVALID_INPUT',
      `stored tensor header: expected rank <= ${MAX_RANK}, got ${h.dims.length}`,
    );
  }
  const b = Buffer.alloc(STORED_HEADER_BYTES);
  b[0] = h.dtype;
  b[1] = h.dims.length;
  h.dims.forEach((d, i) => b.writeUInt32LE(d, 2 + 4 * i));
  return b;
}

export function decodeStoredHeader(h: Uint8Array): TensorHeader & { dims: number[] } {
  if (h.length !== STORED_HEADER_BYTES) {
    throw new OptinferError(
      'INVALID_INPUT',
      `stored tensor header: expected ${STORED_HEADER_BYTES} bytes, got ${h.length}`,
    );
  }
  const b = Buffer.from(h.buffer, h.byteOffset, h.length);
  if (b[1] > MAX_RANK) {
    throw new OptinferError(
      'INVALID_INPUT',
      `stored tensor header: expected rank <= ${MAX_RANK}, got ${b[1]}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < b[1]; i++) dims.push(b.readUInt32LE(2 + 4 * i));
  return { dtype: b[0], dims };
}
