// Review 20: attacks on exact mode's rules, each named after its attack and asserting the property that holds since
// the fix: a ConstantOfShape sized by a job input is unprovable (registration would size it from its zero sample).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, node, tensorOf } from '../../executor/onnx/builder.ts';
import { ModelRegistry } from '../../executor/model.ts';
import { OrtInspector } from '../../executor/sequencer-adapters.ts';
import { SIDE } from './lib/game.ts';
import { onnxSubject, playOut, type OnnxSubject } from './lib/onnx-game.ts';
import { evalOp } from './lib/model.ts';
import type * as P from './lib/protocol.ts';

const subjects: OnnxSubject[] = [];
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const s of subjects) await s.model.close();
  for (const c of closers) await c();
});

// ---- Attack 1: ConstantOfShape sized by a job input ----

/**
 * ConstantOfShape(x) with x a graph input (int64 [1]), then Concat with an int8 weight. The compiler takes the shape
 * operand as an input ref (it requires constants only for Reshape/Slice/Pad/Squeeze operands), so the model is
 * provable; registration sizes layer 0 from the zero sample: [0]. The node validates job inputs against the
 * registered input headers only (int64 [1]), so a job with x = [3] is taken, onnxruntime runs it (layer 0 is [3]),
 * the executor signs. A hostile challenger (the user's sybil) disputes: the one-step convicts any executor whose
 * layer header is not the registered one, so the honest executor loses.
 */
const cosBytes = buildModel({
  name: 'cos-input',
  opset: 13,
  inputs: [{ name: 'x', dtype: 'int64', dims: [1] }],
  outputs: [{ name: 'y', dtype: 'int8', dims: ['n'] }],
  initializers: { w: tensorOf('int8', [1], [9]) },
  nodes: [
    node('ConstantOfShape', ['x'], ['c'], { value: tensorOf('int8', [1], [7]) }),
    node('Concat', ['c', 'w'], ['y'], { axis: 0 }),
  ],
});

test('constant-of-shape from a job input: the model is unprovable, naming the layer, so no executor signs a job sized off its registered shape', async () => {
  const registry = new ModelRegistry();
  closers.push(() => registry.close());
  const inspector = new OrtInspector(registry);
  const info = await inspector.inspect(cosBytes, 'cos-input');
  assert.equal(info.provable, false);
  assert.match(info.unprovableOps.join('; '), /ConstantOfShape's shape 'x' depends on a job input/);
});

/** ConstantOfShape(Shape(x)) with x int32 [2, 3]: its size is the registered one whatever the job's values. */
const cosShapeBytes = buildModel({
  name: 'cos-shape',
  opset: 13,
  inputs: [{ name: 'x', dtype: 'int32', dims: [2, 3] }],
  outputs: [{ name: 'y', dtype: 'int32', dims: [2, 3] }],
  initializers: { w: tensorOf('int32', [1], [9]) },
  nodes: [
    node('Shape', ['x'], ['sh']),
    node('ConstantOfShape', ['sh'], ['c'], { value: tensorOf('int32', [1], [7]) }),
    node('Add', ['c', 'x'], ['s']),
    // A weight: registration refuses a model without one.
    node('Mul', ['s', 'w'], ['y']),
  ],
});

test('constant-of-shape from Shape: a shape computed from static shapes stays provable, and a cheat on it loses', async () => {
  const s = await onnxSubject(cosShapeBytes, 'cos-shape');
  subjects.push(s);
  assert.deepEqual(s.compiled.refusals, []);
  const x = tensorOf('int32', [2, 3], [1, -2, 3, -4, 5, 127]);
  const honest = await s.ortLayers(x);
  const lie: P.Tensor[] = honest.map((t) => ({ ...t, bytes: Buffer.from(t.bytes) }));
  lie[1].bytes[0] ^= 1;
  // Later layers computed from the lie, so the output differs too (a dispute needs a different output).
  const def = s.def(x);
  for (let i = 2; i < lie.length; i++) {
    const l = def.layers[i];
    const ins = l.refs.map((ref: number) =>
      ref >> 14 === 0 ? lie[ref & 0x3fff] : ref >> 14 === 1 ? def.inputs[0][1] : def.weights[ref & 0x3fff],
    );
    lie[i] = evalOp(l, ins);
  }
  assert.ok(!lie[3].bytes.equals(honest[3].bytes));
  const r = await playOut(s, x, tensorOf('int32', [2, 3], [0, 0, 0, 0, 0, 0]), lie, honest);
  assert.equal(r.disagree, 1);
  assert.equal(r.winner, SIDE.CHALLENGER);
});
