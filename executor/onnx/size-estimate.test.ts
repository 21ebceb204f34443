// The upload estimate: tiny models that ask for gigabytes are caught by their shapes; real models pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isOptinferError } from '../../state/errors.ts';
import { buildModel, graph, node, tensorOf } from './builder.ts';
import { decodeModel } from './schema.ts';
import { checkTensorSizes, largestTensor } from './size-estimate.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const path = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const proto = (bytes: Uint8Array) => decodeModel(bytes);
const x1 = [{ name: 'x', dtype: 'float32' as const, dims: [1] }];
const yScalar = [{ name: 'y', dtype: 'float32' as const, dims: [] }];

test('real models are far under the default limit, and their largest tensor is found', () => {
  for (const f of [
    'models/demo-int8-mlp.onnx',
    'test/fixtures/models/silero_vad.onnx',
    'test/fixtures/models/float_cnn.onnx',
    'node_modules/openwakeword-js/models/hello_deepa.onnx',
  ]) {
    const m = proto(new Uint8Array(readFileSync(path(f))));
    const e = largestTensor(m)!;
    assert.ok(e.bytes > 0 && e.bytes < 16 * MiB, `${f}: ${e.name} ${e.bytes}`);
    checkTensorSizes(m, 2 * GiB, f);
  }
});

test('Expand to a constant shape: the 1 GiB intermediate is named, with its shape', () => {
  const m = proto(
    buildModel({
      name: 'e',
      inputs: x1,
      outputs: yScalar,
      initializers: { S: tensorOf('int64', [2], [16384, 16384]) },
      nodes: [node('Expand', ['x', 'S'], ['big']), node('ReduceSum', ['big'], ['y'], { keepdims: 0 })],
    }),
  );
  assert.deepEqual(largestTensor(m), {
    name: 'big',
    source: 'Expand',
    dims: [16384, 16384],
    elemType: 1,
    bytes: GiB,
  });
  assert.throws(
    () => checkTensorSizes(m, 512 * MiB, "model 'e'"),
    (e: unknown) =>
      isOptinferError(e, 'INVALID_MODEL') &&
      /model 'e': tensor 'big' \(output of Expand\) would take 1\.0 GiB \(float32 \[16384, 16384\]\)/.test(
        (e as Error).message,
      ),
  );
  checkTensorSizes(m, 2 * GiB, "model 'e'");
});

test('shapes are followed through Constant, Shape, Concat, ConstantOfShape, Tile, Reshape and MatMul', () => {
  const cases: [string, Uint8Array, number][] = [
    [
      'ConstantOfShape of a Constant',
      buildModel({
        name: 'c',
        inputs: x1,
        outputs: yScalar,
        nodes: [
          node('Constant', [], ['s'], { value: tensorOf('int64', [3], [1024, 1024, 256]) }),
          node('ConstantOfShape', ['s'], ['big']),
          node('ReduceSum', ['big'], ['y'], { keepdims: 0 }),
        ],
      }),
      GiB,
    ],
    [
      'Tile then Reshape',
      buildModel({
        name: 't',
        inputs: [{ name: 'x', dtype: 'float32', dims: [4, 4] }],
        outputs: yScalar,
        initializers: { R: tensorOf('int64', [2], [4096, 4096]), S: tensorOf('int64', [1], [-1]) },
        nodes: [
          node('Tile', ['x', 'R'], ['big']),
          node('Reshape', ['big', 'S'], ['flat']),
          node('ReduceSum', ['flat'], ['y'], { keepdims: 0 }),
        ],
      }),
      GiB,
    ],
    [
      'MatMul of declared shapes',
      buildModel({
        name: 'mm',
        inputs: [
          { name: 'a', dtype: 'float32', dims: [32768, 1] },
          { name: 'b', dtype: 'float32', dims: [1, 32768] },
        ],
        outputs: yScalar,
        nodes: [node('MatMul', ['a', 'b'], ['big']), node('ReduceSum', ['big'], ['y'], { keepdims: 0 })],
      }),
      4 * GiB,
    ],
    [
      'Shape of an input, doubled by Concat, into Expand',
      buildModel({
        name: 'sh',
        inputs: [{ name: 'x', dtype: 'float32', dims: [16384] }],
        outputs: yScalar,
        nodes: [
          node('Shape', ['x'], ['s']),
          node('Concat', ['s', 's'], ['ss'], { axis: 0 }),
          node('Expand', ['x', 'ss'], ['big']),
          node('ReduceSum', ['big'], ['y'], { keepdims: 0 }),
        ],
      }),
      GiB,
    ],
  ];
  for (const [what, bytes, want] of cases) {
    const e = largestTensor(proto(bytes))!;
    assert.equal(e.bytes, want, `${what}: ${e.name} [${e.dims}]`);
  }
});

test("a Loop's scan output counts trip count times the body's output", () => {
  const body = graph({
    name: 'body',
    inputs: [
      { name: 'i', dtype: 'int64', dims: [] },
      { name: 'c', dtype: 'bool', dims: [] },
    ],
    outputs: [
      { name: 'c_out', dtype: 'bool', dims: [] },
      { name: 'row', dtype: 'float32', dims: [1024] },
    ],
    nodes: [
      node('Identity', ['c'], ['c_out']),
      node('Constant', [], ['row'], { value: tensorOf('float32', [1024], new Array(1024).fill(0)) }),
    ],
  });
  const m = proto(
    buildModel({
      name: 'l',
      inputs: x1,
      outputs: [{ name: 'rows', dtype: 'float32', dims: ['n', 1024] }],
      initializers: { M: tensorOf('int64', [], [1e9]), C: tensorOf('bool', [], [1]) },
      nodes: [node('Loop', ['M', 'C'], ['rows'], { body })],
    }),
  );
  const e = largestTensor(m)!;
  assert.equal(e.name, 'rows');
  assert.equal(e.bytes, 1e9 * 1024 * 4);
});

test('symbolic dims count as 1: a model with only dynamic shapes is not refused on a guess', () => {
  const m = proto(
    buildModel({
      name: 'dyn',
      inputs: [{ name: 'x', dtype: 'float32', dims: ['n', 'm'] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: ['n', 'm'] }],
      nodes: [node('Relu', ['x'], ['y'])],
    }),
  );
  assert.equal(largestTensor(m)!.bytes, 4);
  checkTensorSizes(m, 4, "model 'dyn'");
});
