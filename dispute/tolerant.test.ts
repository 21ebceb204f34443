// The challenger's tolerant judgement (dispute/tolerant.ts) against the independent BigInt oracle of the
// program tests (programs/tests/lib/dot-bound.ts) and the referee's transcendental bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OP } from '../state/optable.ts';
import { dotBreaks, firstBreak, namingLayer, unaryBreaks } from './tolerant.ts';
import { bitsOf, edgeClaims, fromBits } from '../programs/tests/lib/dot-bound.ts';
import { prng } from '../programs/tests/lib/model.ts';

/** Uniform in [0, 1) from the fixtures' xorshift (programs/tests/lib/model.ts prng). */
function rng(seed: number) {
  const next = prng(seed);
  return () => next() / 2 ** 32;
}
const f32s = (xs: number[]) => Uint32Array.from(xs.map(bitsOf));

test('dot products: the last f32 inside the bound is not named, the first outside is (against the BigInt oracle)', () => {
  const r = rng(5);
  let cases = 0;
  for (const k of [1, 2, 7, 64, 300, 2048]) {
    for (const scale of [1, 1e-30, 1e30, 2 ** -140]) {
      const a = Array.from({ length: k }, () => Math.fround((r() * 2 - 1) * scale));
      const b = Array.from({ length: k }, () => Math.fround(r() * 2 - 1));
      const { inside, outside } = edgeClaims({ a, b });
      for (const u of inside)
        assert.equal(dotBreaks(f32s(a), f32s(b), u), false, `K=${k} x${scale}: ${fromBits(u)} inside`);
      for (const u of outside)
        assert.equal(dotBreaks(f32s(a), f32s(b), u), true, `K=${k} x${scale}: ${fromBits(u)} outside`);
      cases++;
    }
  }
  assert.equal(cases, 24);
});

test('dot products: honest orders pass, NaN or inf claims on a small finite sum are named, non-finite terms never', () => {
  const r = rng(9);
  const a = Array.from({ length: 512 }, () => Math.fround(r() * 2 - 1));
  const b = Array.from({ length: 512 }, () => Math.fround(r() * 2 - 1));
  const seq = a.reduce((acc, x, i) => Math.fround(acc + Math.fround(x * b[i])), 0);
  const pairwise = (lo: number, hi: number): number =>
    hi - lo === 1
      ? Math.fround(a[lo] * b[lo])
      : Math.fround(pairwise(lo, (lo + hi) >> 1) + pairwise((lo + hi) >> 1, hi));
  const f64 = Math.fround(a.reduce((acc, x, i) => acc + x * b[i], 0));
  for (const v of [seq, pairwise(0, 512), f64]) assert.equal(dotBreaks(f32s(a), f32s(b), bitsOf(v)), false);
  // The bound here is about n u S = 512 x 2^-24 x 128, 4e-3: a claim 2e-2 off breaks it.
  assert.equal(dotBreaks(f32s(a), f32s(b), bitsOf(f64 + 2e-2)), true);
  assert.equal(dotBreaks(f32s(a), f32s(b), 0x7fc00000), true);
  assert.equal(dotBreaks(f32s(a), f32s(b), bitsOf(Infinity)), true);
  assert.equal(
    dotBreaks(f32s([Infinity, 1]), f32s([1, 1]), bitsOf(5)),
    false,
    'non-finite terms: left to the referee',
  );
  assert.equal(
    dotBreaks(f32s([3e38, 3e38]), f32s([1, 1]), bitsOf(Infinity)),
    false,
    'may overflow: left to the referee',
  );
});

test('dot products: a TF32 result breaks the fp32 declaration and passes a declared TF32 one', () => {
  const r = rng(13);
  const k = 256;
  const a = Array.from({ length: k }, () => Math.fround(r() * 2 - 1));
  const b = Array.from({ length: k }, () => Math.fround(r() * 2 - 1));
  const tf = (x: number) => {
    const u = bitsOf(x);
    return fromBits(((u + (1 << 12)) & ~0x1fff) >>> 0);
  };
  const claim = a.reduce((acc, x, i) => Math.fround(acc + tf(x) * tf(b[i])), 0);
  assert.equal(dotBreaks(f32s(a), f32s(b), bitsOf(claim), 0), true);
  assert.equal(dotBreaks(f32s(a), f32s(b), bitsOf(claim), 10), false);
});

test('transcendentals: honest kernels a few ulps off pass, lies past the bound are named, edge cases are left alone', () => {
  const r = rng(21);
  const ops: [number, (x: number) => number, () => number][] = [
    [OP.Exp, Math.exp, () => (r() * 2 - 1) * 80],
    [OP.Log, Math.log, () => r() * 1e6 + 1e-30],
    [OP.Tanh, Math.tanh, () => (r() * 2 - 1) * 10],
    [OP.Sigmoid, (x) => 1 / (1 + Math.exp(-x)), () => (r() * 2 - 1) * 30],
  ];
  for (const [op, f, draw] of ops) {
    for (let i = 0; i < 500; i++) {
      const x = Math.fround(draw());
      const y = bitsOf(Math.fround(f(x)));
      for (const d of [-3, 0, 3])
        assert.equal(unaryBreaks(op, bitsOf(x), y + d), false, `op ${op} x=${x} ${d} ulps`);
      const far = op === OP.Sigmoid ? fromBits(y) + 2 ** -19 : fromBits(y) * (1 + 2 ** -18) + 2 ** -120;
      assert.equal(unaryBreaks(op, bitsOf(x), bitsOf(far)), true, `op ${op} x=${x} lie ${far}`);
      assert.equal(unaryBreaks(op, bitsOf(x), 0x7fc00000), true, `op ${op} x=${x} NaN claim`);
    }
  }
  assert.equal(unaryBreaks(OP.Log, bitsOf(-1), 0x7fc00000), false, 'log of a negative is NaN');
  assert.equal(unaryBreaks(OP.Log, bitsOf(-1), bitsOf(0)), true);
  assert.equal(
    unaryBreaks(OP.Exp, bitsOf(100), bitsOf(Infinity)),
    false,
    'past the float range: left to the referee',
  );
  assert.equal(unaryBreaks(OP.Exp, 0x7fc00000, bitsOf(1)), false, 'NaN input: left to the referee');
});

test('firstBreak finds the one lie in a MatMul and a Tanh layer; namingLayer changes only that element', () => {
  const r = rng(3);
  const [m, k, n] = [4, 24, 16];
  const a = Float32Array.from({ length: m * k }, () => r() * 2 - 1);
  const b = Float32Array.from({ length: k * n }, () => r() * 2 - 1);
  const y = new Float32Array(m * n);
  for (let o = 0; o < m * n; o++) {
    let acc = 0;
    for (let t = 0; t < k; t++) acc += a[Math.floor(o / n) * k + t] * b[t * n + (o % n)];
    y[o] = acc;
  }
  const t = (x: Float32Array, dims: number[]) => ({ dims, bytes: new Uint8Array(x.buffer.slice(0)) });
  assert.equal(firstBreak(OP.MatMul, [t(a, [m, k]), t(b, [k, n])], t(y, [m, n])), undefined);
  const lie = Float32Array.from(y);
  lie[37] *= 1.001;
  lie[50] *= 1.001;
  assert.equal(firstBreak(OP.MatMul, [t(a, [m, k]), t(b, [k, n])], t(lie, [m, n])), 37);
  const th = Float32Array.from(y, Math.tanh);
  assert.equal(firstBreak(OP.Tanh, [t(y, [m, n])], t(th, [m, n])), undefined);
  th[9] += 1e-4;
  assert.equal(firstBreak(OP.Tanh, [t(y, [m, n])], t(th, [m, n])), 9);
  const named = new Float32Array(namingLayer(t(lie, [m, n]), 37, y[37]).buffer);
  assert.deepEqual(
    Array.from(named.keys()).filter((i) => named[i] !== lie[i]),
    [37],
  );
  assert.equal(named[37], y[37]);
});
