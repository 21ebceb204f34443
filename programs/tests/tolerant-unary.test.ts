// Tolerant Exp, Log, Tanh and Sigmoid (pure/transcend.rs) in the SBF VM against onnxruntime on seven configurations:
// every honest result passes, claims just past the bound fail, and the measured error is printed next to the bound.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { buildModel, node } from '../../executor/onnx/builder.ts';
import { Harness } from './lib/svm.ts';

const OPS = ['Exp', 'Log', 'Tanh', 'Sigmoid'] as const;
type Op = (typeof OPS)[number];
const CODE: Record<Op, number> = { Exp: 0, Log: 1, Tanh: 2, Sigmoid: 3 };
const ULPS = 8;
const SIGMOID_ABS = 2 ** -21;
const N = 8192;

const h = new Harness('test');
const payer = h.fund();

/** xorshift32: the same inputs every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (v: number) => ((f32[0] = v), u32[0]);
const valueOf = (b: number) => ((u32[0] = b), f32[0]);

/** Inputs over each op's domain: every exponent, the tails, the points where the kernels switch formulas. */
function inputs(op: Op): Float32Array {
  const r = rng(17 + CODE[op]);
  const x = new Float32Array(N);
  const specials = [
    0,
    -0,
    1,
    -1,
    Infinity,
    -Infinity,
    NaN,
    1e-45,
    -1e-45,
    1e-38,
    88.7,
    88.73,
    -87.3,
    -103.9,
    9,
    -9,
    18,
    -18,
  ];
  x.set(specials);
  for (let i = specials.length; i < N; i++) {
    const u = r() / 2 ** 32;
    const k = i % 4;
    if (op === 'Exp')
      x[i] = k === 0 ? u * 200 - 110 : k === 1 ? (u * 2 - 1) * 2 ** -((r() % 40) + 1) : u * 193 - 104;
    else if (op === 'Log')
      x[i] = k === 0 ? valueOf(r() & 0x7f7fffff) : k === 1 ? 1 + (u * 2 - 1) * 2 ** -((r() % 24) + 1) : u * 4;
    else
      x[i] = k === 0 ? (u * 2 - 1) * 40 : k === 1 ? (u * 2 - 1) * 2 ** -((r() % 30) + 1) : (u * 2 - 1) * 10;
  }
  return x;
}

const model = (op: Op) =>
  buildModel({
    name: op,
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [N] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [N] }],
    nodes: [node(op, ['x'], ['y'])],
  });

type Run = (bytes: Uint8Array, x: Float32Array) => Promise<Float32Array>;
const nodeRun =
  (threads: number, opt: 'disabled' | 'all'): Run =>
  async (bytes, x) => {
    const s = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: opt,
      executionMode: 'sequential',
    });
    const y = (await s.run({ x: new ort.Tensor('float32', x, [N]) })).y.data as Float32Array;
    await s.release();
    return y;
  };
const web = await import('onnxruntime-web');
web.env.wasm.numThreads = 1;
web.env.logLevel = 'error';
const wasmRun =
  (opt: 'disabled' | 'all'): Run =>
  async (bytes, x) => {
    const s = await web.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: opt,
    });
    const y = (await s.run({ x: new web.Tensor('float32', x, [N]) })).y.data as Float32Array;
    await s.release();
    return y;
  };
const CONFIGS: [string, Run][] = [
  ['cpu 1 thread, disabled', nodeRun(1, 'disabled')],
  ['cpu 2 threads, disabled', nodeRun(2, 'disabled')],
  ['cpu 4 threads, disabled', nodeRun(4, 'disabled')],
  ['cpu 1 thread, all', nodeRun(1, 'all')],
  ['cpu 4 threads, all', nodeRun(4, 'all')],
  ['wasm, disabled', wasmRun('disabled')],
  ['wasm, all', wasmRun('all')],
];

const exact = (op: Op, x: number) =>
  op === 'Exp'
    ? Math.exp(x)
    : op === 'Log'
      ? Math.log(x)
      : op === 'Tanh'
        ? Math.tanh(x)
        : x >= 0
          ? 1 / (1 + Math.exp(-x))
          : Math.exp(x) / (1 + Math.exp(x));
/** The error of y in the units the referee bounds: ulps of the exact value (Sigmoid: multiples of 2^-24). */
function error(op: Op, x: number, y: number): number {
  const v = exact(op, x);
  if (Number.isNaN(v) || !Number.isFinite(v) || !Number.isFinite(y)) return 0;
  if (op === 'Sigmoid') return Math.abs(y - v) / 2 ** -24;
  const ulp = 2 ** Math.max(Math.floor(Math.log2(Math.abs(v))) - 23, -149);
  return Math.max(0, Math.abs(y - v) - 2 ** -126) / ulp;
}

/** The VM's verdicts (check kind 7) on (x, claimed) pairs, 100 per transaction; returns the CU spent per pair. */
function vmCheck(op: Op, pairs: [number, number][]): { pass: boolean[]; cuPerPair: number } {
  const pass: boolean[] = [];
  let cu = 0;
  for (let i = 0; i < pairs.length; i += 100) {
    const part = pairs.slice(i, i + 100);
    const data = Buffer.alloc(2 + 8 * part.length);
    data[0] = CODE[op];
    data[1] = part.length;
    part.forEach(([x, y], j) => {
      data.writeUInt32LE(x, 2 + 8 * j);
      data.writeUInt32LE(y, 6 + 8 * j);
    });
    const r = h.send([h.ix('check', { kind: 7, data }, [])], [payer]);
    assert.ok(r.ok, `${r.error ?? r.raw}`);
    cu += r.cu;
    part.forEach((_, j) => pass.push(((r.returnData[1 + (j >> 3)] >> (j & 7)) & 1) === 1));
    assert.equal(r.returnData[0], part.filter((_, j) => !pass[i + j]).length, 'failure count');
  }
  return { pass, cuPerPair: cu / pairs.length };
}

const report: string[] = [];
after(() => process.stdout.write(`${report.join('\n')}\n`));

for (const op of OPS) {
  test(`${op}: every honest result of seven onnxruntime configurations passes the VM's check, and claims past the bound fail`, async () => {
    const x = inputs(op);
    const bytes = model(op);
    const honest = new Map<string, [number, number]>();
    const worst: string[] = [];
    for (const [name, run] of CONFIGS) {
      const y = await run(bytes, x);
      let max = 0;
      for (let i = 0; i < N; i++) {
        honest.set(`${bitsOf(x[i])}:${bitsOf(y[i])}`, [bitsOf(x[i]), bitsOf(y[i])]);
        max = Math.max(max, error(op, x[i], y[i]));
      }
      worst.push(`${name} ${max.toFixed(2)}`);
    }
    const pairs = [...honest.values()];
    const { pass, cuPerPair } = vmCheck(op, pairs);
    const failed = pairs.filter((_, i) => !pass[i]);
    assert.deepEqual(
      failed.slice(0, 5).map(([a, b]) => [valueOf(a), valueOf(b)]),
      [],
      `${failed.length} honest results refused`,
    );

    // Cheats: the exact value moved past the bound (Sigmoid: 1.25 x 2^-21; the others: 9 ulps and more, away
    // from the floor), each refused; the same moved to 7 ulps (0.75 x 2^-21) passes.
    const cheats: [number, number][] = [];
    const edges: [number, number][] = [];
    for (let i = 0; i < N; i += 7) {
      const v = exact(op, x[i]);
      if (!Number.isFinite(v) || Number.isNaN(v) || Math.abs(v) < 1e-30 || Math.abs(v) > 1e30) continue;
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(v))) - 23);
      // Next to a power of two the ulp of the exact value is ambiguous in f64 (tanh(19.5) is 1 there, 1 - 2^-57
      // exactly): such points are left out.
      const frac = Math.abs(v) / 2 ** Math.floor(Math.log2(Math.abs(v)));
      if (op !== 'Sigmoid' && (frac < 1 + 2 ** -20 || frac > 2 - 2 ** -20)) continue;
      const [out, inn] = op === 'Sigmoid' ? [1.25 * SIGMOID_ABS, 0.75 * SIGMOID_ABS] : [9.5 * ulp, 7 * ulp];
      const sign = i % 2 ? 1 : -1;
      const c = Math.fround(v + sign * out);
      const e = Math.fround(v + sign * inn);
      // Only claims whose rounding kept them on their side of the bound.
      if (op === 'Sigmoid' ? Math.abs(c - v) > 1.01 * SIGMOID_ABS : Math.abs(c - v) > (ULPS + 0.3) * ulp)
        cheats.push([bitsOf(x[i]), bitsOf(c)]);
      // (A negative Sigmoid is refused whatever its size: the function is never negative.)
      if (
        op === 'Sigmoid'
          ? Math.abs(e - v) < 0.99 * SIGMOID_ABS && e >= 0
          : Math.abs(e - v) < (ULPS - 0.01) * ulp
      )
        edges.push([bitsOf(x[i]), bitsOf(e)]);
    }
    assert.ok(
      cheats.length > 500 && edges.length > 500,
      `${cheats.length} cheats, ${edges.length} edge claims`,
    );
    assert.ok(
      vmCheck(op, cheats).pass.every((p) => !p),
      'a claim past the bound passed',
    );
    const edgePass = vmCheck(op, edges).pass;
    const refused = edges
      .filter((_, i) => !edgePass[i])
      .map(([a, b]) => [valueOf(a), valueOf(b), exact(op, valueOf(a))]);
    assert.deepEqual(refused.slice(0, 5), [], `${refused.length} claims inside the bound refused`);
    report.push(
      `${op}: ${pairs.length} distinct honest (x, y) pairs from ${CONFIGS.length} configurations pass; ` +
        `${cheats.length} cheats refused, ${edges.length} edge claims pass; ${Math.round(cuPerPair)} CU per check; ` +
        `max error ${op === 'Sigmoid' ? 'x 2^-24 absolute (bound 8)' : 'ulps (bound 8)'}: ${worst.join(', ')}`,
    );
  });
}
