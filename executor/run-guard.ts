// Where a run configuration would change exact-mode bits: wasm's divergent ops refused, graph rewrites undone.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { OptinferError } from '../state/errors.ts';
import { dtypeFromCode } from '../state/tensor.ts';
import { forEachNodeDeep, opLabel, subgraphsOf } from './onnx/graph.ts';
import {
  decodeModel,
  onnxTypes,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
} from './onnx/schema.ts';
import type { OptLevel } from './run-config.ts';

/**
 * The graph onnxruntime-node actually runs at an optimization level (its optimizedModelFilePath dump, CPU
 * provider, one thread), with the element type of every value it inferred. Sessions at 'disabled' only serialize.
 */
export async function ortGraph(
  bytes: Uint8Array,
  opt: OptLevel,
  base: ort.InferenceSession.SessionOptions,
): Promise<{ graph: GraphProto; types: Map<string, string> }> {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-graph-'));
  const file = join(dir, 'optimized.onnx');
  try {
    const s = await ort.InferenceSession.create(bytes, {
      ...base,
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      graphOptimizationLevel: opt,
      optimizedModelFilePath: file,
    });
    await s.release();
    const m = decodeModel(new Uint8Array(readFileSync(file)), 'optimized graph');
    const types = new Map<string, string>();
    const collect = (g: GraphProto) => {
      for (const v of [...g.input, ...g.value_info, ...g.output]) {
        const code = v.type?.tensor_type?.elem_type;
        const d = code === undefined ? undefined : dtypeFromCode(code);
        if (d) types.set(v.name, d);
      }
      for (const t of g.initializer) {
        const d = dtypeFromCode(t.data_type);
        if (d) types.set(t.name, d);
      }
      for (const n of g.node) for (const sg of subgraphsOf(n)) collect(sg);
    };
    collect(m.graph!);
    return { graph: m.graph!, types };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const attrBytes = (a: AttributeProto) =>
  Buffer.from(onnxTypes.AttributeProto.encode(a as never).finish()).toString('hex');

/**
 * Nodes of the optimized graph that are not nodes of the original: fusions and rewrites. Allowed, as they compute
 * the same thing with the same kernel: a node dropped (constant folding, computed once by the same kernels), a
 * node duplicated under a new output name (onnxruntime's EnsureUniqueDQForNodeUnit), and attributes added at
 * their defaults (an original attribute must be kept with its value). A rewrite can change bits even among exact
 * ops: measured, Where(Not(c), a, b) fused to Where(c, b, a) returns +0 where canonical returns -0.
 */
export function rewrittenNodes(original: GraphProto, optimized: GraphProto): string[] {
  const byInputs = new Map<string, NodeProto[]>();
  const sig = (n: NodeProto, inputs: string[]) => `${n.domain ?? ''}|${n.op_type}|${inputs.join(',')}`;
  for (const n of original.node) {
    const k = sig(n, n.input);
    byInputs.set(k, [...(byInputs.get(k) ?? []), n]);
  }
  const renamed = new Map<string, string>();
  const out = new Set<string>();
  for (const n of optimized.node) {
    const inputs = n.input.map((i) => renamed.get(i) ?? i);
    const attrs = new Map(n.attribute.map((a) => [a.name, attrBytes(a)]));
    const match = (byInputs.get(sig(n, inputs)) ?? []).find(
      (o) =>
        o.output.length === n.output.length &&
        o.attribute.every((a) => attrs.get(a.name) === attrBytes(a)) &&
        n.attribute.every((a) => o.attribute.some((b) => b.name === a.name) || isDefaultFill(n, a)),
    );
    if (!match) {
      out.add(opLabel(n));
      continue;
    }
    n.output.forEach((o, i) => {
      if (o !== match.output[i]) renamed.set(o, match.output[i]);
    });
  }
  return [...out].sort();
}

/** Attributes onnxruntime writes out at their default when it serializes a node (checked by value). */
function isDefaultFill(n: NodeProto, a: AttributeProto): boolean {
  const ints = (v: unknown) => Number(v);
  if ((n.op_type === 'DequantizeLinear' || n.op_type === 'QuantizeLinear') && a.name === 'axis')
    return ints(a.i) === 1;
  if (n.op_type === 'QuantizeLinear' && a.name === 'saturate') return ints(a.i) === 1;
  return false;
}

const FLOATS = new Set(['float32', 'float16', 'float64']);
const INTEGERS = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64']);

/**
 * Ops whose results onnxruntime-web's wasm backend computes differently from the canonical x86 CPU for some inputs
 * (measured, bench/profiles.ts): Cast from float to an integer type (wasm saturates and maps NaN to 0, x86 gives
 * the integer indefinite and wraps negatives into uint8), QuantizeLinear (NaN to int8) and DynamicQuantizeLinear
 * (a NaN in the input). Job inputs are the user's, so a model holding one is refused on wasm whatever its inputs.
 */
export function wasmDivergentOps(original: GraphProto, types: Map<string, string>): string[] {
  const out = new Set<string>();
  forEachNodeDeep(original, (n) => {
    const op = opLabel(n);
    if (op === 'QuantizeLinear' || op === 'DynamicQuantizeLinear') out.add(op);
    if (op === 'Cast') {
      const to = n.attribute.find((a) => a.name === 'to')?.i;
      const dst = to === undefined ? undefined : dtypeFromCode(Number(to));
      const src = types.get(n.input[0]);
      if (dst && INTEGERS.has(dst) && (src === undefined || FLOATS.has(src)))
        out.add(`Cast(${src ?? 'unknown type'} to ${dst})`);
    }
  });
  return [...out].sort();
}

/** The refusal of a model on the wasm backend, naming its ops. */
export function wasmRefusal(what: string, ops: string[]): OptinferError {
  return new OptinferError(
    'INVALID_CONFIG',
    `${what}: backend=wasm refused for this model: ${ops.join(', ')} give other bits on onnxruntime-web's wasm backend than on the canonical CPU for NaN, ±Inf or out-of-range inputs (wasm saturates), so an honest result could lose a dispute; run it with backend=cpu`,
    { ops },
  );
}
