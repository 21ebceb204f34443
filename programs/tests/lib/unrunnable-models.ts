// Provable models on which a job input can make onnxruntime refuse the run, for the unrunnable-lie suite.
import { buildModel, node, tensorOf } from '../../../executor/onnx/builder.ts';
import type { Tensor } from '../../../state/tensor.ts';

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/**
 * x int32 [64] and indices i int64 [4]: a = x + w1 (layer 0), u = Unsqueeze(a) [1, 64] (1), data = Concat(d, u)
 * [4, 64] (2), g = Gather(data, i) [4, 64] (3: one 256-byte chunk per row), y = g * w (4). An index out of range
 * in i[r] makes output row r, chunk r, undecidable.
 */
export const gatherModel = buildModel({
  name: 'unrun-gather',
  opset: 13,
  inputs: [
    { name: 'i', dtype: 'int64', dims: [4] },
    { name: 'x', dtype: 'int32', dims: [64] },
  ],
  outputs: [{ name: 'y', dtype: 'int32', dims: [4, 64] }],
  initializers: {
    w1: tensorOf(
      'int32',
      [64],
      range(64, (k) => k * 3 - 50),
    ),
    d: tensorOf(
      'int32',
      [3, 64],
      range(192, (k) => (k * 7919) % 1000),
    ),
    w: tensorOf('int32', [1], [3]),
    ax: tensorOf('int64', [1], [0]),
  },
  nodes: [
    node('Add', ['x', 'w1'], ['a']),
    node('Unsqueeze', ['a', 'ax'], ['u']),
    node('Concat', ['d', 'u'], ['data'], { axis: 0 }),
    node('Gather', ['data', 'i'], ['g'], { axis: 0 }),
    node('Mul', ['g', 'w'], ['y']),
  ],
});

export const gatherX: Tensor = tensorOf(
  'int32',
  [64],
  range(64, (k) => k * 11 - 300),
);
export const gatherI = (rows: number[]): Tensor => tensorOf('int64', [4], rows);

/**
 * x int32 [128]: s = x + 1 (layer 0), q = w / s (1: two chunks), y = q * 2 (2). x[k] = -1 divides by 0 at element k;
 * w[k] = INT_MIN with x[k] = -2 is INT_MIN / -1.
 */
export const divModel = buildModel({
  name: 'unrun-div',
  opset: 13,
  inputs: [{ name: 'x', dtype: 'int32', dims: [128] }],
  outputs: [{ name: 'y', dtype: 'int32', dims: [128] }],
  initializers: {
    one: tensorOf('int32', [1], [1]),
    w: tensorOf(
      'int32',
      [128],
      range(128, (k) => (k === 70 ? -2147483648 : ((k * 7717) % 100000) - 5000)),
    ),
    two: tensorOf('int32', [1], [2]),
  },
  nodes: [node('Add', ['x', 'one'], ['s']), node('Div', ['w', 's'], ['q']), node('Mul', ['q', 'two'], ['y'])],
});

/** divModel's job input: x[k] = 3k + 5, with `set` overriding some elements. */
export function divX(set: Record<number, number> = {}): Tensor {
  return tensorOf(
    'int32',
    [128],
    range(128, (k) => set[k] ?? k * 3 + 5),
  );
}

/**
 * x int32 [3]: s = x + 1 (layer 0), q = w / s with w = [7, 9, INT_MIN] (1), y = q * 2 (2). onnxruntime divides three
 * elements in its scalar loop, where INT_MIN / -1 (x[2] = -2) raises SIGFPE and kills the process.
 */
export const smallDivModel = buildModel({
  name: 'unrun-div3',
  opset: 13,
  inputs: [{ name: 'x', dtype: 'int32', dims: [3] }],
  outputs: [{ name: 'y', dtype: 'int32', dims: [3] }],
  initializers: {
    one: tensorOf('int32', [1], [1]),
    w: tensorOf('int32', [3], [7, 9, -2147483648]),
    two: tensorOf('int32', [1], [2]),
  },
  nodes: [node('Add', ['x', 'one'], ['s']), node('Div', ['w', 's'], ['q']), node('Mul', ['q', 'two'], ['y'])],
});
