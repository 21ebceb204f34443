// Batch fee tree: cross-checked against a straight-from-the-spec sum tree with @noble/hashes, and its proofs against tampering and overflow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 as nobleSha } from '@noble/hashes/sha2.js';
import { FeeTree, feeRootFromProof, MAX_FEE_SUM, type FeeNode } from './fee-tree.ts';
import { toHex } from './hash.ts';

const le64 = (v: bigint) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};

/** Recursive root with noble's sha256: node = H(0x09 || l || lfee || r || rfee), padding (ZERO, 0). */
function specRoot(leaves: FeeNode[]): FeeNode {
  let row = leaves.slice();
  let p = 1;
  while (p < row.length) p *= 2;
  while (row.length < p) row.push({ hash: new Uint8Array(32), fee: 0n });
  while (row.length > 1) {
    const next: FeeNode[] = [];
    for (let i = 0; i < row.length; i += 2) {
      const [l, r] = [row[i], row[i + 1]];
      next.push({
        hash: nobleSha(Uint8Array.of(9, ...l.hash, ...le64(l.fee), ...r.hash, ...le64(r.fee))),
        fee: l.fee + r.fee,
      });
    }
    row = next;
  }
  return row[0];
}

const leaf = (i: number): FeeNode => ({ hash: nobleSha(Uint8Array.of(0, i)), fee: BigInt(i * 7 + 1) });

test('root and fee sum match the spec for 1..20 leaves, and every proof opens them', () => {
  for (let n = 1; n <= 20; n++) {
    const leaves = Array.from({ length: n }, (_, i) => leaf(i));
    const t = FeeTree.fromLeaves(leaves);
    const spec = specRoot(leaves);
    assert.equal(toHex(t.root), toHex(spec.hash), `n=${n}`);
    assert.equal(t.feeSum, spec.fee);
    for (let i = 0; i < n; i++) {
      const r = feeRootFromProof(leaves[i], t.proof(i), n);
      assert.ok(r && toHex(r.root) === toHex(t.root) && r.feeSum === t.feeSum, `n=${n} i=${i}`);
    }
  }
});

test('a changed fee, sibling fee or index does not open the root; padding and overflow are refused', () => {
  const leaves = Array.from({ length: 5 }, (_, i) => leaf(i));
  const t = FeeTree.fromLeaves(leaves);
  const p = t.proof(2);
  assert.notEqual(
    toHex(feeRootFromProof({ ...leaves[2], fee: leaves[2].fee + 1n }, p, 5)!.root),
    toHex(t.root),
  );
  const fees = [...p.siblingFees];
  fees[1] += 1n;
  assert.notEqual(toHex(feeRootFromProof(leaves[2], { ...p, siblingFees: fees }, 5)!.root), toHex(t.root));
  assert.equal(feeRootFromProof(leaves[2], { ...p, index: 5 }, 5), null, 'index on padding');
  assert.equal(feeRootFromProof(leaves[2], { ...p, siblingFees: fees.slice(1) }, 5), null, 'short fees');
  const big = feeRootFromProof({ ...leaves[2], fee: MAX_FEE_SUM }, p, 5);
  assert.equal(big?.feeSum, MAX_FEE_SUM, 'a sum past u64 saturates, as on chain');
  assert.throws(
    () =>
      FeeTree.fromLeaves([
        { hash: leaves[0].hash, fee: MAX_FEE_SUM },
        { hash: leaves[1].hash, fee: 1n },
      ]),
    /fees sum past 2\^64 - 1/,
  );
  assert.throws(() => FeeTree.fromLeaves([{ hash: leaves[0].hash, fee: -1n }]), /leaf 0 fee: expected a u64/);
});
