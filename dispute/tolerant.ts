// The challenger's side of tolerant mode (docs/PROTOCOL.md "The tolerant game"): which element of an
// executor's float layer breaks the bound the referee judges it by (pure/ops.rs judge_tolerant), and
// the trace that names it. Dot products are decided exactly as the program decides them (pure/tolerant.rs:
// BigInt here, the same inequality); transcendentals by an f64 reference with a margin, so the challenger
// names only elements the referee is sure to convict.
import { OP } from '../state/optable.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (v: number): number => ((f32[0] = v), u32[0]);
const valueOf = (b: number): number => ((u32[0] = b >>> 0), f32[0]);
const isNanBits = (b: number) => (b & 0x7fffffff) > 0x7f800000;
const isInfBits = (b: number) => (b & 0x7fffffff) === 0x7f800000;

/** f32 bits as an integer multiple of 2^-150 (exact: subnormals included). */
function fixed150(b: number): bigint {
  const e = (b >>> 23) & 0xff;
  const f = b & 0x7fffff;
  // Normal: (2^23 + f) x 2^(e - 150); subnormal: f x 2^-149.
  const v = e === 0 ? BigInt(f) << 1n : BigInt(f | 0x800000) << BigInt(e);
  return b >>> 31 ? -v : v;
}
const abs = (v: bigint) => (v < 0n ? -v : v);

/** Most terms per element (pure/tolerant.rs MAX_TERMS). */
export const MAX_TERMS = 1 << 20;

/**
 * Whether `claimed` (f32 bits) breaks the dot-product bound for sum_i a[i]*b[i] (f32 bits) under the
 * declared arithmetic (0 fp32, else input mantissa bits): the inequality of pure/tolerant.rs, exactly.
 * Non-finite terms or claims are judged only where every honest order agrees (a finite sum far from
 * overflow: any NaN or inf claim breaks it); elsewhere false, so the challenger never names them.
 */
export function dotBreaks(a: Uint32Array, b: Uint32Array, claimed: number, arithBits = 0): boolean {
  if (a.length !== b.length || a.length > MAX_TERMS)
    throw new RangeError('dot: operands of different lengths or too many terms');
  let exact = 0n; // units of 2^-300
  let s = 0n;
  let sub = 0n;
  let n = 0;
  let big = false;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [a[i], b[i]];
    if (isNanBits(x) || isNanBits(y) || isInfBits(x) || isInfBits(y)) return false;
    if (((x >>> 23) & 0xff) >= 254 || ((y >>> 23) & 0xff) >= 254) big = true;
    if ((x & 0x7fffffff) === 0 || (y & 0x7fffffff) === 0) continue;
    const p = fixed150(x) * fixed150(y);
    exact += p;
    s += abs(p);
    if (((x >>> 23) & 0xff) === 0 || ((y >>> 23) & 0xff) === 0) sub += abs(p);
    n++;
  }
  const k = BigInt(a.length);
  // A = K * 2^-123 = K << 177 in units of 2^-300.
  const extra = 4n * sub + (k << 177n);
  let num: bigint, den: bigint;
  if (arithBits === 0) {
    num = BigInt(n);
    den = (1n << 24n) - BigInt(n);
  } else {
    const m = BigInt(arithBits);
    den = (1n << (2n * m)) * ((1n << 23n) - BigInt(n));
    num = ((1n << m) + 1n) ** 2n * (1n << 23n) - den;
  }
  // Overflow possible in some order (or a huge input's rounding): leave it to the referee.
  const reach = s + (num * s) / den + extra;
  if (big || reach >= 1n << 427n) return false;
  if (isNanBits(claimed) || isInfBits(claimed)) return true;
  return abs(fixed150(claimed) * (1n << 150n) - exact) * den > num * s + extra * den;
}

/** Transcendentals' bounds (pure/transcend.rs): 8 ulps plus a quarter and 2^-126; Sigmoid 2^-21 absolute. */
const ULPS = 8.25;
const FLOOR = 2 ** -126;
const SIGMOID_ABS = 2 ** -21;
/** Names an element only this far past the bound: the f64 reference is within 2^-50 relative, the referee's within 2^-48. */
const MARGIN = 1.5;

function ulpOf(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

const UNARY: Record<number, (x: number) => number> = {
  [OP.Exp]: Math.exp,
  [OP.Log]: Math.log,
  [OP.Tanh]: Math.tanh,
  [OP.Sigmoid]: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
};

/**
 * Whether `claimed` (f32 bits) as Exp, Log, Tanh or Sigmoid of `x` (f32 bits) is surely outside the
 * referee's bound. Conservative: a claim near the bound's edge, an input that is not finite and a
 * result past the float range are never named.
 */
export function unaryBreaks(op: number, x: number, claimed: number): boolean {
  const f = UNARY[op];
  if (!f) throw new RangeError(`op ${op} is not a tolerant unary op`);
  if (isNanBits(x) || isInfBits(x)) return false;
  const ref = f(valueOf(x));
  if (Number.isNaN(ref)) return !isNanBits(claimed); // Log of a negative: only a NaN is honest
  if (!Number.isFinite(ref) || Math.abs(ref) >= 2 ** 127 || (op === OP.Log && ((x >>> 23) & 0xff) === 0))
    return false;
  if (isNanBits(claimed) || isInfBits(claimed)) return true;
  const c = valueOf(claimed);
  const room = op === OP.Sigmoid ? SIGMOID_ABS : ULPS * ulpOf(ref) + FLOOR;
  return Math.abs(c - ref) > MARGIN * room;
}

/** A float32 tensor's elements as bits. */
export interface FloatTensor {
  dims: number[];
  /** Raw little-endian float32 bytes. */
  bytes: Uint8Array;
}
const bitsView = (t: FloatTensor) =>
  new Uint32Array(t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.byteLength));

/**
 * The first element of the executor's layer `out` of tolerant op `op` on its own operands `ins` that
 * the referee surely convicts, or undefined when every element passes (an honest layer, or a lie
 * within the bound: the cost of tolerance).
 */
export function firstBreak(
  op: number,
  ins: FloatTensor[],
  out: FloatTensor,
  arithBits = 0,
): number | undefined {
  const y = bitsView(out);
  if (op === OP.MatMul) {
    const [a, b] = [bitsView(ins[0]), bitsView(ins[1])];
    const [k, n] = [ins[0].dims[1], ins[1].dims[1]];
    const row = new Uint32Array(k);
    const col = new Uint32Array(k);
    for (let o = 0; o < y.length; o++) {
      const i = Math.floor(o / n),
        j = o % n;
      for (let t = 0; t < k; t++) {
        row[t] = a[i * k + t];
        col[t] = b[t * n + j];
      }
      if (dotBreaks(row, col, y[o], arithBits)) return o;
    }
    return undefined;
  }
  const x = bitsView(ins[0]);
  for (let o = 0; o < y.length; o++) if (unaryBreaks(op, x[o], y[o])) return o;
  return undefined;
}

/**
 * The challenger's layer at the named element: the executor's layer with element `e` set to the
 * challenger's own value (any other bits would do; the referee judges the executor's claim there).
 */
export function namingLayer(executor: FloatTensor, e: number, mine: number): Uint8Array {
  const out = Uint8Array.from(executor.bytes);
  let bits = bitsOf(mine);
  if (bits === new DataView(out.buffer).getUint32(4 * e, true)) bits = (bits + 1) >>> 0;
  new DataView(out.buffer).setUint32(4 * e, bits, true);
  return out;
}
