// Trace commitments: prefix agreement implies agreement on every earlier layer; proofs open prefixes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { traceCommitment, traceTree, verifyPrefix } from './trace.ts';
import { firstDivergence, firstDivergentChunk, bisectionRounds } from './bisect.ts';
import { hashHex, sha256 } from './hash.ts';
import type { Hash32, ModelId } from './types.ts';

const h = (s: string): Hash32 => hashHex(sha256(new TextEncoder().encode(s)));
const base = { modelId: h('m') as ModelId, inputDigest: h('i'), profileHash: h('p') };

test('changing layer k changes prefixes k.. and nothing before', () => {
  const layers = Array.from({ length: 9 }, (_, i) => h(`layer${i}`));
  const honest = traceCommitment({ ...base, layerDigests: layers });
  for (let k = 0; k < layers.length; k++) {
    const bad = layers.slice();
    bad[k] = h(`evil${k}`);
    const evil = traceCommitment({ ...base, layerDigests: bad });
    assert.notEqual(evil.root, honest.root);
    for (let i = 0; i < layers.length; i++)
      assert.equal(evil.prefixes[i] === honest.prefixes[i], i < k, `k=${k} i=${i}`);
    assert.equal(firstDivergence(honest.prefixes, evil.prefixes), k);
  }
});

test('the seed binds model, input and profile', () => {
  const layers = [h('a')];
  const r = traceCommitment({ ...base, layerDigests: layers }).root;
  assert.notEqual(traceCommitment({ ...base, modelId: h('m2') as ModelId, layerDigests: layers }).root, r);
  assert.notEqual(traceCommitment({ ...base, inputDigest: h('i2'), layerDigests: layers }).root, r);
  assert.notEqual(traceCommitment({ ...base, profileHash: h('p2'), layerDigests: layers }).root, r);
});

test('each prefix is provable against the root and no other prefix is', () => {
  const c = traceCommitment({ ...base, layerDigests: Array.from({ length: 5 }, (_, i) => h(`l${i}`)) });
  const tree = traceTree(c.prefixes);
  for (let i = 0; i < 5; i++) {
    assert.ok(verifyPrefix(c.root, 5, c.prefixes[i], tree.proof(i)));
    assert.ok(!verifyPrefix(c.root, 5, c.prefixes[(i + 1) % 5], tree.proof(i)));
  }
});

test('firstDivergence: exhaustive over lengths up to 40 and every divergence point', () => {
  for (let n = 1; n <= 40; n++) {
    const a = Array.from({ length: n }, (_, i) => h(`x${i}`));
    assert.equal(firstDivergence(a, a.slice()), null);
    for (let k = 0; k < n; k++) {
      const b = a.map((v, i) => (i >= k ? h(`y${i}`) : v));
      assert.equal(firstDivergence(a, b), k);
    }
    assert.equal(firstDivergence(a, a.slice(0, n - 1)), n - 1);
  }
  assert.equal(bisectionRounds(1), 0);
  assert.equal(bisectionRounds(512), 9);
  assert.equal(bisectionRounds(513), 10);
});

test('firstDivergentChunk finds the chunk holding the first changed byte', () => {
  const a = new Uint8Array(1000).map((_, i) => i & 0xff);
  assert.equal(firstDivergentChunk(a, a.slice()), null);
  for (const pos of [0, 255, 256, 700, 999]) {
    const b = a.slice();
    b[pos] ^= 0x80;
    assert.equal(firstDivergentChunk(a, b), Math.floor(pos / 256));
  }
});
