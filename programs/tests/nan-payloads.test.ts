// Review 17's attacks on exact mode through NaN payloads, fixed by canonical NaNs (PROTOCOL.md "Canonical NaNs"):
// onnxruntime picks which NaN an Add or Mul of two NaNs returns by vector lane, scalar tail, thread block and
// backend, so a referee that decided games on payloads made honest executors lose. Played as games in LiteSVM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { buildModel, node, tensorOf } from '../../executor/onnx/builder.ts';
import { loadModel } from '../../executor/model.ts';
import { toOrtTensor } from '../../executor/ort-tensor.ts';
import { traceModel } from '../../executor/trace.ts';
import type { Tensor } from '../../state/tensor.ts';
import { PHASE, SIDE, playToOneStep, startGame } from './lib/game.ts';
import { run } from './lib/model.ts';
import { onnxSubject, toP, type OnnxSubject } from './lib/onnx-game.ts';
import type * as P from './lib/protocol.ts';

const CANONICAL = 0x7fc00000;
const isNan = (x: number) => (x & 0x7fffffff) >>> 0 > 0x7f800000;

/**
 * s = x + (-x): with x a NaN, Add's two operands are NaNs with different payloads (the sign bit); then y = s * w
 * (w = 1: a model without weights is refused at registration, BadShapeRecord, so it carries one).
 */
const negAdd = (n: number) =>
  buildModel({
    name: `negadd${n}`,
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, n] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [1, n] }],
    initializers: { w: tensorOf('float32', [1], [1]) },
    nodes: [node('Neg', ['x'], ['m']), node('Add', ['x', 'm'], ['s']), node('Mul', ['s', 'w'], ['y'])],
  });

/** Every element the quiet NaN 0x7FC00001 (any user may send it as a job input). */
const nans = (n: number): Tensor => ({
  dtype: 'float32',
  dims: [1, n],
  data: new Uint8Array(new Uint32Array(n).fill(0x7fc00001).buffer),
});

/** onnxruntime's own output bits, not through the executor's conversion: what the kernels really return. */
async function rawOutput(bytes: Uint8Array, x: Tensor, threads = 1): Promise<Buffer> {
  const s = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'disabled',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  });
  try {
    const y = (await s.run({ x: toOrtTensor(x) })).y as ort.Tensor;
    const d = y.data as Float32Array;
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  } finally {
    await s.release();
  }
}

/** Every NaN of layers 1 (Add) on written as the one given: a trace committed with other payloads. */
const withPayload = (trace: P.Tensor[], payload: number): P.Tensor[] =>
  trace.map((t, i) => {
    if (i === 0) return t;
    const bytes = Buffer.from(t.bytes);
    for (let o = 0; o + 4 <= bytes.length; o += 4)
      if (isNan(bytes.readUInt32LE(o))) bytes.writeUInt32LE(payload >>> 0, o);
    return { ...t, bytes };
  });

const subjects: OnnxSubject[] = [];
after(async () => {
  for (const s of subjects) await s.model.close();
});

/**
 * The executor holds `honest` (its committed trace); a hostile challenger holds the same results with the NaN
 * payloads x86's vectorized body gives (b's NaN quieted). The honest trace must be the referee's, and the
 * executor must win with lamports conserved.
 */
async function honestExecutorWins(s: OnnxSubject, x: Tensor, honest: P.Tensor[]): Promise<void> {
  const ref = run(s.def(x));
  honest.forEach((t, i) =>
    assert.ok(
      t.bytes.equals(ref[i].bytes),
      `layer ${i}: the committed trace is the referee's (canonical NaNs)`,
    ),
  );
  const hostile = withPayload(honest, 0xffc00001);
  assert.ok(!hostile[1].bytes.equals(honest[1].bytes), 'the challenger claims other bits');
  const g = await startGame(
    () => honest,
    () => hostile,
    s.def(x),
  );
  await playToOneStep(g);
  const d0 = await g.world.dispute(g.dispute);
  if (d0.phase !== PHASE.RESOLVED) await g.exec.submitOneStep(g.dispute);
  const d = await g.world.dispute(g.dispute);
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(d.phase, PHASE.RESOLVED);
  assert.equal(d.winner, SIDE.EXECUTOR, 'the honest executor wins');
}

test("nan-payload tail: onnxruntime adds two NaNs with b's payload in its vector body and a's in its scalar tail; the honest executor commits canonical NaNs and wins", async () => {
  const bytes = negAdd(13);
  const s = await onnxSubject(bytes, 'negadd13');
  subjects.push(s);
  const x = nans(13);
  // The premise, on onnxruntime's own bits: element 12 (past the vector body) carries a's NaN, the rest b's.
  const raw = await rawOutput(bytes, x);
  assert.equal(raw.readUInt32LE(0), 0xffc00001, "vector body: b's NaN");
  assert.equal(
    raw.readUInt32LE(48),
    0x7fc00001,
    "scalar tail: a's NaN (onnxruntime 1.30, canonical profile)",
  );
  const honest = await s.ortLayers(x);
  for (const t of honest)
    for (let o = 0; o < t.bytes.length; o += 4) assert.equal(t.bytes.readUInt32LE(o), CANONICAL);
  await honestExecutorWins(s, x, honest);
});

test('nan-payload wasm: an honest executor on backend=wasm commits the same canonical trace as the canonical profile and wins', async () => {
  const bytes = negAdd(16);
  const s = await onnxSubject(bytes, 'negadd16');
  subjects.push(s);
  const wasm = await loadModel(bytes, {
    name: 'negadd16-wasm',
    run: { backend: 'wasm', threads: 1, opt: 'disabled' },
  });
  try {
    const x = nans(16);
    const honest = (await traceModel(wasm, { x }, { keepTensors: true })).tensors!.map(toP);
    const canonical = await s.ortLayers(x);
    honest.forEach((t, i) =>
      assert.ok(t.bytes.equals(canonical[i].bytes), `layer ${i}: wasm = canonical profile`),
    );
    await honestExecutorWins(s, x, honest);
  } finally {
    await wasm.close();
  }
});

test('nan-payload threads: --profile threads=7 commits the trace of threads=1 for Add of two NaNs, though its thread blocks return other payloads', async () => {
  const n = 64 * 4096;
  const bytes = negAdd(n);
  const x = nans(n);
  // The premise: onnxruntime's own bits differ between the two thread counts (each block has its own tail).
  const [raw1, raw7] = [await rawOutput(bytes, x, 1), await rawOutput(bytes, x, 7)];
  let rawDiffer = 0;
  for (let o = 0; o < raw1.length; o += 4) if (raw1.readUInt32LE(o) !== raw7.readUInt32LE(o)) rawDiffer++;
  assert.ok(rawDiffer > 0, 'onnxruntime gives other NaN bits at threads=7');
  const layers = async (threads: number) => {
    const m = await loadModel(bytes, {
      name: `negadd-t${threads}`,
      run: { backend: 'cpu', threads, opt: 'disabled' },
    });
    try {
      return (await traceModel(m, { x }, { keepTensors: true })).tensors!.map(toP);
    } finally {
      await m.close();
    }
  };
  const [one, seven] = [await layers(1), await layers(7)];
  one.forEach((t, i) => assert.ok(t.bytes.equals(seven[i].bytes), `layer ${i}: threads=7 = threads=1`));
});
