// Pow by 2 and 3, DynamicQuantizeLinear and ConvInteger from ONNX graphs in quantize_dynamic's patterns: compiled, bit-equal to onnxruntime, and a cheat on such a layer loses.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, node, tensorOf } from '../../executor/onnx/builder.ts';
import { DTYPE_CODES, type Tensor } from '../../state/tensor.ts';
import { prng } from './lib/model.ts';
import {
  assertCompileRefusals,
  assertTraceIsReferee,
  cheatingExecutorLoses,
  lyingChallengerLoses,
  onnxSubject,
} from './lib/onnx-game.ts';

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
const subject = await onnxSubject(bytes, 'quant');
after(() => subject.model.close());
const { compiled } = subject;

/** Floats of both signs around 1 (x^3 turns the range), a few exact zeros. */
function inputX(seed: number): Tensor {
  const r = prng(seed);
  const f = new Float32Array(64).map(() => (r() % 9 === 0 ? 0 : ((r() % 4001) - 2000) / 997));
  return { dtype: 'float32', dims: [1, 64], data: new Uint8Array(f.buffer) };
}

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
    const trace = await assertTraceIsReferee(subject, inputX(seed), `seed ${seed}`);
    zps.add(trace[5].bytes[0]);
  }
  assert.ok(zps.size > 3, `the computed zero point varies (${[...zps].join(', ')})`);
});

// Layer 1 (Pow 3), 3 (DQL y), 4 (its scale) and 5 (its zero point).
for (const at of [1, 3, 4, 5]) {
  test(`an executor cheating at layer ${at} (${compiled.layers[at].onnxOp}) loses to a challenger holding onnxruntime's trace`, async () => {
    await cheatingExecutorLoses(subject, inputX(100 + at), at);
  });
}

test("an executor holding onnxruntime's trace beats a challenger lying at layer 4 (the scale)", async () => {
  await lyingChallengerLoses(subject, inputX(204), 4);
});

test('the compiler refuses Pow it cannot make exact, naming the layer and why', async () => {
  const cases: [string, 'float32' | 'int64', Tensor, RegExp][] = [
    ['half', 'float32', tensorOf('float32', [], [0.5]), /Pow by 0.5 \(only 2 and 3 are exact/],
    ['four', 'float32', tensorOf('float32', [1], [4]), /Pow by 4 \(only 2 and 3 are exact/],
    ['array', 'float32', tensorOf('float32', [4], [2, 2, 2, 2]), /Pow by 4 exponents/],
    ['int64', 'int64', tensorOf('int64', [], [2]), /Pow of int64 \(the referee takes float32, int32\)/],
  ];
  await assertCompileRefusals(
    cases.map(([name, dtype, e, want]) => ({
      spec: {
        name,
        opset: 17,
        inputs: [{ name: 'v', dtype, dims: [4] }],
        outputs: [{ name: 'y', dtype, dims: [4] }],
        initializers: { e },
        nodes: [node('Pow', ['v', 'e'], ['y'])],
      },
      want,
    })),
  );
});

/**
 * quantize_dynamic's Conv pattern: x [1,4,10,10] dynamically quantized, ConvInteger with an int8
 * 3x3 weight (pads 1, stride 2), then a 1-D depthwise ConvInteger on a reshaped copy; each cast
 * and rescaled by the computed scale.
 */
const r1 = prng(78);
const convBytes = buildModel({
  name: 'qconv',
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', dims: [1, 4, 10, 10] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [1, 4, 48] }],
  initializers: {
    w: tensorOf(
      'int8',
      [6, 4, 3, 3],
      Array.from({ length: 216 }, () => (r1() % 256) - 128),
    ),
    wzp: tensorOf('int8', [], [0]),
    dw: tensorOf(
      'uint8',
      [4, 1, 5],
      Array.from({ length: 20 }, () => r1() % 256),
    ),
    dwzp: tensorOf('uint8', [], [128]),
    shape: tensorOf('int64', [3], [1, 4, 100]),
  },
  nodes: [
    node('DynamicQuantizeLinear', ['x'], ['q', 'qs', 'qz']),
    node('ConvInteger', ['q', 'w', 'qz', 'wzp'], ['c'], {
      pads: [1, 1, 1, 1],
      strides: [2, 2],
      kernel_shape: [3, 3],
    }),
    node('Cast', ['c'], ['cf'], { to: 1 }),
    node('Reshape', ['q', 'shape'], ['q1']),
    node('ConvInteger', ['q1', 'dw', 'qz', 'dwzp'], ['d'], {
      group: 4,
      strides: [2],
      pads: [0, 0],
      dilations: [1],
    }),
    node('Cast', ['d'], ['df'], { to: 1 }),
    node('Mul', ['df', 'qs'], ['y']),
  ],
});
const conv = await onnxSubject(convBytes, 'qconv');
after(() => conv.model.close());
const convCompiled = conv.compiled;
const convX = (seed: number): Tensor => {
  const r = prng(seed);
  const f = new Float32Array(400).map(() => ((r() % 4001) - 1500) / 311);
  return { dtype: 'float32', dims: [1, 4, 10, 10], data: new Uint8Array(f.buffer) };
};

test('ConvInteger (2-D int8, 1-D depthwise uint8) compiles, registers and equals onnxruntime bit for bit on 5 inputs', async () => {
  assert.deepEqual(
    convCompiled.layers.map((l) => l.onnxOp),
    [
      'DynamicQuantizeLinear',
      'DynamicQuantizeLinear',
      'DynamicQuantizeLinear',
      'ConvInteger',
      'Cast',
      'Reshape',
      'ConvInteger',
      'Cast',
      'Mul',
    ],
  );
  assert.deepEqual(convCompiled.refusals, []);
  for (let seed = 1; seed <= 5; seed++) await assertTraceIsReferee(conv, convX(seed), `seed ${seed}`);
});

for (const at of [3, 6]) {
  test(`an executor cheating at ConvInteger layer ${at} loses to a challenger holding onnxruntime's trace`, async () => {
    await cheatingExecutorLoses(conv, convX(300 + at), at);
  });
}

/**
 * auto_pad SAME_UPPER and SAME_LOWER on a 9x9 input with a 4x4 kernel and stride 2: 3 rows and columns of pad,
 * 1 before and 2 after (UPPER) or 2 before and 1 after (LOWER); and a 1-D SAME_LOWER.
 */
const r2 = prng(79);
const sameBytes = buildModel({
  name: 'qsame',
  opset: 17,
  inputs: [{ name: 'x', dtype: 'uint8', dims: [1, 2, 9, 9] }],
  outputs: [{ name: 'y', dtype: 'int32', dims: [1, 204] }],
  initializers: {
    w: tensorOf(
      'int8',
      [3, 2, 4, 4],
      Array.from({ length: 96 }, () => (r2() % 256) - 128),
    ),
    w1: tensorOf(
      'uint8',
      [2, 2, 4],
      Array.from({ length: 16 }, () => r2() % 256),
    ),
    xz: tensorOf('uint8', [], [7]),
    shape: tensorOf('int64', [3], [1, 2, 81]),
    flat: tensorOf('int64', [2], [1, -1]),
  },
  nodes: [
    node('ConvInteger', ['x', 'w', 'xz'], ['up'], { auto_pad: 'SAME_UPPER', strides: [2, 2] }),
    node('ConvInteger', ['x', 'w', 'xz'], ['low'], { auto_pad: 'SAME_LOWER', strides: [2, 2] }),
    node('Reshape', ['x', 'shape'], ['x1']),
    node('ConvInteger', ['x1', 'w1', 'xz'], ['one'], { auto_pad: 'SAME_LOWER', strides: [3] }),
    node('Concat', ['up', 'low'], ['ul'], { axis: 1 }),
    node('Reshape', ['ul', 'flat'], ['ulf']),
    node('Reshape', ['one', 'flat'], ['onef']),
    node('Concat', ['ulf', 'onef'], ['y'], { axis: 1 }),
  ],
});
const same = await onnxSubject(sameBytes, 'qsame');
after(() => same.model.close());
const sameX = (seed: number): Tensor => {
  const r = prng(seed);
  return { dtype: 'uint8', dims: [1, 2, 9, 9], data: new Uint8Array(162).map(() => r() % 256) };
};

const sameConv = (name: string) => same.compiled.layers.findIndex((l) => l.name === name);

test('ConvInteger auto_pad SAME_UPPER and SAME_LOWER (2-D and 1-D) resolve to the pads onnxruntime takes: equal bit for bit on 5 inputs', async () => {
  assert.deepEqual(same.compiled.refusals, []);
  // attrs: w dtype, stride h, stride w, dilation h, dilation w, pads top, left, bottom, right.
  const padsOf = (name: string) => [...same.compiled.layers[sameConv(name)].attrs.subarray(5, 9)];
  assert.deepEqual(padsOf('up'), [1, 1, 2, 2], 'SAME_UPPER: 1 before, 2 after');
  assert.deepEqual(padsOf('low'), [2, 2, 1, 1], 'SAME_LOWER: 2 before, 1 after');
  assert.deepEqual(padsOf('one'), [0, 1, 0, 0], '1-D SAME_LOWER: 1 before');
  for (let seed = 1; seed <= 5; seed++) await assertTraceIsReferee(same, sameX(seed), `seed ${seed}`);
});

for (const at of ['up', 'low', 'one'].map(sameConv)) {
  test(`an executor cheating at auto_pad SAME ConvInteger layer ${at} loses to a challenger holding onnxruntime's trace`, async () => {
    await cheatingExecutorLoses(same, sameX(400 + at), at);
  });
}

test('the compiler refuses ConvInteger it cannot take, naming the layer and why', async () => {
  const cases: [string, number[], Record<string, number[] | string>, RegExp][] = [
    [
      'same-crop',
      [2, 3, 1, 1],
      { auto_pad: 'SAME_LOWER', strides: [3, 3] },
      /auto_pad SAME_LOWER would crop/,
    ],
    ['3d', [2, 3, 1, 1, 1], {}, /ConvInteger of rank 5/],
    ['pad', [2, 3, 3, 3], { pads: [300, 0, 0, 0] }, /pads must be 0..255/],
  ];
  await assertCompileRefusals(
    cases.map(([name, wd, at, want]) => ({
      spec: {
        name,
        opset: 17,
        inputs: [{ name: 'v', dtype: 'uint8', dims: wd.length === 5 ? [1, 3, 4, 4, 4] : [1, 3, 8, 8] }],
        outputs: [{ name: 'y', dtype: 'int32', dims: [1, 2, 1, 1] }],
        initializers: { w: tensorOf('uint8', wd, new Array(wd.reduce((p, q) => p * q)).fill(1)) },
        nodes: [node('ConvInteger', ['v', 'w'], ['y'], at)],
      },
      want,
    })),
  );
});
