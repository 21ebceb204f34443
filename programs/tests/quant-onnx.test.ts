// Pow by 2 and 3 and DynamicQuantizeLinear from an ONNX graph in quantize_dynamic's pattern: compiled, bit-equal to onnxruntime, and a cheat on such a layer loses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../executor/model.ts';
import { traceModel } from '../../executor/trace.ts';
import { compileForProgram } from '../../executor/program-model.ts';
import { buildModel, node, tensorOf } from '../../executor/onnx/builder.ts';
import { DTYPE_CODES, type Tensor } from '../../state/tensor.ts';
import { PHASE, SIDE, cheatLayers, playToOneStep, startGame } from './lib/game.ts';
import { prng, run, type ModelDef } from './lib/model.ts';
import * as P from './lib/protocol.ts';

/**
 * x [1,64]: x^2 + x^3 (the exponent 3 an int64 constant, as exporters write it), dynamically
 * quantized to uint8, then onnxruntime quantize_dynamic's MatMulInteger with the computed zero
 * point, cast and rescaled by the computed scale times the weight scale.
 */
const r0 = prng(77);
const bytes = buildModel({
  name: 'quant',
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', dims: [1, 64] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [1, 16] }],
  initializers: {
    two: tensorOf('float32', [], [2]),
    three: tensorOf('int64', [1], [3]),
    w: tensorOf(
      'uint8',
      [64, 16],
      Array.from({ length: 1024 }, () => r0() % 256),
    ),
    wzp: tensorOf('uint8', [], [131]),
    wscale: tensorOf('float32', [], [0.0123]),
  },
  nodes: [
    node('Pow', ['x', 'two'], ['p2']),
    node('Pow', ['x', 'three'], ['p3']),
    node('Add', ['p2', 'p3'], ['s']),
    node('DynamicQuantizeLinear', ['s'], ['q', 'qs', 'qz']),
    node('MatMulInteger', ['q', 'w', 'qz', 'wzp'], ['mm']),
    node('Cast', ['mm'], ['mf'], { to: 1 }),
    node('Mul', ['qs', 'wscale'], ['sc']),
    node('Mul', ['mf', 'sc'], ['y']),
  ],
});
const model = await loadModel(bytes, { name: 'quant' });
after(() => model.close());
const compiled = await compileForProgram(model);

const toP = (t: Tensor): P.Tensor => ({
  dtype: DTYPE_CODES[t.dtype],
  dims: t.dims,
  bytes: Buffer.from(t.data),
});
/** Floats of both signs around 1 (x^3 turns the range), a few exact zeros. */
function inputX(seed: number): Tensor {
  const r = prng(seed);
  const f = new Float32Array(64).map(() => (r() % 9 === 0 ? 0 : ((r() % 4001) - 2000) / 997));
  return { dtype: 'float32', dims: [1, 64], data: new Uint8Array(f.buffer) };
}
const def = (x: Tensor): ModelDef => ({
  inputs: [['x', toP(x)]],
  weights: compiled.weights.map((w) => toP(w.tensor)),
  layers: compiled.layers.map((l) => ({ op: l.op, refs: l.refs, attrs: Buffer.from(l.attrs) })),
  outputName: compiled.outputName,
});
const ortLayers = async (x: Tensor) =>
  (await traceModel(model, { x }, { keepTensors: true })).tensors!.map(toP);

test('the compiler maps Pow and the three DynamicQuantizeLinear outputs to referee ops, and registration accepts every layer', () => {
  assert.deepEqual(
    compiled.layers.map((l) => [l.onnxOp, l.attrs[0]]),
    [
      ['Pow', 2],
      ['Pow', 3],
      ['Add', 0],
      ['DynamicQuantizeLinear', 0],
      ['DynamicQuantizeLinear', 1],
      ['DynamicQuantizeLinear', 2],
      ['MatMulInteger', DTYPE_CODES.uint8],
      ['Cast', DTYPE_CODES.float32],
      ['Mul', 0],
      ['Mul', 0],
    ],
  );
  assert.deepEqual(compiled.refusals, []);
});

test("onnxruntime's canonical trace equals the referee semantics bit for bit, on 10 inputs", async () => {
  const zps = new Set<number>();
  for (let seed = 1; seed <= 10; seed++) {
    const x = inputX(seed);
    const trace = await ortLayers(x);
    const ref = run(def(x));
    assert.equal(trace.length, ref.length);
    trace.forEach((t, i) => {
      assert.equal(t.dtype, ref[i].dtype, `seed ${seed} layer ${i} dtype`);
      assert.deepEqual(t.dims, ref[i].dims, `seed ${seed} layer ${i} dims`);
      assert.ok(t.bytes.equals(ref[i].bytes), `seed ${seed} layer ${i} (${compiled.layers[i].onnxOp}) bytes`);
    });
    zps.add(trace[5].bytes[0]);
  }
  assert.ok(zps.size > 3, `the computed zero point varies (${[...zps].join(', ')})`);
});

// Layer 1 (Pow 3), 3 (DQL y), 4 (its scale) and 5 (its zero point).
for (const at of [1, 3, 4, 5]) {
  test(`an executor cheating at layer ${at} (${compiled.layers[at].onnxOp}) loses to a challenger holding onnxruntime's trace`, async () => {
    const x = inputX(100 + at);
    const honest = await ortLayers(x);
    const g = await startGame(
      (m) => cheatLayers(m, at, 0),
      () => honest,
      def(x),
    );
    await playToOneStep(g);
    assert.equal((await g.world.dispute(g.dispute)).disagree, at);
    await g.chal.submitOneStep(g.dispute);
    const d = await g.world.dispute(g.dispute);
    assert.equal(d.phase, PHASE.RESOLVED);
    assert.equal(d.winner, SIDE.CHALLENGER, 'the honest challenger wins');
    assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
  });
}

test("an executor holding onnxruntime's trace beats a challenger lying at layer 4 (the scale)", async () => {
  const x = inputX(204);
  const honest = await ortLayers(x);
  const g = await startGame(
    () => honest,
    (m) => cheatLayers(m, 4, 0),
    def(x),
  );
  await playToOneStep(g);
  await g.exec.submitOneStep(g.dispute);
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('the compiler refuses Pow it cannot make exact, naming the layer and why', async () => {
  const cases: [string, 'float32' | 'int64', Tensor, RegExp][] = [
    ['half', 'float32', tensorOf('float32', [], [0.5]), /Pow by 0.5 \(only 2 and 3 are exact/],
    ['four', 'float32', tensorOf('float32', [1], [4]), /Pow by 4 \(only 2 and 3 are exact/],
    ['array', 'float32', tensorOf('float32', [4], [2, 2, 2, 2]), /Pow by 4 exponents/],
    ['int64', 'int64', tensorOf('int64', [], [2]), /Pow of int64 \(the referee takes float32, int32\)/],
  ];
  for (const [name, dtype, e, want] of cases) {
    const m = await loadModel(
      buildModel({
        name,
        opset: 17,
        inputs: [{ name: 'v', dtype, dims: [4] }],
        outputs: [{ name: 'y', dtype, dims: [4] }],
        initializers: { e },
        nodes: [node('Pow', ['v', 'e'], ['y'])],
      }),
      { name },
    );
    await assert.rejects(
      compileForProgram(m),
      (err: Error) => want.test(err.message) && /layer 0/.test(err.message),
      name,
    );
    await m.close();
  }
});
