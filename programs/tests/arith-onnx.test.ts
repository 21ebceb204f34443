// Issue 15's elementwise arithmetic from an ONNX graph (Neg, Abs, Sqrt, Div, Less, Greater, LessOrEqual, GreaterOrEqual): compiled, bit-equal to onnxruntime, and a cheat on such a layer loses.
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
 * A normalization front end in miniature: x [1,512] with zeros of both signs, |x|, its square root,
 * x / sqrt|x| (0/0 gives the x86 default NaN, carried through Where), sign tests selecting among
 * them; and an int32 branch: x scaled and cast, divided by -7 with truncation, negated, its Abs.
 */
const bytes = buildModel({
  name: 'arith',
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', dims: [1, 512] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [1, 512] }],
  initializers: {
    zero: tensorOf('float32', [], [0]),
    half: tensorOf('float32', [1], [0.5]),
    k: tensorOf('float32', [], [1000]),
    m7: tensorOf('int32', [], [-7]),
    lim: tensorOf('int32', [1, 1], [700]),
  },
  nodes: [
    node('Abs', ['x'], ['a']),
    node('Sqrt', ['a'], ['s']),
    node('Neg', ['x'], ['n']),
    node('Div', ['x', 's'], ['d']),
    node('Less', ['x', 'zero'], ['lt']),
    node('LessOrEqual', ['d', 'half'], ['le']),
    node('Greater', ['n', 'half'], ['gt']),
    node('Where', ['lt', 'n', 's'], ['w1']),
    node('Where', ['le', 'w1', 'd'], ['w2']),
    node('Mul', ['x', 'k'], ['xk']),
    node('Cast', ['xk'], ['ci'], { to: 6 }),
    node('Div', ['ci', 'm7'], ['q']),
    node('Neg', ['q'], ['nq']),
    node('Abs', ['nq'], ['aq']),
    node('GreaterOrEqual', ['aq', 'lim'], ['big']),
    node('Cast', ['nq'], ['fq'], { to: 1 }),
    node('Where', ['gt', 'w2', 'fq'], ['w3']),
    node('Where', ['big', 'fq', 'w3'], ['y']),
  ],
});
const subject = await onnxSubject(bytes, 'arith');
after(() => subject.model.close());
const { compiled } = subject;

/** Small floats with zeros of both signs: every comparison and Where takes both sides, 0/0 occurs. */
function inputX(seed: number): Tensor {
  const r = prng(seed);
  const f = new Float32Array(512).map(() => {
    const k = r() % 6;
    return k === 0 ? 0 : k === 1 ? -0 : ((r() % 2001) - 1000) / 64;
  });
  return { dtype: 'float32', dims: [1, 512], data: new Uint8Array(f.buffer) };
}

test('the compiler maps every arithmetic and comparison node to a referee op, and registration accepts every layer', () => {
  assert.deepEqual(
    compiled.layers.map((l) => l.onnxOp),
    [
      'Abs',
      'Sqrt',
      'Neg',
      'Div',
      'Less',
      'LessOrEqual',
      'Greater',
      'Where',
      'Where',
      'Mul',
      'Cast',
      'Div',
      'Neg',
      'Abs',
      'GreaterOrEqual',
      'Cast',
      'Where',
      'Where',
    ],
  );
  assert.deepEqual(compiled.refusals, []);
});

test("onnxruntime's canonical trace equals the referee semantics bit for bit, on 10 inputs (0/0 NaNs included)", async () => {
  let nans = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const trace = await assertTraceIsReferee(subject, inputX(seed), `seed ${seed}`);
    for (let j = 0; j < 512; j++) if (trace[3].bytes.readUInt32LE(4 * j) === 0x7fc00000) nans++;
  }
  assert.ok(nans > 100, `0/0 gives a NaN, committed as the canonical 0x7FC00000 (${nans} of them)`);
});

// Layers 1 (Sqrt), 3 (float Div), 5 (LessOrEqual) and 11 (int32 Div): where the IEEE and the integer rules bite.
for (const at of [1, 3, 5, 11]) {
  test(`an executor cheating at layer ${at} (${compiled.layers[at].onnxOp}) loses to a challenger holding onnxruntime's trace`, async () => {
    await cheatingExecutorLoses(subject, inputX(100 + at), at);
  });
}

test("an executor holding onnxruntime's trace beats a challenger lying at layer 3 (Div, 0/0 NaNs in it)", async () => {
  await lyingChallengerLoses(subject, inputX(203), 3);
});

test('the compiler refuses, naming the op and the dtype: Div of int64, Neg of int8, Abs of int64', async () => {
  await assertCompileRefusals(
    (
      [
        // A constant divisor: the compiler traces on zero inputs, and onnxruntime refuses a zero one.
        [
          'div64',
          'int64',
          node('Div', ['v', 'one'], ['y']),
          /Div of int64 \(the referee takes float32, int32\)/,
        ],
        ['neg8', 'int8', node('Neg', ['v'], ['y']), /Neg of int8 \(the referee takes float32, int32\)/],
        ['abs64', 'int64', node('Abs', ['v'], ['y']), /Abs of int64 \(the referee takes float32, int32\)/],
      ] as const
    ).map(([name, dtype, n, want]) => ({
      spec: {
        name,
        opset: 17,
        inputs: [{ name: 'v', dtype, dims: [4] }],
        outputs: [{ name: 'y', dtype, dims: [4] }],
        initializers: { one: tensorOf('int64', [4], [1, 1, 1, 1]) },
        nodes: [n],
      },
      want,
    })),
  );
});
