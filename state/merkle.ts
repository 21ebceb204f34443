// The one Merkle construction (docs/PROTOCOL.md): tagged leaves and nodes, padded with ZERO to a power of two.
import { hash as oneShot } from 'node:crypto';
import { Tag, ZERO32, bytesEqual } from './hash.ts';
import { OptinferError } from './errors.ts';

export interface MerkleProof {
  /** Position of the leaf in the tree. */
  index: number;
  /** Siblings from the leaf row upwards; length log2(padded leaf count). */
  siblings: Uint8Array[];
}

/** H(0x00 || data). */
export function leafHash(data: Uint8Array): Uint8Array {
  const buf = Buffer.allocUnsafe(1 + data.length);
  buf[0] = Tag.LEAF;
  buf.set(data, 1);
  return oneShot('sha256', buf, 'buffer');
}

/** H(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = Buffer.allocUnsafe(65);
  buf[0] = Tag.NODE;
  buf.set(left, 1);
  buf.set(right, 33);
  return oneShot('sha256', buf, 'buffer');
}

/** Number of levels above the leaf row for n leaves: ceil(log2(n)), 0 for n = 1. */
export function treeDepth(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new OptinferError('INVALID_PROOF', `leaf count: expected a positive integer, got ${n}`);
  }
  let d = 0;
  while (2 ** d < n) d++;
  return d;
}

/** A full tree kept level by level, so proofs are cheap once built. */
export class MerkleTree {
  /** levels[0] is the padded leaf row, the last level holds the root. */
  readonly levels: Uint8Array[][];
  readonly leafCount: number;

  private constructor(levels: Uint8Array[][], leafCount: number) {
    this.levels = levels;
    this.leafCount = leafCount;
  }

  /** Builds from leaf hashes (already H(0x00 || data)). */
  static fromLeafHashes(leaves: Uint8Array[]): MerkleTree {
    const n = leaves.length;
    const depth = treeDepth(n);
    const row: Uint8Array[] = leaves.slice();
    for (let i = n; i < 2 ** depth; i++) row.push(ZERO32);
    const levels = [row];
    // One scratch buffer for all inner nodes: the tree of 2^16 leaves builds in well under 200 ms.
    const scratch = Buffer.allocUnsafe(65);
    scratch[0] = Tag.NODE;
    let cur = row;
    while (cur.length > 1) {
      const next: Uint8Array[] = new Array(cur.length / 2);
      for (let i = 0; i < next.length; i++) {
        scratch.set(cur[2 * i], 1);
        scratch.set(cur[2 * i + 1], 33);
        next[i] = oneShot('sha256', scratch, 'buffer');
      }
      levels.push(next);
      cur = next;
    }
    return new MerkleTree(levels, n);
  }

  static fromData(items: Uint8Array[]): MerkleTree {
    return MerkleTree.fromLeafHashes(items.map(leafHash));
  }

  get root(): Uint8Array {
    return this.levels[this.levels.length - 1][0];
  }

  get depth(): number {
    return this.levels.length - 1;
  }

  proof(index: number): MerkleProof {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.leafCount) {
      throw new OptinferError('INVALID_PROOF', `leaf index: expected 0..${this.leafCount - 1}, got ${index}`);
    }
    const siblings: Uint8Array[] = [];
    let i = index;
    for (let level = 0; level < this.depth; level++) {
      siblings.push(this.levels[level][i ^ 1]);
      i >>= 1;
    }
    return { index, siblings };
  }
}

/** Root over leaf hashes without keeping the levels. */
export function merkleRoot(leafHashes: Uint8Array[]): Uint8Array {
  return MerkleTree.fromLeafHashes(leafHashes).root;
}

/** Recomputes the root from a leaf hash and its proof; null if the proof is malformed for leafCount. */
export function rootFromProof(leaf: Uint8Array, proof: MerkleProof, leafCount: number): Uint8Array | null {
  const depth = treeDepth(leafCount);
  if (proof.index < 0 || proof.index >= leafCount || proof.siblings.length !== depth) return null;
  let acc = leaf;
  let i = proof.index;
  for (const s of proof.siblings) {
    acc = i & 1 ? nodeHash(s, acc) : nodeHash(acc, s);
    i >>= 1;
  }
  return acc;
}

export function verifyProof(
  leaf: Uint8Array,
  proof: MerkleProof,
  leafCount: number,
  root: Uint8Array,
): boolean {
  const r = rootFromProof(leaf, proof, leafCount);
  return r !== null && bytesEqual(r, root);
}
