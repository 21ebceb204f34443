// The referee's undecidable operand values (programs/optinfer/src/pure/ops.rs, OpError::Undecidable), mirrored off
// chain for the two ops onnxruntime refuses to run on values: Gather with an index out of range and int32 Div by
// zero or INT_MIN / -1. Which output element of such a layer the one-step refuses, and the elements before it as the
// referee computes them: what a challenger needs to steer a game on an unrunnable job to that element.
import { OP } from '../state/optable.ts';
import { elementCount, elementSize, type DType, type Tensor } from '../state/tensor.ts';

/** A layer as the op table registers it: op code and attribute bytes (state/optable.ts). */
export interface RefereeOp {
  op: number;
  attrs: Uint8Array;
}

/** The output header of the layer, as registered (dtype name and dims). */
export interface OutputShape {
  dtype: DType;
  dims: readonly number[];
}

const INT32_MIN = -2147483648;

const view = (t: Tensor) => new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** pure/ops.rs broadcast_index: the flat index in `src` (right-aligned, size-1 dims broadcast) of output element `o`. */
function broadcastIndex(out: readonly number[], src: readonly number[], o: number): number {
  const off = out.length - src.length;
  let idx = 0;
  let stride = 1;
  for (let i = out.length - 1; i >= 0; i--) {
    const d = out[i];
    const c = o % d;
    o = Math.floor(o / d);
    if (i >= off) {
      const sd = src[i - off];
      if (sd !== 1) idx += c * stride;
      stride *= sd;
    }
  }
  return idx;
}

/** One output element as the referee computes it, or why it refuses to (Undecidable). */
type Element = { bytes: Uint8Array } | { undecidable: string };

function gatherElement(e: RefereeOp, ins: Tensor[], o: number): Element {
  const [a, idx] = ins;
  const axis = e.attrs[0];
  const inner = elementCount(a.dims.slice(axis + 1));
  const nIdx = elementCount(idx.dims);
  const dim = BigInt(a.dims[axis]);
  const k = o % inner;
  const rest = Math.floor(o / inner);
  const j = rest % nIdx;
  const outer = Math.floor(rest / nIdx);
  const given =
    idx.dtype === 'int64' ? view(idx).getBigInt64(j * 8, true) : BigInt(view(idx).getInt32(j * 4, true));
  const ix = given < 0n ? given + dim : given;
  if (ix < 0n || ix >= dim)
    return {
      undecidable: `index ${given} (element ${j} of the indices) is out of range for a dimension of ${dim}`,
    };
  const es = elementSize(a.dtype);
  const src = (outer * a.dims[axis] + Number(ix)) * inner + k;
  return { bytes: a.data.subarray(src * es, (src + 1) * es) };
}

function divElement(out: OutputShape, ins: Tensor[], o: number): Element {
  const [a, b] = ins;
  const x = view(a).getInt32(4 * broadcastIndex(out.dims, a.dims, o), true);
  const y = view(b).getInt32(4 * broadcastIndex(out.dims, b.dims, o), true);
  if (y === 0) return { undecidable: `${x} / 0` };
  if (x === INT32_MIN && y === -1) return { undecidable: `${x} / -1` };
  const q = new Uint8Array(4);
  new DataView(q.buffer).setInt32(0, Number(BigInt(x) / BigInt(y)), true);
  return { bytes: q };
}

/** The element function of a layer whose values can be undecidable, or undefined for any other layer. */
function elementOf(e: RefereeOp, ins: Tensor[], out: OutputShape): ((o: number) => Element) | undefined {
  if (e.op === OP.Gather && ins.length === 2 && (ins[1].dtype === 'int64' || ins[1].dtype === 'int32'))
    return (o) => gatherElement(e, ins, o);
  // A float Div is always decided (IEEE-754 has an answer for every pair).
  if (e.op === OP.Div && ins.length === 2 && out.dtype === 'int32' && ins.every((t) => t.dtype === 'int32'))
    return (o) => divElement(out, ins, o);
  return undefined;
}

/**
 * The first output element of the layer whose recomputation the referee refuses as Undecidable (so a one-step on
 * the chunk holding it convicts the executor), and why; null when there is none, or when the op is not one whose
 * values can be undecidable and onnxruntime refuses (Gather, int32 Div).
 */
export function firstUndecidable(
  e: RefereeOp,
  ins: Tensor[],
  out: OutputShape,
): { element: number; why: string } | null {
  const at = elementOf(e, ins, out);
  if (!at) return null;
  const n = elementCount(out.dims);
  for (let o = 0; o < n; o++) {
    const r = at(o);
    if ('undecidable' in r) return { element: o, why: r.undecidable };
  }
  return null;
}

/** Output elements [0, count) of the layer as the referee computes them; every one of them must be decidable. */
export function refereeElements(e: RefereeOp, ins: Tensor[], out: OutputShape, count: number): Uint8Array {
  const at = elementOf(e, ins, out);
  if (!at) throw new RangeError(`op ${e.op}: not a layer whose elements this mirror computes`);
  const es = elementSize(out.dtype);
  const bytes = new Uint8Array(count * es);
  for (let o = 0; o < count; o++) {
    const r = at(o);
    if ('undecidable' in r) throw new RangeError(`element ${o} is undecidable (${r.undecidable})`);
    bytes.set(r.bytes, o * es);
  }
  return bytes;
}
