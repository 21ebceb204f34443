// Issue 15's data-movement ops from an ONNX graph: the compiler maps each node, onnxruntime's trace equals the referee's semantics, and a cheat on any such layer loses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, node, tensorOf } from '../../executor/onnx/builder.ts';
import type { Tensor } from '../../state/tensor.ts';
import { prng } from './lib/model.ts';
import {
  assertCompileRefusals,
  assertTraceIsReferee,
  cheatingExecutorLoses,
  lyingChallengerLoses,
  onnxSubject,
} from './lib/onnx-game.ts';

/**
 * Silero VAD's front end in miniature (opset 17, axes and slice bounds as constant inputs): x [1,512]
 * unsqueezed and padded by Concat to [1,1,704], sliced with a step, squeezed; its Shape gathered and
 * compared; a Gather along axis 1 with negative indices, Equal with broadcasting, Not and two Wheres.
 */
const bytes = buildModel({
  name: 'movement',
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', dims: [1, 512] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [1, 300] }],
  initializers: {
    axes1: tensorOf('int64', [1], [1]),
    axes0: tensorOf('int64', [1], [0]),
    pad: tensorOf(
      'float32',
      [1, 1, 96],
      Array.from({ length: 96 }, (_, i) => (i % 7) - 3),
    ),
    starts: tensorOf('int64', [1], [3]),
    ends: tensorOf('int64', [1], [700]),
    saxes: tensorOf('int64', [1], [-1]),
    steps: tensorOf('int64', [1], [2]),
    two: tensorOf('int64', [], [2]),
    n704: tensorOf('int64', [], [704]),
    gi: tensorOf(
      'int64',
      [300],
      Array.from({ length: 300 }, (_, i) => ((i * 7) % 349) - 100),
    ),
    zero: tensorOf('float32', [1, 1], [0]),
    negs: tensorOf(
      'float32',
      [300],
      Array.from({ length: 300 }, (_, i) => -i),
    ),
  },
  nodes: [
    node('Unsqueeze', ['x', 'axes1'], ['u']),
    node('Concat', ['pad', 'u', 'pad'], ['c'], { axis: -1 }),
    node('Slice', ['c', 'starts', 'ends', 'saxes', 'steps'], ['s']),
    node('Squeeze', ['s', 'axes0'], ['sq']),
    node('Shape', ['c'], ['sh']),
    node('Gather', ['sh', 'two'], ['g'], { axis: 0 }),
    node('Equal', ['g', 'n704'], ['e']),
    node('Not', ['e'], ['ne']),
    node('Gather', ['sq', 'gi'], ['gx'], { axis: 1 }),
    node('Equal', ['gx', 'zero'], ['ez']),
    node('Where', ['ez', 'gx', 'negs'], ['w']),
    node('Where', ['ne', 'w', 'gx'], ['y']),
  ],
});
const subject = await onnxSubject(bytes, 'movement');
after(() => subject.model.close());
const { compiled } = subject;

/** Inputs with zeros (both signs) among small floats, so Equal and Where take both branches. */
function inputX(seed: number): Tensor {
  const r = prng(seed);
  const f = new Float32Array(512).map(() => {
    const k = r() % 6;
    return k === 0 ? 0 : k === 1 ? -0 : ((r() % 2001) - 1000) / 64;
  });
  return { dtype: 'float32', dims: [1, 512], data: new Uint8Array(f.buffer) };
}

test('the compiler maps every data-movement node to a referee op, and registration accepts every layer', () => {
  assert.deepEqual(
    compiled.layers.map((l) => l.onnxOp),
    [
      'Unsqueeze',
      'Concat',
      'Slice',
      'Squeeze',
      'Shape',
      'Gather',
      'Equal',
      'Not',
      'Gather',
      'Equal',
      'Where',
      'Where',
    ],
  );
  assert.deepEqual(compiled.refusals, []);
});

test("onnxruntime's canonical trace equals the referee semantics bit for bit, on 10 inputs", async () => {
  for (let seed = 1; seed <= 10; seed++) await assertTraceIsReferee(subject, inputX(seed), `seed ${seed}`);
});

// Layers 1 (Concat, 11 chunks), 5 (Gather over the Shape) and 10 (Where): the middle of the model and its ends.
for (const at of [1, 5, 10]) {
  test(`an executor cheating at layer ${at} (${compiled.layers[at].onnxOp}) loses to a challenger holding onnxruntime's trace`, async () => {
    await cheatingExecutorLoses(subject, inputX(100 + at), at);
  });
}

test("an executor holding onnxruntime's trace beats a challenger lying at layer 8 (Gather)", async () => {
  await lyingChallengerLoses(subject, inputX(208), 8);
});

/**
 * The second round's ops from an ONNX graph (opset 18, Pad's axes input): x [1,512] reflect-padded by
 * 64 each side as Silero VAD's STFT does, padded again by a constant on two axes with a crop, sliced on
 * two axes with negative starts, ends and steps, edge-padded; ConstantOfShape over the result's Shape
 * added to it, scaled by a weight.
 */
const bytes2 = buildModel({
  name: 'movement2',
  opset: 18,
  inputs: [{ name: 'x', dtype: 'float32', dims: [1, 512] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [3, 202] }],
  initializers: {
    rpads: tensorOf('int64', [2], [64, 64]),
    raxes: tensorOf('int64', [1], [-1]),
    cpads: tensorOf('int64', [4], [1, 0, 1, -3]),
    cv: tensorOf('float32', [], [-0.5]),
    starts: tensorOf('int64', [2], [-1, 600]),
    ends: tensorOf('int64', [2], [-10, 2]),
    saxes: tensorOf('int64', [2], [0, 1]),
    steps: tensorOf('int64', [2], [-1, -3]),
    epads: tensorOf('int64', [4], [0, 0, 0, 2]),
    half: tensorOf('float32', [1], [0.5]),
  },
  nodes: [
    node('Pad', ['x', 'rpads', '', 'raxes'], ['p1'], { mode: 'reflect' }),
    node('Pad', ['p1', 'cpads', 'cv'], ['p2']),
    node('Slice', ['p2', 'starts', 'ends', 'saxes', 'steps'], ['s']),
    node('Pad', ['s', 'epads'], ['e'], { mode: 'edge' }),
    node('Shape', ['e'], ['sh']),
    node('ConstantOfShape', ['sh'], ['c'], { value: tensorOf('float32', [1], [0.25]) }),
    node('Add', ['e', 'c'], ['a']),
    node('Mul', ['a', 'half'], ['y']),
  ],
});
const subject2 = await onnxSubject(bytes2, 'movement2');
after(() => subject2.model.close());
const compiled2 = subject2.compiled;

test('ConstantOfShape, Pad (reflect, constant with a crop, edge) and a two-axis Slice compile, and registration accepts every layer', () => {
  assert.deepEqual(
    compiled2.layers.map((l) => l.onnxOp),
    ['Pad', 'Pad', 'Slice', 'Pad', 'Shape', 'ConstantOfShape', 'Add', 'Mul'],
  );
  assert.deepEqual(compiled2.refusals, []);
});

test("onnxruntime's trace of the second graph equals the referee semantics bit for bit, on 5 inputs", async () => {
  for (let seed = 1; seed <= 5; seed++) await assertTraceIsReferee(subject2, inputX(seed), `seed ${seed}`);
});

// Layers 1 (Pad, constant with a crop), 2 (two-axis Slice) and 5 (ConstantOfShape).
for (const at of [1, 2, 5]) {
  test(`an executor cheating at layer ${at} (${compiled2.layers[at].onnxOp}) of the second graph loses to a challenger holding onnxruntime's trace`, async () => {
    await cheatingExecutorLoses(subject2, inputX(300 + at), at);
  });
}

test("an executor holding onnxruntime's trace beats a challenger lying at layer 0 (Pad reflect)", async () => {
  await lyingChallengerLoses(subject2, inputX(400), 0);
});

test('the compiler refuses, naming the op and why: a three-axis Slice, a Pad on three axes, wrap mode, reflect with a crop, ConstantOfShape of float64', async () => {
  const cases: [string, ReturnType<typeof node>, Record<string, Tensor>, RegExp][] = [
    [
      'slice3',
      node('Slice', ['x3', 'st', 'en'], ['y']),
      { st: tensorOf('int64', [3], [1, 1, 1]), en: tensorOf('int64', [3], [2, 3, 4]) },
      /Slice cuts 3 axes; the referee slices at most 2 per layer/,
    ],
    [
      'pad3',
      node('Pad', ['x3', 'pp'], ['y']),
      { pp: tensorOf('int64', [6], [1, 1, 1, 0, 0, 0]) },
      /Pad pads 3 axes; the referee pads at most 2 per layer/,
    ],
    [
      'wrap',
      node('Pad', ['x3', 'pp'], ['y'], { mode: 'wrap' }),
      { pp: tensorOf('int64', [6], [0, 0, 1, 0, 0, 1]) },
      /Pad mode 'wrap'/,
    ],
    [
      'reflectcrop',
      node('Pad', ['x3', 'pp'], ['y'], { mode: 'reflect' }),
      { pp: tensorOf('int64', [6], [0, 0, 1, 0, 0, -1]) },
      /Pad mode reflect with a negative pad/,
    ],
    [
      'cos64',
      node('ConstantOfShape', ['sh'], ['y'], { value: tensorOf('float64', [1], [1]) }),
      { sh: tensorOf('int64', [1], [4]) },
      /ConstantOfShape of float64/,
    ],
  ];
  await assertCompileRefusals(
    cases.map(([name, n, initializers, want]) => ({
      spec: {
        name,
        opset: 18,
        inputs: [{ name: 'x3', dtype: 'float32', dims: [2, 3, 4] }],
        outputs: [{ name: 'y', dtype: name === 'cos64' ? 'float64' : 'float32', dims: [] }],
        initializers,
        nodes: [n],
      },
      want,
    })),
  );
});
