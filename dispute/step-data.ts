// The one-step proof data (docs/PROGRAM.md, "The dispute game", step 6; whole-tensor and sparse
// openings): every input of the disputed layer's op, opened from one side's own trace and model.
import { OptinferError } from '../state/errors.ts';
import { u16, u32 } from '../state/le.ts';
import { REF_KIND, decodeOpEntry, decodeTensorHeader, refIndex, refKind } from '../state/optable.ts';
import {
  chunkTree,
  chunks,
  dtypeFromCode,
  elementCount,
  elementSize,
  tensorNameBytes,
  CHUNK_BYTES,
} from '../state/tensor.ts';
import { ELEMENTWISE_OPS } from '../state/shapes.ts';
import { CHUNK_HEADER, type DisputeAccount } from '../settlement/accounts.ts';
import type { ModelView, OpenedTensor, TraceView } from './views.ts';

const whole = (t: OpenedTensor) => Buffer.concat([Buffer.from([0]), t.header, u32(t.bytes.length), t.bytes]);

/** Chooses, per input position of the op, the only chunks to open (undefined: the whole tensor). */
export type ChunkPicker = (input: number, t: OpenedTensor) => number[] | undefined;

/** Bytes per element of a header's dtype code; undefined for a code no tensor carries. */
const dtypeBytes = (code: number): number | undefined => {
  const d = dtypeFromCode(code);
  return d && elementSize(d);
};
const headerOf = (h: Uint8Array) => {
  const { dtype, dims } = decodeTensorHeader(h);
  return { dtype, count: elementCount(dims) };
};

/**
 * Sparse openings where they are sound without knowing more of the op: for the ops that keep element
 * order (ELEMENTWISE_OPS in state/shapes.ts, which the registration cost model reads too), an input
 * with as many elements as the output opens only the chunks holding the disputed output chunk's
 * elements; broadcast operands, reordering ops (Concat, Gather, Slice, Shape), MatMulInteger inputs
 * and header disputes open whole tensors.
 */
export function elementwiseChunks(d: DisputeAccount, entry: Uint8Array, output: OpenedTensor): ChunkPicker {
  const { op } = decodeOpEntry(entry);
  const out = headerOf(output.header);
  const osz = dtypeBytes(out.dtype);
  return (_pos, t) => {
    if (!ELEMENTWISE_OPS.has(op) || d.chunkIndex === CHUNK_HEADER || !osz) return undefined;
    const h = headerOf(t.header);
    const isz = dtypeBytes(h.dtype);
    if (!isz || h.count !== out.count || t.bytes.length <= CHUNK_BYTES) return undefined;
    const perChunk = CHUNK_BYTES / osz;
    const e0 = d.chunkIndex * perChunk;
    const e1 = Math.min(e0 + perChunk, out.count);
    if (e0 >= e1) return undefined;
    const first = Math.floor((e0 * isz) / CHUNK_BYTES);
    const last = Math.floor((e1 * isz - 1) / CHUNK_BYTES);
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  };
}

function sparse(t: OpenedTensor, pick: number[]): Buffer {
  const tree = chunkTree(t.bytes);
  const pieces = chunks(t.bytes);
  const out: Buffer[] = [Buffer.from([1]), Buffer.from(t.header), Buffer.from(tree.root), u16(pick.length)];
  for (const c of pick) {
    const sib = tree.proof(c).siblings;
    out.push(u32(c), Buffer.from([sib.length]), ...sib.map((x) => Buffer.from(x)), Buffer.from(pieces[c]));
  }
  return Buffer.concat(out);
}

/**
 * The one-step proof data for layer `d.disagree`: every input of its op, in the entry's order
 * (earlier layer: prefix chain to the agreed prefix; model input: the name/digest list; weight: its
 * proof against the weight root), each opened whole or, where `pick` names chunks, sparsely.
 */
export function stepData(
  d: DisputeAccount,
  entry: Uint8Array,
  trace: TraceView,
  model: ModelView,
  pick: ChunkPicker = () => undefined,
): Buffer {
  const parts: Buffer[] = [];
  const open = (pos: number, t: OpenedTensor) => {
    const p = pick(pos, t);
    return p ? sparse(t, p) : whole(t);
  };
  const refs = decodeOpEntry(entry).refs;
  for (let pos = 0; pos < refs.length; pos++) {
    const ref = refs[pos];
    const kind = refKind(ref);
    const idx = refIndex(ref);
    if (kind === REF_KIND.LAYER) {
      if (idx >= d.agreed) {
        throw new OptinferError('INVALID_INPUT', `one-step: layer ${idx} is not agreed (agreed ${d.agreed})`);
      }
      parts.push(Buffer.from(trace.prefix(idx - 1)), u32(d.agreed - idx));
      for (let k = idx; k < d.agreed; k++) parts.push(Buffer.from(trace.digest(k)));
      parts.push(open(pos, trace.layer(idx)));
    } else if (kind === REF_KIND.INPUT) {
      parts.push(u32(model.inputs.length));
      for (const i of model.inputs) {
        const name = tensorNameBytes(i.name);
        parts.push(u16(name.length), name, Buffer.from(i.digest));
      }
      // The job has no input there (fewer than the model's): the proven set alone convicts the executor.
      if (idx >= model.inputs.length) break;
      parts.push(open(pos, model.inputs[idx].tensor));
    } else if (kind === REF_KIND.WEIGHT) {
      const w = model.weight(idx);
      parts.push(Buffer.from([w.siblings.length]), ...w.siblings.map((x) => Buffer.from(x)));
      parts.push(Buffer.from(w.digest), open(pos, w.tensor));
    } else {
      throw new OptinferError('INVALID_MODEL', `op entry: unknown ref kind ${kind}`);
    }
  }
  return Buffer.concat(parts);
}

/**
 * Tolerant mode's tail of the one-step data (one_step.rs judge_chunk), after the openings: the
 * challenger's bytes of the disputed chunk (the executor's were opened on chain by reveal_leaf). The
 * referee judges the first element where the two differ, so a challenger's layer should differ from
 * the executor's only at the element it names (its chunk descent then lands on that element's chunk).
 */
export function tolerantChunk(d: DisputeAccount, challenger: OpenedTensor): Buffer {
  return Buffer.from(challenger.bytes.subarray(d.chunkIndex * CHUNK_BYTES, (d.chunkIndex + 1) * CHUNK_BYTES));
}
