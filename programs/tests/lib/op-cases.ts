// The op differential cases: inputs for every one-step op, with edge values, and the JS reference result.
import { encodeStoredHeader } from '../../../state/optable.ts';
import { DT, type Tensor } from './protocol.ts';
import { OP, REF, encodeEntry, evalOp, make, prng, type Layer } from './model.ts';

export interface OpCase {
  name: string;
  entry: string;
  inputs: { dtype: number; dims: number[]; bytes: string }[];
  chunk: number;
  /** Expected header (dtype, rank, u32 dims x 6) and chunk bytes, hex. */
  header: string;
  out: string;
}

const F32_EDGES = [
  0,
  -0,
  1,
  -1,
  0.5,
  -2.5,
  2.5,
  3.5,
  1e-45,
  -1e-45,
  1.1754942e-38,
  3.4028235e38,
  -3.4028235e38,
  Infinity,
  -Infinity,
  NaN,
  16777217,
  2147483648,
  -2147483904,
  0.1,
  1 / 3,
  255.5,
  -128.5,
  127.49999,
];

function f32(dims: number[], r: () => number, edges = true): Tensor {
  return make(DT.FLOAT, dims, (i) =>
    edges && i < F32_EDGES.length ? F32_EDGES[i] : Math.fround(((r() % 20001) - 10000) / 37),
  );
}
const i32 = (dims: number[], r: () => number) =>
  make(DT.INT32, dims, (i) => (i === 0 ? 2147483647 : i === 1 ? -2147483648 : r() | 0));
const i8 = (dims: number[], r: () => number) => make(DT.INT8, dims, () => (r() % 256) - 128);
const u8 = (dims: number[], r: () => number) => make(DT.UINT8, dims, () => r() % 256);
const scalar = (dtype: number, v: number) => make(dtype, [], () => v);

const attrs = (...bytes: number[]) => {
  const b = Buffer.alloc(14);
  bytes.forEach((v, i) => (b[i] = v));
  return b;
};
const clipAttrs = (dtype: number, lo?: number, hi?: number) => {
  const b = Buffer.alloc(14);
  b[0] = (lo !== undefined ? 1 : 0) | (hi !== undefined ? 2 : 0);
  const put = (v: number, at: number) => (dtype === DT.FLOAT ? b.writeFloatLE(v, at) : b.writeInt32LE(v, at));
  if (lo !== undefined) put(lo, 1);
  if (hi !== undefined) put(hi, 5);
  return b;
};

export function buildCases(): OpCase[] {
  const r = prng(2024);
  const cases: { name: string; layer: Layer; ins: Tensor[] }[] = [];
  const ref = (n: number) => Array.from({ length: n }, (_, i) => REF.weight(i));
  const add = (name: string, op: number, ins: Tensor[], a?: Buffer) =>
    cases.push({ name, layer: { op, refs: ref(ins.length), attrs: a }, ins });

  add(
    'matmulinteger int8 zp',
    OP.MATMUL_INTEGER,
    [i8([4, 24], r), i8([24, 16], r), scalar(DT.INT8, -7), scalar(DT.INT8, 12)],
    attrs(DT.INT8, DT.INT8),
  );
  add(
    'matmulinteger int8 no zp',
    OP.MATMUL_INTEGER,
    [i8([3, 40], r), i8([40, 5], r)],
    attrs(DT.INT8, DT.INT8),
  );
  add(
    'matmulinteger uint8 zp',
    OP.MATMUL_INTEGER,
    [u8([4, 24], r), u8([24, 16], r), scalar(DT.UINT8, 128), scalar(DT.UINT8, 3)],
    attrs(DT.UINT8, DT.UINT8),
  );
  for (const [nm, op] of [
    ['add', OP.ADD],
    ['sub', OP.SUB],
    ['mul', OP.MUL],
  ] as const) {
    add(`${nm} int32 same shape`, op, [i32([64], r), i32([64], r)]);
    add(`${nm} int32 broadcast [4,1]x[1,8]`, op, [i32([4, 1], r), i32([1, 8], r)]);
    add(`${nm} int32 broadcast [2,3,4]x[4]`, op, [i32([2, 3, 4], r), i32([4], r)]);
    add(`${nm} f32 edges`, op, [f32([24], r), f32([24], r, false)]);
    add(`${nm} f32 edges swapped`, op, [f32([24], r, false), f32([24], r)]);
    add(`${nm} f32 broadcast scalar`, op, [f32([6, 8], r), make(DT.FLOAT, [1], () => -0.75)]);
  }
  add('relu int32', OP.RELU, [i32([64], r)]);
  add('relu f32 edges', OP.RELU, [f32([24], r)]);
  add('relu int8', OP.RELU, [i8([100], r)]);
  add('clip int32', OP.CLIP, [i32([64], r)], clipAttrs(DT.INT32, -1000000, 1000000));
  add('clip f32 min only', OP.CLIP, [f32([24], r)], clipAttrs(DT.FLOAT, -1.5));
  add('clip f32 both', OP.CLIP, [f32([24], r)], clipAttrs(DT.FLOAT, -1.5, 2.25));
  add('clip int8', OP.CLIP, [i8([64], r)], clipAttrs(DT.INT8, -20, 90));
  add('clip uint8', OP.CLIP, [u8([64], r)], clipAttrs(DT.UINT8, 10, 200));
  add('quantizelinear f32->int8', OP.QUANTIZE_LINEAR, [
    f32([24], r),
    scalar(DT.FLOAT, 0.5),
    scalar(DT.INT8, 3),
  ]);
  add('quantizelinear f32->uint8', OP.QUANTIZE_LINEAR, [
    f32([40], r),
    scalar(DT.FLOAT, 0.125),
    scalar(DT.UINT8, 128),
  ]);
  add('quantizelinear f32->uint8 no zp', OP.QUANTIZE_LINEAR, [f32([24], r), scalar(DT.FLOAT, 1)]);
  add('dequantizelinear int8', OP.DEQUANTIZE_LINEAR, [
    i8([64], r),
    scalar(DT.FLOAT, 0.037),
    scalar(DT.INT8, -5),
  ]);
  add('dequantizelinear uint8', OP.DEQUANTIZE_LINEAR, [
    u8([64], r),
    scalar(DT.FLOAT, 0.5),
    scalar(DT.UINT8, 128),
  ]);
  add('dequantizelinear int32', OP.DEQUANTIZE_LINEAR, [i32([64], r), scalar(DT.FLOAT, 0.0001)]);
  add('cast f32->int32', OP.CAST, [f32([24], r)], attrs(DT.INT32));
  add('cast f32->int8', OP.CAST, [f32([40], r)], attrs(DT.INT8));
  add('cast f32->uint8', OP.CAST, [f32([40], r)], attrs(DT.UINT8));
  add(
    'cast int32->f32',
    OP.CAST,
    [make(DT.INT32, [64], (i) => (i < 4 ? [16777217, -16777219, 2147483647, 33554435][i] : r() | 0))],
    attrs(DT.FLOAT),
  );
  add('cast int8->f32', OP.CAST, [i8([64], r)], attrs(DT.FLOAT));
  add('cast int32->int8', OP.CAST, [i32([64], r)], attrs(DT.INT8));
  add('identity int8', OP.IDENTITY, [i8([300], r)]);
  add(
    'reshape int32',
    OP.RESHAPE,
    [i32([4, 32], r)],
    (() => {
      const b = Buffer.alloc(14);
      b[0] = 3;
      b.writeUInt32LE(2, 1);
      b.writeUInt32LE(8, 5);
      b.writeUInt32LE(8, 9);
      return b;
    })(),
  );
  add('flatten axis 1', OP.FLATTEN, [i32([2, 3, 4], r)], attrs(1));
  add('transpose 2d int32', OP.TRANSPOSE, [i32([8, 12], r)], attrs(2, 1, 0));
  add('transpose 3d int8', OP.TRANSPOSE, [i8([3, 5, 7], r)], attrs(3, 2, 0, 1));

  const out: OpCase[] = [];
  for (const c of cases) {
    const res = evalOp(c.layer, c.ins);
    const nChunks = Math.max(1, Math.ceil(res.bytes.length / 256));
    for (const chunk of new Set([0, nChunks - 1])) {
      out.push({
        name: `${c.name} chunk ${chunk}`,
        entry: encodeEntry(c.layer).toString('hex'),
        inputs: c.ins.map((t) => ({ dtype: t.dtype, dims: t.dims, bytes: t.bytes.toString('hex') })),
        chunk,
        header: encodeStoredHeader(res).toString('hex'),
        out: res.bytes.subarray(chunk * 256, chunk * 256 + 256).toString('hex'),
      });
    }
  }
  return out;
}
