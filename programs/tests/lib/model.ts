// Test models over state/optable.ts and a JS reference of every one-step op, independent of the Rust code.
import { OP as CODES, REF_KIND, encodeOpEntry, opRef, refIndex, refKind } from '../../../state/optable.ts';
import { PAD_MODE, encodePadAttrs, encodeSliceAttrs, padAxes, sliceAxes } from '../../../state/shapes.ts';
import { DT, dtypeSize, type Tensor } from './protocol.ts';

/** The node's op codes (state/optable.ts) under the Rust constants' names. */
export const OP = {
  IDENTITY: CODES.Identity,
  RESHAPE: CODES.Reshape,
  FLATTEN: CODES.Flatten,
  TRANSPOSE: CODES.Transpose,
  RELU: CODES.Relu,
  ADD: CODES.Add,
  SUB: CODES.Sub,
  MUL: CODES.Mul,
  MATMUL_INTEGER: CODES.MatMulInteger,
  CLIP: CODES.Clip,
  QUANTIZE_LINEAR: CODES.QuantizeLinear,
  DEQUANTIZE_LINEAR: CODES.DequantizeLinear,
  CAST: CODES.Cast,
  CONCAT: CODES.Concat,
  GATHER: CODES.Gather,
  SLICE: CODES.Slice,
  SQUEEZE: CODES.Squeeze,
  UNSQUEEZE: CODES.Unsqueeze,
  SHAPE: CODES.Shape,
  EQUAL: CODES.Equal,
  NOT: CODES.Not,
  WHERE: CODES.Where,
  CONSTANT_OF_SHAPE: CODES.ConstantOfShape,
  PAD: CODES.Pad,
  NEG: CODES.Neg,
  ABS: CODES.Abs,
  LESS: CODES.Less,
  GREATER: CODES.Greater,
  LESS_OR_EQUAL: CODES.LessOrEqual,
  GREATER_OR_EQUAL: CODES.GreaterOrEqual,
  DIV: CODES.Div,
  SQRT: CODES.Sqrt,
  POW: CODES.Pow,
  DYNAMIC_QUANTIZE_LINEAR: CODES.DynamicQuantizeLinear,
  CONV_INTEGER: CODES.ConvInteger,
  EXP: CODES.Exp,
  LOG: CODES.Log,
  TANH: CODES.Tanh,
  SIGMOID: CODES.Sigmoid,
  MATMUL: CODES.MatMul,
} as const;
export const REF = {
  layer: (i: number) => opRef(REF_KIND.LAYER, i),
  input: (i: number) => opRef(REF_KIND.INPUT, i),
  weight: (i: number) => opRef(REF_KIND.WEIGHT, i),
};

export interface Layer {
  op: number;
  refs: number[];
  attrs?: Buffer;
}

/** The node's 24-byte encoding; protocol.ts opEntry is the independent one the tests compare it with. */
export const encodeEntry = (l: Layer): Buffer => encodeOpEntry(l);

const numel = (dims: number[]) => dims.reduce((a, d) => a * d, 1);

export function get(t: Tensor, i: number): number {
  switch (t.dtype) {
    case DT.FLOAT:
      return t.bytes.readFloatLE(4 * i);
    case DT.INT32:
      return t.bytes.readInt32LE(4 * i);
    case DT.INT8:
      return t.bytes.readInt8(i);
    case DT.UINT8:
    case 9:
      return t.bytes.readUInt8(i);
    case 7:
      return Number(t.bytes.readBigInt64LE(8 * i));
  }
  throw new Error(`dtype ${t.dtype}`);
}
export function make(dtype: number, dims: number[], f: (i: number) => number): Tensor {
  const n = numel(dims);
  const bytes = Buffer.alloc(n * dtypeSize(dtype));
  for (let i = 0; i < n; i++) {
    const v = f(i);
    if (dtype === DT.FLOAT) bytes.writeFloatLE(v, 4 * i);
    else if (dtype === DT.INT32) bytes.writeInt32LE(v | 0, 4 * i);
    else if (dtype === DT.INT8) bytes.writeInt8((v << 24) >> 24, i);
    else if (dtype === 7) bytes.writeBigInt64LE(BigInt(Math.trunc(v)), 8 * i);
    else bytes.writeUInt8(v & 0xff, i);
  }
  return { dtype, dims, bytes };
}

function broadcastDims(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[i - (r - a.length)] ?? 1;
    const db = b[i - (r - b.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error('not broadcastable');
    out.push(da === 1 ? db : da);
  }
  return out;
}
function bIndex(out: number[], src: number[], o: number): number {
  let idx = 0,
    stride = 1;
  for (let i = out.length - 1; i >= 0; i--) {
    const c = o % out[i];
    o = Math.floor(o / out[i]);
    const j = i - (out.length - src.length);
    if (j >= 0) {
      if (src[j] !== 1) idx += c * stride;
      stride *= src[j];
    }
  }
  return idx;
}
/** Round half to even on a float64 holding an f32 value. */
function rne(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Row-major strides of `dims`. */
const stridesOf = (dims: number[]) => dims.map((_, i) => numel(dims.slice(i + 1)));
/** A tensor whose element at coordinates c is `src(c)`'s element of `from` (a byte copy): the data-movement ops. */
function moved(from: Tensor[], dims: number[], src: (c: number[]) => [number, number]): Tensor {
  const es = dtypeSize(from[0].dtype);
  const bytes = Buffer.alloc(numel(dims) * es);
  const st = stridesOf(dims);
  for (let o = 0; o < numel(dims); o++) {
    const c = st.map((s, i) => Math.floor(o / s) % dims[i]);
    const [k, at] = src(c);
    from[k].bytes.copy(bytes, o * es, at * es, at * es + es);
  }
  return { dtype: from[0].dtype, dims, bytes };
}
const flatAt = (dims: number[], c: number[]) => c.reduce((acc, x, i) => acc * dims[i] + x, 0);

/** A float32 tensor from the raw bits of each element (NaN payloads kept, unlike writeFloatLE). */
function bitsOp(dims: number[], f: (i: number) => number): Tensor {
  const bytes = Buffer.alloc(numel(dims) * 4);
  for (let i = 0; i < numel(dims); i++) bytes.writeUInt32LE(f(i), 4 * i);
  return { dtype: DT.FLOAT, dims, bytes };
}
const asF32 = (bits: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(bits);
  return b.readFloatLE(0);
};
const f32Bits = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return b.readUInt32LE(0);
};
const isNanBits = (x: number) => (x & 0x7fffffff) >>> 0 > 0x7f800000;
/** x86's default NaN, what divss/sqrtss give for an invalid operation. */
const DEFAULT_NAN = 0xffc00000;
/**
 * divss on float32 bits: the first NaN operand quieted, 0/0 and inf/inf the default NaN, otherwise
 * the double quotient rounded once to float32 (53 >= 2 x 24 + 2 bits: correctly rounded).
 */
function f32Div(a: number, b: number): number {
  if (isNanBits(a)) return (a | 0x400000) >>> 0;
  if (isNanBits(b)) return (b | 0x400000) >>> 0;
  const [x, y] = [asF32(a), asF32(b)];
  if ((x === 0 && y === 0) || (!Number.isFinite(x) && !Number.isFinite(y))) return DEFAULT_NAN;
  return f32Bits(Math.fround(x / y));
}
/** sqrtss on float32 bits: NaN quieted, -0 kept, a negative number the default NaN. */
function f32Sqrt(a: number): number {
  if (isNanBits(a)) return (a | 0x400000) >>> 0;
  const x = asF32(a);
  if (x === 0) return a;
  if (x < 0) return DEFAULT_NAN;
  return f32Bits(Math.fround(Math.sqrt(x)));
}

const NAN_F32 = 0x7fc00000;
/** Every float32 NaN written as the canonical one (the referee's and every trace's rule); other dtypes as they are. */
export function canonicalNaNs(t: Tensor): Tensor {
  if (t.dtype !== DT.FLOAT) return t;
  const bytes = Buffer.from(t.bytes);
  for (let o = 0; o + 4 <= bytes.length; o += 4)
    if (isNanBits(bytes.readUInt32LE(o))) bytes.writeUInt32LE(NAN_F32, o);
  return { ...t, bytes };
}

/** Reference semantics of the referee: onnxruntime's CPU kernels for the supported op set, NaNs canonical. */
export function evalOp(l: Layer, ins: Tensor[]): Tensor {
  return canonicalNaNs(evalOpBits(l, ins));
}

/** onnxruntime's CPU kernels on x86, NaN payloads included (the referee then makes every NaN canonical). */
function evalOpBits(l: Layer, ins: Tensor[]): Tensor {
  const a = ins[0];
  const fr = Math.fround;
  switch (l.op) {
    // Tolerant ops: one honest result (f64 then rounded once); other configurations give others within the bound.
    case OP.EXP:
    case OP.LOG:
    case OP.TANH:
    case OP.SIGMOID: {
      const f = [Math.exp, Math.log, Math.tanh, (x: number) => 1 / (1 + Math.exp(-x))][l.op - OP.EXP];
      return make(DT.FLOAT, a.dims, (i) => fr(f(get(a, i))));
    }
    case OP.MATMUL: {
      const b = ins[1];
      const [m, k] = a.dims;
      const n = b.dims[1];
      return make(DT.FLOAT, [m, n], (o) => {
        const i = Math.floor(o / n),
          j = o % n;
        let acc = 0;
        for (let t = 0; t < k; t++) acc += get(a, i * k + t) * get(b, t * n + j);
        return fr(acc);
      });
    }
    case OP.IDENTITY:
      return { ...a };
    case OP.RESHAPE: {
      const r = l.attrs![0];
      const dims = Array.from({ length: r }, (_, i) => l.attrs!.readUInt32LE(1 + 4 * i));
      return { dtype: a.dtype, dims, bytes: a.bytes };
    }
    case OP.RELU:
      // x < 0 ? 0 : x keeps -0 and NaN, as onnxruntime does.
      return make(a.dtype, a.dims, (i) => (get(a, i) < 0 ? 0 : get(a, i)));
    case OP.ADD:
    case OP.SUB:
    case OP.MUL: {
      const b = ins[1];
      const dims = broadcastDims(a.dims, b.dims);
      if (a.dtype === DT.FLOAT)
        // x86 NaN rules on the bits: a NaN operand quieted (two: Sub a's, Add and Mul b's, as
        // onnxruntime's vectorized body gives), inf - inf and 0 x inf the default NaN.
        return bitsOp(dims, (o) => {
          const [i, j] = [bIndex(dims, a.dims, o), bIndex(dims, b.dims, o)];
          const [u, w] = [a.bytes.readUInt32LE(4 * i), b.bytes.readUInt32LE(4 * j)];
          const [p, q] = l.op === OP.SUB ? [u, w] : [w, u];
          if (isNanBits(p)) return (p | 0x400000) >>> 0;
          if (isNanBits(q)) return (q | 0x400000) >>> 0;
          const [x, y] = [asF32(u), asF32(w)];
          const v = l.op === OP.ADD ? fr(x + y) : l.op === OP.SUB ? fr(x - y) : fr(x * y);
          return Number.isNaN(v) ? DEFAULT_NAN : f32Bits(v);
        });
      return make(a.dtype, dims, (o) => {
        const x = get(a, bIndex(dims, a.dims, o)),
          y = get(b, bIndex(dims, b.dims, o));
        return l.op === OP.ADD ? (x + y) | 0 : l.op === OP.SUB ? (x - y) | 0 : Math.imul(x, y);
      });
    }
    case OP.MATMUL_INTEGER: {
      const b = ins[1];
      const [m, k] = a.dims,
        n = b.dims[1];
      const za = ins[2] ? get(ins[2], 0) : 0;
      // b's zero point: one, or one per column.
      const zbOf = (c: number) => (ins[3] ? get(ins[3], ins[3].dims.length === 1 ? c : 0) : 0);
      return make(DT.INT32, [m, n], (o) => {
        const r = Math.floor(o / n),
          c = o % n;
        const zb = zbOf(c);
        let acc = 0;
        for (let kk = 0; kk < k; kk++)
          acc = (acc + Math.imul(get(a, r * k + kk) - za, get(b, kk * n + c) - zb)) | 0;
        return acc;
      });
    }
    case OP.CAST: {
      const to = l.attrs![0];
      return make(to, a.dims, (i) => {
        const v = get(a, i);
        if (to === DT.FLOAT) return fr(v);
        if (a.dtype !== DT.FLOAT) return v;
        return Number.isNaN(v) || v >= 2 ** 31 || v < -(2 ** 31) ? -(2 ** 31) : Math.trunc(v);
      });
    }
    case OP.CLIP: {
      const flags = l.attrs![0];
      // Absent bounds are the dtype's extremes; for float that is the largest finite value, not infinity.
      const FLT_MAX = 3.4028234663852886e38;
      const lo =
        flags & 1 ? (a.dtype === DT.FLOAT ? l.attrs!.readFloatLE(1) : l.attrs!.readInt32LE(1)) : -FLT_MAX;
      const hi =
        flags & 2 ? (a.dtype === DT.FLOAT ? l.attrs!.readFloatLE(5) : l.attrs!.readInt32LE(5)) : FLT_MAX;
      return make(a.dtype, a.dims, (i) => {
        let v = get(a, i);
        if (v < lo) v = lo;
        if (v > hi) v = hi;
        return v;
      });
    }
    case OP.QUANTIZE_LINEAR: {
      const scale = get(ins[1], 0);
      const out = ins[2] ? ins[2].dtype : DT.UINT8;
      const zp = ins[2] ? get(ins[2], 0) : 0;
      const [qmin, qmax] = out === DT.INT8 ? [-128, 127] : [0, 255];
      return make(out, a.dims, (i) => {
        const v = fr(get(a, i) / scale);
        if (Number.isNaN(v)) return qmin;
        const c = Math.min(Math.max(v, qmin - zp), qmax - zp);
        return rne(c) + zp;
      });
    }
    case OP.CONV_INTEGER: {
      // Direct convolution; a padded x reads as x's zero point, so it adds nothing.
      const w = ins[1];
      const at = l.attrs!;
      const [sh, sw, dh, dw, pt, pl, pb, pr] = [...at.subarray(1, 9)];
      const group = at.readUInt16LE(9);
      const two = a.dims.length === 4;
      const [N, C] = a.dims;
      const H = two ? a.dims[2] : 1;
      const W = a.dims[a.dims.length - 1];
      const [M, CG] = w.dims;
      const KH = two ? w.dims[2] : 1;
      const KW = w.dims[w.dims.length - 1];
      const xzp = ins[2] ? get(ins[2], 0) : 0;
      const wzp = ins[3] ? get(ins[3], 0) : 0;
      const OH = Math.floor((H + pt + pb - (dh * (KH - 1) + 1)) / sh) + 1;
      const OW = Math.floor((W + pl + pr - (dw * (KW - 1) + 1)) / sw) + 1;
      const dims = two ? [N, M, OH, OW] : [N, M, OW];
      return make(DT.INT32, dims, (o) => {
        const ow = o % OW,
          oh = Math.floor(o / OW) % OH,
          m = Math.floor(o / (OW * OH)) % M,
          n = Math.floor(o / (OW * OH * M));
        const c0 = Math.floor(m / (M / group)) * CG;
        let s = 0;
        for (let c = 0; c < CG; c++)
          for (let kh = 0; kh < KH; kh++)
            for (let kw = 0; kw < KW; kw++) {
              const ih = oh * sh - pt + kh * dh,
                iw = ow * sw - pl + kw * dw;
              const xv =
                ih < 0 || ih >= H || iw < 0 || iw >= W ? xzp : get(a, ((n * C + c0 + c) * H + ih) * W + iw);
              s = (s + Math.imul(xv - xzp, get(w, ((m * CG + c) * KH + kh) * KW + kw) - wzp)) | 0;
            }
        return s;
      });
    }
    case OP.DYNAMIC_QUANTIZE_LINEAR: {
      // onnxruntime's GetQuantizationParameter, then QuantizeLinear with the scale and zero point.
      let [mn, mx] = [0, 0];
      for (let i = 0; i < numel(a.dims); i++) {
        const v = get(a, i);
        // Its min/max scan drops or keeps a NaN by its vector lane: refused.
        if (Number.isNaN(v)) throw new Error('DynamicQuantizeLinear of a NaN refused');
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      const scale = mx === mn ? 1 : fr(fr(mx - mn) / 255);
      // std::max(0, std::min(255, izp)): a NaN (-inf / inf) comes out 255.
      const izp = fr(0 - fr(mn / scale));
      const c = izp < 255 ? izp : 255;
      const zp = rne(0 < c ? c : 0);
      const which = l.attrs![0];
      if (which === 1) return make(DT.FLOAT, [], () => scale);
      if (which === 2) return make(DT.UINT8, [], () => zp);
      return make(DT.UINT8, a.dims, (i) => {
        const v = fr(get(a, i) / scale);
        if (Number.isNaN(v)) return 0;
        return rne(Math.min(Math.max(v, -zp), 255 - zp)) + zp;
      });
    }
    case OP.DEQUANTIZE_LINEAR: {
      const scale = get(ins[1], 0);
      const zp = ins[2] ? get(ins[2], 0) : 0;
      // int32 subtraction wraps, then the difference is rounded to f32 before the multiply.
      return make(DT.FLOAT, a.dims, (i) => fr(fr((get(a, i) - zp) | 0) * scale));
    }
    case OP.TRANSPOSE: {
      const r = l.attrs![0];
      const perm = [...l.attrs!.subarray(1, 1 + r)];
      const dims = perm.map((p) => a.dims[p]);
      const es = dtypeSize(a.dtype);
      const bytes = Buffer.alloc(a.bytes.length);
      for (let o = 0; o < numel(dims); o++) {
        let rem = o;
        const c: number[] = new Array(r);
        for (let i = r - 1; i >= 0; i--) {
          c[i] = rem % dims[i];
          rem = Math.floor(rem / dims[i]);
        }
        const ic: number[] = new Array(r);
        for (let i = 0; i < r; i++) ic[perm[i]] = c[i];
        let idx = 0;
        for (let i = 0; i < r; i++) idx = idx * a.dims[i] + ic[i];
        a.bytes.copy(bytes, o * es, idx * es, idx * es + es);
      }
      return { dtype: a.dtype, dims, bytes };
    }
    case OP.SQUEEZE:
    case OP.UNSQUEEZE: {
      const mask = l.attrs![0];
      const bit = (i: number) => (mask >> i) & 1;
      const dims =
        l.op === OP.SQUEEZE
          ? a.dims.filter((_, i) => !bit(i))
          : (() => {
              const out: number[] = [];
              const rest = [...a.dims];
              while (rest.length > 0 || bit(out.length)) out.push(bit(out.length) ? 1 : rest.shift()!);
              return out;
            })();
      return { dtype: a.dtype, dims, bytes: a.bytes };
    }
    case OP.CONCAT: {
      const axis = l.attrs![0];
      const dims = a.dims.map((d, i) => (i === axis ? ins.reduce((s, t) => s + t.dims[axis], 0) : d));
      return moved(ins, dims, (c) => {
        let k = 0,
          x = c[axis];
        while (x >= ins[k].dims[axis]) x -= ins[k++].dims[axis];
        return [
          k,
          flatAt(
            ins[k].dims,
            c.map((v, i) => (i === axis ? x : v)),
          ),
        ];
      });
    }
    case OP.GATHER: {
      const axis = l.attrs![0];
      const idx = ins[1];
      const r = idx.dims.length;
      const dims = [...a.dims.slice(0, axis), ...idx.dims, ...a.dims.slice(axis + 1)];
      return moved([a], dims, (c) => {
        let j = get(idx, flatAt(idx.dims, c.slice(axis, axis + r)));
        if (j < 0) j += a.dims[axis];
        if (j < 0 || j >= a.dims[axis]) throw new Error('gather index out of range');
        return [0, flatAt(a.dims, [...c.slice(0, axis), j, ...c.slice(axis + r)])];
      });
    }
    case OP.SLICE: {
      // numpy-style per sliced axis: the indices start, start+step, ... strictly before end, after ONNX's clamping.
      const picks: (number[] | undefined)[] = a.dims.map(() => undefined);
      for (const { axis, start, end, step } of sliceAxes(l.attrs!)!) {
        const d = a.dims[axis];
        let [s, e] = [start, end];
        if (s < 0) s += d;
        if (e < 0) e += d;
        const p: number[] = [];
        if (step > 0) for (let i = Math.max(s, 0); i < Math.min(e, d); i += step) p.push(i);
        // A negative step's start is clamped into the axis, [0, d - 1], as ONNX specifies.
        else for (let i = Math.min(Math.max(s, 0), d - 1); i > Math.max(e, -1); i += step) p.push(i);
        picks[axis] = p;
      }
      const dims = a.dims.map((x, i) => picks[i]?.length ?? x);
      return moved([a], dims, (c) => [
        0,
        flatAt(
          a.dims,
          c.map((v, i) => picks[i]?.[v] ?? v),
        ),
      ]);
    }
    case OP.CONSTANT_OF_SHAPE: {
      const dims = Array.from({ length: a.dims[0] ?? 0 }, (_, i) => Number(a.bytes.readBigInt64LE(8 * i)));
      const es = dtypeSize(l.attrs![0]);
      if (dims.some((d) => d < 0) || numel(dims) * es > 2 ** 26)
        throw new Error(`ConstantOfShape of dims ${dims}`);
      const bytes = Buffer.alloc(numel(dims) * es);
      for (let o = 0; o < numel(dims); o++) l.attrs!.copy(bytes, o * es, 1, 1 + es);
      return { dtype: l.attrs![0], dims, bytes };
    }
    case OP.PAD: {
      const mode = l.attrs![0];
      const pads = a.dims.map(() => ({ begin: 0, end: 0 }));
      for (const { axis, begin, end } of padAxes(l.attrs!)!) pads[axis] = { begin, end };
      const dims = a.dims.map((d, i) => d + pads[i].begin + pads[i].end);
      const es = dtypeSize(a.dtype);
      const value = Buffer.alloc(8);
      value.writeBigInt64LE(BigInt(l.attrs!.readInt32LE(1)));
      const bytes = Buffer.alloc(numel(dims) * es);
      const st = stridesOf(dims);
      for (let o = 0; o < numel(dims); o++) {
        let inside = true;
        const c = st.map((s, i) => {
          const d = a.dims[i];
          let x = (Math.floor(o / s) % dims[i]) - pads[i].begin;
          if (x >= 0 && x < d) return x;
          if (mode === 0) inside = false;
          // reflect mirrors about the edge element (numpy 'reflect'), edge repeats it.
          else if (mode === 1) x = x < 0 ? -x : 2 * (d - 1) - x;
          else x = Math.min(Math.max(x, 0), d - 1);
          return x;
        });
        if (inside) a.bytes.copy(bytes, o * es, flatAt(a.dims, c) * es, flatAt(a.dims, c) * es + es);
        else value.copy(bytes, o * es, 0, es);
      }
      return { dtype: a.dtype, dims, bytes };
    }
    case OP.SHAPE:
      return make(7, [l.attrs![1] - l.attrs![0]], (i) => a.dims[l.attrs![0] + i]);
    case OP.EQUAL: {
      const b = ins[1];
      const dims = broadcastDims(a.dims, b.dims);
      return make(9, dims, (o) => {
        const x = get(a, bIndex(dims, a.dims, o)),
          y = get(b, bIndex(dims, b.dims, o));
        if (a.dtype === 9) return Number(!!x === !!y);
        if (a.dtype === DT.FLOAT) return Number(x === y);
        // Integers compare as their bytes (int64 past 2^53 too).
        const es = dtypeSize(a.dtype);
        const [i, j] = [bIndex(dims, a.dims, o) * es, bIndex(dims, b.dims, o) * es];
        return Number(a.bytes.subarray(i, i + es).equals(b.bytes.subarray(j, j + es)));
      });
    }
    case OP.NOT:
      return make(9, a.dims, (i) => (get(a, i) ? 0 : 1));
    case OP.WHERE: {
      const [x, y] = [ins[1], ins[2]];
      const dims = broadcastDims(broadcastDims(a.dims, x.dims), y.dims);
      const es = dtypeSize(x.dtype);
      const bytes = Buffer.alloc(numel(dims) * es);
      for (let o = 0; o < numel(dims); o++) {
        const c = get(a, bIndex(dims, a.dims, o)) !== 0;
        const [t, at] = c ? [x, bIndex(dims, x.dims, o)] : [y, bIndex(dims, y.dims, o)];
        t.bytes.copy(bytes, o * es, at * es, at * es + es);
        // onnxruntime merges the masked branches keeping x's pick unless it equals zero: x's -0 comes out +0.
        if (c && x.dtype === DT.FLOAT && bytes.readUInt32LE(o * es) === 0x80000000)
          bytes.writeUInt32LE(0, o * es);
      }
      return { dtype: x.dtype, dims, bytes };
    }
    case OP.NEG:
    case OP.ABS:
    case OP.SQRT:
      if (a.dtype !== DT.FLOAT)
        return make(a.dtype, a.dims, (i) => (l.op === OP.NEG ? -get(a, i) : Math.abs(get(a, i))) | 0);
      return bitsOp(a.dims, (i) => {
        const x = a.bytes.readUInt32LE(4 * i);
        if (l.op === OP.NEG) return (x ^ 0x80000000) >>> 0;
        if (l.op === OP.ABS) return (x & 0x7fffffff) >>> 0;
        return f32Sqrt(x);
      });
    case OP.POW: {
      // Eigen's square and cube as onnxruntime runs them: (x * x) * x, int32 wrapping.
      const n = l.attrs![0];
      if (a.dtype !== DT.FLOAT)
        return make(a.dtype, a.dims, (i) => {
          const x = get(a, i);
          const s = Math.imul(x, x);
          return n === 3 ? Math.imul(s, x) : s;
        });
      const mul = (p: number, q: number) => {
        if (isNanBits(p)) return (p | 0x400000) >>> 0;
        if (isNanBits(q)) return (q | 0x400000) >>> 0;
        const v = fr(asF32(p) * asF32(q));
        return Number.isNaN(v) ? DEFAULT_NAN : f32Bits(v);
      };
      return bitsOp(a.dims, (i) => {
        const x = a.bytes.readUInt32LE(4 * i);
        const s = mul(x, x);
        return n === 3 ? mul(s, x) : s;
      });
    }
    case OP.DIV: {
      const b = ins[1];
      const dims = broadcastDims(a.dims, b.dims);
      const ix = (o: number) => [bIndex(dims, a.dims, o), bIndex(dims, b.dims, o)];
      if (a.dtype === DT.FLOAT)
        return bitsOp(dims, (o) => {
          const [i, j] = ix(o);
          return f32Div(a.bytes.readUInt32LE(4 * i), b.bytes.readUInt32LE(4 * j));
        });
      return make(a.dtype, dims, (o) => {
        const [x, y] = ix(o).map((k, n) => get(n ? b : a, k));
        // onnxruntime fails the run on a zero divisor and dies (SIGFPE) on INT_MIN / -1.
        if (y === 0 || (x === -(2 ** 31) && y === -1)) throw new Error('integer division refused');
        return Math.trunc(x / y);
      });
    }
    case OP.LESS:
    case OP.GREATER:
    case OP.LESS_OR_EQUAL:
    case OP.GREATER_OR_EQUAL: {
      const b = ins[1];
      const dims = broadcastDims(a.dims, b.dims);
      // int64 as BigInt: exact past 2^53. A float NaN compares false, as in IEEE.
      const val = (t: Tensor, k: number): number | bigint =>
        t.dtype === 7 ? t.bytes.readBigInt64LE(8 * k) : get(t, k);
      return make(9, dims, (o) => {
        const x = val(a, bIndex(dims, a.dims, o)),
          y = val(b, bIndex(dims, b.dims, o));
        const r =
          l.op === OP.LESS
            ? x < y
            : l.op === OP.GREATER
              ? x > y
              : l.op === OP.LESS_OR_EQUAL
                ? x <= y
                : x >= y;
        return Number(r);
      });
    }
    case OP.FLATTEN: {
      const axis = l.attrs![0];
      return {
        dtype: a.dtype,
        dims: [numel(a.dims.slice(0, axis)), numel(a.dims.slice(axis))],
        bytes: a.bytes,
      };
    }
  }
  throw new Error(`op ${l.op}`);
}

export interface ModelDef {
  inputs: [string, Tensor][];
  weights: Tensor[];
  layers: Layer[];
  outputName: string;
  /** Registered mode (exact unless said): tolerant models may use the ops judged within a bound. */
  mode?: 'exact' | 'tolerant';
  /** Tolerant mode's declared arithmetic (0 fp32, else input mantissa bits). */
  arithBits?: number;
}

/** Layer outputs of an honest run. */
export function run(m: ModelDef): Tensor[] {
  const outs: Tensor[] = [];
  const sortedInputs = m.inputs.slice().sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])));
  for (const l of m.layers) {
    const ins = l.refs.map((r) => {
      const kind = refKind(r),
        idx = refIndex(r);
      return kind === REF_KIND.LAYER
        ? outs[idx]
        : kind === REF_KIND.INPUT
          ? sortedInputs[idx][1]
          : m.weights[idx];
    });
    outs.push(evalOp(l, ins));
  }
  return outs;
}

/** Deterministic pseudo-random bytes for fixtures. */
export function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** An 8-layer quantized MLP block that exercises the integer and float ops. */
export function mlpModel(seed = 7, rows = 8, k = 32, n = 32): ModelDef {
  const r = prng(seed);
  const x = make(DT.INT8, [rows, k], () => (r() % 256) - 128);
  const w = make(DT.INT8, [k, n], () => (r() % 256) - 128);
  const azp = make(DT.INT8, [], () => 3);
  const bzp = make(DT.INT8, [], () => -2);
  const bias = make(DT.INT32, [n], () => (r() % 20001) - 10000);
  const scale = make(DT.FLOAT, [], () => 0.00390625 * 3);
  const qscale = make(DT.FLOAT, [], () => 0.75);
  const qzp = make(DT.INT8, [], () => 5);
  const attrsCast = Buffer.alloc(14);
  attrsCast[0] = DT.FLOAT;
  const attrsReshape = Buffer.alloc(14);
  attrsReshape[0] = 2;
  attrsReshape.writeUInt32LE(rows * 2, 1);
  attrsReshape.writeUInt32LE(n / 2, 5);
  const attrsMM = Buffer.alloc(14);
  attrsMM[0] = DT.INT8;
  attrsMM[1] = DT.INT8;
  return {
    inputs: [['x', x]],
    weights: [w, azp, bzp, bias, scale, qscale, qzp],
    layers: [
      {
        op: OP.MATMUL_INTEGER,
        refs: [REF.input(0), REF.weight(0), REF.weight(1), REF.weight(2)],
        attrs: attrsMM,
      },
      { op: OP.ADD, refs: [REF.layer(0), REF.weight(3)] },
      { op: OP.RELU, refs: [REF.layer(1)] },
      { op: OP.RESHAPE, refs: [REF.layer(2)], attrs: attrsReshape },
      { op: OP.CAST, refs: [REF.layer(3)], attrs: attrsCast },
      { op: OP.MUL, refs: [REF.layer(4), REF.weight(4)] },
      { op: OP.QUANTIZE_LINEAR, refs: [REF.layer(5), REF.weight(5), REF.weight(6)] },
      { op: OP.DEQUANTIZE_LINEAR, refs: [REF.layer(6), REF.weight(5), REF.weight(6)] },
    ],
    outputName: 'y',
  };
}

/** A chain of `n` int32 Relu/Identity/Add layers, for long traces (CU report). */
export function chainModel(nLayers: number, seed = 3): ModelDef {
  const r = prng(seed);
  const x = make(DT.INT32, [64], () => (r() % 2001) - 1000);
  const one = make(DT.INT32, [1], () => 1);
  const layers: Layer[] = [];
  for (let i = 0; i < nLayers; i++) {
    const prev = i === 0 ? REF.input(0) : REF.layer(i - 1);
    layers.push(
      i % 3 === 0
        ? { op: OP.ADD, refs: [prev, REF.weight(0)] }
        : i % 3 === 1
          ? { op: OP.RELU, refs: [prev] }
          : { op: OP.IDENTITY, refs: [prev] },
    );
  }
  return { inputs: [['x', x]], weights: [one], layers, outputName: 'y' };
}

/** Four elementwise int32 layers over 16 KiB tensors: more than a proof buffer holds whole. */
export function wideModel(n = 4096, seed = 11): ModelDef {
  const r = prng(seed);
  const x = make(DT.INT32, [n], () => (r() % 2001) - 1000);
  const one = make(DT.INT32, [1], () => 1);
  return {
    inputs: [['x', x]],
    weights: [one],
    layers: [
      { op: OP.ADD, refs: [REF.input(0), REF.weight(0)] },
      { op: OP.RELU, refs: [REF.layer(0)] },
      { op: OP.IDENTITY, refs: [REF.layer(1)] },
      { op: OP.SUB, refs: [REF.layer(2), REF.weight(0)] },
    ],
    outputName: 'y',
  };
}

/** x[1,K] x W[K,64] int8 MatMulInteger then Relu: K = 2048 gives 128 KiB of weights. */
export function bigMatmulModel(k = 2048, seed = 5): ModelDef {
  const r = prng(seed);
  const x = make(DT.INT8, [1, k], () => (r() % 256) - 128);
  const w = make(DT.INT8, [k, 64], () => (r() % 256) - 128);
  const mm = Buffer.alloc(14);
  mm[0] = DT.INT8;
  mm[1] = DT.INT8;
  return {
    inputs: [['x', x]],
    weights: [w],
    layers: [
      { op: OP.MATMUL_INTEGER, refs: [REF.input(0), REF.weight(0)], attrs: mm },
      { op: OP.RELU, refs: [REF.layer(0)] },
    ],
    outputName: 'y',
  };
}

/**
 * The data-movement and comparison ops of issue 15 in the shapes Silero VAD's front end uses them:
 * x float [1,512] padded by Concat to [1,1,704], sliced, squeezed; its Shape gathered and compared;
 * a Gather along an axis, Equal with broadcasting, Not and Where.
 */
export function movementModel(seed = 15): ModelDef {
  const r = prng(seed);
  const x = make(DT.FLOAT, [1, 512], () => ((r() % 2001) - 1000) / 64);
  const a = (...bytes: number[]) => {
    const b = Buffer.alloc(14);
    bytes.forEach((v, i) => (b[i] = v));
    return b;
  };
  const slice = Buffer.alloc(14);
  slice[0] = 2;
  slice.writeInt32LE(3, 1);
  slice.writeInt32LE(700, 5);
  slice.writeInt32LE(2, 9);
  return {
    inputs: [['x', x]],
    weights: [
      make(DT.FLOAT, [1, 1, 96], (i) => (i % 7) - 3),
      make(7, [], () => 2),
      make(7, [], () => 704),
      make(7, [300], (i) => ((i * 7) % 349) - 100),
      make(DT.FLOAT, [1, 1], () => 0),
      make(DT.FLOAT, [300], (i) => -i),
    ],
    layers: [
      { op: OP.UNSQUEEZE, refs: [REF.input(0)], attrs: a(0b1) }, // 0: [1,1,512]
      { op: OP.CONCAT, refs: [REF.weight(0), REF.layer(0), REF.weight(0)], attrs: a(2) }, // 1: [1,1,704]
      { op: OP.SLICE, refs: [REF.layer(1)], attrs: slice }, // 2: [1,1,349]
      { op: OP.SQUEEZE, refs: [REF.layer(2)], attrs: a(0b1) }, // 3: [1,349]
      { op: OP.SHAPE, refs: [REF.layer(1)], attrs: a(0, 3) }, // 4: int64 [3]
      { op: OP.GATHER, refs: [REF.layer(4), REF.weight(1)], attrs: a(0) }, // 5: int64 [] = 704
      { op: OP.EQUAL, refs: [REF.layer(5), REF.weight(2)] }, // 6: bool []
      { op: OP.NOT, refs: [REF.layer(6)] }, // 7: bool []
      { op: OP.GATHER, refs: [REF.layer(3), REF.weight(3)], attrs: a(1) }, // 8: [1,300]
      { op: OP.EQUAL, refs: [REF.layer(8), REF.weight(4)] }, // 9: bool [1,300]
      { op: OP.WHERE, refs: [REF.layer(9), REF.layer(8), REF.weight(5)] }, // 10: [1,300]
      { op: OP.WHERE, refs: [REF.layer(7), REF.layer(10), REF.layer(8)] }, // 11: [1,300]
    ],
    outputName: 'y',
  };
}

/**
 * The second round's ops (issue 15) as movement-onnx.test.ts's second graph compiles them: x float
 * [1,512] reflect-padded by 64 each side, constant-padded on two axes with a crop, sliced on two axes
 * with negative steps, edge-padded, and ConstantOfShape over its Shape added to it, scaled by a weight.
 */
export function movementModel2(seed = 16): ModelDef {
  const r = prng(seed);
  const x = make(DT.FLOAT, [1, 512], () => ((r() % 2001) - 1000) / 64);
  const cos = Buffer.alloc(14);
  cos[0] = DT.FLOAT;
  cos.writeFloatLE(0.25, 1);
  const shape = Buffer.alloc(14);
  shape[1] = 2;
  return {
    inputs: [['x', x]],
    weights: [make(DT.FLOAT, [1], () => 0.5)],
    layers: [
      {
        op: OP.PAD,
        refs: [REF.input(0)],
        attrs: encodePadAttrs(PAD_MODE.reflect, 0, [{ axis: 1, begin: 64, end: 64 }]),
      }, // 0: [1,640]
      {
        op: OP.PAD,
        refs: [REF.layer(0)],
        attrs: encodePadAttrs(PAD_MODE.constant, 0xbf000000, [
          { axis: 0, begin: 1, end: 1 },
          { axis: 1, begin: 0, end: -3 },
        ]),
      }, // 1: [3,637]
      {
        op: OP.SLICE,
        refs: [REF.layer(1)],
        attrs: encodeSliceAttrs([
          { axis: 0, start: -1, end: -4, step: -1 },
          { axis: 1, start: 600, end: 2, step: -3 },
        ]),
      }, // 2: [3,200]
      {
        op: OP.PAD,
        refs: [REF.layer(2)],
        attrs: encodePadAttrs(PAD_MODE.edge, 0, [{ axis: 1, begin: 0, end: 2 }]),
      }, // 3: [3,202]
      { op: OP.SHAPE, refs: [REF.layer(3)], attrs: shape }, // 4: int64 [2]
      { op: OP.CONSTANT_OF_SHAPE, refs: [REF.layer(4)], attrs: cos }, // 5: [3,202]
      { op: OP.ADD, refs: [REF.layer(3), REF.layer(5)] }, // 6
      { op: OP.MUL, refs: [REF.layer(6), REF.weight(0)] }, // 7
    ],
    outputName: 'y',
  };
}
