// Tensor digests: canonical chunking, binding to dtype and dims, set digests independent of key order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 as nobleSha } from '@noble/hashes/sha2.js';
import {
  CHUNK_BYTES,
  canonicalizeNaNs,
  chunks,
  tensorDigest,
  tensorSetDigest,
  checkTensor,
  type Tensor,
} from './tensor.ts';
import { toHex } from './hash.ts';

function int32Tensor(values: number[], dims: number[]): Tensor {
  return { dtype: 'int32', dims, data: new Uint8Array(new Int32Array(values).buffer) };
}

test('chunking: 256-byte chunks, short last chunk, one empty chunk for an empty tensor', () => {
  assert.deepEqual(
    chunks(new Uint8Array(600)).map((c) => c.length),
    [CHUNK_BYTES, CHUNK_BYTES, 88],
  );
  assert.deepEqual(
    chunks(new Uint8Array(0)).map((c) => c.length),
    [0],
  );
});

test('a one-chunk tensor digest equals the spec computed by hand with @noble/hashes', () => {
  const t = int32Tensor([1, -2, 3, 4, 5, 6], [2, 3]);
  const chunkRoot = nobleSha(Uint8Array.of(0, ...t.data));
  const dims = new Uint8Array(16);
  new DataView(dims.buffer).setBigUint64(0, 2n, true);
  new DataView(dims.buffer).setBigUint64(8, 3n, true);
  const want = nobleSha(Uint8Array.of(2, 6, 2, ...dims, ...chunkRoot));
  assert.equal(tensorDigest(t), toHex(want));
});

test('the digest binds dtype, dims and every byte', () => {
  const base = int32Tensor(
    Array.from({ length: 200 }, (_, i) => i),
    [200],
  );
  const d = tensorDigest(base);
  assert.notEqual(tensorDigest({ ...base, dims: [10, 20] }), d);
  assert.notEqual(tensorDigest({ ...base, dtype: 'float32' }), d);
  const flipped = new Uint8Array(base.data);
  flipped[799] ^= 1;
  assert.notEqual(tensorDigest({ ...base, data: flipped }), d);
});

test('checkTensor names the mismatch', () => {
  assert.throws(
    () => checkTensor(int32Tensor([1, 2, 3], [2, 2]), "input 'x'"),
    /input 'x': expected 16 bytes for int32 \[2,2\], got 12/,
  );
});

test('tensor set digest is independent of key insertion order and binds names', () => {
  const a = int32Tensor([1], [1]);
  const b = int32Tensor([2], [1]);
  assert.equal(tensorSetDigest({ a, b }), tensorSetDigest({ b, a }));
  assert.notEqual(tensorSetDigest({ a, b }), tensorSetDigest({ a: b, b: a }));
});

test('canonical NaNs: every float32, float16 and float64 NaN becomes its one pattern; numbers, infinities and other dtypes keep their bits', () => {
  const f32 = new Uint32Array([
    0x7fc00001, 0xffc00000, 0x7f800001, 0xffbfffff, 0x7f800000, 0xff800000, 0x80000000, 1, 0x3f800000,
  ]);
  const out32 = new Uint32Array(canonicalizeNaNs('float32', new Uint8Array(f32.buffer.slice(0))).buffer);
  assert.deepEqual(
    [...out32],
    [0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7f800000, 0xff800000, 0x80000000, 1, 0x3f800000],
  );
  const f16 = new Uint16Array([0x7e01, 0xfc01, 0x7c00, 0xfc00, 0x8000, 0x3c00]);
  const out16 = new Uint16Array(canonicalizeNaNs('float16', new Uint8Array(f16.buffer.slice(0))).buffer);
  assert.deepEqual([...out16], [0x7e00, 0x7e00, 0x7c00, 0xfc00, 0x8000, 0x3c00]);
  const f64 = new BigUint64Array([0xfff8000000000001n, 0x7ff0000000000001n, 0x7ff0000000000000n, 1n]);
  const out64 = new BigUint64Array(canonicalizeNaNs('float64', new Uint8Array(f64.buffer.slice(0))).buffer);
  assert.deepEqual([...out64], [0x7ff8000000000000n, 0x7ff8000000000000n, 0x7ff0000000000000n, 1n]);
  // An int32 whose bits read as a NaN is a number: untouched.
  const i32 = new Uint8Array(new Uint32Array([0x7fc00001]).buffer);
  assert.deepEqual([...canonicalizeNaNs('int32', i32.slice())], [...i32]);
});
