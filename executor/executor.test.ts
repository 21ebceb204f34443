// Executor tests on real onnxruntime: loading, provability, validation, the integer model by hand, and tracing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel, loadModelFile, ModelRegistry, type LoadedModel } from './model.ts';
import { runModel } from './run.ts';
import { canonicalOrder, releaseTraceCache, traceModel } from './trace.ts';
import { buildModel, graph, node, prng, tensorOf } from './onnx/builder.ts';
import { decodeModel } from './onnx/schema.ts';
import { tensorFromProto } from './onnx/graph.ts';
import { isOptinferError } from '../state/errors.ts';
import { tensorDigest, tensorSetDigest, type Tensor } from '../state/tensor.ts';
import { CANONICAL_PROFILE, profileHash } from '../state/profile.ts';

const fixture = (f: string) => fileURLToPath(new URL(`../test/fixtures/models/${f}`, import.meta.url));
const wakeword = (f: string) =>
  fileURLToPath(new URL(`../node_modules/openwakeword-js/models/${f}`, import.meta.url));

const loaded: LoadedModel[] = [];
async function load(path: string): Promise<LoadedModel> {
  const m = await loadModelFile(path);
  loaded.push(m);
  return m;
}
after(async () => {
  for (const m of loaded) {
    await releaseTraceCache(m);
    await m.close();
  }
});

function randomInts(seed: number, n: number, lo: number, hi: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
}
function randomFloats(seed: number, n: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => r() * 4 - 2);
}

/** Round half to even, as QuantizeLinear specifies. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

test('int8 model: onnxruntime output equals a hand computation from the committed weights', async () => {
  const m = await load(fixture('int8_mlp.onnx'));
  const inits = new Map(
    decodeModel(m.bytes).graph!.initializer.map((t) => [t.name, tensorFromProto(t)] as const),
  );
  const view = (name: string) => {
    const t = inits.get(name)!;
    return t.dtype === 'int8'
      ? new Int8Array(t.data.buffer, t.data.byteOffset, t.data.length)
      : new Int32Array(t.data.slice().buffer);
  };
  const [w1, b1, w2, b2] = ['w1', 'b1', 'w2', 'b2'].map(view);
  let nonZeroHidden = 0;
  for (let trial = 0; trial < 40; trial++) {
    const x = randomInts(1000 + trial, 16, -128, 127);
    const h = new Array<number>(32);
    for (let j = 0; j < 32; j++) {
      let acc = b1[j];
      for (let i = 0; i < 16; i++) acc += x[i] * w1[i * 32 + j];
      h[j] = Math.min(127, Math.max(-128, roundHalfEven(Math.max(0, acc) / 256)));
      if (h[j] !== 0) nonZeroHidden++;
    }
    const want = Array.from({ length: 8 }, (_, k) => {
      let acc = b2[k];
      for (let j = 0; j < 32; j++) acc += h[j] * w2[j * 8 + k];
      return acc;
    });
    const { outputs } = await runModel(m, { x: tensorOf('int8', [1, 16], x) });
    assert.equal(outputs.y.dtype, 'int32');
    assert.deepEqual(outputs.y.dims, [1, 8]);
    assert.deepEqual([...new Int32Array(outputs.y.data.slice().buffer)], want, `trial ${trial}`);
  }
  // Guards against a vacuous check where requantization zeroes every hidden unit.
  assert.ok(nonZeroHidden > 200, `expected many non-zero hidden units, got ${nonZeroHidden}`);
});

test('model id is the plain sha256 of the file, profile is the canonical one', async () => {
  const m = await load(fixture('int8_mlp.onnx'));
  const { createHash } = await import('node:crypto');
  assert.equal(
    m.modelId,
    createHash('sha256')
      .update(readFileSync(fixture('int8_mlp.onnx')))
      .digest('hex'),
  );
  assert.deepEqual(m.profile, CANONICAL_PROFILE);
  assert.equal(m.profileHash, profileHash(CANONICAL_PROFILE));
  assert.deepEqual(m.summary().inputs, [{ name: 'x', dtype: 'int8', dims: [1, 16] }]);
});

test('provability: integer model is provable, float models list the ops the referee cannot recompute', async () => {
  assert.equal((await load(fixture('int8_mlp.onnx'))).provable, true);
  const hello = await load(wakeword('hello_deepa.onnx'));
  assert.equal(hello.provable, false);
  assert.deepEqual(hello.unprovableOps, ['Gemm', 'ReduceMean', 'Sigmoid']);
  const mixed = await loadModel(
    buildModel({
      name: 'u8s8',
      inputs: [{ name: 'a', dtype: 'uint8', dims: [1, 4] }],
      outputs: [{ name: 'y', dtype: 'int32', dims: [1, 2] }],
      initializers: { b: tensorOf('int8', [4, 2], [1, -2, 3, -4, 5, -6, 7, -8]) },
      nodes: [node('MatMulInteger', ['a', 'b'], ['y'])],
    }),
    { name: 'u8s8' },
  );
  loaded.push(mixed);
  assert.deepEqual(mixed.unprovableOps, ['MatMulInteger(uint8 x int8)']);
  const reg = new ModelRegistry();
  await assert.rejects(
    reg.register(readFileSync(wakeword('hello_deepa.onnx')), { name: 'hello', requireProvable: true }),
    (e: unknown) =>
      isOptinferError(e, 'UNPROVABLE_MODEL') && /got Gemm, ReduceMean, Sigmoid$/.test(e.message),
  );
  assert.equal(reg.list().length, 0);
  const a = await reg.register(readFileSync(fixture('int8_mlp.onnx')), {
    name: 'demo',
    requireProvable: true,
  });
  const b = await reg.register(readFileSync(fixture('int8_mlp.onnx')), { name: 'again' });
  assert.equal(a, b);
  assert.deepEqual(
    reg.list().map((s) => [s.name, s.provable]),
    [['demo', true]],
  );
  await reg.close();
});

test('non-ONNX and truncated bytes are INVALID_MODEL with a clear message', async () => {
  const bytes = readFileSync(wakeword('hello_deepa.onnx'));
  for (const [what, b] of [
    ['truncated', bytes.subarray(0, 1000)],
    ['json', Buffer.from('{"inputs": {}}')],
    ['empty', Buffer.alloc(0)],
    ['random', Buffer.from(randomInts(5, 4096, 0, 255))],
  ] as const) {
    await assert.rejects(
      loadModel(new Uint8Array(b), { name: what }),
      (e: unknown) =>
        isOptinferError(e, 'INVALID_MODEL') && e.message.startsWith(`model '${what}': expected`),
      what,
    );
  }
});

test('input validation names the input and what the model expects', async () => {
  const m = await load(fixture('int8_mlp.onnx'));
  const cnn = await load(fixture('float_cnn.onnx'));
  const cases: [LoadedModel, Record<string, Tensor>, RegExp][] = [
    [
      m,
      { x: tensorOf('int8', [1, 15], new Array(15).fill(0)) },
      /^input 'x': expected dims \[1,16\], got \[1,15\] \(dim 1 is 15, expected 16\)$/,
    ],
    [
      m,
      { x: tensorOf('int8', [16], new Array(16).fill(0)) },
      /^input 'x': expected rank 2 with dims \[1,16\], got rank 1/,
    ],
    [
      m,
      { x: tensorOf('float32', [1, 16], new Array(16).fill(0)) },
      /^input 'x': expected dtype int8, got float32$/,
    ],
    [
      m,
      { x: tensorOf('int8', [1, 16], new Array(16).fill(0)), z: tensorOf('int8', [1], [0]) },
      /^input 'z': unknown input for model 'int8_mlp', expected 'x'$/,
    ],
    [m, {}, /^input 'x': missing/],
    [cnn, { image: tensorOf('float32', [0, 3, 8, 8], []) }, /dim 0 is 0, expected any positive size/],
  ];
  for (const [model, inputs, re] of cases) {
    await assert.rejects(
      runModel(model, inputs),
      (e: unknown) => isOptinferError(e, 'INVALID_INPUT') && re.test(e.message),
      String(re),
    );
  }
  // A symbolic batch dim accepts any positive size.
  const ok = await runModel(cnn, { image: tensorOf('float32', [3, 3, 8, 8], randomFloats(9, 576)) });
  assert.deepEqual(ok.outputs.scores.dims, [3, 10]);
});

function sileroInputs(sr: number): Record<string, Tensor> {
  return {
    input: tensorOf('float32', [1, 512], randomFloats(sr, 512)),
    sr: tensorOf('int64', [], [sr]),
    h: tensorOf('float32', [2, 1, 64], randomFloats(7, 128)),
    c: tensorOf('float32', [2, 1, 64], randomFloats(8, 128)),
  };
}

const realCases: [string, () => string, Record<string, Tensor>][] = [
  [
    'int8_mlp',
    () => fixture('int8_mlp.onnx'),
    { x: tensorOf('int8', [1, 16], randomInts(1, 16, -128, 127)) },
  ],
  [
    'float_cnn',
    () => fixture('float_cnn.onnx'),
    { image: tensorOf('float32', [2, 3, 8, 8], randomFloats(2, 384)) },
  ],
  [
    'hello_deepa',
    () => wakeword('hello_deepa.onnx'),
    { 'onnx::Flatten_0': tensorOf('float32', [1, 25, 96], randomFloats(3, 2400)) },
  ],
  [
    'namaste_deepa',
    () => wakeword('namaste_deepa.onnx'),
    { 'onnx::Flatten_0': tensorOf('float32', [1, 24, 96], randomFloats(4, 2304)) },
  ],
  ['silero_vad 16k', () => fixture('silero_vad.onnx'), sileroInputs(16000)],
  ['silero_vad 8k', () => fixture('silero_vad.onnx'), sileroInputs(8000)],
  ['if_model then', () => fixture('if_model.onnx'), { x: tensorOf('float32', [1, 4], [0.5, 2, -1, 0.3]) }],
  ['if_model else', () => fixture('if_model.onnx'), { x: tensorOf('float32', [1, 4], [-0.5, 0.2, -1, 0.3]) }],
];

for (const [name, path, inputs] of realCases) {
  test(`${name}: traced outputs are bit-identical to the plain run, and the trace is self-consistent`, async () => {
    const m = await load(path());
    const plain = await runModel(m, inputs);
    const t = await traceModel(m, inputs, { keepTensors: true, checkPlain: false });
    for (const o of m.outputs)
      assert.deepEqual(Buffer.from(t.outputs[o.name].data), Buffer.from(plain.outputs[o.name].data), o.name);
    assert.equal(t.outputDigest, plain.outputDigest);
    assert.equal(t.inputDigest, tensorSetDigest(inputs));
    assert.equal(t.layerCount, t.layers.length);
    assert.ok(t.layerCount >= 6, `expected a real trace, got ${t.layerCount} layers`);
    t.layers.forEach((l, i) => assert.equal(l.digest, tensorDigest(t.tensors![i])));
    // Every graph output is itself a traced layer: the last layers agree with the committed outputs.
    for (const o of m.outputs) {
      const l = t.layers.find((x) => x.name === o.name)!;
      assert.equal(l.digest, tensorDigest(plain.outputs[o.name]));
    }
    assert.ok(!t.layers.some((l) => l.op === 'Constant'));
    const again = await traceModel(m, inputs);
    assert.equal(again.traceRoot, t.traceRoot);
  });
}

test('If model: the taken branch is inlined (nested too) and the If outputs follow it', async () => {
  const m = await load(fixture('if_model.onnx'));
  const thenThen = await traceModel(m, { x: tensorOf('float32', [1, 4], [0.5, 2, -1, 0.3]) });
  assert.deepEqual(
    thenThen.layers.map((l) => `${l.op}:${l.name}`),
    [
      'ReduceSum:sum',
      'Greater:cond',
      'Mul:t_mul',
      'ReduceMax:t_max',
      'Greater:t_cond',
      'Relu:inner_then_out',
      'If:t_if',
      'Add:t_out',
      'If:branch',
      'Mul:y',
    ],
  );
  assert.deepEqual(thenThen.branches, [
    { path: '2', taken: 'then' },
    { path: '2/then/3', taken: 'then' },
  ]);
  // Switching branches on a warm cache must not reuse the previous input's choices.
  const thenElse = await traceModel(m, { x: tensorOf('float32', [1, 4], [0.5, 0.2, -0.1, 0.3]) });
  assert.ok(thenElse.layers.some((l) => l.op === 'Neg'));
  const elseOnly = await traceModel(m, { x: tensorOf('float32', [1, 4], [-0.5, 0.2, -1, 0.3]) });
  assert.deepEqual(
    elseOnly.layers.map((l) => l.op),
    ['ReduceSum', 'Greater', 'Sub', 'Abs', 'If', 'Mul'],
  );
  // x = [-0.5, 0.2, -1, 0.3]: sum < 0, so y = |x - 1| * x.
  const y = new Float32Array(elseOnly.outputs.y.data.slice().buffer);
  assert.deepEqual(
    [...y],
    [-0.5, 0.2, -1, 0.3].map((v) => Math.fround(Math.fround(Math.abs(Math.fround(v) - 1)) * Math.fround(v))),
  );
  // A fresh load (cold cache) gives the same trace as the warm one.
  const cold = await loadModelFile(fixture('if_model.onnx'));
  loaded.push(cold);
  const again = await traceModel(cold, { x: tensorOf('float32', [1, 4], [0.5, 0.2, -0.1, 0.3]) });
  assert.equal(again.traceRoot, thenElse.traceRoot);
});

test('canonical order: Kahn with ties broken by file position', () => {
  const n = (op: string, inputs: string[], outputs: string[]) => ({ node: node(op, inputs, outputs), op });
  // Node 0 needs node 2's output; nodes 1 and 2 are ready at once and go in file order.
  const flat = [
    n('Add', ['c', 'a'], ['d']),
    n('Relu', ['a'], ['b']),
    n('Neg', ['a'], ['c']),
    n('Mul', ['d', 'b'], ['e']),
  ];
  assert.deepEqual(canonicalOrder(flat), [1, 2, 0, 3]);
  assert.throws(
    () => canonicalOrder([n('Add', ['y'], ['x']), n('Neg', ['x'], ['y'])]),
    (e: unknown) => isOptinferError(e, 'INVALID_MODEL') && /cycle/.test(e.message),
  );
});

test('a model with Loop is refused for tracing with an error naming the op', async () => {
  const vec = { dtype: 'float32' as const, dims: [1, 4] };
  const body = graph({
    name: 'body',
    inputs: [
      { name: 'i', dtype: 'int64', dims: [] },
      { name: 'c_in', dtype: 'bool', dims: [] },
      { name: 'v_in', ...vec },
    ],
    outputs: [
      { name: 'c_out', dtype: 'bool', dims: [] },
      { name: 'v_out', ...vec },
    ],
    nodes: [node('Identity', ['c_in'], ['c_out']), node('Add', ['v_in', 'v_in'], ['v_out'])],
  });
  const m = await loadModel(
    buildModel({
      name: 'loop',
      inputs: [{ name: 'x', ...vec }],
      outputs: [{ name: 'y', ...vec }],
      initializers: { trips: tensorOf('int64', [], [3]), go: tensorOf('bool', [], [1]) },
      nodes: [node('Loop', ['trips', 'go', 'x'], ['y'], { body })],
    }),
    { name: 'loop' },
  );
  loaded.push(m);
  const x = { x: tensorOf('float32', [1, 4], [1, 2, 3, 4]) };
  assert.deepEqual(
    [...new Float32Array((await runModel(m, x)).outputs.y.data.slice().buffer)],
    [8, 16, 24, 32],
  );
  assert.equal(m.provable, false);
  await assert.rejects(
    traceModel(m, x),
    (e: unknown) =>
      isOptinferError(e, 'UNPROVABLE_MODEL') && /model 'loop': cannot trace ops Loop/.test(e.message),
  );
});

test('committed fixture models are exactly what scripts/build-models.ts builds', async () => {
  const { FIXTURES } = await import('../scripts/build-models.ts');
  for (const [file, build] of Object.entries(FIXTURES)) {
    assert.equal(
      Buffer.compare(Buffer.from(build()), readFileSync(fixture(file))),
      0,
      `${file} is stale: run scripts/build-models.ts`,
    );
  }
});

test('silero_vad (pretrained, 2 top-level nodes): the trace follows the nested taken branches', async () => {
  const m = await load(fixture('silero_vad.onnx'));
  assert.equal(m.info.nodes.length, 2);
  const t16 = await traceModel(m, sileroInputs(16000));
  const t8 = await traceModel(m, sileroInputs(8000));
  for (const [t, top] of [
    [t16, 'then'],
    [t8, 'else'],
  ] as const) {
    assert.ok(t.layerCount > 100, `expected the branch's layers, got ${t.layerCount}`);
    assert.deepEqual(t.branches[0], { path: '1', taken: top });
    assert.ok(t.branches.length > 1, 'nested If nodes are followed too');
    assert.deepEqual(
      t.layers.slice(-3).map((l) => `${l.op}:${l.name}`),
      ['If:output', 'If:hn', 'If:cn'],
    );
    assert.ok(t.layers.some((l) => l.op === 'LSTM') && t.layers.some((l) => l.op === 'Conv'));
  }
  assert.notEqual(t16.traceRoot, t8.traceRoot);
});

test('a profile naming another onnxruntime version is refused: its bits would differ', async () => {
  await assert.rejects(
    loadModel(readFileSync(fixture('int8_mlp.onnx')), {
      name: 'old',
      profile: { ...CANONICAL_PROFILE, runtimeVersion: '1.20.0' },
    }),
    (e: unknown) =>
      isOptinferError(e, 'INVALID_CONFIG') &&
      /requires onnxruntime-node 1.20.0, but onnxruntime-node 1.30.0 is installed/.test(e.message),
  );
});
