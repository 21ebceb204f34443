// Playing one side of a dispute through the client, from that side's own stored trace: the move the
// dispute expects (commit, bisect, reveal, descend) and the one-step proof data (docs/PROGRAM.md,
// "The dispute game", step 6; whole-tensor openings).
import type { PublicKey, Signer } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { SIDE, PHASE, type DisputeAccount, type Side } from './accounts.ts';
import { bisectMid, type SettlementClient } from './client.ts';
import type { SendResult } from './sender.ts';
import { OPS_PER_PAGE } from './pdas.ts';

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

const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
};
const whole = (t: OpenedTensor) => Buffer.concat([Buffer.from([0]), t.header, u32(t.bytes.length), t.bytes]);

/** The refs of a 24-byte op entry: `kind << 14 | index` for each of its n_inputs inputs. */
export function entryRefs(entry: Uint8Array): number[] {
  const b = Buffer.from(entry);
  const n = b[1];
  const refs: number[] = [];
  for (let i = 0; i < n; i++) refs.push(b.readUInt16LE(2 + 2 * i));
  return refs;
}

/**
 * The one-step proof data for layer `d.disagree`: every input of its op, in the entry's order, each
 * opened whole (earlier layer: prefix chain to the agreed prefix; model input: the name/digest list;
 * weight: its proof against the weight root).
 */
export function stepData(d: DisputeAccount, entry: Uint8Array, trace: TraceView, model: ModelView): Buffer {
  const parts: Buffer[] = [];
  for (const ref of entryRefs(entry)) {
    const kind = ref >> 14;
    const idx = ref & 0x3fff;
    if (kind === 0) {
      if (idx >= d.agreed) {
        throw new OptinferError('INVALID_INPUT', `one-step: layer ${idx} is not agreed (agreed ${d.agreed})`);
      }
      parts.push(Buffer.from(trace.prefix(idx - 1)), u32(d.agreed - idx));
      for (let k = idx; k < d.agreed; k++) parts.push(Buffer.from(trace.digest(k)));
      parts.push(whole(trace.layer(idx)));
    } else if (kind === 1) {
      parts.push(u32(model.inputs.length));
      for (const i of model.inputs) {
        parts.push(u16(Buffer.byteLength(i.name)), Buffer.from(i.name), Buffer.from(i.digest));
      }
      parts.push(whole(model.inputs[idx].tensor));
    } else if (kind === 2) {
      const w = model.weight(idx);
      parts.push(Buffer.from([w.siblings.length]), ...w.siblings.map((s) => Buffer.from(s)));
      parts.push(Buffer.from(w.digest), whole(w.tensor));
    } else {
      throw new OptinferError('INVALID_MODEL', `op entry: unknown ref kind ${kind}`);
    }
  }
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
  opts: { maxElements?: number; maxSlices?: number } = {},
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
  const writes = await client.fillProofBuffer(signer, dispute, stepData(d, entry, trace, model));
  const steps: SendResult[] = [];
  const maxSlices = opts.maxSlices ?? 64;
  for (let i = 0; i < maxSlices; i++) {
    steps.push(await client.oneStep(signer, dispute, { maxElements: opts.maxElements ?? 0 }));
    if (steps[steps.length - 1].events.some((e) => e.name === 'DisputeResolved')) break;
  }
  return { writes, steps };
}
