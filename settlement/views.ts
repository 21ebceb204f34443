// TraceView / ModelView (game.ts) built from the node's own state/ types: canonical tensors, hex
// hashes, the state/ Merkle and trace constructions. What an executor or challenger holds after
// re-running a job is enough to play a dispute with these.
import { fromHex } from '../state/hash.ts';
import { MerkleTree } from '../state/merkle.ts';
import { encodeTensorHeader } from '../state/optable.ts';
import { DTYPE_CODES, chunkTree, tensorDigest, type Tensor } from '../state/tensor.ts';
import { traceCommitment, traceTree } from '../state/trace.ts';
import type { Hash32, ModelId } from '../state/types.ts';
import type { ModelView, OpenedTensor, TraceView } from './game.ts';

/** `u8 dtype || u8 rank || rank x u64 dims`, as reveal_layer and openings carry it. */
export const headerBytes = (t: Pick<Tensor, 'dtype' | 'dims'>): Buffer =>
  encodeTensorHeader({ dtype: DTYPE_CODES[t.dtype], dims: t.dims });

export const opened = (t: Tensor): OpenedTensor => ({ header: headerBytes(t), bytes: t.data });

/**
 * One side's trace of a job: the outputs of the traced layers in canonical order (docs/PROTOCOL.md),
 * committed under (modelId, inputDigest, profileHash). Chunk trees are built on first use.
 */
export function traceViewOf(t: {
  modelId: ModelId;
  inputDigest: Hash32;
  profileHash: Hash32;
  layers: Tensor[];
}): TraceView {
  const digests = t.layers.map((l) => tensorDigest(l));
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
    layer: (i) => opened(t.layers[i]),
    chunkLevels: (i) => {
      let ct = trees.get(i);
      if (!ct) {
        ct = chunkTree(t.layers[i].data);
        trees.set(i, ct);
      }
      return ct.levels;
    },
  };
}

/** The job's named inputs and the model's weights in op-table order (the weight root's leaves). */
export function modelViewOf(m: { inputs: Record<string, Tensor>; weights: Tensor[] }): ModelView {
  const names = Object.keys(m.inputs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
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
