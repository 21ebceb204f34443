// Builds the project's own ONNX test models (integer-only demo, float Conv net, nested If) into test/fixtures/models.
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildModel, graph, node, prng, tensorOf } from '../executor/onnx/builder.ts';

export const FIXTURE_DIR = fileURLToPath(new URL('../test/fixtures/models/', import.meta.url));

function ints(rand: () => number, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo + 1)));
}

/**
 * The demo model: int8 x int8 MatMulInteger layers with int32 bias and Relu, requantized through
 * DequantizeLinear (scale 1) and QuantizeLinear (scale 256, a power of two, so division is exact and only the
 * round-half-even of ties matters). Integer kernels and exact float steps: bit-exact on any hardware.
 */
export function int8MlpModel(): Uint8Array {
  const r = prng(0x0e1);
  return buildModel({
    name: 'int8_mlp',
    // Relu accepts int32 from opset 14 on.
    opset: 14,
    inputs: [{ name: 'x', dtype: 'int8', dims: [1, 16] }],
    outputs: [{ name: 'y', dtype: 'int32', dims: [1, 8] }],
    initializers: {
      w1: tensorOf('int8', [16, 32], ints(r, 16 * 32, -127, 127)),
      b1: tensorOf('int32', [32], ints(r, 32, -4000, 4000)),
      one: tensorOf('float32', [], [1]),
      q_scale: tensorOf('float32', [], [256]),
      q_zero: tensorOf('int8', [], [0]),
      w2: tensorOf('int8', [32, 8], ints(r, 32 * 8, -127, 127)),
      b2: tensorOf('int32', [8], ints(r, 8, -4000, 4000)),
    },
    nodes: [
      node('MatMulInteger', ['x', 'w1'], ['mm1']),
      node('Add', ['mm1', 'b1'], ['add1']),
      node('Relu', ['add1'], ['relu1']),
      node('DequantizeLinear', ['relu1', 'one'], ['deq1']),
      node('QuantizeLinear', ['deq1', 'q_scale', 'q_zero'], ['h1']),
      node('MatMulInteger', ['h1', 'w2'], ['mm2']),
      node('Add', ['mm2', 'b2'], ['y']),
    ],
  });
}

/** A small float CNN: Conv (thread-count sensitive in onnxruntime), Relu, Flatten, MatMul, Add, Sigmoid. */
export function floatCnnModel(): Uint8Array {
  const r = prng(0xf10a7);
  const f = (n: number) => Array.from({ length: n }, () => r() * 2 - 1);
  return buildModel({
    name: 'float_cnn',
    opset: 13,
    inputs: [{ name: 'image', dtype: 'float32', dims: ['batch', 3, 8, 8] }],
    outputs: [{ name: 'scores', dtype: 'float32', dims: ['batch', 10] }],
    initializers: {
      conv_w: tensorOf('float32', [4, 3, 3, 3], f(4 * 27)),
      conv_b: tensorOf('float32', [4], f(4)),
      fc_w: tensorOf('float32', [256, 10], f(2560)),
      fc_b: tensorOf('float32', [10], f(10)),
    },
    nodes: [
      node('Conv', ['image', 'conv_w', 'conv_b'], ['conv'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }),
      node('Relu', ['conv'], ['relu']),
      node('Flatten', ['relu'], ['flat'], { axis: 1 }),
      node('MatMul', ['flat', 'fc_w'], ['fc']),
      node('Add', ['fc', 'fc_b'], ['logits']),
      node('Sigmoid', ['logits'], ['scores']),
    ],
  });
}

/**
 * A model whose work hides in If subgraphs, one nested: then-branch doubles x and, if max(x) > 1, applies Relu,
 * else Neg; else-branch computes |x - 1|. The output multiplies the branch result by x.
 */
export function ifModel(): Uint8Array {
  const vec = { dtype: 'float32' as const, dims: [1, 4] };
  const inner = (name: string, op: string) =>
    graph({
      name,
      inputs: [],
      outputs: [{ name: `${name}_out`, ...vec }],
      nodes: [node(op, ['t_mul'], [`${name}_out`])],
    });
  const thenBranch = graph({
    name: 'then',
    inputs: [],
    outputs: [{ name: 't_out', ...vec }],
    initializers: { two: tensorOf('float32', [], [2]) },
    nodes: [
      node('Mul', ['x', 'two'], ['t_mul']),
      node('ReduceMax', ['x'], ['t_max'], { keepdims: 0 }),
      node('Greater', ['t_max', 'one'], ['t_cond']),
      node('If', ['t_cond'], ['t_if'], {
        then_branch: inner('inner_then', 'Relu'),
        else_branch: inner('inner_else', 'Neg'),
      }),
      node('Add', ['t_if', 'one'], ['t_out']),
    ],
  });
  const elseBranch = graph({
    name: 'else',
    inputs: [],
    outputs: [{ name: 'e_out', ...vec }],
    nodes: [node('Sub', ['x', 'one'], ['e_sub']), node('Abs', ['e_sub'], ['e_out'])],
  });
  return buildModel({
    name: 'if_model',
    opset: 13,
    inputs: [{ name: 'x', ...vec }],
    outputs: [{ name: 'y', ...vec }],
    initializers: { zero: tensorOf('float32', [], [0]), one: tensorOf('float32', [], [1]) },
    nodes: [
      node('ReduceSum', ['x'], ['sum'], { keepdims: 0 }),
      node('Greater', ['sum', 'zero'], ['cond']),
      node('If', ['cond'], ['branch'], { then_branch: thenBranch, else_branch: elseBranch }),
      node('Mul', ['branch', 'x'], ['y']),
    ],
  });
}

export const FIXTURES: Record<string, () => Uint8Array> = {
  'int8_mlp.onnx': int8MlpModel,
  'float_cnn.onnx': floatCnnModel,
  'if_model.onnx': ifModel,
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  for (const [file, build] of Object.entries(FIXTURES)) {
    const bytes = build();
    writeFileSync(FIXTURE_DIR + file, bytes);
    process.stdout.write(`${file}: ${bytes.length} bytes\n`);
  }
  // A ready-made input for the demo model: `optinfer trace --model int8_mlp.onnx --input int8_mlp.input.json`.
  const x = Array.from({ length: 16 }, (_, i) => i * 15 - 120);
  writeFileSync(
    FIXTURE_DIR + 'int8_mlp.input.json',
    JSON.stringify({ inputs: { x: { dtype: 'int8', dims: [1, 16], data: x } } }) + '\n',
  );
}
