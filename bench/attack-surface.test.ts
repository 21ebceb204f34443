// The bench's room is inside the referee's bounds: dot products judged exactly in BigInt (pure/tolerant.rs), the
// transcendentals against f64 (pure/transcend.rs). Run: node --import tsx --test bench/attack-surface.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from '../executor/onnx/builder.ts';
import { dotRoom, MEAN_ROUNDINGS, unaryRoom, type UnaryOp } from './attack-surface.ts';

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
/** An f32 as an integer in units of 2^-150 (shift 0) or 2^-300 (shift 150). */
function fixed(u: number, shift: number): bigint {
  const e = (u >>> 23) & 0xff;
  const f = u & 0x7fffff;
  const [m, x] = e === 0 ? [f, 1] : [f | 0x800000, e];
  const v = BigInt(m) << BigInt(x + shift);
  return u >>> 31 ? -v : v;
}
const abs = (v: bigint) => (v < 0n ? -v : v);

/** pure/tolerant.rs DotAcc::verdict for finite terms and claim: |claimed - exact| * den <= n S + (4T + A) den. */
function passes(a: number[], b: number[], claimed: number, extraRoundings = 0): boolean {
  let exact = 0n;
  let s = 0n;
  let sub = 0n;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [bitsOf(a[i]), bitsOf(b[i])];
    if ((x & 0x7fffffff) === 0 || (y & 0x7fffffff) === 0) continue;
    const p = fixed(x, 0) * fixed(y, 0);
    exact += p;
    s += abs(p);
    if (((x >>> 23) & 0xff) === 0 || ((y >>> 23) & 0xff) === 0) sub += abs(p);
    n++;
  }
  n += extraRoundings;
  const den = BigInt(2 ** 24 - n);
  const r = BigInt(n) * s + (4n * sub + (BigInt(a.length + extraRoundings) << 177n)) * den;
  return abs(fixed(bitsOf(claimed), 150) - exact) * den <= r;
}

function room(a: number[], b: number[], extra = 0) {
  let [e, s, n] = [0, 0, 0];
  for (let i = 0; i < a.length; i++) {
    const p = a[i] * b[i];
    if (p !== 0) [e, s, n] = [e + p, s + Math.abs(p), n + 1];
  }
  return dotRoom(e, s, n + extra, a.length);
}

test('dot-product room: both ends pass the exact check, and the room is nearly all of the bound', () => {
  const r = prng(3);
  const f = () => Math.fround((r() * 200 - 100) * 2 ** Math.floor(r() * 21 - 10));
  let checked = 0;
  for (const k of [1, 7, 64, 513, 2400]) {
    for (let rep = 0; rep < 12; rep++) {
      const a = Array.from({ length: k }, f);
      const b = Array.from({ length: k }, f);
      // Heavy cancellation in some cases: the exact value far below S.
      if (rep % 3 === 0) for (let i = 0; i + 1 < k; i += 2) [a[i + 1], b[i + 1]] = [-a[i], b[i]];
      const got = room(a, b);
      assert.ok(got, `k=${k}: some room`);
      for (const c of got) assert.ok(passes(a, b, c), `k=${k} rep=${rep}: ${c} must pass`);
      // Two steps of the room past each end fail (the room used is the bound, less a rounding or two).
      const w = got[1] - got[0];
      if (w > 0) {
        assert.ok(!passes(a, b, Math.fround(got[1] + w)), `k=${k}: past the top fails`);
        assert.ok(!passes(a, b, Math.fround(got[0] - w)), `k=${k}: past the bottom fails`);
      }
      checked++;
    }
  }
  // A mean: b = fl(1/n), MEAN_ROUNDINGS more roundings.
  const x = Array.from({ length: 100 }, f);
  const inv = Array.from({ length: 100 }, () => Math.fround(1 / 100));
  for (const c of room(x, inv, MEAN_ROUNDINGS)!) assert.ok(passes(x, inv, c, MEAN_ROUNDINGS));
  assert.ok(checked > 50);
});

test('transcendental room: within 8 ulp (Sigmoid 2^-21) of the exact value, signs kept', () => {
  const ulp = (v: number) => 2 ** Math.max(Math.floor(Math.log2(Math.abs(v))) - 23, -149);
  const exact: Record<UnaryOp, (x: number) => number> = {
    Exp: Math.exp,
    Log: Math.log,
    Tanh: Math.tanh,
    Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  };
  const r = prng(9);
  for (const op of ['Exp', 'Log', 'Tanh', 'Sigmoid'] as const) {
    for (let i = 0; i < 2000; i++) {
      const x = Math.fround(r() * 40 - 20) || 1;
      const xx = op === 'Log' ? Math.abs(x) : x;
      const got = unaryRoom(op, xx);
      if (!got) continue;
      const e = exact[op](xx);
      const tol = op === 'Sigmoid' ? 2 ** -21 : 8 * ulp(e);
      for (const c of got) {
        assert.equal(Math.fround(c), c);
        assert.ok(Math.abs(c - e) <= tol, `${op}(${xx}): ${c} vs ${e}`);
        if (op === 'Exp' || op === 'Sigmoid') assert.ok(c >= 0);
        if (op === 'Tanh') assert.ok(Math.sign(c) * Math.sign(xx) >= 0);
      }
    }
  }
});
