// A real ONNX model through the referee: the executor's op-table compiler, onnxruntime's trace and the SBF one-step agree.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../executor/model.ts';
import { traceModel } from '../../executor/trace.ts';
import { compileForProgram, type ProgramModel } from '../../executor/program-model.ts';
import { encodeOpEntry } from '../../state/optable.ts';
import { DTYPE_CODES, type Tensor } from '../../state/tensor.ts';
import { OptinferError } from '../../state/errors.ts';
import { PHASE, SIDE, cheatLayers, playToOneStep, startGame } from './lib/game.ts';
import { prng, run, type ModelDef } from './lib/model.ts';
import * as P from './lib/protocol.ts';

const DEMO = fileURLToPath(new URL('../../models/demo-int8-mlp.onnx', import.meta.url));
const model = await loadModel(new Uint8Array(readFileSync(DEMO)), { name: 'demo-int8-mlp' });
const compiled = await compileForProgram(model);
after(() => model.close());

const toP = (t: Tensor): P.Tensor => ({
  dtype: DTYPE_CODES[t.dtype],
  dims: t.dims,
  bytes: Buffer.from(t.data),
});

function inputX(seed: number): Tensor {
  const r = prng(seed);
  const data = new Uint8Array(16).map(() => r() & 0xff);
  return { dtype: 'int8', dims: [1, 16], data };
}

function modelDef(c: ProgramModel, x: Tensor): ModelDef {
  return {
    inputs: [['x', toP(x)]],
    weights: c.weights.map((w) => toP(w.tensor)),
    layers: c.layers.map((l) => ({ op: l.op, refs: l.refs, attrs: Buffer.from(l.attrs) })),
    outputName: c.outputName,
  };
}

async function ortLayers(x: Tensor): Promise<P.Tensor[]> {
  const t = await traceModel(model, { x }, { keepTensors: true });
  return t.tensors!.map(toP);
}

test('the compiled op table covers every traced layer of the demo model with the referee op set', () => {
  assert.deepEqual(
    compiled.layers.map((l) => l.onnxOp),
    ['MatMulInteger', 'Add', 'Relu', 'DequantizeLinear', 'QuantizeLinear', 'MatMulInteger', 'Add'],
  );
  assert.equal(compiled.outputName, 'y');
  assert.deepEqual(compiled.inputNames, ['x']);
  // The entries are the exact bytes the harness's independent encoder produces.
  for (const l of compiled.layers) {
    assert.deepEqual(encodeOpEntry(l), P.opEntry(l.op, l.refs, l.attrs));
  }
});

test("onnxruntime's canonical trace equals the referee semantics bit for bit, on 25 inputs", async () => {
  for (let seed = 1; seed <= 25; seed++) {
    const x = inputX(seed);
    const trace = await traceModel(model, { x }, { keepTensors: true });
    const ref = run(modelDef(compiled, x));
    assert.equal(trace.layerCount, ref.length);
    trace.tensors!.forEach((t, i) => {
      const ours = toP(t);
      assert.equal(ours.dtype, ref[i].dtype, `seed ${seed} layer ${i} dtype`);
      assert.deepEqual(ours.dims, ref[i].dims, `seed ${seed} layer ${i} dims`);
      assert.ok(ours.bytes.equals(ref[i].bytes), `seed ${seed} layer ${i} bytes`);
      // The node's digests (state/) and the program harness's (an independent implementation) agree.
      assert.equal(trace.layers[i].digest, P.tensorDigest(ref[i]).toString('hex'));
    });
  }
});

for (const at of [0, 1, 2, 3, 4, 5, 6]) {
  test(`on the real model, an executor cheating at layer ${at} loses to a challenger holding onnxruntime's trace`, async () => {
    const x = inputX(100 + at);
    const def = modelDef(compiled, x);
    const honest = await ortLayers(x);
    const g = await startGame(
      (m) => cheatLayers(m, at, 0),
      () => honest,
      def,
    );
    await playToOneStep(g);
    assert.equal((await g.world.dispute(g.dispute)).disagree, at);
    await g.chal.submitOneStep(g.dispute);
    const d = await g.world.dispute(g.dispute);
    assert.equal(d.phase, PHASE.RESOLVED);
    assert.equal(d.winner, SIDE.CHALLENGER);
    assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
  });
}

for (const at of [0, 4, 6]) {
  test(`on the real model, an executor holding onnxruntime's trace beats a challenger lying at layer ${at}`, async () => {
    const x = inputX(200 + at);
    const def = modelDef(compiled, x);
    const honest = await ortLayers(x);
    const g = await startGame(
      () => honest,
      (m) => cheatLayers(m, at, 0),
      def,
    );
    await playToOneStep(g);
    await g.exec.submitOneStep(g.dispute);
    assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
    assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
  });
}

test('error: a model with an op the referee cannot recompute is refused, naming the layer and op', async () => {
  const cnn = await loadModel(
    new Uint8Array(
      readFileSync(fileURLToPath(new URL('../../test/fixtures/models/float_cnn.onnx', import.meta.url))),
    ),
    { name: 'float_cnn' },
  );
  try {
    await assert.rejects(
      compileForProgram(cnn, {
        image: { dtype: 'float32', dims: [1, 3, 8, 8], data: new Uint8Array(3 * 64 * 4) },
      }),
      (e: unknown) =>
        e instanceof OptinferError &&
        e.code === 'UNPROVABLE_MODEL' &&
        /layer 0 .*Conv.*cannot recompute Conv/.test(e.message),
    );
  } finally {
    await cnn.close();
  }
});
