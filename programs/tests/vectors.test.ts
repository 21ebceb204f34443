// The shared state/vectors.json checked inside the SBF VM through the test build's check instruction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Harness, PROGRAMS } from './lib/svm.ts';
import { u32, leafHash, nodeHash } from './lib/protocol.ts';

/** Independent verifier (JS) for the expected outcome of forged-index proofs. */
function jsVerify(root: Buffer, leaf: Buffer, index: number, count: number, sib: Buffer[]): boolean {
  let d = 0;
  while (2 ** d < count) d++;
  if (index >= count || sib.length !== d) return false;
  let acc = leafHash(leaf);
  sib.forEach((s, k) => (acc = (index >> k) & 1 ? nodeHash(s, acc) : nodeHash(acc, s)));
  return acc.equals(root);
}

const V = JSON.parse(readFileSync(path.join(PROGRAMS, '../state/vectors.json'), 'utf8'));
const hex = (s: string) => Buffer.from(s, 'hex');
const h = new Harness('test');
const payer = h.fund();

function check(kind: number, data: Buffer): Buffer {
  // Inputs above one transaction go through a ProofBuffer account (empty `data`).
  const keys = data.length > 900 ? [{ pubkey: h.putBuffer(data), isSigner: false, isWritable: false }] : [];
  const r = h.send(
    [h.ix('check', { kind, data: data.length > 900 ? Buffer.alloc(0) : data }, keys)],
    [payer],
  );
  assert.ok(r.ok, `check ${kind} failed: ${r.error ?? r.raw}\n${r.logs.join('\n')}`);
  assert.ok(r.size <= 1232, `tx is ${r.size} bytes`);
  return r.returnData;
}
const tensorBlob = (dtype: number, dims: number[], bytes: Buffer) => {
  const hdr = Buffer.alloc(2 + 8 * dims.length);
  hdr[0] = dtype;
  hdr[1] = dims.length;
  dims.forEach((d, i) => hdr.writeBigUInt64LE(BigInt(d), 2 + 8 * i));
  return Buffer.concat([hdr, u32(bytes.length), bytes]);
};

test('vectors file has the expected chunk size', () => {
  assert.equal(V.chunkBytes, 256);
});

test('merkle roots and proofs verify in the VM', () => {
  for (const m of V.merkle) {
    const leaves: Buffer[] = m.leaves.map(hex);
    const data = Buffer.concat([u32(leaves.length), ...leaves.map((l) => Buffer.concat([u32(l.length), l]))]);
    assert.equal(check(0, data).toString('hex'), m.root);
    for (const p of m.proofs) {
      const leaf = leaves[p.index];
      const sib: Buffer[] = p.siblings.map(hex);
      const mk = (root: Buffer, idx: number) =>
        Buffer.concat([
          root,
          u32(leaf.length),
          leaf,
          u32(idx),
          u32(leaves.length),
          Buffer.from([sib.length]),
          ...sib,
        ]);
      assert.deepEqual([...check(3, mk(hex(m.root), p.index))], [1]);
      // A proof for the wrong index or a forged root must not verify.
      const forged = hex(m.root);
      forged[0] ^= 1;
      assert.deepEqual([...check(3, mk(forged, p.index))], [0]);
      for (const idx of [(p.index + 1) % leaves.length, leaves.length]) {
        const want = jsVerify(hex(m.root), leaf, idx, leaves.length, sib) ? 1 : 0;
        assert.deepEqual([...check(3, mk(hex(m.root), idx))], [want]);
      }
    }
  }
});

test('tensor chunk roots and digests match in the VM', () => {
  let n = 0;
  for (const t of V.tensors) {
    const blob = tensorBlob(t.dtype, t.dims, hex(t.bytes));
    const out = check(1, blob);
    assert.equal(out.subarray(0, 32).toString('hex'), t.chunkRoot);
    assert.equal(out.subarray(32, 64).toString('hex'), t.digest);
    n++;
  }
  assert.equal(n, V.tensors.length);
});

test('trace prefix chains and roots match in the VM', () => {
  for (const t of V.traces) {
    const ds: Buffer[] = t.layerDigests.map(hex);
    const out = check(
      2,
      Buffer.concat([hex(t.modelId), hex(t.inputDigest), hex(t.profileHash), u32(ds.length), ...ds]),
    );
    assert.equal(out.subarray(0, 32).toString('hex'), t.root);
    assert.equal(out.subarray(32, 64).toString('hex'), t.prefixes[t.prefixes.length - 1]);
  }
});

test('batch tree roots, fee sums and job-record openings match in the VM', () => {
  for (const b of V.batches) {
    // A leaf is (H(0x00 || record || executor signature), the record's fee); siblings carry their fee sums.
    for (const p of b.proofs) {
      const opening = (fee0: bigint) => {
        const sib = p.siblings.map((s: string, k: number) => {
          const f = Buffer.alloc(8);
          f.writeBigUInt64LE(BigInt(p.siblingFees[k]) + (k === 0 ? fee0 : 0n));
          return Buffer.concat([hex(s), f]);
        });
        return Buffer.concat([
          hex(b.root),
          hex(b.records[p.index]),
          hex(b.signatures[p.index]),
          u32(p.index),
          u32(b.records.length),
          Buffer.from([sib.length]),
          ...sib,
        ]);
      };
      const out = check(5, opening(0n));
      assert.equal(out[0], 1, `batch of ${b.records.length}, job ${p.index}: opens the root`);
      assert.equal(out.readBigUInt64LE(1).toString(), b.feeSum, 'and shows the fee sum');
      if (p.siblings.length > 0)
        assert.equal(check(5, opening(1n))[0], 0, 'a changed sibling fee sum does not');
    }
  }
});
