// The referee's undecidable values mirrored off chain (undecidable.ts), checked against onnxruntime: the first element
// the referee refuses, and every element before it equal to what onnxruntime computes once the bad operand is made sane.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, node, tensorOf } from '../executor/onnx/builder.ts';
import { loadModel, type LoadedModel } from '../executor/model.ts';
import { runModel } from '../executor/run.ts';
import { traceModel } from '../executor/trace.ts';
import { isOptinferError } from '../state/errors.ts';
import { OP } from '../state/optable.ts';
import { elementCount, elementSize, type Tensor } from '../state/tensor.ts';
import { firstUndecidable, refereeElements, type OutputShape } from './undecidable.ts';

const models: LoadedModel[] = [];
after(async () => {
  for (const m of models) await m.close();
});

/** One op node over inputs a and b, output y. */
async function oneOp(op: string, a: Tensor, b: Tensor, y: OutputShape, attrs = {}): Promise<LoadedModel> {
  const m = await loadModel(
    buildModel({
      name: `one-${op}`,
      opset: 13,
      inputs: [
        { name: 'a', dtype: a.dtype, dims: a.dims },
        { name: 'b', dtype: b.dtype, dims: b.dims },
      ],
      outputs: [{ name: 'y', dtype: y.dtype, dims: [...y.dims] }],
      nodes: [node(op, ['a', 'b'], ['y'], attrs)],
    }),
    { name: op },
  );
  models.push(m);
  return m;
}

/** The mirror finds `want` first, and the elements before it are onnxruntime's on the sane operands. */
async function check(
  op: number,
  attrs: Uint8Array,
  onnx: { op: string; attrs?: Record<string, number> },
  bad: [Tensor, Tensor],
  sane: [Tensor, Tensor],
  out: OutputShape,
  want: number,
) {
  const m = await oneOp(onnx.op, ...bad, out, onnx.attrs);
  const { y } = (await runModel(m, { a: sane[0], b: sane[1] })).outputs;
  assert.deepEqual(y.dims, out.dims);
  await assert.rejects(runModel(m, { a: bad[0], b: bad[1] }), (e) => isOptinferError(e, 'EXECUTION_FAILED'));
  const u = firstUndecidable({ op, attrs }, bad, out);
  assert.equal(u?.element, want);
  const es = elementSize(y.dtype);
  assert.deepEqual(refereeElements({ op, attrs }, bad, out, want), y.data.subarray(0, want * es));
  assert.equal(firstUndecidable({ op, attrs }, sane, out), null, 'the sane operands are decided everywhere');
  assert.deepEqual(refereeElements({ op, attrs }, sane, out, elementCount(y.dims)), y.data);
}

const seq = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

test('gather: the first out-of-range index (negative ones wrap) and the elements before it, on axes 0 and 1', async () => {
  const data = tensorOf(
    'float32',
    [2, 5, 3],
    seq(30, (i) => i * 1.5 - 7),
  );
  const axis1 = Uint8Array.of(1, ...new Array(13).fill(0));
  await check(
    OP.Gather,
    axis1,
    { op: 'Gather', attrs: { axis: 1 } },
    [data, tensorOf('int32', [2, 2], [4, -5, 5, 0])],
    [data, tensorOf('int32', [2, 2], [4, -5, 0, 0])],
    { dtype: 'float32', dims: [2, 2, 2, 3] },
    // Output [2, 2, 2, 3]: index 5 is element 2 of the indices, first read by output element 6.
    6,
  );
  const axis0 = new Uint8Array(14);
  await check(
    OP.Gather,
    axis0,
    { op: 'Gather', attrs: { axis: 0 } },
    [data, tensorOf('int64', [3], [1, -1, -3])],
    [data, tensorOf('int64', [3], [1, -1, 0])],
    { dtype: 'float32', dims: [3, 5, 3] },
    30,
  );
});

test('int32 div: the first zero divisor under broadcasting, and the quotients before it (truncated)', async () => {
  const a = tensorOf(
    'int32',
    [4, 8],
    seq(32, (i) => ((i * 7919) % 2001) - 1000),
  );
  const b = (z: number) =>
    tensorOf(
      'int32',
      [8],
      seq(8, (i) => (i === 3 ? z : i * 2 - 9)),
    );
  await check(
    OP.Div,
    new Uint8Array(14),
    { op: 'Div' },
    [a, b(0)],
    [a, b(1)],
    { dtype: 'int32', dims: [4, 8] },
    3,
  );
});

test('float div and other ops are never undecidable to the mirror', () => {
  const f = tensorOf('float32', [2], [1, 2]);
  const z = tensorOf('float32', [2], [0, 0]);
  assert.equal(firstUndecidable({ op: OP.Div, attrs: new Uint8Array(14) }, [f, z], f), null);
  assert.equal(firstUndecidable({ op: OP.Add, attrs: new Uint8Array(14) }, [f, z], f), null);
});

test('cut traces: the first k layers of a runnable job are its trace’s first k layers; a cut refused where the job is', async () => {
  const m = await loadModel(
    buildModel({
      name: 'cut',
      opset: 13,
      inputs: [{ name: 'x', dtype: 'int32', dims: [4] }],
      outputs: [{ name: 'y', dtype: 'int32', dims: [4] }],
      initializers: { one: tensorOf('int32', [1], [1]), w: tensorOf('int32', [4], [10, 20, 30, 40]) },
      nodes: [
        node('Add', ['x', 'one'], ['s']),
        node('Constant', [], ['c'], { value: tensorOf('int32', [1], [3]) }),
        node('Div', ['w', 's'], ['q']),
        node('Mul', ['q', 'c'], ['y']),
      ],
    }),
    { name: 'cut' },
  );
  models.push(m);
  const x = tensorOf('int32', [4], [1, 2, 3, 4]);
  const full = await traceModel(m, { x }, { keepTensors: true });
  assert.equal(full.layerCount, 3);
  for (let k = 0; k <= 3; k++) {
    const cut = await traceModel(m, { x }, { keepTensors: true, prefixLayers: k });
    assert.equal(cut.layerCount, k);
    assert.deepEqual(cut.prefixes, full.prefixes.slice(0, k));
    assert.deepEqual(cut.tensors, full.tensors!.slice(0, k));
  }
  await assert.rejects(traceModel(m, { x }, { prefixLayers: 4 }), (e) =>
    isOptinferError(e, 'INVALID_LAYER_INDEX'),
  );
  const bad = { x: tensorOf('int32', [4], [1, -1, 3, 4]) };
  assert.equal((await traceModel(m, bad, { prefixLayers: 1 })).layerCount, 1);
  await assert.rejects(traceModel(m, bad, { prefixLayers: 2 }), (e) =>
    isOptinferError(e, 'EXECUTION_FAILED'),
  );
});
