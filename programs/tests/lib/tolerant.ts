// Tolerant-mode game fixtures shared by tolerant-game.test.ts and review29.test.ts: a float model
// registered tolerant, and traces that claim a chosen value at one element with every later layer
// computed from it.
import { OP, REF, evalOp, make, prng, type ModelDef } from './model.ts';
import * as P from './protocol.ts';

const fr = Math.fround;

/** x [4,16] -> MatMul W0 [16,32] -> Tanh -> MatMul W1 [32,8] -> Sigmoid = y, float32, registered tolerant. */
export function tolerantModel(arithBits = 0, seed = 21): ModelDef {
  const r = prng(seed);
  const u = () => (r() / 2 ** 32) * 2 - 1;
  return {
    inputs: [['x', make(P.DT.FLOAT, [4, 16], () => fr(u()))]],
    weights: [make(P.DT.FLOAT, [16, 32], () => fr(u() / 2)), make(P.DT.FLOAT, [32, 8], () => fr(u()))],
    layers: [
      { op: OP.MATMUL, refs: [REF.input(0), REF.weight(0)] },
      { op: OP.TANH, refs: [REF.layer(0)] },
      { op: OP.MATMUL, refs: [REF.layer(1), REF.weight(1)] },
      { op: OP.SIGMOID, refs: [REF.layer(2)] },
    ],
    outputName: 'y',
    mode: 'tolerant',
    arithBits,
  };
}

/** A copy of float tensor `t` with element `e` set to the f32 with bits `bits`. */
export function withBits(t: P.Tensor, e: number, bits: number): P.Tensor {
  const bytes = Buffer.from(t.bytes);
  bytes.writeUInt32LE(bits >>> 0, 4 * e);
  return { ...t, bytes };
}

/** Layers `from`.. recomputed from `layers` (each later layer from the ones before it, as a run does). */
export function downstream(m: ModelDef, layers: P.Tensor[], from: number): P.Tensor[] {
  const out = layers.slice(0, from);
  for (let i = from; i < m.layers.length; i++) {
    const l = m.layers[i];
    const ins = l.refs.map((ref) =>
      ref >> 14 === 0
        ? out[ref & 0x3fff]
        : ref >> 14 === 1
          ? m.inputs[ref & 0x3fff][1]
          : m.weights[ref & 0x3fff],
    );
    out.push(evalOp(l, ins));
  }
  return out;
}

/** A trace whose layer `at` has element `e` set to `bits`, with every later layer computed from it. */
export function claiming(m: ModelDef, base: P.Tensor[], at: number, e: number, bits: number): P.Tensor[] {
  const out = base.slice();
  out[at] = withBits(base[at], e, bits);
  return downstream(m, out, at + 1);
}
