// The one TypeScript path that decides and builds a party's move: which move the dispute expects and
// from whom (`nextMove`, the only phase switch off chain), its arguments from the mover's own trace,
// sending it (`playMove`) and the one-step (`submitOneStep`). Instructions themselves are settlement/'s.
import type { PublicKey, Signer } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { PHASE } from './phases.ts';
import { SIDE, type DisputeAccount, type Side } from '../settlement/accounts.ts';
import { bisectMid, type SettlementClient } from '../settlement/client.ts';
import type { Bytes32 } from '../settlement/instructions.ts';
import { OPS_PER_PAGE, decodeOpEntry } from '../state/optable.ts';
import { CHUNK_BYTES } from '../state/tensor.ts';
import { checkLayer } from '../state/shapes.ts';
import type { SendResult } from '../settlement/sender.ts';
import { neverMoveOutOfTurn, stepOnlyAtLeaf } from './rules.ts';
import { elementwiseChunks, stepData, type ChunkPicker } from './step-data.ts';
import type { ModelView, TraceView } from './views.ts';

/** Which move a dispute expects, and from whom. */
export type NextMove =
  | { kind: 'commit_trace' | 'bisect_layer' | 'reveal_layer' | 'bisect_chunk' | 'reveal_leaf'; side: Side }
  | { kind: 'one_step'; side: typeof SIDE.CHALLENGER }
  | { kind: 'resolved'; winner: Side };

/** The move a dispute expects, with a turn move's instruction arguments built from the mover's trace. */
export type Move =
  | {
      kind: 'commit_trace';
      side: Side;
      args: {
        root: Bytes32;
        layerCount: number;
        prevPrefix: Bytes32;
        lastDigest: Bytes32;
        siblings: Uint8Array[];
        model: PublicKey;
      };
    }
  | { kind: 'bisect_layer'; side: Side; args: { prefix: Bytes32; siblings: Uint8Array[] } }
  | { kind: 'reveal_layer'; side: Side; args: { header: Uint8Array; chunkRoot: Bytes32 } }
  | { kind: 'bisect_chunk'; side: Side; args: { left: Bytes32; right: Bytes32 } }
  | { kind: 'reveal_leaf'; side: Side; args: { bytes: Uint8Array } }
  | { kind: 'one_step'; side: typeof SIDE.CHALLENGER }
  | { kind: 'resolved'; winner: Side };

/**
 * The move `d` expects now and the side that makes it; given that side's trace, also what it says
 * (commit_trace, bisect_layer, reveal_layer, bisect_chunk). The one-step runs on the challenger's
 * clock, though either side may submit it.
 */
export function nextMove(d: DisputeAccount): NextMove;
export function nextMove(d: DisputeAccount, trace: TraceView): Move;
export function nextMove(d: DisputeAccount, trace?: TraceView): NextMove | Move {
  switch (d.phase) {
    case PHASE.EXEC_TRACE:
    case PHASE.CHAL_TRACE: {
      const m = { kind: 'commit_trace' as const, side: d.turn };
      if (!trace) return m;
      const n = trace.layerCount;
      return {
        ...m,
        args: {
          root: trace.root,
          layerCount: n,
          prevPrefix: trace.prefix(n - 2),
          lastDigest: trace.digest(n - 1),
          siblings: trace.prefixProof(n - 1),
          model: d.model,
        },
      };
    }
    case PHASE.LAYER_BISECT: {
      const m = { kind: 'bisect_layer' as const, side: d.turn };
      if (!trace) return m;
      const mid = bisectMid(d);
      return { ...m, args: { prefix: trace.prefix(mid), siblings: trace.prefixProof(mid) } };
    }
    case PHASE.LAYER_REVEAL: {
      const m = { kind: 'reveal_layer' as const, side: d.turn };
      if (!trace) return m;
      const levels = trace.chunkLevels(d.disagree);
      return {
        ...m,
        args: { header: trace.layer(d.disagree).header, chunkRoot: levels[levels.length - 1][0] },
      };
    }
    case PHASE.CHUNK_BISECT: {
      const m = { kind: 'bisect_chunk' as const, side: d.turn };
      if (!trace) return m;
      const lv = trace.chunkLevels(d.disagree)[d.chunkLevel - 1];
      return { ...m, args: { left: lv[2 * d.chunkIndex], right: lv[2 * d.chunkIndex + 1] } };
    }
    case PHASE.LEAF_REVEAL: {
      // Tolerant models: the disputed chunk's bytes (none for a chunk past the tensor: the ZERO leaf).
      const m = { kind: 'reveal_leaf' as const, side: d.turn };
      if (!trace) return m;
      const bytes = trace.layer(d.disagree).bytes;
      return {
        ...m,
        args: { bytes: bytes.subarray(d.chunkIndex * CHUNK_BYTES, (d.chunkIndex + 1) * CHUNK_BYTES) },
      };
    }
    case PHASE.ONE_STEP:
      return { kind: 'one_step', side: SIDE.CHALLENGER };
    default:
      return { kind: 'resolved', winner: d.winner };
  }
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
  if (!neverMoveOutOfTurn(d, side).ok) return null;
  const m = nextMove(d, trace);
  switch (m.kind) {
    case 'commit_trace':
      return client.commitTrace(signer, dispute, m.args);
    case 'bisect_layer':
      return client.bisectLayer(signer, dispute, m.args);
    case 'reveal_layer':
      return client.revealLayer(signer, dispute, m.args);
    case 'bisect_chunk':
      return client.bisectChunk(signer, dispute, m.args);
    case 'reveal_leaf':
      return client.revealLeaf(signer, dispute, m.args);
  }
  return null;
}

/**
 * Fills `signer`'s proof buffer with the one-step data from its trace and submits the one-step in
 * slices of `maxElements` output elements until the dispute resolves. `maxElements` defaults to the
 * slice registration planned for the layer (state/shapes.ts checkLayer on the model's registered
 * shape record), so a big layer never runs one transaction out of compute; 0 computes the whole
 * chunk at once. The buffer stays open; close it with `client.closeProofBuffer` to get its rent back.
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
  const leaf = stepOnlyAtLeaf(d);
  if (!leaf.ok) throw new OptinferError('INVALID_INPUT', `dispute ${dispute.toBase58()}: ${leaf.reason}`);
  const page = await client.fetchOpsPage(d.modelId, Math.floor(d.disagree / OPS_PER_PAGE));
  const entry = page?.entries[d.disagree % OPS_PER_PAGE];
  if (!entry) throw new OptinferError('NOT_FOUND', `op entry of layer ${d.disagree}: not loaded`);
  const o = opts.openings ?? 'auto';
  const pick: ChunkPicker =
    o === 'auto' ? elementwiseChunks(d, entry, trace.layer(d.disagree)) : o === 'whole' ? () => undefined : o;
  const writes = await client.fillProofBuffer(signer, dispute, stepData(d, entry, trace, model, pick));
  const { maxElements, slices } = await plannedSlice(client, d, entry, opts.maxElements);
  const steps: SendResult[] = [];
  const maxSlices = opts.maxSlices ?? Math.max(64, slices);
  for (let i = 0; i < maxSlices; i++) {
    steps.push(await client.oneStep(signer, dispute, { maxElements }));
    if (steps[steps.length - 1].events.some((e) => e.name === 'DisputeResolved')) break;
  }
  return { writes, steps };
}

/**
 * The `max_elements` of each one_step slice: `given` when set, else the plan registration made for
 * the disputed layer (0, the whole chunk, when the record is missing or the layer has no plan), and
 * how many slices the chunk takes with it.
 */
export async function plannedSlice(
  client: SettlementClient,
  d: DisputeAccount,
  entry: Uint8Array,
  given?: number,
): Promise<{ maxElements: number; slices: number }> {
  const shapes = given === undefined ? await client.fetchModelShapes(d.modelId) : null;
  const c = shapes && checkLayer(decodeOpEntry(entry), shapes, d.disagree);
  const maxElements = given ?? (c && c.ok ? c.plan.slice : 0);
  const elements = c && c.ok ? c.plan.elements : 256;
  return { maxElements, slices: maxElements > 0 ? Math.ceil(elements / maxElements) + 1 : 1 };
}
