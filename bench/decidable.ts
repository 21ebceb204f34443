// `node --import tsx bench/decidable.ts`: what an executor's refusal of undecidable inputs costs per job. A provable
// model with DynamicQuantizeLinear runs traced (runDecidable) instead of plain; measured side by side, alternating.
import { buildModel, node, prng, tensorOf } from '../executor/onnx/builder.ts';
import { loadModel } from '../executor/model.ts';
import { IN_PROCESS } from '../executor/sandbox/pool.ts';
import { runDecidable } from '../executor/decidable.ts';
import type { Tensor } from '../state/tensor.ts';

/** quantize_dynamic's MatMul pattern: x^2 + x^3, DynamicQuantizeLinear, MatMulInteger [K, N], rescaled. */
function quantModel(k: number, n: number): Uint8Array {
  const r = prng(77);
  return buildModel({
    name: `quant${k}x${n}`,
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, k] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [1, n] }],
    initializers: {
      two: tensorOf('float32', [], [2]),
      three: tensorOf('int64', [1], [3]),
      w: tensorOf(
        'uint8',
        [k, n],
        Array.from({ length: k * n }, () => Math.floor(r() * 256)),
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
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const rows: Record<string, string | number>[] = [];
for (const [k, n, runs] of [
  [64, 16, 400],
  [256, 256, 200],
] as const) {
  const model = await loadModel(quantModel(k, n), { name: `quant${k}x${n}` });
  const r = prng(5);
  const x: Tensor = {
    dtype: 'float32',
    dims: [1, k],
    data: new Uint8Array(new Float32Array(k).map(() => (Math.floor(r() * 4001) - 2000) / 997).buffer),
  };
  const plain: number[] = [];
  const decidable: number[] = [];
  for (let i = 0; i < 20; i++) {
    await IN_PROCESS.run(model, { x });
    await runDecidable(IN_PROCESS, model, { x });
  }
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    await IN_PROCESS.run(model, { x });
    plain.push(performance.now() - t);
    t = performance.now();
    await runDecidable(IN_PROCESS, model, { x });
    decidable.push(performance.now() - t);
  }
  rows.push({
    model: `DQL + MatMulInteger [${k}, ${n}]`,
    runs,
    'plain run (ms, median)': median(plain).toFixed(3),
    'runDecidable (ms, median)': median(decidable).toFixed(3),
    ratio: (median(decidable) / median(plain)).toFixed(2),
  });
  await model.close();
}
console.table(rows);
