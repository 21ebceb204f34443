// The sandbox answers bit for bit what an in-process run answers: outputs and traces of the demo and real models.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { isOptinferError } from '../../state/errors.ts';
import { tensorDigest, type Tensor } from '../../state/tensor.ts';
import { loadModelFile, type LoadedModel } from '../model.ts';
import { prng, tensorOf } from '../onnx/builder.ts';
import { runModel } from '../run.ts';
import { releaseTraceCache, traceModel } from '../trace.ts';
import { SandboxPool } from './pool.ts';

const path = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const floats = (seed: number, n: number) => {
  const r = prng(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
};

const CASES: { file: string; inputs: (i: number) => Record<string, Tensor> }[] = [
  {
    file: 'models/demo-int8-mlp.onnx',
    inputs: (i) => ({
      x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(16).map((_, k) => (i * 31 + k * 7) & 0xff) },
    }),
  },
  {
    // Silero VAD: a real pretrained model with If branches (8 kHz and 16 kHz paths).
    file: 'test/fixtures/models/silero_vad.onnx',
    inputs: (i) => ({
      input: tensorOf('float32', [1, 512], floats(6 + i, 512)),
      sr: tensorOf('int64', [], [i % 2 ? 8000 : 16000]),
      h: tensorOf('float32', [2, 1, 64], floats(7 + i, 128)),
      c: tensorOf('float32', [2, 1, 64], floats(8 + i, 128)),
    }),
  },
  {
    // openWakeWord's hello_deepa classifier, from npm.
    file: 'node_modules/openwakeword-js/models/hello_deepa.onnx',
    inputs: (i) => ({ 'onnx::Flatten_0': tensorOf('float32', [1, 25, 96], floats(1 + i, 2400)) }),
  },
];

let pool: SandboxPool;
const models: LoadedModel[] = [];

before(async () => {
  pool = new SandboxPool({ size: 2 });
  for (const c of CASES) models.push(await loadModelFile(path(c.file)));
});
after(async () => {
  await pool.close();
  for (const m of models) {
    await releaseTraceCache(m);
    await m.close();
  }
});

for (const [k, c] of CASES.entries()) {
  test(`${c.file}: outputs and traces from the sandbox are bit-identical to in-process ones`, async () => {
    const model = models[k];
    for (let i = 0; i < 3; i++) {
      const inputs = c.inputs(i);
      const here = await runModel(model, inputs);
      const there = await pool.run(model, inputs);
      assert.equal(there.outputDigest, here.outputDigest);
      for (const [name, t] of Object.entries(here.outputs)) {
        assert.equal(tensorDigest(there.outputs[name]), tensorDigest(t), name);
        assert.deepEqual(Buffer.from(there.outputs[name].data), Buffer.from(t.data), name);
      }
      const tHere = await traceModel(model, inputs, { keepTensors: true });
      const tThere = await pool.trace(model, inputs, { keepTensors: true });
      assert.equal(tThere.traceRoot, tHere.traceRoot);
      assert.equal(tThere.profileHash, tHere.profileHash);
      assert.deepEqual(tThere.prefixes, tHere.prefixes);
      assert.deepEqual(tThere.branches, tHere.branches);
      assert.deepEqual(
        tThere.layers.map((l) => [l.name, l.op, l.digest]),
        tHere.layers.map((l) => [l.name, l.op, l.digest]),
      );
      assert.equal(tThere.tensors!.length, tHere.tensors!.length);
      tHere.tensors!.forEach((t, j) =>
        assert.deepEqual(Buffer.from(tThere.tensors![j].data), Buffer.from(t.data)),
      );
      const light = await pool.trace(model, inputs, { keepTensors: false });
      assert.equal(light.traceRoot, tHere.traceRoot);
      assert.equal(light.tensors, undefined);
    }
  });
}

test('errors keep their code across the process boundary', async () => {
  const demo = models[0];
  const err = await pool
    .run(demo, { x: { dtype: 'int8', dims: [1, 15], data: new Uint8Array(15) } })
    .catch((e) => e);
  assert.ok(isOptinferError(err, 'INVALID_INPUT'), String(err));
  assert.match((err as Error).message, /input 'x'/);
});

test('a pool config out of range is refused, naming the field', () => {
  assert.throws(() => new SandboxPool({ size: 0 }), /sandbox size: expected a whole number ≥ 1, got 0/);
  assert.throws(
    () => new SandboxPool({ timeMs: 1.5 }),
    /sandbox timeMs: expected a whole number ≥ 1, got 1.5/,
  );
});

test('a closed pool refuses work with UNAVAILABLE', async () => {
  const p = new SandboxPool({ size: 1 });
  await p.close();
  const err = await p.run(models[0], CASES[0].inputs(0)).catch((e) => e);
  assert.ok(isOptinferError(err, 'UNAVAILABLE'), String(err));
});
