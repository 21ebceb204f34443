// The committed shared vectors are exactly what the current TypeScript code produces (fails when stale).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { VECTORS_PATH, vectorsJson } from './vectors.ts';
import { verifyProof, leafHash } from './merkle.ts';
import { fromHex } from './hash.ts';

test('state/vectors.json is up to date (regenerate: node --import tsx state/vectors.ts)', () => {
  assert.equal(readFileSync(VECTORS_PATH, 'utf8'), vectorsJson());
});

test('every Merkle vector proof verifies against its root', () => {
  const v = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as {
    merkle: { leaves: string[]; root: string; proofs: { index: number; siblings: string[] }[] }[];
  };
  let checked = 0;
  for (const m of v.merkle) {
    for (const p of m.proofs) {
      const proof = { index: p.index, siblings: p.siblings.map((s) => fromHex(s, 32)) };
      assert.ok(
        verifyProof(leafHash(fromHex(m.leaves[p.index])), proof, m.leaves.length, fromHex(m.root, 32)),
      );
      checked++;
    }
  }
  assert.ok(checked > 30);
});
