// Merkle tree: cross-checked against merkletreejs and an independent @noble/hashes implementation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MerkleTree as RefTree } from 'merkletreejs';
import { sha256 as nobleSha } from '@noble/hashes/sha2.js';
import { MerkleTree, leafHash, rootFromProof, treeDepth, verifyProof } from './merkle.ts';
import { toHex } from './hash.ts';

function item(i: number): Uint8Array {
  return new TextEncoder().encode(`item-${i}`);
}

/** Straight-from-the-spec recursive root with noble's sha256. */
function specRoot(leaves: Uint8Array[]): Uint8Array {
  let row: Uint8Array[] = leaves.map((d) => nobleSha(Uint8Array.of(0, ...d)));
  let p = 1;
  while (p < row.length) p *= 2;
  while (row.length < p) row.push(new Uint8Array(32));
  while (row.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nobleSha(Uint8Array.of(1, ...row[i], ...row[i + 1])));
    row = next;
  }
  return row[0];
}

test('root matches the spec computed with @noble/hashes for 1..33 leaves', () => {
  for (let n = 1; n <= 33; n++) {
    const data = Array.from({ length: n }, (_, i) => item(i));
    assert.equal(toHex(MerkleTree.fromData(data).root), toHex(specRoot(data)), `n=${n}`);
  }
});

test('root matches merkletreejs configured with tagged nodes and zero fill', () => {
  for (const n of [1, 2, 3, 5, 8, 13, 100]) {
    const leaves = Array.from({ length: n }, (_, i) => Buffer.from(leafHash(item(i))));
    const ref = new RefTree(leaves, (x: Buffer) => Buffer.from(nobleSha(Buffer.concat([Buffer.of(1), x]))), {
      fillDefaultHash: () => Buffer.alloc(32),
    });
    assert.equal(toHex(MerkleTree.fromLeafHashes(leaves).root), ref.getRoot().toString('hex'), `n=${n}`);
  }
});

test('every proof verifies, and a proof fails for any other leaf, index or count', () => {
  for (const n of [1, 2, 3, 7, 16, 17]) {
    const data = Array.from({ length: n }, (_, i) => item(i));
    const t = MerkleTree.fromData(data);
    for (let i = 0; i < n; i++) {
      const p = t.proof(i);
      assert.equal(p.siblings.length, treeDepth(n));
      assert.ok(verifyProof(leafHash(data[i]), p, n, t.root), `n=${n} i=${i}`);
      assert.ok(!verifyProof(leafHash(item(1000)), p, n, t.root));
      if (n > 1) assert.ok(!verifyProof(leafHash(data[i]), { ...p, index: (i + 1) % n }, n, t.root));
    }
  }
});

test('padding leaves cannot be proven: index >= count and wrong depth are rejected', () => {
  const t = MerkleTree.fromData([item(0), item(1), item(2)]);
  const padded = { index: 3, siblings: [t.levels[0][2], t.levels[1][0]] };
  // The proof is internally consistent for the padded row, yet must be refused.
  assert.equal(rootFromProof(new Uint8Array(32), padded, 3), null);
  assert.equal(rootFromProof(leafHash(item(0)), { index: 0, siblings: [] }, 3), null);
  assert.throws(() => t.proof(3), /expected 0..2, got 3/);
});

test('leaf and node hashes are domain separated', () => {
  const a = leafHash(item(0));
  const b = leafHash(item(1));
  const node = MerkleTree.fromLeafHashes([a, b]).root;
  // A 64-byte leaf equal to the two children must not hash to the node.
  assert.notEqual(toHex(leafHash(Uint8Array.of(...a, ...b))), toHex(node));
});
