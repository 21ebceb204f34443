// Honest onnxruntime MatMul/Gemm/Conv/ReduceSum/ReduceMean results from every executor configuration pass the tolerant dot-product check (pure/tolerant.rs) in the SBF VM; claims past the bound fail; CU per term.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import * as ortw from 'onnxruntime-web';
import { buildModel, node, prng, tensorOf } from '../../executor/onnx/builder.ts';
import { decodeModel } from '../../executor/onnx/schema.ts';
import { Harness, PROGRAMS } from './lib/svm.ts';
import { abs, bitsOf, bound, edgeClaims, fixed, fromBits, margin, type Terms } from './lib/dot-bound.ts';

const h = new Harness('test');
const payer = h.fund();
const CHECK_DOT = 6;
const CHECK_REDUCE = 8;
interface DotCase {
  name: string;
  model: Uint8Array;
  x: { dims: number[]; data: Float32Array };
  outputs: number;
  terms: (o: number) => Terms;
}

const VERDICT = ['Within', 'NonFinite', 'Outside', 'MustBeNonFinite', 'NotNonFinite'];

// ---- The program's check in the SBF VM ----

function vmCheck(t: Terms, claimedBits: number, mantissaBits = 0): { verdict: string; cu: number } {
  if (t.reduce) return vmReduce(t, claimedBits, mantissaBits);
  const k = t.a.length;
  const head = Buffer.alloc(14);
  head[0] = mantissaBits;
  head[1] = t.bias === undefined ? 0 : 1;
  head.writeUInt32LE(t.bias === undefined ? 0 : bitsOf(t.bias), 2);
  head.writeUInt32LE(claimedBits >>> 0, 6);
  head.writeUInt32LE(k, 10);
  const data = Buffer.concat([
    head,
    Buffer.from(new Float32Array(t.a).buffer),
    Buffer.from(new Float32Array(t.b).buffer),
  ]);
  const big = data.length > 900;
  const keys = big ? [{ pubkey: h.putBuffer(data), isSigner: false, isWritable: false }] : [];
  const r = h.send([h.ix('check', { kind: CHECK_DOT, data: big ? Buffer.alloc(0) : data }, keys)], [payer]);
  assert.ok(r.ok, `check failed: ${r.error ?? r.raw}\n${r.logs.slice(-5).join('\n')}`);
  assert.equal(r.returnData[1], r.returnData[0] <= 1 ? 1 : 0);
  return { verdict: VERDICT[r.returnData[0]], cu: r.cu };
}

/** check kind 8: u8 mantissa bits, u8 mean, u32 claimed, u32 n, n x f32. */
function vmReduce(t: Terms, claimedBits: number, mantissaBits: number): { verdict: string; cu: number } {
  const head = Buffer.alloc(10);
  head[0] = mantissaBits;
  head[1] = t.reduce === 'mean' ? 1 : 0;
  head.writeUInt32LE(claimedBits >>> 0, 2);
  head.writeUInt32LE(t.a.length, 6);
  const data = Buffer.concat([head, Buffer.from(new Float32Array(t.a).buffer)]);
  const big = data.length > 900;
  const keys = big ? [{ pubkey: h.putBuffer(data), isSigner: false, isWritable: false }] : [];
  const r = h.send(
    [h.ix('check', { kind: CHECK_REDUCE, data: big ? Buffer.alloc(0) : data }, keys)],
    [payer],
  );
  assert.ok(r.ok, `check failed: ${r.error ?? r.raw}\n${r.logs.slice(-5).join('\n')}`);
  return { verdict: VERDICT[r.returnData[0]], cu: r.cu };
}

/** fl(1/n), checked to be the correctly rounded float32 (the program computes it with pure/ieee.rs div). */
function reciprocal(n: number): number {
  const r = Math.fround(1 / n);
  const err = (u: number) => abs(fixed(u, 150) * BigInt(n) - (1n << 300n));
  for (const d of [-1, 1]) assert.ok(err(bitsOf(r)) <= err(bitsOf(r) + d), `fl(1/${n}) is not ${r}`);
  return r;
}

// ---- Cases: random and real weights ----

function randn(rnd: () => number, n: number, scale: number, relu = false): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = (rnd() + rnd() + rnd() - 1.5) * 2 * scale;
    v[i] = relu ? Math.max(0, g) : g;
  }
  return v;
}

function matmulCase(name: string, m: number, k: number, n: number, seed: number, relu: boolean): DotCase {
  const rnd = prng(seed);
  const w = randn(rnd, k * n, 1 / Math.sqrt(k));
  const x = randn(rnd, m * k, 1, relu);
  const model = buildModel({
    name,
    inputs: [{ name: 'x', dtype: 'float32', dims: [m, k] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [m, n] }],
    nodes: [node('MatMul', ['x', 'w'], ['y'])],
    initializers: { w: tensorOf('float32', [k, n], w) },
  });
  return {
    name,
    model,
    x: { dims: [m, k], data: x },
    outputs: m * n,
    terms: (o) => {
      const [i, j] = [Math.floor(o / n), o % n];
      return { a: [...x.subarray(i * k, (i + 1) * k)], b: Array.from({ length: k }, (_, l) => w[l * n + j]) };
    },
  };
}

function gemmCase(name: string, m: number, w: Float32Array, bias: Float32Array, x: Float32Array): DotCase {
  const n = bias.length;
  const k = w.length / n;
  const model = buildModel({
    name,
    inputs: [{ name: 'x', dtype: 'float32', dims: [m, k] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [m, n] }],
    nodes: [node('Gemm', ['x', 'w', 'c'], ['y'], { transB: 1 })],
    initializers: { w: tensorOf('float32', [n, k], w), c: tensorOf('float32', [n], bias) },
  });
  return {
    name,
    model,
    x: { dims: [m, k], data: x },
    outputs: m * n,
    terms: (o) => {
      const [i, j] = [Math.floor(o / n), o % n];
      return {
        a: [...x.subarray(i * k, (i + 1) * k)],
        b: [...w.subarray(j * k, (j + 1) * k)],
        bias: bias[j],
      };
    },
  };
}

function convCase(name: string, c: number, hw: number, f: number, seed: number): DotCase {
  const rnd = prng(seed);
  const w = randn(rnd, f * c * 9, 1 / Math.sqrt(c * 9));
  const bias = randn(rnd, f, 0.1);
  const x = randn(rnd, c * hw * hw, 1, true);
  const model = buildModel({
    name,
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, c, hw, hw] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [1, f, hw, hw] }],
    nodes: [node('Conv', ['x', 'w', 'b'], ['y'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })],
    initializers: { w: tensorOf('float32', [f, c, 3, 3], w), b: tensorOf('float32', [f], bias) },
  });
  return {
    name,
    model,
    x: { dims: [1, c, hw, hw], data: x },
    outputs: f * hw * hw,
    terms: (o) => {
      const [fo, y, xo] = [Math.floor(o / (hw * hw)), Math.floor(o / hw) % hw, o % hw];
      const t: Terms = { a: [], b: [], bias: bias[fo] };
      // Only the terms that touch real input (the padding contributes nothing).
      for (let ci = 0; ci < c; ci++)
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const [iy, ix] = [y + ky - 1, xo + kx - 1];
            if (iy < 0 || iy >= hw || ix < 0 || ix >= hw) continue;
            t.a.push(x[(ci * hw + iy) * hw + ix]);
            t.b.push(w[((fo * c + ci) * 3 + ky) * 3 + kx]);
          }
      return t;
    },
  };
}

/** ReduceSum or ReduceMean of x [m, k] over axis 1 (opset 17: ReduceSum's axes an input, ReduceMean's an attribute). */
function reduceCase(kind: 'sum' | 'mean', m: number, k: number, x: Float32Array): DotCase {
  const name = `${kind === 'sum' ? 'ReduceSum' : 'ReduceMean'} n=${k}`;
  const model = buildModel({
    name,
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [m, k] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [m] }],
    nodes: [
      kind === 'sum'
        ? node('ReduceSum', ['x', 'axes'], ['y'], { keepdims: 0 })
        : node('ReduceMean', ['x'], ['y'], { axes: [1], keepdims: 0 }),
    ],
    initializers: kind === 'sum' ? { axes: tensorOf('int64', [1], [1]) } : {},
  });
  const b = kind === 'sum' ? 1 : reciprocal(k);
  return {
    name,
    model,
    x: { dims: [m, k], data: x },
    outputs: m,
    terms: (o) => ({ a: [...x.subarray(o * k, (o + 1) * k)], b: new Array<number>(k).fill(b), reduce: kind }),
  };
}

/** Squares of a layer's values around a mean (LayerNorm's variance input), and values of both signs. */
function reduceCases(): DotCase[] {
  const out: DotCase[] = [];
  let seed = 21;
  for (const k of [7, 96, 400, 2400]) {
    const sq = randn(prng(seed++), 4 * k, 1).map((v) => v * v);
    const mixed = randn(prng(seed++), 4 * k, 3).map((v) => v + 0.5);
    out.push(reduceCase('mean', 4, k, sq), reduceCase('sum', 4, k, mixed));
  }
  return out;
}

/** openWakeWord's hello_deepa classifier: its first Gemm (32 x 2400 weights and bias). */
function wakeWordCase(): DotCase {
  const file = path.join(PROGRAMS, '../node_modules/openwakeword-js/models/hello_deepa.onnx');
  const m = decodeModel(readFileSync(file));
  const init = (name: string) => {
    const t = m.graph!.initializer!.find((i) => i.name === name)!;
    const raw = t.raw_data as Uint8Array;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  };
  const w = init('layer1.weight');
  const bias = init('layer1.bias');
  // Embedding-like features: the classifier's input is 16 frames x 150 of the embedding model.
  const x = randn(prng(7), 2 * 2400, 3);
  return gemmCase('openWakeWord hello_deepa layer1 Gemm K=2400 (real weights)', 2, w, bias, x);
}

const cases: DotCase[] = [
  matmulCase('MatMul K=7', 4, 7, 8, 1, false),
  matmulCase('MatMul K=64', 4, 64, 16, 2, false),
  matmulCase('MatMul K=256 relu inputs', 4, 256, 16, 3, true),
  matmulCase('MatMul K=1024', 2, 1024, 16, 4, false),
  gemmCase(
    'Gemm K=300 with bias',
    4,
    randn(prng(5), 300 * 16, 0.06),
    randn(prng(6), 16, 0.1),
    randn(prng(8), 4 * 300, 1),
  ),
  wakeWordCase(),
  convCase('Conv 3x3 C=4 8x8 F=8 with bias', 4, 8, 8, 9),
  convCase('Conv 3x3 C=16 6x6 F=4 with bias', 16, 6, 4, 10),
  ...reduceCases(),
];

// ---- Executor configurations ----

type Level = 'disabled' | 'all';
interface Config {
  name: string;
  run: (model: Uint8Array, x: DotCase['x']) => Promise<Float32Array>;
}
const nodeConfig = (threads: number, level: Level): Config => ({
  name: `onnxruntime-node threads=${threads} opt=${level}`,
  run: async (model, x) => {
    const s = await ort.InferenceSession.create(Buffer.from(model), {
      intraOpNumThreads: threads,
      graphOptimizationLevel: level,
      executionProviders: ['cpu'],
    });
    const out = await s.run({ x: new ort.Tensor('float32', x.data, x.dims) });
    await s.release();
    return out.y.data as Float32Array;
  },
});
const wasmConfig = (level: Level): Config => ({
  name: `onnxruntime-web wasm opt=${level}`,
  run: async (model, x) => {
    ortw.env.wasm.numThreads = 1;
    const s = await ortw.InferenceSession.create(model, {
      graphOptimizationLevel: level,
      executionProviders: ['wasm'],
    });
    const out = await s.run({ x: new ortw.Tensor('float32', x.data, x.dims) });
    await s.release();
    return out.y.data as Float32Array;
  },
});
const configs: Config[] = [
  ...[1, 2, 4].flatMap((t) => (['disabled', 'all'] as Level[]).map((l) => nodeConfig(t, l))),
  wasmConfig('disabled'),
  wasmConfig('all'),
];

test('honest onnxruntime results from every configuration pass the check in the SBF VM', async () => {
  let least = Infinity;
  let leastAt = '';
  const summary: string[] = [];
  for (const c of cases) {
    // Distinct claims per element over all configurations: each is judged once in the VM.
    const claims = new Map<string, { o: number; v: number; by: string[] }>();
    for (const cfg of configs) {
      const y = await cfg.run(c.model, c.x);
      assert.equal(y.length, c.outputs, `${c.name}: ${cfg.name} output size`);
      y.forEach((v, o) => {
        const key = `${o}:${bitsOf(v)}`;
        const e = claims.get(key) ?? { o, v, by: [] };
        e.by.push(cfg.name);
        claims.set(key, e);
      });
    }
    let caseLeast = Infinity;
    // A cheater's room: the bound relative to the element's magnitude, per element.
    const room: number[] = [];
    for (let o = 0; o < c.outputs; o++) {
      const { exact, r, den } = bound(c.terms(o));
      if (exact !== 0n) room.push(Number(r) / Number(den) / Number(abs(exact)));
    }
    room.sort((x, y) => x - y);
    for (const { o, v, by } of claims.values()) {
      const t = c.terms(o);
      const mg = margin(t, v);
      const { verdict } = vmCheck(t, bitsOf(v));
      assert.equal(verdict, 'Within', `${c.name} element ${o}: ${v} from ${by.join(', ')} judged ${verdict}`);
      assert.ok(mg >= 1, `${c.name} element ${o}: margin ${mg}`);
      if (mg < caseLeast) caseLeast = mg;
      if (mg < least) [least, leastAt] = [mg, `${c.name} element ${o}`];
    }
    const differing = claims.size - c.outputs;
    summary.push(
      `${c.name}: ${claims.size} distinct claims (${differing} beyond one per element), least margin ${caseLeast.toFixed(2)}, bound / |y| median ${room[room.length >> 1].toExponential(1)}`,
    );
  }
  console.log(summary.join('\n'));
  console.log(`least margin bound/error over all cases and configurations: ${least.toFixed(3)} (${leastAt})`);
});

test('at the edge: the last claim inside the bound passes in the VM, the next f32 fails', () => {
  for (const c of cases) {
    for (const o of [0, c.outputs - 1]) {
      const t = c.terms(o);
      const { inside, outside } = edgeClaims(t);
      for (const u of inside)
        assert.equal(vmCheck(t, u).verdict, 'Within', `${c.name} ${o}: inside ${fromBits(u)}`);
      for (const u of outside)
        assert.equal(vmCheck(t, u).verdict, 'Outside', `${c.name} ${o}: outside ${fromBits(u)}`);
    }
  }
});

test('non-finite claims: refused where no order overflows, NaN required from a NaN input (VM)', () => {
  const t: Terms = { a: [1.5, -2, 3], b: [0.5, 0.25, 1] };
  assert.equal(vmCheck(t, 0x7f800000).verdict, 'NotNonFinite');
  assert.equal(vmCheck(t, 0x7fc00000).verdict, 'NotNonFinite');
  assert.equal(vmCheck({ a: [NaN, 1], b: [1, 1] }, 0x7fc00000).verdict, 'NonFinite');
  assert.equal(vmCheck({ a: [NaN, 1], b: [1, 1] }, bitsOf(1)).verdict, 'MustBeNonFinite');
  // TF32 input rounding widens the bound: a claim outside fp32's bound passes with mantissa_bits 10.
  const w: Terms = { a: [1 + 2 ** -12], b: [1] };
  assert.equal(vmCheck(w, bitsOf(1)).verdict, 'Outside');
  assert.equal(vmCheck(w, bitsOf(1), 10).verdict, 'Within');
});

test('CU per term in the SBF VM', () => {
  const rnd = prng(11);
  const rows: [number, number][] = [];
  for (const k of [256, 1024, 4096, 8192]) {
    const t: Terms = { a: [...randn(rnd, k, 1)], b: [...randn(rnd, k, 0.05)], bias: 0.25 };
    const { exact } = bound(t);
    const { verdict, cu } = vmCheck(t, bitsOf(Number(exact) * 2 ** -300));
    assert.equal(verdict, 'Within');
    rows.push([k, cu]);
  }
  const [[k0, c0], [k1, c1]] = [rows[0], rows[rows.length - 1]];
  const perTerm = (c1 - c0) / (k1 - k0);
  const base = c0 - perTerm * k0;
  const maxK = Math.floor((1_400_000 - base) / perTerm);
  console.log(rows.map(([k, cu]) => `K=${k}: ${cu} CU`).join('\n'));
  console.log(
    `${perTerm.toFixed(1)} CU per term, ${Math.round(base)} CU fixed; largest K in 1.4M CU: ${maxK}`,
  );
  assert.ok(c1 < 1_400_000);
});
