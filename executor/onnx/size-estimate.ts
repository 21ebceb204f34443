// Upload-time memory estimate: the largest tensor a model declares or cheaply implies, refused above the run limit.
import { OptinferError } from '../../state/errors.ts';
import { dtypeFromCode } from '../../state/tensor.ts';
import {
  int64ToNumber,
  type AttributeProto,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from './schema.ts';
import type { ModelProto, TypeProto } from './schema.ts';
import { subgraphsOf } from './graph.ts';

/** Bytes per element by ONNX elem_type; sub-byte and unknown types count as one byte (a lower bound). */
const ELEM_BYTES: Record<number, number> = {
  1: 4, // float
  2: 1, // uint8
  3: 1, // int8
  4: 2, // uint16
  5: 2, // int16
  6: 4, // int32
  7: 8, // int64
  9: 1, // bool
  10: 2, // float16
  11: 8, // double
  12: 4, // uint32
  13: 8, // uint64
  14: 8, // complex64
  15: 16, // complex128
  16: 2, // bfloat16
};
const FLOAT = 1;
const BOOL = 9;
const INT64 = 7;

/** Shape-like constants (int tensors up to this many elements) are followed through Reshape, Expand and the like. */
const MAX_VALUE_ELEMENTS = 64;

export interface TensorEstimate {
  name: string;
  /** The op that produces it, or 'input', 'output', 'value_info', 'initializer'. */
  source: string;
  /** Unknown (symbolic) dims count as 1, so the estimate is a lower bound. */
  dims: number[];
  elemType: number;
  bytes: number;
}

/** What the walk knows about one value: its dims (null when unknown) and, for small int constants, its values. */
interface Known {
  dims: (number | null)[] | null;
  elemType: number;
  values?: number[];
}

function dimsOfType(t: TypeProto | undefined | null): Known | null {
  const tt = t?.tensor_type;
  if (!tt) return null;
  const dims = tt.shape
    ? tt.shape.dim.map((d) => (Object.hasOwn(d, 'dim_value') ? int64ToNumber(d.dim_value) : null))
    : null;
  return { dims, elemType: tt.elem_type ?? 0 };
}

function valuesOf(t: TensorProto): number[] | undefined {
  const dims = t.dims.map((d) => int64ToNumber(d));
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > MAX_VALUE_ELEMENTS || (t.data_type !== INT64 && t.data_type !== 6)) return undefined;
  if (t.raw_data && t.raw_data.length > 0) {
    const size = t.data_type === INT64 ? 8 : 4;
    if (t.raw_data.length !== n * size) return undefined;
    const v = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    return Array.from({ length: n }, (_, i) =>
      size === 8 ? Number(v.getBigInt64(i * 8, true)) : v.getInt32(i * 4, true),
    );
  }
  const src = t.data_type === INT64 ? t.int64_data : t.int32_data;
  return src.length === n ? src.map((x) => int64ToNumber(x)) : undefined;
}

function tensorKnown(t: TensorProto): Known {
  return { dims: t.dims.map((d) => int64ToNumber(d)), elemType: t.data_type, values: valuesOf(t) };
}

const attr = (n: NodeProto, name: string): AttributeProto | undefined =>
  n.attribute.find((a) => a.name === name);
const attrInt = (n: NodeProto, name: string, dflt: number) => {
  const a = attr(n, name);
  return a && Object.hasOwn(a, 'i') ? int64ToNumber(a.i) : dflt;
};

/** Numpy-style broadcast of known shapes; an unknown dim stays unknown unless the other side is larger than 1. */
function broadcast(shapes: (number | null)[][]): (number | null)[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: (number | null)[] = [];
  for (let i = 0; i < rank; i++) {
    let d: number | null = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i];
      if (x === undefined || x === 1) continue;
      if (x === null) d = d === 1 ? null : d;
      else d = d === null || d === 1 ? x : Math.max(d, x);
    }
    out.push(d);
  }
  return out;
}

const ELEMENTWISE = new Set([
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Pow',
  'Max',
  'Min',
  'Mod',
  'Sum',
  'Mean',
  'PRelu',
  'BitShift',
  'BitwiseAnd',
  'BitwiseOr',
  'BitwiseXor',
]);
const COMPARISONS = new Set([
  'Equal',
  'Greater',
  'Less',
  'GreaterOrEqual',
  'LessOrEqual',
  'And',
  'Or',
  'Xor',
]);
const SAME_SHAPE = new Set([
  'Identity',
  'Relu',
  'Abs',
  'Neg',
  'Exp',
  'Log',
  'Sigmoid',
  'Tanh',
  'Sqrt',
  'Clip',
  'Softmax',
  'LogSoftmax',
  'LeakyRelu',
  'Erf',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Reciprocal',
  'Gelu',
  'HardSigmoid',
  'Elu',
  'Selu',
  'Softplus',
  'Sin',
  'Cos',
  'Not',
  'BitwiseNot',
  'DequantizeLinear',
  'QuantizeLinear',
  'Cast',
  'CumSum',
]);

/**
 * Infers what the node's outputs are from what is known of its inputs: only ops whose output size follows from
 * shapes and small constants, which is where a few bytes of model can ask for gigabytes.
 */
function infer(n: NodeProto, known: Map<string, Known>): (Known | null)[] {
  const k = (i: number): Known | null => (n.input[i] ? (known.get(n.input[i]) ?? null) : null);
  const x = k(0);
  const same = (dims: (number | null)[] | null, elemType = x?.elemType ?? 0): Known[] => [{ dims, elemType }];
  const op = n.domain && n.domain !== 'ai.onnx' ? '' : n.op_type;
  switch (op) {
    case 'Constant': {
      const t = attr(n, 'value')?.t;
      if (t) return [tensorKnown(t)];
      const ints = attr(n, 'value_ints');
      if (ints) return [{ dims: [ints.ints.length], elemType: INT64, values: ints.ints.map(int64ToNumber) }];
      return [null];
    }
    case 'Shape':
      if (!x?.dims) return [null];
      return [
        {
          dims: [x.dims.length],
          elemType: INT64,
          values: x.dims.every((d) => d !== null) ? (x.dims as number[]) : undefined,
        },
      ];
    case 'ConstantOfShape': {
      const shape = k(0)?.values;
      const t = attr(n, 'value')?.t;
      return shape ? [{ dims: shape, elemType: t?.data_type ?? FLOAT }] : [null];
    }
    case 'Expand': {
      const shape = k(1)?.values;
      if (!shape || shape.some((d) => d < 0)) return [null];
      return same(broadcast([x?.dims ?? [], shape]));
    }
    case 'Tile': {
      const reps = k(1)?.values;
      if (!x?.dims || !reps || reps.length !== x.dims.length) return [null];
      return same(x.dims.map((d, i) => (d === null ? null : d * reps[i])));
    }
    case 'Reshape': {
      const shape = k(1)?.values;
      if (!shape) return [null];
      const total =
        x?.dims && x.dims.every((d) => d !== null) ? (x.dims as number[]).reduce((a, b) => a * b, 1) : null;
      const dims: (number | null)[] = shape.map((d, i) => (d === 0 ? (x?.dims?.[i] ?? null) : d));
      const rest = dims.filter((d) => d !== -1 && d !== null).reduce((a: number, b) => a * (b as number), 1);
      return same(dims.map((d) => (d === -1 ? (total !== null && rest > 0 ? total / rest : null) : d)));
    }
    case 'Range': {
      const [s, l, d] = [k(0)?.values?.[0], k(1)?.values?.[0], k(2)?.values?.[0]];
      if (s === undefined || l === undefined || d === undefined || d === 0) return [null];
      return same([Math.max(0, Math.ceil((l - s) / d))]);
    }
    case 'Where':
      return [
        {
          dims: broadcast([k(0)?.dims ?? [], k(1)?.dims ?? [], k(2)?.dims ?? []]),
          elemType: k(1)?.elemType ?? 0,
        },
      ];
    case 'MatMul':
    case 'MatMulInteger': {
      const a = x?.dims;
      const b = k(1)?.dims;
      if (!a || !b || a.length < 2 || b.length < 2) return [null];
      const batch = broadcast([a.slice(0, -2), b.slice(0, -2)]);
      const elemType = op === 'MatMulInteger' ? 6 : (x?.elemType ?? 0);
      return [{ dims: [...batch, a[a.length - 2], b[b.length - 1]], elemType }];
    }
    case 'Gemm': {
      const a = x?.dims;
      const b = k(1)?.dims;
      if (!a || !b || a.length !== 2 || b.length !== 2) return [null];
      const m = attrInt(n, 'transA', 0) ? a[1] : a[0];
      const nn = attrInt(n, 'transB', 0) ? b[0] : b[1];
      return same([m, nn]);
    }
    case 'Concat': {
      const parts = n.input.map((_, i) => k(i)?.dims);
      if (parts.some((p) => !p) || parts.length === 0) return [null];
      const rank = parts[0]!.length;
      if (rank === 0) return [null];
      const axis = ((attrInt(n, 'axis', 0) % rank) + rank) % rank;
      const dims = [...parts[0]!];
      dims[axis] = parts.reduce(
        (s: number | null, p) => (s === null || p![axis] === null ? null : s + p![axis]!),
        0,
      );
      // Shapes are often assembled by concatenating small int vectors: keep their values.
      const values = n.input.map((_, i) => k(i)?.values);
      if (rank === 1 && values.every((v) => v)) {
        return [{ dims, elemType: x?.elemType ?? INT64, values: values.flatMap((v) => v!) }];
      }
      return same(dims);
    }
    case 'Transpose': {
      if (!x?.dims) return [null];
      const perm = attr(n, 'perm')?.ints.map(int64ToNumber) ?? x.dims.map((_, i) => x.dims!.length - 1 - i);
      return same(perm.map((p) => x.dims![p] ?? null));
    }
    case 'Loop': {
      // Scan outputs stack one value per iteration: a constant trip count times the body's declared output.
      const trips = k(0)?.values?.[0];
      const body = attr(n, 'body')?.g;
      if (!body) return [];
      const carried = n.input.length - 2;
      return n.output.map((_, i) => {
        const bo = dimsOfType(body.output[i + 1]?.type);
        if (i < carried) return bo;
        if (!bo?.dims || trips === undefined) return null;
        return { dims: [trips, ...bo.dims], elemType: bo.elemType };
      });
    }
    default:
      if (ELEMENTWISE.has(op)) return same(broadcast(n.input.map((_, i) => k(i)?.dims ?? [])));
      if (COMPARISONS.has(op)) return same(broadcast(n.input.map((_, i) => k(i)?.dims ?? [])), BOOL);
      if (SAME_SHAPE.has(op)) {
        const to =
          op === 'Cast' ? attrInt(n, 'to', 0) : op === 'QuantizeLinear' ? (k(2)?.elemType ?? 2) : undefined;
        const elemType = to ?? (op === 'DequantizeLinear' ? FLOAT : (x?.elemType ?? 0));
        return same(x?.dims ?? null, elemType);
      }
      return [];
  }
}

function estimateOf(name: string, source: string, k: Known): TensorEstimate | null {
  if (!k.dims) return null;
  const dims = k.dims.map((d) => (d === null || d < 0 ? 1 : d));
  const elements = dims.reduce((a, b) => a * b, 1);
  return { name, source, dims, elemType: k.elemType, bytes: elements * (ELEM_BYTES[k.elemType] ?? 1) };
}

/** The largest tensor of a model: declared (inputs, outputs, value_info), stored (initializers) or inferred. */
export function largestTensor(m: ModelProto): TensorEstimate | null {
  const known = new Map<string, Known>();
  let best: TensorEstimate | null = null;
  const consider = (name: string, source: string, k: Known | null) => {
    const e = k && estimateOf(name, source, k);
    if (e && (!best || e.bytes > best.bytes)) best = e;
  };
  const walk = (g: GraphProto) => {
    for (const t of g.initializer) {
      const k = tensorKnown(t);
      known.set(t.name, k);
      consider(t.name, 'initializer', k);
    }
    for (const [list, source] of [
      [g.input, 'input'],
      [g.value_info, 'value_info'],
      [g.output, 'output'],
    ] as const) {
      for (const v of list) {
        const k = dimsOfType(v.type);
        if (!k) continue;
        if (!known.has(v.name) || !known.get(v.name)!.dims) known.set(v.name, k);
        consider(v.name, source, k);
      }
    }
    for (const n of g.node) {
      for (const sg of subgraphsOf(n)) walk(sg);
      const outs = infer(n, known);
      n.output.forEach((o, i) => {
        const k = outs[i];
        if (!o || !k) return;
        const declared = known.get(o);
        // A declared shape wins where it is complete; inference fills in what the declaration leaves open.
        if (!declared?.dims || declared.dims.some((d) => d === null)) known.set(o, k);
        consider(o, n.op_type, k);
      });
    }
  };
  if (m.graph) walk(m.graph);
  return best;
}

function formatBytes(b: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) {
    b /= 1024;
    i++;
  }
  return i === 0 ? `${b} bytes` : `${b < 10 ? b.toFixed(1) : Math.round(b)} ${units[i]}`;
}

/**
 * Refuses a model whose largest declared or inferred tensor alone exceeds `limitBytes` (the executors' memory
 * limit per run): INVALID_MODEL naming the tensor, its shape and the estimate.
 */
export function checkTensorSizes(m: ModelProto, limitBytes: number, what: string): void {
  const e = largestTensor(m);
  if (!e || e.bytes <= limitBytes) return;
  const dtype = dtypeFromCode(e.elemType) ?? `onnx type ${e.elemType}`;
  const from = ['input', 'output', 'value_info', 'initializer'].includes(e.source)
    ? `declared as ${e.source}`
    : `output of ${e.source}`;
  throw new OptinferError(
    'INVALID_MODEL',
    `${what}: tensor '${e.name}' (${from}) would take ${formatBytes(e.bytes)} (${dtype} [${e.dims.join(', ')}]); expected at most the ${formatBytes(limitBytes)} a run may use`,
    { tensor: e.name, estimateBytes: e.bytes, limitBytes },
  );
}
