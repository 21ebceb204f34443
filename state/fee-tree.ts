// The batch tree (docs/PROTOCOL.md "Batch tree"): a Merkle sum tree over signed job records, each node
// carrying the sum of its leaves' fees, so one opening shows the batch's fee total next to the escrow.
import { hash as oneShot } from 'node:crypto';
import { Tag, ZERO32 } from './hash.ts';
import { OptinferError } from './errors.ts';
import { treeDepth } from './merkle.ts';

/** The largest fee sum a node may carry: sums are u64 on chain, and a proof that overflows is refused. */
export const MAX_FEE_SUM = 2n ** 64n - 1n;

export interface FeeProof {
  /** Position of the leaf in the tree. */
  index: number;
  /** Sibling hashes from the leaf row upwards; length log2(padded leaf count). */
  siblings: Uint8Array[];
  /** The fee sum under each sibling, in the same order. */
  siblingFees: bigint[];
}

/** One node: its hash and the sum of its leaves' fees. */
export interface FeeNode {
  hash: Uint8Array;
  fee: bigint;
}

/** H(0x09 || leftHash || leftFee u64 LE || rightHash || rightFee u64 LE). */
export function feeNodeHash(left: FeeNode, right: FeeNode): Uint8Array {
  const buf = Buffer.allocUnsafe(81);
  buf[0] = Tag.FEE_NODE;
  buf.set(left.hash, 1);
  buf.writeBigUInt64LE(left.fee, 33);
  buf.set(right.hash, 41);
  buf.writeBigUInt64LE(right.fee, 73);
  return oneShot('sha256', buf, 'buffer');
}

/** The parent node; its fee sum saturates at 2^64 - 1 as the program's does (pure/merkle.rs). */
function parent(left: FeeNode, right: FeeNode): FeeNode {
  const fee = left.fee + right.fee;
  return { hash: feeNodeHash(left, right), fee: fee > MAX_FEE_SUM ? MAX_FEE_SUM : fee };
}

function checkFee(fee: bigint, what: string): void {
  if (typeof fee !== 'bigint' || fee < 0n || fee > MAX_FEE_SUM)
    throw new OptinferError('INVALID_PROOF', `${what}: expected a u64 fee in lamports, got ${String(fee)}`);
}

/** A full batch tree kept level by level; padding leaves are (ZERO, 0). */
export class FeeTree {
  /** levels[0] is the padded leaf row, the last level holds the root. */
  readonly levels: FeeNode[][];
  readonly leafCount: number;

  private constructor(levels: FeeNode[][], leafCount: number) {
    this.levels = levels;
    this.leafCount = leafCount;
  }

  /** Builds from leaf hashes (H(0x00 || record || signature)) and each record's fee. */
  static fromLeaves(leaves: readonly FeeNode[]): FeeTree {
    const n = leaves.length;
    const depth = treeDepth(n);
    const row: FeeNode[] = leaves.map((l, i) => {
      checkFee(l.fee, `leaf ${i} fee`);
      return { hash: l.hash, fee: l.fee };
    });
    for (let i = n; i < 2 ** depth; i++) row.push({ hash: ZERO32, fee: 0n });
    const levels = [row];
    let cur = row;
    while (cur.length > 1) {
      const next: FeeNode[] = new Array(cur.length / 2);
      for (let i = 0; i < next.length; i++) {
        if (cur[2 * i].fee + cur[2 * i + 1].fee > MAX_FEE_SUM)
          throw new OptinferError('INVALID_INPUT', 'batch: the fees sum past 2^64 - 1 lamports');
        next[i] = parent(cur[2 * i], cur[2 * i + 1]);
      }
      levels.push(next);
      cur = next;
    }
    return new FeeTree(levels, n);
  }

  get root(): Uint8Array {
    return this.levels[this.levels.length - 1][0].hash;
  }

  /** The sum of every leaf's fee: what the sequencer escrows at commit (`fee_total`). */
  get feeSum(): bigint {
    return this.levels[this.levels.length - 1][0].fee;
  }

  get depth(): number {
    return this.levels.length - 1;
  }

  proof(index: number): FeeProof {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.leafCount) {
      throw new OptinferError('INVALID_PROOF', `leaf index: expected 0..${this.leafCount - 1}, got ${index}`);
    }
    const siblings: Uint8Array[] = [];
    const siblingFees: bigint[] = [];
    let i = index;
    for (let level = 0; level < this.depth; level++) {
      const s = this.levels[level][i ^ 1];
      siblings.push(s.hash);
      siblingFees.push(s.fee);
      i >>= 1;
    }
    return { index, siblings, siblingFees };
  }
}

/**
 * Recomputes the root and the fee sum from a leaf and its proof, as the program does; null if the proof
 * is malformed for leafCount (wrong length, index on padding, a fee past u64). Sums saturate at 2^64 - 1:
 * a tree whose fees overflow still opens, with a fee sum no escrow reaches.
 */
export function feeRootFromProof(
  leaf: FeeNode,
  proof: FeeProof,
  leafCount: number,
): { root: Uint8Array; feeSum: bigint } | null {
  const depth = treeDepth(leafCount);
  if (
    !Number.isSafeInteger(proof.index) ||
    proof.index < 0 ||
    proof.index >= leafCount ||
    proof.siblings.length !== depth ||
    proof.siblingFees.length !== depth
  )
    return null;
  if (leaf.fee < 0n || leaf.fee > MAX_FEE_SUM) return null;
  let acc: FeeNode = leaf;
  let i = proof.index;
  for (let k = 0; k < depth; k++) {
    const fee = proof.siblingFees[k];
    if (typeof fee !== 'bigint' || fee < 0n || fee > MAX_FEE_SUM) return null;
    const s: FeeNode = { hash: proof.siblings[k], fee };
    acc = i & 1 ? parent(s, acc) : parent(acc, s);
    i >>= 1;
  }
  return { root: acc.hash, feeSum: acc.fee };
}
