// Playing one side of a dispute through the client, from that side's own stored trace: the move the
// dispute expects (commit, bisect, reveal, descend) and the one-step proof data (docs/PROGRAM.md,
// "The dispute game", step 6; whole-tensor openings).
import type { PublicKey, Signer } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { u16, u32 } from '../state/le.ts';
import {
  OP,
  OPS_PER_PAGE,
  REF_KIND,
  decodeOpEntry,
  decodeTensorHeader,
  refIndex,
  refKind,
} from '../state/optable.ts';
import { chunkTree, chunks, dtypeFromCode, elementCount, elementSize, CHUNK_BYTES } from '../state/tensor.ts';
import { CHUNK_HEADER, SIDE, PHASE, type DisputeAccount, type Side } from './accounts.ts';
import { bisectMid, type SettlementClient } from './client.ts';
import type { SendResult } from './sender.ts';

/** A tensor as the program opens it: `u8 dtype || u8 rank || rank x u64 dims` and the canonical bytes. */
export interface OpenedTensor {
  header: Uint8Array;
  bytes: Uint8Array;
}

/** What a side knows of its own run (docs/PROTOCOL.md trace commitments). */
export interface TraceView {
  readonly layerCount: number;
  /** Root of the Merkle tree over the prefix leaves. */
  readonly root: Uint8Array;
  /** p_i; p_{-1} is the trace seed. */
  prefix(i: number): Uint8Array;
  /** Siblings of leaf i of the prefix tree, leaf row upwards. */
  prefixProof(i: number): Uint8Array[];
  /** Tensor digest of layer i. */
  digest(i: number): Uint8Array;
  layer(i: number): OpenedTensor;
  /** Levels of layer i's chunk tree: [0] = padded leaf hashes, last = [chunk root]. */
  chunkLevels(i: number): Uint8Array[][];
}

/** What the one-step needs of the model besides the trace. */
export interface ModelView {
  /** Model inputs of the job, sorted by name (byte order), with their tensor digests. */
  inputs: { name: string; digest: Uint8Array; tensor: OpenedTensor }[];
  /** Weight i (op-table order), its digest and its proof against the model's weight root. */
  weight(i: number): { digest: Uint8Array; siblings: Uint8Array[]; tensor: OpenedTensor };
}

const whole = (t: OpenedTensor) => Buffer.concat([Buffer.from([0]), t.header, u32(t.bytes.length), t.bytes]);

/** Chooses, per input position of the op, the only chunks to open (undefined: the whole tensor). */
export type ChunkPicker = (input: number, t: OpenedTensor) => number[] | undefined;

/** Ops whose output element i reads element i of every input of the output's element count. */
const ELEMENTWISE_OPS = new Set<number>([
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
]);

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
 * Sparse openings where they are sound without knowing more of the op: for elementwise and
 * data-movement ops that keep element order (Identity, Reshape, Flatten, Relu, Add, Sub, Mul, Clip,
 * QuantizeLinear, DequantizeLinear, Cast), an input with as many elements as the output opens only
 * the chunks holding the disputed output chunk's elements; broadcast operands, Transpose and
 * MatMulInteger inputs, and header disputes open whole tensors.
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
  decodeOpEntry(entry).refs.forEach((ref, pos) => {
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
        parts.push(u16(Buffer.byteLength(i.name)), Buffer.from(i.name), Buffer.from(i.digest));
      }
      parts.push(open(pos, model.inputs[idx].tensor));
    } else if (kind === REF_KIND.WEIGHT) {
      const w = model.weight(idx);
      parts.push(Buffer.from([w.siblings.length]), ...w.siblings.map((x) => Buffer.from(x)));
      parts.push(Buffer.from(w.digest), open(pos, w.tensor));
    } else {
      throw new OptinferError('INVALID_MODEL', `op entry: unknown ref kind ${kind}`);
    }
  });
  return Buffer.concat(parts);
}

/** This signer's side in the dispute, or null if it is not a party. */
export function sideOf(d: DisputeAccount, who: PublicKey): Side | null {
  if (d.executor.equals(who)) return SIDE.EXECUTOR;
  if (d.challenger.equals(who)) return SIDE.CHALLENGER;
  return null;
}

/**
 * Makes the move the dispute expects from `signer` now (commit_trace, bisect_layer, reveal_layer,
 * bisect_chunk) from its trace. Returns null when it is not this side's turn, or the dispute is at
 * the one-step or resolved (see `submitOneStep`).
 */
export async function playMove(
  client: SettlementClient,
  signer: Signer,
  dispute: PublicKey,
  trace: TraceView,
  d?: DisputeAccount,
): Promise<SendResult | null> {
  d ??= await client.dispute(dispute);
  const side = sideOf(d, signer.publicKey);
  if (side === null)
    throw new OptinferError('INVALID_INPUT', `${signer.publicKey.toBase58()} is not a party`);
  if (d.phase >= PHASE.ONE_STEP || d.turn !== side) return null;
  const n = trace.layerCount;
  switch (d.phase) {
    case PHASE.EXEC_TRACE:
    case PHASE.CHAL_TRACE:
      return client.commitTrace(signer, dispute, {
        root: trace.root,
        layerCount: n,
        prevPrefix: trace.prefix(n - 2),
        lastDigest: trace.digest(n - 1),
        siblings: trace.prefixProof(n - 1),
        model: d.model,
      });
    case PHASE.LAYER_BISECT: {
      const mid = bisectMid(d);
      return client.bisectLayer(signer, dispute, {
        prefix: trace.prefix(mid),
        siblings: trace.prefixProof(mid),
      });
    }
    case PHASE.LAYER_REVEAL: {
      const levels = trace.chunkLevels(d.disagree);
      return client.revealLayer(signer, dispute, {
        header: trace.layer(d.disagree).header,
        chunkRoot: levels[levels.length - 1][0],
      });
    }
    case PHASE.CHUNK_BISECT: {
      const lv = trace.chunkLevels(d.disagree)[d.chunkLevel - 1];
      return client.bisectChunk(signer, dispute, {
        left: lv[2 * d.chunkIndex],
        right: lv[2 * d.chunkIndex + 1],
      });
    }
  }
  return null;
}

/**
 * Fills `signer`'s proof buffer with the one-step data from its trace and submits the one-step
 * (in slices of `maxElements` output elements when given, until the dispute resolves). The buffer
 * stays open; close it with `client.closeProofBuffer` to get its rent back.
 */
export async function submitOneStep(
  client: SettlementClient,
  signer: Signer,
  dispute: PublicKey,
  trace: TraceView,
  model: ModelView,
  opts: {
    maxElements?: number;
    maxSlices?: number;
    /** Which chunks to open: 'auto' (default) = `elementwiseChunks`, 'whole', or a picker. */
    openings?: 'auto' | 'whole' | ChunkPicker;
  } = {},
): Promise<{ writes: SendResult[]; steps: SendResult[] }> {
  const d = await client.dispute(dispute);
  if (d.phase !== PHASE.ONE_STEP) {
    throw new OptinferError(
      'INVALID_INPUT',
      `dispute ${dispute.toBase58()}: not at the one-step (phase ${d.phase})`,
    );
  }
  const page = await client.fetchOpsPage(d.modelId, Math.floor(d.disagree / OPS_PER_PAGE));
  const entry = page?.entries[d.disagree % OPS_PER_PAGE];
  if (!entry) throw new OptinferError('NOT_FOUND', `op entry of layer ${d.disagree}: not loaded`);
  const o = opts.openings ?? 'auto';
  const pick: ChunkPicker =
    o === 'auto' ? elementwiseChunks(d, entry, trace.layer(d.disagree)) : o === 'whole' ? () => undefined : o;
  const writes = await client.fillProofBuffer(signer, dispute, stepData(d, entry, trace, model, pick));
  const steps: SendResult[] = [];
  const maxSlices = opts.maxSlices ?? 64;
  for (let i = 0; i < maxSlices; i++) {
    steps.push(await client.oneStep(signer, dispute, { maxElements: opts.maxElements ?? 0 }));
    if (steps[steps.length - 1].events.some((e) => e.name === 'DisputeResolved')) break;
  }
  return { writes, steps };
}
