// The op differential cases: inputs for every one-step op, with edge values, and the JS reference result.
import { encodeStoredHeader } from '../../../state/optable.ts';
import { DT, type Tensor } from './protocol.ts';
import { PAD_MODE, encodePadAttrs, encodeSliceAttrs } from '../../../state/shapes.ts';
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

  // Data movement and comparisons (issue 15).
  const i64 = (dims: number[], f: (i: number) => number) => make(7, dims, f);
  const bool = (dims: number[], r: () => number) => make(9, dims, () => r() & 1);
  const sliceAttrs = (axis: number, start: number, end: number, step: number) => {
    const b = Buffer.alloc(14);
    b[0] = axis;
    b.writeInt32LE(start, 1);
    b.writeInt32LE(end, 5);
    b.writeInt32LE(step, 9);
    return b;
  };
  add(
    'concat f32 axis 2',
    OP.CONCAT,
    [f32([1, 1, 3], r), f32([1, 1, 8], r, false), f32([1, 1, 3], r)],
    attrs(2),
  );
  add(
    'concat int64 axis 0',
    OP.CONCAT,
    [i64([1], () => 1), i64([1], () => -1), i64([1], () => 512)],
    attrs(0),
  );
  add(
    'concat int32 axis 1 four inputs',
    OP.CONCAT,
    [i32([4, 3], r), i32([4, 30], r), i32([4, 1], r), i32([4, 20], r)],
    attrs(1),
  );
  add('concat int8 axis 1 [1,80,8]', OP.CONCAT, [i8([1, 40, 8], r), i8([1, 40, 8], r)], attrs(1));
  add('gather f32 axis 0 scalar index', OP.GATHER, [f32([6, 5], r), i64([], () => -2)], attrs(0));
  add(
    'gather int64 axis 0 [1] index',
    OP.GATHER,
    [i64([4], (i) => [1, 3, 8, 704][i]), i64([1], () => 3)],
    attrs(0),
  );
  add(
    'gather int32 axis 1 int32 indices',
    OP.GATHER,
    [i32([3, 20, 2], r), make(DT.INT32, [2, 40], (i) => ((i * 7) % 40) - 20)],
    attrs(1),
  );
  add('gather int8 axis 2 [3]', OP.GATHER, [i8([2, 3, 90], r), i64([3], (i) => [89, 0, -90][i])], attrs(2));
  add('slice f32 axis 1 [0,25)', OP.SLICE, [f32([1, 50, 4], r)], sliceAttrs(1, 0, 25, 1));
  add('slice f32 axis 2 negative start', OP.SLICE, [f32([1, 1, 8], r)], sliceAttrs(2, -4, 2147483647, 1));
  add('slice int32 axis 0 step 3', OP.SLICE, [i32([40, 4], r)], sliceAttrs(0, 2, 38, 3));
  add('slice int8 axis 1 negative step', OP.SLICE, [i8([3, 100], r)], sliceAttrs(1, -1, -2147483648, -2));
  add('slice int32 axis 0 empty', OP.SLICE, [i32([8, 4], r)], sliceAttrs(0, 5, 2, 1));
  add(
    'slice int32 negative step, start before the axis',
    OP.SLICE,
    [i32([2, 3], r)],
    sliceAttrs(1, -8, -9, -1),
  );
  add('slice f32 axis 1 clamped past the end', OP.SLICE, [f32([3, 10], r)], sliceAttrs(1, 7, 100, 2));
  add('squeeze f32 [1,1,150] axis 0', OP.SQUEEZE, [f32([1, 1, 150], r)], attrs(0b1));
  add('squeeze int64 [1] to scalar', OP.SQUEEZE, [i64([1], () => 16000)], attrs(0b1));
  add('squeeze int8 axes 0,2', OP.SQUEEZE, [i8([1, 300, 1], r)], attrs(0b101));
  add('unsqueeze f32 [1,1,150] axis 2', OP.UNSQUEEZE, [f32([1, 1, 150], r)], attrs(0b100));
  add('unsqueeze int64 scalar axis 0', OP.UNSQUEEZE, [i64([], () => -7)], attrs(0b1));
  add('unsqueeze int32 axes 0,3', OP.UNSQUEEZE, [i32([5, 20], r)], attrs(0b1001));
  add('shape f32 rank 4', OP.SHAPE, [f32([1, 1, 1, 70], r)], attrs(0, 4));
  add('shape int8 start 1 end 2', OP.SHAPE, [i8([3, 7, 2], r)], attrs(1, 2));
  add('equal f32 edges', OP.EQUAL, [f32([24], r), f32([24], r)]);
  add('equal f32 -0 vs 0 and NaN', OP.EQUAL, [
    make(DT.FLOAT, [4], (i) => [0, NaN, 1, -0][i]),
    make(DT.FLOAT, [4], (i) => [-0, NaN, 1, 0][i]),
  ]);
  add('equal int64 broadcast scalar', OP.EQUAL, [i64([90], (i) => i % 3), i64([], () => 1)]);
  add('equal int64 past 2^53', OP.EQUAL, [
    i64([2], () => 2 ** 60),
    make(7, [2], (i) => (i ? 2 ** 60 : 2 ** 60 + 256)),
  ]);
  add('equal int32 broadcast [4,1]x[1,8]', OP.EQUAL, [
    make(DT.INT32, [4, 1], (i) => i),
    make(DT.INT32, [1, 8], (i) => i % 5),
  ]);
  add('equal int8', OP.EQUAL, [i8([300], () => r() % 3), i8([300], () => r() % 3)]);
  add('equal bool', OP.EQUAL, [bool([64], r), bool([64], r)]);
  add('not bool', OP.NOT, [bool([300], r)]);
  add('where f32 broadcast', OP.WHERE, [bool([4, 1], r), f32([4, 6], r), f32([6], r, false)]);
  add('where f32 edges in both branches', OP.WHERE, [bool([24], r), f32([24], r), f32([24], r)]);
  add('where f32 -0 picked from x and from y', OP.WHERE, [
    make(9, [4], (i) => [1, 0, 1, 0][i]),
    make(DT.FLOAT, [4], (i) => [-0, -0, 1, NaN][i]),
    make(DT.FLOAT, [4], (i) => [-0, -0, 2, 3][i]),
  ]);
  add('where int64 same shape', OP.WHERE, [bool([40], r), i64([40], (i) => i * 3), i64([40], (i) => -i)]);
  add('where uint8 scalar cond', OP.WHERE, [make(9, [], () => 1), u8([300], r), u8([300], r)]);
  add('equal uint8', OP.EQUAL, [u8([100], () => r() % 3), u8([100], () => r() % 3)]);

  // ConstantOfShape, Pad and two-axis Slice (issue 15, second round).
  const sl = (...a: [number, number, number, number][]) =>
    encodeSliceAttrs(a.map(([axis, start, end, step]) => ({ axis, start, end, step })));
  const sl16 = (...a: [number, number, number, number][]) =>
    encodeSliceAttrs(
      a.map(([axis, start, end, step]) => ({ axis, start, end, step })),
      false,
    );
  add(
    'slice f32 two axes [1:, ::-2]',
    OP.SLICE,
    [f32([6, 10], r)],
    sl([0, 1, 32767, 1], [1, -1, -32767, -2]),
  );
  add(
    'slice int8 two axes, negative starts and ends',
    OP.SLICE,
    [i8([4, 9, 20], r)],
    sl([1, -7, -1, 3], [2, -2, -20, -4]),
  );
  add('slice int32 one axis in the i16 form', OP.SLICE, [i32([3, 40], r)], sl16([1, 38, 1, -5]));
  add(
    'slice int64 axes 0,2 steps 2',
    OP.SLICE,
    [i64([5, 2, 9], (i) => i * 1000003 - 7)],
    sl([0, 0, 5, 2], [2, 8, 0, -2]),
  );
  add('slice uint8 two axes, one empty', OP.SLICE, [u8([4, 30], r)], sl([0, 3, 1, 1], [1, 0, 30, 1]));
  add(
    'slice f32 two axes clamped past both ends',
    OP.SLICE,
    [f32([3, 1, 25], r)],
    sl([0, -5, 5, 1], [2, 30, -30, -7]),
  );
  const cos = (dtype: number, value: Buffer) => {
    const b = Buffer.alloc(14);
    b[0] = dtype;
    value.copy(b, 1);
    return b;
  };
  const f32Bits = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return b;
  };
  const i64Bytes = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(v);
    return b;
  };
  add(
    'constantofshape f32 0 [2,3,5]',
    OP.CONSTANT_OF_SHAPE,
    [i64([3], (i) => [2, 3, 5][i])],
    cos(DT.FLOAT, f32Bits(0)),
  );
  add(
    'constantofshape f32 -0.5 [1,100]',
    OP.CONSTANT_OF_SHAPE,
    [i64([2], (i) => [1, 100][i])],
    cos(DT.FLOAT, f32Bits(-0.5)),
  );
  add('constantofshape f32 NaN [7]', OP.CONSTANT_OF_SHAPE, [i64([1], () => 7)], cos(DT.FLOAT, f32Bits(NaN)));
  add(
    'constantofshape int64 past 2^32 [4,5]',
    OP.CONSTANT_OF_SHAPE,
    [i64([2], (i) => [4, 5][i])],
    cos(7, i64Bytes(-(2n ** 40n) - 3n)),
  );
  add(
    'constantofshape int32 [3,0]',
    OP.CONSTANT_OF_SHAPE,
    [i64([2], (i) => [3, 0][i])],
    cos(DT.INT32, i64Bytes(-7n)),
  );
  add(
    'constantofshape int8 scalar',
    OP.CONSTANT_OF_SHAPE,
    [i64([0], () => 0)],
    cos(DT.INT8, Buffer.from([0x85])),
  );
  add(
    'constantofshape uint8 [300]',
    OP.CONSTANT_OF_SHAPE,
    [i64([1], () => 300)],
    cos(DT.UINT8, Buffer.from([200])),
  );
  add('constantofshape bool [2,2,2]', OP.CONSTANT_OF_SHAPE, [i64([3], () => 2)], cos(9, Buffer.from([1])));
  const pad = (mode: number, valueBits: number, ...a: [number, number, number][]) =>
    encodePadAttrs(
      mode,
      valueBits,
      a.map(([axis, begin, end]) => ({ axis, begin, end })),
    );
  const M = PAD_MODE;
  add('pad f32 constant 0 axis 2 (1,2)', OP.PAD, [f32([2, 3, 8], r)], pad(M.constant, 0, [2, 1, 2]));
  add(
    'pad f32 constant -0 axes 0,1',
    OP.PAD,
    [f32([3, 4], r)],
    pad(M.constant, 0x80000000, [0, 2, 1], [1, 0, 3]),
  );
  add('pad f32 constant NaN with a crop', OP.PAD, [f32([4, 6], r)], pad(M.constant, 0x7fc00000, [1, -2, 3]));
  add(
    'pad int8 constant 5 crop both ends',
    OP.PAD,
    [i8([5, 20], r)],
    pad(M.constant, 5, [0, -1, -2], [1, 3, -4]),
  );
  add(
    'pad int64 constant -1 axis 0',
    OP.PAD,
    [i64([3, 4], (i) => 2 ** 40 + i)],
    pad(M.constant, -1, [0, 1, 1]),
  );
  add(
    'pad uint8 constant 255 [1,1,150] axis 2',
    OP.PAD,
    [u8([1, 1, 150], r)],
    pad(M.constant, 255, [2, 64, 32]),
  );
  add('pad bool constant true', OP.PAD, [bool([3, 5], r)], pad(M.constant, 1, [1, 2, 0]));
  add('pad int32 constant to an empty axis', OP.PAD, [i32([3, 0], r)], pad(M.constant, 9, [1, 2, 1]));
  add('pad f32 reflect axis 1 (3,3) [2,8]', OP.PAD, [f32([2, 8], r)], pad(M.reflect, 0, [1, 3, 3]));
  add(
    'pad f32 reflect axes 1,2 (1,2),(2,1)',
    OP.PAD,
    [f32([2, 3, 4], r)],
    pad(M.reflect, 0, [1, 1, 2], [2, 2, 1]),
  );
  add('pad int8 reflect [1,1,200] (64,64)', OP.PAD, [i8([1, 1, 200], r)], pad(M.reflect, 0, [2, 64, 64]));
  add('pad int32 edge axes 0,1', OP.PAD, [i32([2, 5], r)], pad(M.edge, 0, [0, 2, 1], [1, 0, 4]));
  add('pad uint8 edge axis 1 (10,0)', OP.PAD, [u8([3, 50], r)], pad(M.edge, 0, [1, 10, 0]));
  add('pad int64 edge scalar axis', OP.PAD, [i64([1], () => -5)], pad(M.edge, 0, [0, 3, 2]));

  // Elementwise arithmetic and comparisons (issue 15, third round). Float inputs by their bits:
  // NaN payloads, signalling NaNs, subnormals, the normal boundary, infinities, both zeros.
  const bits = (xs: number[]) => {
    const bytes = Buffer.alloc(4 * xs.length);
    xs.forEach((x, i) => bytes.writeUInt32LE(x >>> 0, 4 * i));
    return { dtype: DT.FLOAT, dims: [xs.length], bytes };
  };
  const SPECIAL = [
    0x7fc00000, 0x7fc01234, 0xffc00001, 0x7f800001, 0xff812345, 0x80000000, 0, 0x3f800000, 0xbf800000,
    0x7f800000, 0xff800000, 1, 0x80000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0xff7fffff, 0x40000000,
    0x3eaaaaab, 0x00400000, 0x80800000, 0x7fbfffff, 0x4b000001, 0x34000000,
  ];
  const rotated = SPECIAL.map((_, i) => SPECIAL[(i * 7 + 3) % SPECIAL.length]);
  const positives = (n: number) => bits(Array.from({ length: n }, () => r() & 0x7fffffff));
  // Add, Sub and Mul on the same specials: NaN operands of every payload and the invalid inf - inf,
  // 0 x inf; each NaN result is the canonical 0x7FC00000 whatever x86 or a kernel's lane gives.
  for (const [nm, op] of [
    ['add', OP.ADD],
    ['sub', OP.SUB],
    ['mul', OP.MUL],
  ] as const) {
    add(`${nm} f32 NaN payloads and invalid operations`, op, [
      bits([...SPECIAL, 0x7f800000, 0xff800000, 0x7f800000, 0, 0x80000000, 0xff800000]),
      bits([...rotated, 0xff800000, 0xff800000, 0x7f800000, 0x7f800000, 0xff800000, 0]),
    ]);
  }
  for (const [nm, op] of [
    ['neg', OP.NEG],
    ['abs', OP.ABS],
  ] as const) {
    add(`${nm} f32 edges`, op, [f32([24], r)]);
    add(`${nm} f32 NaN payloads and subnormals`, op, [bits(SPECIAL)]);
    add(`${nm} int32 with INT_MIN`, op, [i32([64], r)]);
  }
  add('sqrt f32 edges', OP.SQRT, [f32([24], r)]);
  add('sqrt f32 NaN payloads, subnormals, negatives', OP.SQRT, [bits(SPECIAL)]);
  add('sqrt f32 random positive bit patterns', OP.SQRT, [positives(128)]);
  add('div f32 edges', OP.DIV, [f32([24], r), f32([24], r, false)]);
  add('div f32 edges swapped', OP.DIV, [f32([24], r, false), f32([24], r)]);
  add('div f32 specials by specials', OP.DIV, [bits(SPECIAL), bits(rotated)]);
  add('div f32 specials broadcast [24,1]x[1,24]', OP.DIV, [
    { ...bits(SPECIAL), dims: [24, 1] },
    { ...bits(rotated), dims: [1, 24] },
  ]);
  add('div f32 random bit patterns', OP.DIV, [
    bits(Array.from({ length: 64 }, () => r())),
    bits(Array.from({ length: 64 }, () => r())),
  ]);
  add('div f32 broadcast scalar divisor', OP.DIV, [f32([6, 8], r), make(DT.FLOAT, [1], () => 3)]);
  add('div int32 signs, truncation', OP.DIV, [
    make(DT.INT32, [8], (i) => [7, -7, 7, -7, -2147483648, -2147483648, 0, 2147483647][i]),
    make(DT.INT32, [8], (i) => [2, 2, -2, -2, 7, 1, -3, -1][i]),
  ]);
  add('div int32 broadcast [4,1]x[1,8]', OP.DIV, [
    i32([4, 1], r),
    make(DT.INT32, [1, 8], (i) => [3, -3, 1000, -77777, 1, 2, 65536, -2][i]),
  ]);
  for (const [nm, op] of [
    ['less', OP.LESS],
    ['greater', OP.GREATER],
    ['lessorequal', OP.LESS_OR_EQUAL],
    ['greaterorequal', OP.GREATER_OR_EQUAL],
  ] as const) {
    add(`${nm} f32 specials`, op, [bits(SPECIAL), bits(rotated)]);
    add(`${nm} f32 -0 vs 0, NaN, equal`, op, [
      make(DT.FLOAT, [4], (i) => [0, NaN, 1, -0][i]),
      make(DT.FLOAT, [4], (i) => [-0, 1, 1, 0][i]),
    ]);
    add(`${nm} f32 broadcast scalar`, op, [f32([40], r), make(DT.FLOAT, [], () => 0.5)]);
    add(`${nm} int32 broadcast [4,1]x[1,8]`, op, [
      make(DT.INT32, [4, 1], (i) => [-2147483648, -1, 3, 2147483647][i]),
      make(DT.INT32, [1, 8], (i) => [-2147483648, -2, -1, 0, 2, 3, 4, 2147483647][i]),
    ]);
    add(`${nm} int64 past 2^53`, op, [
      make(7, [3], () => 2 ** 60),
      make(7, [3], (i) => [2 ** 60 + 256, 2 ** 60, 2 ** 60 - 256][i]),
    ]);
    add(`${nm} int8`, op, [i8([100], r), i8([100], r)]);
    add(`${nm} uint8`, op, [u8([100], r), u8([100], () => 128)]);
  }

  // Pow by a constant 2 or 3 (issue 15, fourth round): onnxruntime's square and cube.
  for (const n of [2, 3]) {
    add(`pow ${n} f32 edges`, OP.POW, [f32([24], r)], attrs(n));
    add(`pow ${n} f32 NaN payloads, subnormals, overflow`, OP.POW, [bits(SPECIAL)], attrs(n));
    add(`pow ${n} f32 random bit patterns`, OP.POW, [bits(Array.from({ length: 128 }, () => r()))], attrs(n));
    add(
      `pow ${n} f32 near 1 and the subnormal edge`,
      OP.POW,
      [
        bits(
          Array.from({ length: 96 }, (_, i) =>
            i < 48 ? 0x3f800000 + (r() % 4096) - 2048 : 0x1f000000 + (r() % 0x2000000),
          ),
        ),
      ],
      attrs(n),
    );
    add(`pow ${n} int32 wrapping`, OP.POW, [i32([64], r)], attrs(n));
    add(`pow ${n} int32 small`, OP.POW, [make(DT.INT32, [40], (i) => i - 20)], attrs(n));
  }

  // DynamicQuantizeLinear (issue 15, fourth round): each output from x alone; ranges of one sign,
  // both signs, all zeros, infinities (scale inf, zero point 255 from -inf / inf), subnormals
  // (scale 0), ties of x / scale.
  const dql = (nm: string, x: Tensor) => {
    for (const k of [0, 1, 2])
      add(
        `dynamicquantizelinear ${nm} ${['y', 'scale', 'zero point'][k]}`,
        OP.DYNAMIC_QUANTIZE_LINEAR,
        [x],
        attrs(k),
      );
  };
  dql('f32 mixed signs', f32([24], r, false));
  dql(
    'f32 positive',
    make(DT.FLOAT, [3, 10], (i) => (i * 7) % 23),
  );
  dql(
    'f32 negative',
    make(DT.FLOAT, [17], (i) => -((i * 5) % 13) / 3),
  );
  dql(
    'f32 all zeros',
    make(DT.FLOAT, [2, 3], (i) => (i % 2 ? -0 : 0)),
  );
  dql(
    'f32 ties',
    make(DT.FLOAT, [12], (i) => [-1, 0, 254, 0.5, 1.5, 2.5, -0.5, 100.5, 3, 4, 5, 6][i]),
  );
  dql(
    'f32 +inf',
    make(DT.FLOAT, [5], (i) => [Infinity, 1, -1, 0, 3][i]),
  );
  dql(
    'f32 -inf',
    make(DT.FLOAT, [5], (i) => [-Infinity, 1, 2, 0, -3][i]),
  );
  dql(
    'f32 both infinities',
    make(DT.FLOAT, [4], (i) => [Infinity, -Infinity, 1, -1][i]),
  );
  dql(
    'f32 subnormal range',
    make(DT.FLOAT, [3], (i) => [1e-45, -1e-45, 0][i]),
  );
  dql(
    'f32 huge range',
    make(DT.FLOAT, [3], (i) => [3.4028235e38, -3.4028235e38, 1e38][i]),
  );
  dql('f32 random bit patterns', bits(Array.from({ length: 64 }, () => r() & 0xbfffffff)));
  dql('f32 [2,100]', f32([2, 100], r, false));

  // MatMulInteger with a per-column b zero point (quantize_dynamic per_channel), at the extremes too.
  add(
    'matmulinteger uint8 per-column b zero point',
    OP.MATMUL_INTEGER,
    [u8([4, 24], r), u8([24, 16], r), scalar(DT.UINT8, 77), u8([16], r)],
    attrs(DT.UINT8, DT.UINT8),
  );
  add(
    'matmulinteger int8 per-column b zero point',
    OP.MATMUL_INTEGER,
    [i8([3, 24], r), i8([24, 20], r), scalar(DT.INT8, -9), i8([20], r)],
    attrs(DT.INT8, DT.INT8),
  );
  add(
    'matmulinteger int8 per-column extremes',
    OP.MATMUL_INTEGER,
    [
      make(DT.INT8, [2, 64], (i) => (i % 3 ? 127 : -128)),
      make(DT.INT8, [64, 8], (i) => (i % 5 ? -128 : 127)),
      scalar(DT.INT8, -128),
      make(DT.INT8, [8], (i) => [127, -128, 0, 1, -1, 64, -64, 5][i]),
    ],
    attrs(DT.INT8, DT.INT8),
  );

  // ConvInteger (issue 15, fourth round): 2-D and 1-D, pads, strides, dilations, groups
  // (depthwise too), uint8 and int8 weights with zero points at the extremes.
  const conv = (wdt: number, s: number[], d: number[], p: number[], group: number) =>
    attrs(wdt, s[0], s[1], d[0], d[1], p[0], p[1], p[2], p[3], group & 255, group >> 8);
  const w8 = (dt: number, dims: number[]) => (dt === DT.INT8 ? i8(dims, r) : u8(dims, r));
  for (const wdt of [DT.UINT8, DT.INT8]) {
    const nm = wdt === DT.INT8 ? 'int8' : 'uint8';
    add(
      `convinteger ${nm} 3x3 pad 1`,
      OP.CONV_INTEGER,
      [
        u8([1, 3, 6, 7], r),
        w8(wdt, [4, 3, 3, 3]),
        scalar(DT.UINT8, 129),
        scalar(wdt, wdt === DT.INT8 ? -3 : 200),
      ],
      conv(wdt, [1, 1], [1, 1], [1, 1, 1, 1], 1),
    );
    add(
      `convinteger ${nm} strides, dilations, uneven pads, 2 groups`,
      OP.CONV_INTEGER,
      [
        u8([2, 4, 7, 6], r),
        w8(wdt, [6, 2, 3, 2]),
        scalar(DT.UINT8, 0),
        scalar(wdt, wdt === DT.INT8 ? -128 : 255),
      ],
      conv(wdt, [2, 1], [1, 2], [0, 1, 2, 0], 2),
    );
    add(
      `convinteger ${nm} no zero points`,
      OP.CONV_INTEGER,
      [u8([1, 2, 5, 5], r), w8(wdt, [3, 2, 2, 2])],
      conv(wdt, [1, 1], [1, 1], [0, 0, 0, 0], 1),
    );
    add(
      `convinteger ${nm} 1-D depthwise`,
      OP.CONV_INTEGER,
      [u8([1, 4, 40], r), w8(wdt, [4, 1, 5]), scalar(DT.UINT8, 7), scalar(wdt, 1)],
      conv(wdt, [1, 2], [1, 1], [0, 2, 0, 2], 4),
    );
  }
  add(
    'convinteger uint8 extremes 255 x 0 zero points',
    OP.CONV_INTEGER,
    [
      make(DT.UINT8, [1, 8, 4, 4], () => 255),
      make(DT.UINT8, [2, 8, 3, 3], () => 0),
      scalar(DT.UINT8, 0),
      scalar(DT.UINT8, 255),
    ],
    conv(DT.UINT8, [1, 1], [1, 1], [1, 1, 1, 1], 1),
  );
  add(
    'convinteger int8 extremes 255 x 127 pairs',
    OP.CONV_INTEGER,
    [
      make(DT.UINT8, [1, 8, 4, 4], () => 255),
      make(DT.INT8, [2, 8, 3, 3], () => 127),
      scalar(DT.UINT8, 0),
      scalar(DT.INT8, -128),
    ],
    conv(DT.INT8, [1, 1], [1, 1], [0, 0, 0, 0], 1),
  );

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
