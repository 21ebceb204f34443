// Canonical tensors: ONNX dtype codes, little-endian row-major bytes, and chunked Merkle digests.
import { Tag, hashHex, sha256, taggedHash } from './hash.ts';
import { u16, u32 } from './le.ts';
import { tensorHeaderBytes, writeTensorHeader } from './optable.ts';
import { MerkleTree, leafHash } from './merkle.ts';
import type { Hash32 } from './types.ts';
import { OptinferError } from './errors.ts';

/** The unit the on-chain referee opens and recomputes. */
export const CHUNK_BYTES = 256;

export type DType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64';

/** ONNX TensorProto.DataType codes. */
export const DTYPE_CODES: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
};

const ELEMENT_SIZE: Record<DType, number> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
  float16: 2,
  float64: 8,
  uint32: 4,
  uint64: 8,
};

export const DTYPES = Object.keys(DTYPE_CODES) as DType[];

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && Object.hasOwn(DTYPE_CODES, v);
}

export function dtypeFromCode(code: number): DType | undefined {
  return DTYPES.find((d) => DTYPE_CODES[d] === code);
}

export function elementSize(d: DType): number {
  return ELEMENT_SIZE[d];
}

/** A tensor in canonical form: data holds the little-endian row-major bytes. */
export interface Tensor {
  dtype: DType;
  dims: number[];
  data: Uint8Array;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Throws unless dims are non-negative integers and data has exactly the right length. */
export function checkTensor(t: Tensor, what = 'tensor'): void {
  if (!isDType(t.dtype)) {
    throw new OptinferError(
      'INVALID_INPUT',
      `${what}: expected one of ${DTYPES.join(', ')}, got dtype ${String(t.dtype)}`,
    );
  }
  if (t.dims.length > 255 || !t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new OptinferError(
      'INVALID_INPUT',
      `${what}: expected dims of non-negative integers, got [${t.dims.join(',')}]`,
    );
  }
  const want = elementCount(t.dims) * elementSize(t.dtype);
  if (t.data.length !== want) {
    throw new OptinferError(
      'INVALID_INPUT',
      `${what}: expected ${want} bytes for ${t.dtype} [${t.dims.join(',')}], got ${t.data.length}`,
    );
  }
}

/** The one NaN per float dtype that traces commit (PROTOCOL.md, "Canonical NaNs"): quiet, sign and payload clear. */
export const CANONICAL_NAN = { float32: 0x7fc00000, float16: 0x7e00, float64: 0x7ff8000000000000n } as const;

/**
 * Rewrites, in place, every NaN among little-endian float elements as its dtype's canonical NaN (other dtypes
 * untouched) and returns `data`. Which NaN a kernel returns depends on its vector lane, scalar tail, thread block
 * and backend, never whether it returns one: traces and the referee carry only the canonical pattern.
 */
export function canonicalizeNaNs(dtype: DType, data: Uint8Array): Uint8Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (dtype === 'float32') {
    for (let o = 0; o + 4 <= data.length; o += 4)
      if ((view.getUint32(o, true) & 0x7fffffff) > 0x7f800000) view.setUint32(o, CANONICAL_NAN.float32, true);
  } else if (dtype === 'float16') {
    for (let o = 0; o + 2 <= data.length; o += 2)
      if ((view.getUint16(o, true) & 0x7fff) > 0x7c00) view.setUint16(o, CANONICAL_NAN.float16, true);
  } else if (dtype === 'float64') {
    for (let o = 0; o + 8 <= data.length; o += 8)
      if ((view.getBigUint64(o, true) & 0x7fffffffffffffffn) > 0x7ff0000000000000n)
        view.setBigUint64(o, CANONICAL_NAN.float64, true);
  }
  return data;
}

/** Splits canonical bytes into CHUNK_BYTES pieces; an empty tensor has one empty chunk. */
export function chunks(data: Uint8Array): Uint8Array[] {
  if (data.length === 0) return [new Uint8Array(0)];
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += CHUNK_BYTES) out.push(data.subarray(off, off + CHUNK_BYTES));
  return out;
}

export function chunkCount(byteLength: number): number {
  return Math.max(1, Math.ceil(byteLength / CHUNK_BYTES));
}

/** The Merkle tree over a tensor's chunks; its proofs open chunks to the referee. */
export function chunkTree(data: Uint8Array): MerkleTree {
  return MerkleTree.fromLeafHashes(chunks(data).map(leafHash));
}

/** The chunk Merkle root; a tensor of one chunk (most small tensors) skips building a tree. */
export function chunkRoot(data: Uint8Array): Uint8Array {
  return data.length <= CHUNK_BYTES ? leafHash(data) : chunkTree(data).root;
}

/** H(0x02 || u8 dtype || u8 rank || u64 dims... || chunkRoot), given the chunk root. */
export function tensorDigestFromRoot(dtype: DType, dims: readonly number[], root: Uint8Array): Hash32 {
  const h = { dtype: DTYPE_CODES[dtype], dims };
  const buf = Buffer.allocUnsafe(1 + tensorHeaderBytes(h) + root.length);
  buf[0] = Tag.TENSOR;
  buf.set(root, writeTensorHeader(buf, 1, h));
  return hashHex(sha256(buf));
}

export function tensorDigest(t: Tensor): Hash32 {
  checkTensor(t);
  return tensorDigestFromRoot(t.dtype, t.dims, chunkRoot(t.data));
}

/** Whether `s` holds no lone surrogate (String.prototype.isWellFormed, which TypeScript's ES2022 lib lacks). */
export const isWellFormedText = (s: string): boolean => !/\p{Cs}/u.test(s);

/**
 * A tensor name's bytes: its UTF-8, except that a lone surrogate U+DC80..U+DCFF stands for the byte 0x80..0xFF it
 * escapes (tensorNameFromBytes, as Python's surrogateescape). Other lone surrogates name no bytes and are refused.
 */
export function tensorNameBytes(name: string): Buffer {
  if (isWellFormedText(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xdc80 && cp <= 0xdcff) parts.push(Buffer.of(cp - 0xdc00));
    else if (cp >= 0xd800 && cp <= 0xdfff)
      throw new OptinferError(
        'INVALID_INPUT',
        `tensor name ${JSON.stringify(name)}: expected well-formed Unicode text, found a lone surrogate U+${cp.toString(16).toUpperCase()}`,
      );
    else parts.push(Buffer.from(ch, 'utf8'));
  }
  return Buffer.concat(parts);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Length of the well-formed UTF-8 sequence at `b[i]` (RFC 3629: no overlongs, surrogates or past U+10FFFF), or 0. */
function utf8SequenceAt(b: Uint8Array, i: number): number {
  const c = b[i];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/**
 * A tensor name as a string, from bytes that may not be UTF-8 (a set posted on chain, where the program checks
 * bytes and digest only, review 24): each byte outside a well-formed UTF-8 sequence becomes the lone surrogate
 * U+DC00 + byte, so tensorNameBytes gives back the same bytes and the set's digest is the posted one.
 */
export function tensorNameFromBytes(b: Uint8Array): string {
  try {
    return UTF8.decode(b);
  } catch {
    let out = '';
    for (let i = 0; i < b.length;) {
      const n = utf8SequenceAt(b, i);
      if (n === 0) {
        out += String.fromCharCode(0xdc00 + b[i]);
        i += 1;
      } else {
        out += Buffer.from(b.subarray(i, i + n)).toString('utf8');
        i += n;
      }
    }
    return out;
  }
}

/** Byte order of tensor names (tensorNameBytes), the order the tensor-set digest and the referee use. */
export const tensorNameOrder = (a: string, b: string): number =>
  Buffer.compare(tensorNameBytes(a), tensorNameBytes(b));

/** Digest of named tensors (a job's inputs or outputs), sorted by name bytes (tensorNameBytes). */
export function tensorSetDigest(named: Record<string, Tensor>): Hash32 {
  return tensorSetDigestFromDigests(
    Object.fromEntries(Object.entries(named).map(([k, t]) => [k, tensorDigest(t)])),
  );
}

export function tensorSetDigestFromDigests(named: Record<string, Hash32>): Hash32 {
  const entries = Object.entries(named).map(([name, d]) => [tensorNameBytes(name), d] as const);
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  const parts: Uint8Array[] = [u32(entries.length)];
  for (const [name, d] of entries) {
    if (name.length > 0xffff)
      throw new OptinferError('INVALID_INPUT', `tensor name: expected at most 65535 bytes`);
    parts.push(u16(name.length), name, Buffer.from(d, 'hex'));
  }
  return hashHex(taggedHash(Tag.TENSOR_SET, ...parts));
}
