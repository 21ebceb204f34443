// A model's shape record and the one-step cost model, mirrored from programs/optinfer/src/pure/shapes.rs (drift test: shapes.test.ts).
import {
  OP,
  isTolerantOp,
  REF_KIND,
  decodeStoredHeader,
  encodeStoredHeader,
  refIndex,
  refKind,
  STORED_HEADER_BYTES,
  type ModelMode,
  type TensorHeader,
} from './optable.ts';

/** Cost-model constants: byte for byte those of pure/shapes.rs (shapes.test.ts reads them from source). */
export const SHAPE_COST = {
  CU_BUDGET: 1_200_000,
  HEAP_BUDGET: 24 * 1024,
  MAX_STEP_BYTES: 512 * 1024,
  CU_BASE: 40_000,
  CU_WHOLE_CHUNK: 700,
  CU_SPARSE_CHUNK: 400,
  CU_PROOF_NODE: 200,
  CU_PREFIX_STEP: 250,
  CU_INPUT_ENTRY: 300,
  CU_ELEMENT: 1_500,
  CU_MAC: 60,
  CU_SCAN: 120,
  CU_CONV_MAC: 80,
  CU_DOT_TERM: 160,
  CU_TRANSCEND: 3_000,
  HEAP_SPARSE: 40 * 32 + 64,
  HEAP_PIECE: 24,
  HEAP_WEIGHT: 24 * 32 + 64,
  MAX_INPUT_NAME: 64,
  PROOF_WRITE_BYTES: 900,
  SLOTS_PER_TX: 4,
  GAME_TXS: 4,
} as const;

const CHUNK = 256;
const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9 } as const;
const MAX_RANK = 6;
const SIZE: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
};

/** The registered shapes of a model: graph inputs in name order, weights (with chunk roots), layer outputs. */
export interface ShapeRecord {
  inputs: TensorHeader[];
  weights: { header: TensorHeader; chunkRoot: Uint8Array }[];
  layers: TensorHeader[];
}

/** The record's bytes as write_model_shapes stores them (packed headers, weight chunk roots after theirs). */
export function encodeShapeRecord(r: ShapeRecord): Buffer {
  return Buffer.concat([
    ...r.inputs.map(encodeStoredHeader),
    ...r.weights.flatMap((w) => [encodeStoredHeader(w.header), Buffer.from(w.chunkRoot)]),
    ...r.layers.map(encodeStoredHeader),
  ]);
}
export const shapeRecordBytes = (inputs: number, weights: number, layers: number) =>
  (inputs + layers) * STORED_HEADER_BYTES + weights * (STORED_HEADER_BYTES + 32);

/** The inverse of encodeShapeRecord, given the counts the model account holds; undefined when `b` is not whole. */
export function decodeShapeRecord(
  b: Uint8Array,
  inputs: number,
  weights: number,
  layers: number,
): ShapeRecord | undefined {
  if (b.length !== shapeRecordBytes(inputs, weights, layers)) return undefined;
  let at = 0;
  const header = () => {
    const h = decodeStoredHeader(b.subarray(at, at + STORED_HEADER_BYTES));
    at += STORED_HEADER_BYTES;
    return { dtype: h.dtype, dims: h.dims };
  };
  const r: ShapeRecord = { inputs: [], weights: [], layers: [] };
  for (let i = 0; i < inputs; i++) r.inputs.push(header());
  for (let i = 0; i < weights; i++) {
    const h = header();
    r.weights.push({ header: h, chunkRoot: b.slice(at, at + 32) });
    at += 32;
  }
  for (let i = 0; i < layers; i++) r.layers.push(header());
  return r;
}

/** What the one-step of a layer's worst-case chunk needs (pure/shapes.rs StepPlan). */
export interface StepPlan {
  bytes: number;
  fixedCu: number;
  elementCu: number;
  elements: number;
  /** Output elements per one_step slice: the `maxElements` to submit. */
  slice: number;
  heap: number;
  /** The challenger's sequential transactions in a game ending in this one-step (pure/shapes.rs challenger_txs). */
  txs: number;
}
export type LayerCheck = { ok: true; plan: StepPlan } | { ok: false; reason: string };

const numel = (h: TensorHeader) => h.dims.reduce((a, b) => a * b, 1);
const sameHeader = (a: TensorHeader, b: TensorHeader) =>
  a.dtype === b.dtype && a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
/** Ops whose output element i reads element i of every same-size input: the one-step opens those sparsely (dispute/step-data.ts). */
export const ELEMENTWISE_OPS: ReadonlySet<number> = new Set<number>([
  OP.Identity,
  OP.Reshape,
  OP.Flatten,
  OP.Relu,
  OP.Add,
  OP.Sub,
  OP.Mul,
  OP.Clip,
  OP.QuantizeLinear,
  OP.DequantizeLinear,
  OP.Cast,
  OP.Squeeze,
  OP.Unsqueeze,
  OP.Equal,
  OP.Not,
  OP.Where,
  OP.Neg,
  OP.Abs,
  OP.Less,
  OP.Greater,
  OP.LessOrEqual,
  OP.GreaterOrEqual,
  OP.Div,
  OP.Sqrt,
  OP.Exp,
  OP.Log,
  OP.Tanh,
  OP.Sigmoid,
  OP.Pow,
]);

function broadcast(a: readonly number[], b: readonly number[]): number[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = i + a.length >= r ? a[i + a.length - r] : 1;
    const db = i + b.length >= r ? b[i + b.length - r] : 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else return undefined;
  }
  return out;
}

/** pure/ops.rs infer on headers alone: the output header, or undefined when the op cannot take them. */
export function inferHeader(op: number, attrs: Uint8Array, hs: TensorHeader[]): TensorHeader | undefined {
  const a = hs[0];
  const attr = Buffer.from(attrs);
  const scalar = (h: TensorHeader) => numel(h) === 1;
  switch (op) {
    case OP.Identity:
      return a;
    case OP.Reshape: {
      const dims = Array.from({ length: attr[0] }, (_, i) => attr.readUInt32LE(1 + 4 * i));
      return numel({ dtype: 0, dims }) === numel(a) ? { dtype: a.dtype, dims } : undefined;
    }
    case OP.Flatten: {
      const axis = attr[0];
      if (axis > a.dims.length) return undefined;
      return {
        dtype: a.dtype,
        dims: [
          numel({ dtype: 0, dims: a.dims.slice(0, axis) }),
          numel({ dtype: 0, dims: a.dims.slice(axis) }),
        ],
      };
    }
    case OP.Transpose:
      return attr[0] === a.dims.length
        ? { dtype: a.dtype, dims: a.dims.map((_, i) => a.dims[attr[1 + i]]) }
        : undefined;
    case OP.Relu:
      return [DT.FLOAT, DT.INT32, DT.INT8].includes(a.dtype as 1) ? a : undefined;
    case OP.Clip:
      return [DT.FLOAT, DT.INT32, DT.INT8, DT.UINT8].includes(a.dtype as 1) ? a : undefined;
    case OP.Add:
    case OP.Sub:
    case OP.Mul: {
      const b = hs[1];
      if (a.dtype !== b.dtype || (a.dtype !== DT.INT32 && a.dtype !== DT.FLOAT)) return undefined;
      const dims = broadcast(a.dims, b.dims);
      return dims && { dtype: a.dtype, dims };
    }
    case OP.MatMulInteger: {
      const b = hs[1];
      if (a.dtype !== attr[0] || b.dtype !== attr[1] || a.dims.length !== 2 || b.dims.length !== 2)
        return undefined;
      if (a.dims[1] !== b.dims[0]) return undefined;
      // A per-tensor zero point, or for b one per column ([N]); onnxruntime refuses per-row ones for a.
      const perColumn = (z: TensorHeader, i: number) =>
        i === 1 && z.dims.length === 1 && z.dims[0] === b.dims[1];
      if (hs.slice(2).some((z, i) => !(scalar(z) || perColumn(z, i)) || z.dtype !== hs[i].dtype))
        return undefined;
      return { dtype: DT.INT32, dims: [a.dims[0], b.dims[1]] };
    }
    case OP.QuantizeLinear: {
      const s = hs[1];
      if (a.dtype !== DT.FLOAT || s.dtype !== DT.FLOAT || !scalar(s)) return undefined;
      const out = hs[2] ? (scalar(hs[2]) ? hs[2].dtype : undefined) : DT.UINT8;
      return out === DT.UINT8 || out === DT.INT8 ? { dtype: out, dims: a.dims } : undefined;
    }
    case OP.DequantizeLinear: {
      const s = hs[1];
      if (![DT.INT8, DT.UINT8, DT.INT32].includes(a.dtype as 3) || s.dtype !== DT.FLOAT || !scalar(s))
        return undefined;
      if (hs[2] && (!scalar(hs[2]) || hs[2].dtype !== a.dtype)) return undefined;
      return { dtype: DT.FLOAT, dims: a.dims };
    }
    case OP.Cast:
      return [DT.FLOAT, DT.INT32, DT.INT8, DT.UINT8].includes(a.dtype as 1)
        ? { dtype: attr[0], dims: a.dims }
        : undefined;
    case OP.Concat: {
      const axis = attr[0];
      if (axis >= a.dims.length) return undefined;
      let total = 0;
      for (const b of hs) {
        if (b.dtype !== a.dtype || b.dims.length !== a.dims.length) return undefined;
        if (b.dims.some((d, i) => i !== axis && d !== a.dims[i])) return undefined;
        total += b.dims[axis];
      }
      return total > 0xffffffff
        ? undefined
        : { dtype: a.dtype, dims: a.dims.map((d, i) => (i === axis ? total : d)) };
    }
    case OP.Gather: {
      const idx = hs[1];
      const axis = attr[0];
      if (axis >= a.dims.length || a.dims.length + idx.dims.length - 1 > MAX_RANK) return undefined;
      if (idx.dtype !== DT.INT32 && idx.dtype !== DT.INT64) return undefined;
      return { dtype: a.dtype, dims: [...a.dims.slice(0, axis), ...idx.dims, ...a.dims.slice(axis + 1)] };
    }
    case OP.Slice: {
      const axes = sliceAxes(attr);
      if (!axes || axes.some((x) => x.axis >= a.dims.length)) return undefined;
      const dims = [...a.dims];
      for (const x of axes) dims[x.axis] = sliceRange(dims[x.axis], x.start, x.end, x.step).count;
      return { dtype: a.dtype, dims };
    }
    case OP.ConstantOfShape:
      // Its dims are the operand's values: checkLayer takes the registered ones.
      return undefined;
    case OP.Pad: {
      const axes = padAxes(attr);
      if (!axes || ![DT.FLOAT, DT.INT32, DT.INT64, DT.INT8, DT.UINT8, DT.BOOL].includes(a.dtype as 1))
        return undefined;
      const dims = [...a.dims];
      for (const { axis, begin, end } of axes) {
        if (axis >= a.dims.length) return undefined;
        const d = a.dims[axis];
        const m = d + begin + end;
        if (attr[0] === PAD_MODE.reflect && (begin >= d || end >= d)) return undefined;
        if (attr[0] === PAD_MODE.edge && d === 0 && m > 0) return undefined;
        if (m < 0 || m > 0xffffffff) return undefined;
        dims[axis] = m;
      }
      return { dtype: a.dtype, dims };
    }
    case OP.Squeeze: {
      const mask = attr[0];
      if (mask >> a.dims.length !== 0) return undefined;
      if (a.dims.some((d, i) => mask & (1 << i) && d !== 1)) return undefined;
      return { dtype: a.dtype, dims: a.dims.filter((_, i) => !(mask & (1 << i))) };
    }
    case OP.Unsqueeze: {
      const mask = attr[0];
      const r = a.dims.length + popcount(mask);
      if (r > MAX_RANK || mask >> r !== 0) return undefined;
      let k = 0;
      return {
        dtype: a.dtype,
        dims: Array.from({ length: r }, (_, i) => (mask & (1 << i) ? 1 : a.dims[k++])),
      };
    }
    case OP.Shape:
      return attr[0] <= attr[1] && attr[1] <= a.dims.length
        ? { dtype: DT.INT64, dims: [attr[1] - attr[0]] }
        : undefined;
    case OP.Equal: {
      const b = hs[1];
      if (a.dtype !== b.dtype) return undefined;
      if (![DT.FLOAT, DT.INT32, DT.INT64, DT.INT8, DT.UINT8, DT.BOOL].includes(a.dtype as 1))
        return undefined;
      const dims = broadcast(a.dims, b.dims);
      return dims && { dtype: DT.BOOL, dims };
    }
    case OP.Not:
      return a.dtype === DT.BOOL ? a : undefined;
    // Issue 15's elementwise arithmetic (pure/ops.rs infer_arith): int32 is Add's integer dtype.
    case OP.Neg:
    case OP.Abs:
      return a.dtype === DT.FLOAT || a.dtype === DT.INT32 ? a : undefined;
    case OP.Sqrt:
    case OP.Exp:
    case OP.Log:
    case OP.Tanh:
    case OP.Sigmoid:
      return a.dtype === DT.FLOAT ? a : undefined;
    // Tolerant MatMul (pure/ops.rs infer): rank-2 float32, at most 2^20 terms per element.
    case OP.MatMul: {
      const b = hs[1];
      const ok = a.dtype === DT.FLOAT && b.dtype === DT.FLOAT && a.dims.length === 2 && b.dims.length === 2;
      if (!ok || a.dims[1] !== b.dims[0] || a.dims[1] > 1 << 20) return undefined;
      return { dtype: DT.FLOAT, dims: [a.dims[0], b.dims[1]] };
    }
    // pure/ops.rs conv_geometry: 1-D (rank 3) or 2-D (rank 4), x uint8, w attrs[0], scalar zero points.
    case OP.ConvInteger: {
      const w = hs[1];
      const r = a.dims.length;
      if (a.dtype !== DT.UINT8 || w.dtype !== attrs[0] || w.dims.length !== r || (r !== 3 && r !== 4))
        return undefined;
      if (hs.slice(2).some((z, i) => !scalar(z) || z.dtype !== hs[i].dtype)) return undefined;
      const two = r === 4;
      if (!two && (attrs[1] !== 1 || attrs[3] !== 1 || attrs[5] !== 0 || attrs[7] !== 0)) return undefined;
      const group = attrs[9] | (attrs[10] << 8);
      const [c, m, cg] = [a.dims[1], w.dims[0], w.dims[1]];
      if (!group || c % group !== 0 || m % group !== 0 || c / group !== cg) return undefined;
      const len = (n: number, p0: number, p1: number, k: number, d: number, s: number) => {
        const span = d * (k - 1) + 1;
        return k < 1 || n + p0 + p1 < span ? undefined : Math.floor((n + p0 + p1 - span) / s) + 1;
      };
      const oh = two ? len(a.dims[2], attrs[5], attrs[7], w.dims[2], attrs[3], attrs[1]) : 1;
      const ow = len(a.dims[r - 1], attrs[6], attrs[8], w.dims[r - 1], attrs[4], attrs[2]);
      if (oh === undefined || ow === undefined) return undefined;
      return { dtype: DT.INT32, dims: two ? [a.dims[0], m, oh, ow] : [a.dims[0], m, ow] };
    }
    // DynamicQuantizeLinear's output attrs[0]: 0 y (uint8, x's dims), 1 the scale (float []), 2 the zero point (uint8 []).
    case OP.DynamicQuantizeLinear:
      if (a.dtype !== DT.FLOAT || attrs[0] > 2) return undefined;
      return attrs[0] === 0
        ? { dtype: DT.UINT8, dims: a.dims }
        : { dtype: attrs[0] === 1 ? DT.FLOAT : DT.UINT8, dims: [] };
    // Pow by a constant 2 or 3 (attrs[0]): onnxruntime's square and cube, float or int32.
    case OP.Pow:
      return (attrs[0] === 2 || attrs[0] === 3) && (a.dtype === DT.FLOAT || a.dtype === DT.INT32)
        ? a
        : undefined;
    case OP.Less:
    case OP.Greater:
    case OP.LessOrEqual:
    case OP.GreaterOrEqual:
    case OP.Div: {
      const b = hs[1];
      const dtypes: number[] =
        op === OP.Div ? [DT.FLOAT, DT.INT32] : [DT.FLOAT, DT.INT32, DT.INT64, DT.INT8, DT.UINT8];
      if (a.dtype !== b.dtype || !dtypes.includes(a.dtype)) return undefined;
      const dims = broadcast(a.dims, b.dims);
      return dims && { dtype: op === OP.Div ? a.dtype : DT.BOOL, dims };
    }
    case OP.Where: {
      const [x, y] = [hs[1], hs[2]];
      if (a.dtype !== DT.BOOL || x.dtype !== y.dtype) return undefined;
      if (![DT.FLOAT, DT.INT32, DT.INT64, DT.UINT8, DT.BOOL].includes(x.dtype as 1)) return undefined;
      const ax = broadcast(a.dims, x.dims);
      const dims = ax && broadcast(ax, y.dims);
      return dims && { dtype: x.dtype, dims };
    }
  }
  return undefined;
}

const popcount = (m: number) => m.toString(2).replace(/0/g, '').length;

/** pure/ops.rs SLICE_AXES: attrs[0] below 6 is one axis (i32 start, end, step); 0x40 | mask is one or two axes (i16 each). */
export const SLICE_AXES = 0x40;
/** pure/ops.rs PAD_*: Pad's modes (attrs[0]). */
export const PAD_MODE = { constant: 0, reflect: 1, edge: 2 } as const;

export interface SliceAxis {
  axis: number;
  start: number;
  end: number;
  step: number;
}

/** pure/ops.rs slice_axes: the sliced axes of a Slice entry's attrs, undefined when malformed. */
export function sliceAxes(attrs: Uint8Array): SliceAxis[] | undefined {
  const b = Buffer.from(attrs);
  if (b[0] < MAX_RANK)
    return [{ axis: b[0], start: b.readInt32LE(1), end: b.readInt32LE(5), step: b.readInt32LE(9) }];
  const mask = b[0] ^ SLICE_AXES;
  if (mask >> MAX_RANK !== 0 || popcount(mask) < 1 || popcount(mask) > 2) return undefined;
  const out: SliceAxis[] = [];
  for (let axis = 0; axis < MAX_RANK; axis++) {
    if (!(mask & (1 << axis))) continue;
    const at = 1 + 6 * out.length;
    out.push({ axis, start: b.readInt16LE(at), end: b.readInt16LE(at + 2), step: b.readInt16LE(at + 4) });
  }
  return out;
}

/** Encodes Slice attrs: one axis in the wide form, two (or one with i16 bounds) in the SLICE_AXES form. */
export function encodeSliceAttrs(axes: SliceAxis[], wide = axes.length === 1): Buffer {
  const b = Buffer.alloc(14);
  if (wide) {
    const [x] = axes;
    b[0] = x.axis;
    b.writeInt32LE(x.start, 1);
    b.writeInt32LE(x.end, 5);
    b.writeInt32LE(x.step, 9);
    return b;
  }
  const sorted = [...axes].sort((p, q) => p.axis - q.axis);
  b[0] = SLICE_AXES | sorted.reduce((m, x) => m | (1 << x.axis), 0);
  sorted.forEach((x, k) => {
    b.writeInt16LE(x.start, 1 + 6 * k);
    b.writeInt16LE(x.end, 3 + 6 * k);
    b.writeInt16LE(x.step, 5 + 6 * k);
  });
  return b;
}

export interface PadAxis {
  axis: number;
  begin: number;
  end: number;
}

/** pure/ops.rs pad_axes: the padded axes of a Pad entry's attrs, undefined when malformed. */
export function padAxes(attrs: Uint8Array): PadAxis[] | undefined {
  const b = Buffer.from(attrs);
  if (b[0] > PAD_MODE.edge) return undefined;
  const out: PadAxis[] = [];
  for (const [k, axis] of [b[5] & 0xf, b[5] >> 4].entries()) {
    if (axis === 0xf) continue;
    if (axis >= MAX_RANK || (out.length === 1 && axis <= out[0].axis) || (k === 1 && out.length === 0))
      return undefined;
    out.push({ axis, begin: b.readInt16LE(6 + 4 * k), end: b.readInt16LE(8 + 4 * k) });
  }
  return out;
}

/** Encodes Pad attrs: mode, the constant's i32 bits, up to two padded axes with i16 pads. */
export function encodePadAttrs(mode: number, valueBits: number, axes: PadAxis[]): Buffer {
  const b = Buffer.alloc(14);
  b[0] = mode;
  b.writeInt32LE(valueBits | 0, 1);
  const sorted = [...axes].sort((p, q) => p.axis - q.axis);
  b[5] = (sorted[0]?.axis ?? 0xf) | ((sorted[1]?.axis ?? 0xf) << 4);
  sorted.forEach((x, k) => {
    b.writeInt16LE(x.begin, 6 + 4 * k);
    b.writeInt16LE(x.end, 8 + 4 * k);
  });
  return b;
}

/** pure/ops.rs slice_range: Slice of an axis of length `d`, with ONNX's clamping. */
export function sliceRange(
  d: number,
  s: number,
  t: number,
  step: number,
): { start: number; step: number; count: number } {
  if (d === 0) return { start: 0, step, count: 0 };
  if (s < 0) s += d;
  if (t < 0) t += d;
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let count = 0;
  if (step > 0) {
    s = clamp(s, 0, d);
    t = clamp(t, 0, d);
    count = t > s ? Math.ceil((t - s) / step) : 0;
  } else if (step < 0) {
    s = clamp(s, 0, d - 1);
    t = clamp(t, -1, d - 1);
    count = s > t ? Math.ceil((s - t) / -step) : 0;
  }
  return { start: s, step, count };
}

const depthFor = (n: number) => (n <= 1 ? 0 : Math.ceil(Math.log2(n)));
const chunkCount = (bytes: number) => (bytes === 0 ? 1 : Math.ceil(bytes / CHUNK));

/** pure/shapes.rs check_layer: whether registration accepts layer `layer` (entry op/refs/attrs) and its plan. */
export function checkLayer(
  e: { op: number; refs: readonly number[]; attrs?: Uint8Array },
  r: ShapeRecord,
  layer: number,
): LayerCheck {
  const C = SHAPE_COST;
  const hs = e.refs.map((ref) => {
    const k = refKind(ref),
      i = refIndex(ref);
    return k === REF_KIND.LAYER ? r.layers[i] : k === REF_KIND.INPUT ? r.inputs[i] : r.weights[i]?.header;
  });
  const out = r.layers[layer];
  if (!out || hs.some((h) => !h || h.dims.length > 6 || !SIZE[h.dtype]))
    return { ok: false, reason: 'shape record does not parse' };
  const zps =
    e.op === OP.MatMulInteger
      ? hs.slice(2, 3) // b's may be per column: inferHeader checks it is [N]
      : e.op === OP.ConvInteger
        ? hs.slice(2)
        : e.op === OP.QuantizeLinear || e.op === OP.DequantizeLinear
          ? hs.slice(2)
          : [];
  if (zps.some((h) => numel(h!) !== 1)) {
    return { ok: false, reason: 'zero point is not per-tensor (per-row/column zero points are refused)' };
  }
  const attrs = e.attrs ?? new Uint8Array(14);
  // ConstantOfShape's dims are data: the registered ones, if its shape operand has their rank (pure/shapes.rs).
  const inferred =
    e.op === OP.ConstantOfShape
      ? hs[0]!.dtype === DT.INT64 && hs[0]!.dims.length === 1 && hs[0]!.dims[0] === out.dims.length
        ? out.dtype === attrs[0]
          ? out
          : undefined
        : undefined
      : inferHeader(e.op, attrs, hs as TensorHeader[]);
  if (!inferred) return { ok: false, reason: 'op cannot take its registered operand shapes' };
  if (!sameHeader(inferred, out)) return { ok: false, reason: 'output differs from the registered shape' };
  const osz = SIZE[out.dtype];
  const total = numel(out);
  const elements = Math.min(CHUNK / osz, total);
  const p: StepPlan = { bytes: 0, fixedCu: C.CU_BASE, elementCu: 0, elements, slice: 0, heap: 0, txs: 0 };
  e.refs.forEach((ref, i) => {
    const h = hs[i]!;
    const isz = SIZE[h.dtype];
    const len = numel(h) * isz;
    const chunks = chunkCount(len);
    const k = refKind(ref);
    if (k === REF_KIND.LAYER) {
      const steps = layer - refIndex(ref);
      p.bytes += 32 + 4 + 32 * steps;
      p.fixedCu += C.CU_PREFIX_STEP * steps;
    } else if (k === REF_KIND.INPUT) {
      p.bytes += 4 + r.inputs.length * (2 + C.MAX_INPUT_NAME + 32);
      p.fixedCu += C.CU_INPUT_ENTRY * r.inputs.length;
    } else {
      p.bytes += 1 + 32 * 24 + 32;
      p.fixedCu += C.CU_PROOF_NODE * 24;
      p.heap += C.HEAP_WEIGHT;
    }
    const hdr = 2 + 8 * h.dims.length;
    if (ELEMENTWISE_OPS.has(e.op) && numel(h) === total && len > CHUNK) {
      const n = Math.min(Math.ceil((elements * isz) / CHUNK) + 1, chunks);
      const depth = depthFor(chunks);
      p.bytes += 1 + hdr + 32 + 2 + n * (4 + 1 + 32 * depth + CHUNK);
      p.fixedCu += n * (C.CU_SPARSE_CHUNK + C.CU_PROOF_NODE * depth);
      p.heap += C.HEAP_SPARSE + C.HEAP_PIECE * n;
    } else {
      p.bytes += 1 + hdr + 4 + len;
      p.fixedCu += C.CU_WHOLE_CHUNK * chunks;
    }
  });
  // DynamicQuantizeLinear scans its whole input for the range once per slice.
  if (e.op === OP.DynamicQuantizeLinear) p.fixedCu += C.CU_SCAN * numel(hs[0]!);
  p.elementCu =
    C.CU_ELEMENT +
    (e.op === OP.MatMulInteger
      ? C.CU_MAC * hs[0]!.dims[1]
      : e.op === OP.ConvInteger
        ? C.CU_CONV_MAC * (numel(hs[1]!) / Math.max(1, hs[1]!.dims[0]))
        : e.op >= OP.Exp && e.op <= OP.Sigmoid
          ? C.CU_TRANSCEND
          : e.op === OP.MatMul
            ? C.CU_DOT_TERM * hs[0]!.dims[1]
            : 0);
  if (isTolerantOp(e.op)) {
    // One element judged, the first where the sides' chunks differ; both chunks ride in the buffer.
    p.elements = 1;
    p.bytes += 2 * CHUNK;
    p.fixedCu += 2 * C.CU_WHOLE_CHUNK;
  }
  if (p.bytes > C.MAX_STEP_BYTES) return { ok: false, reason: 'one-step proof data passes the buffer limit' };
  if (p.heap > C.HEAP_BUDGET) return { ok: false, reason: 'one-step openings pass the heap limit' };
  if (p.fixedCu + p.elementCu > C.CU_BUDGET) {
    return { ok: false, reason: 'one-step does not fit the compute limit even in one-element slices' };
  }
  p.slice = Math.max(1, Math.min(p.elements, Math.floor((C.CU_BUDGET - p.fixedCu) / p.elementCu)));
  p.txs = challengerTxs(p, r.layers.length, chunkCount(total * osz));
  return { ok: true, plan: p };
}

/** pure/shapes.rs challenger_txs: its moves, the proof buffer's creation and writes, and the slices. */
export function challengerTxs(p: StepPlan, layers: number, chunks: number): number {
  const C = SHAPE_COST;
  const moves = C.GAME_TXS + depthFor(layers) + depthFor(chunks);
  return moves + 1 + Math.ceil(p.bytes / C.PROOF_WRITE_BYTES) + Math.ceil(p.elements / Math.max(1, p.slice));
}

/** Clock slots a game ending in `p`'s one-step needs: what add_model_ops compares with clock_slots. */
export const clockNeeded = (p: StepPlan): number => p.txs * SHAPE_COST.SLOTS_PER_TX;

/**
 * Every layer's check; `refusals` names each layer the program would refuse, and why. With
 * `clockSlots` (the program's dispute clock) a layer whose game needs more is refused as
 * add_model_ops refuses it; `clockFloor` is the least clock every accepted layer's game needs.
 */
export function checkModel(
  layers: readonly { op: number; refs: readonly number[]; attrs?: Uint8Array }[],
  r: ShapeRecord,
  o: { clockSlots?: bigint | number; mode?: ModelMode } = {},
): { provable: boolean; refusals: string[]; plans: (StepPlan | undefined)[]; clockFloor: number } {
  const refusals: string[] = [];
  let clockFloor = 0;
  const plans = layers.map((l, i) => {
    // add_model_ops: an op judged within a bound only in a model registered in tolerant mode.
    if (isTolerantOp(l.op) && (o.mode ?? 'exact') !== 'tolerant') {
      refusals.push(
        `layer ${i}: op is judged within a bound, not exactly: register the model in tolerant mode`,
      );
      return undefined;
    }
    const c = checkLayer(l, r, i);
    if (!c.ok) {
      refusals.push(`layer ${i}: ${c.reason}`);
      return undefined;
    }
    const need = clockNeeded(c.plan);
    if (o.clockSlots !== undefined && BigInt(need) > BigInt(o.clockSlots)) {
      refusals.push(
        `layer ${i}: one-step does not fit the dispute clock (${c.plan.txs} challenger transactions, ` +
          `${need} slots at ${SHAPE_COST.SLOTS_PER_TX} each; the clock is ${o.clockSlots} slots)`,
      );
      return undefined;
    }
    clockFloor = Math.max(clockFloor, need);
    return c.plan;
  });
  return { provable: refusals.length === 0, refusals, plans, clockFloor };
}
