// Tensor digests: canonical chunking, binding to dtype and dims, set digests independent of key order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 as nobleSha } from '@noble/hashes/sha2.js';
import { CHUNK_BYTES, chunks, tensorDigest, tensorSetDigest, checkTensor, type Tensor } from './tensor.ts';
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
