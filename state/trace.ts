// Layer-trace commitments: a prefix chain over layer digests and a Merkle tree of its links.
import { Tag, fromHex, hashHex, taggedHash } from './hash.ts';
import { u32 } from './le.ts';
import { MerkleTree, leafHash, type MerkleProof, verifyProof } from './merkle.ts';
import type { Hash32, ModelId } from './types.ts';
import { OptinferError } from './errors.ts';

export interface TraceInput {
  modelId: ModelId;
  inputDigest: Hash32;
  profileHash: Hash32;
  layerDigests: Hash32[];
}

export interface TraceCommitment {
  root: Hash32;
  layerCount: number;
  /** p_0 .. p_{n-1}: equal p_i imply equal layers 0..i. */
  prefixes: Hash32[];
  seed: Hash32;
}

export function traceSeed(modelId: ModelId, inputDigest: Hash32, profileHash: Hash32): Hash32 {
  return hashHex(
    taggedHash(Tag.TRACE_SEED, fromHex(modelId, 32), fromHex(inputDigest, 32), fromHex(profileHash, 32)),
  );
}

export function traceStep(prev: Hash32, index: number, layerDigest: Hash32): Hash32 {
  return hashHex(taggedHash(Tag.TRACE_STEP, fromHex(prev, 32), u32(index), fromHex(layerDigest, 32)));
}

export function traceCommitment(t: TraceInput): TraceCommitment {
  if (t.layerDigests.length === 0) {
    throw new OptinferError('INVALID_MODEL', 'trace: expected at least one layer, got none');
  }
  const seed = traceSeed(t.modelId, t.inputDigest, t.profileHash);
  const prefixes: Hash32[] = [];
  let prev = seed;
  t.layerDigests.forEach((d, i) => {
    prev = traceStep(prev, i, d);
    prefixes.push(prev);
  });
  const root = hashHex(traceTree(prefixes).root);
  return { root, layerCount: prefixes.length, prefixes, seed };
}

export function traceTree(prefixes: Hash32[]): MerkleTree {
  return MerkleTree.fromLeafHashes(prefixes.map((p) => leafHash(fromHex(p, 32))));
}

/** Checks that prefix p_i is committed in a trace root of layerCount layers. */
export function verifyPrefix(root: Hash32, layerCount: number, prefix: Hash32, proof: MerkleProof): boolean {
  return verifyProof(leafHash(fromHex(prefix, 32)), proof, layerCount, fromHex(root, 32));
}
