// What one side knows of a disputed job (TraceView, ModelView) and how to build both from the node's own
// state/ types: canonical tensors, hex hashes, the state/ Merkle and trace constructions. What an executor or
// challenger holds after re-running a job is enough to play a dispute with these.
import { OptinferError } from '../state/errors.ts';
import { fromHex } from '../state/hash.ts';
import { MerkleTree } from '../state/merkle.ts';
import { encodeTensorHeader } from '../state/optable.ts';
import { DTYPE_CODES, chunkTree, tensorDigest, tensorNameOrder, type Tensor } from '../state/tensor.ts';
import { traceCommitment, traceTree } from '../state/trace.ts';
import type { Hash32, ModelId } from '../state/types.ts';

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

/** `u8 dtype || u8 rank || rank x u64 dims`, as reveal_layer and openings carry it. */
export const headerBytes = (t: Pick<Tensor, 'dtype' | 'dims'>): Buffer =>
  encodeTensorHeader({ dtype: DTYPE_CODES[t.dtype], dims: t.dims });

export const opened = (t: Tensor): OpenedTensor => ({ header: headerBytes(t), bytes: t.data });

/**
 * One side's trace of a job: the outputs of the traced layers in canonical order (docs/PROTOCOL.md),
 * committed under (modelId, inputDigest, profileHash). Chunk trees are built on first use. `tail`: digests of
 * further layers with no tensor behind them (a challenger's partial trace of a job onnxruntime refuses,
 * challenger/unrunnable.ts); the game never opens them, and `layer` or `chunkLevels` of one throws.
 */
export function traceViewOf(t: {
  modelId: ModelId;
  inputDigest: Hash32;
  profileHash: Hash32;
  layers: Tensor[];
  tail?: Hash32[];
}): TraceView {
  const digests = [...t.layers.map((l) => tensorDigest(l)), ...(t.tail ?? [])];
  const tensor = (i: number): Tensor => {
    const l = t.layers[i];
    if (!l)
      throw new OptinferError(
        'INVALID_LAYER_INDEX',
        `layer ${i}: this trace holds a digest only (its tensors end at layer ${t.layers.length - 1})`,
      );
    return l;
  };
  const c = traceCommitment({
    modelId: t.modelId,
    inputDigest: t.inputDigest,
    profileHash: t.profileHash,
    layerDigests: digests,
  });
  const tree = traceTree(c.prefixes);
  const trees = new Map<number, MerkleTree>();
  return {
    layerCount: c.layerCount,
    root: fromHex(c.root, 32),
    prefix: (i) => fromHex(i < 0 ? c.seed : c.prefixes[i], 32),
    prefixProof: (i) => tree.proof(i).siblings,
    digest: (i) => fromHex(digests[i], 32),
    layer: (i) => opened(tensor(i)),
    chunkLevels: (i) => {
      let ct = trees.get(i);
      if (!ct) {
        ct = chunkTree(tensor(i).data);
        trees.set(i, ct);
      }
      return ct.levels;
    },
  };
}

/** The job's named inputs and the model's weights in op-table order (the weight root's leaves). */
export function modelViewOf(m: { inputs: Record<string, Tensor>; weights: Tensor[] }): ModelView {
  const names = Object.keys(m.inputs).sort(tensorNameOrder);
  const weightDigests = m.weights.map((w) => fromHex(tensorDigest(w), 32));
  const weightTree = MerkleTree.fromData(weightDigests);
  return {
    inputs: names.map((name) => ({
      name,
      digest: fromHex(tensorDigest(m.inputs[name]), 32),
      tensor: opened(m.inputs[name]),
    })),
    weight: (i) => ({
      digest: weightDigests[i],
      siblings: weightTree.proof(i).siblings,
      tensor: opened(m.weights[i]),
    }),
  };
}

/** The model's weight root: Merkle root over the weight tensor digests, in op-table order. */
export function weightRoot(weights: Tensor[]): Uint8Array {
  return MerkleTree.fromData(weights.map((w) => fromHex(tensorDigest(w), 32))).root;
}
