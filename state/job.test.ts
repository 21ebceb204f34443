// Job records and batches: fixed 168-byte encoding, inclusion proofs, sampling draw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import {
  Batch,
  JOB_RECORD_BYTES,
  decodeJobRecord,
  encodeJobRecord,
  jobId,
  resultDigest,
  signResult,
  verifyInclusion,
  verifyResult,
  type JobRecord,
} from './job.ts';
import { hashHex, sha256 } from './hash.ts';
import { isSampled, sampleThreshold } from './sample.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from './types.ts';

const h = (s: string): Hash32 => hashHex(sha256(new TextEncoder().encode(s)));
const executorKey = Keypair.generate();
const executor = executorKey.publicKey.toBase58() as ExecutorId;

function record(i: number): JobRecord {
  const modelId = h('model') as ModelId;
  const inputDigest = h(`in${i}`);
  return signResult(
    {
      jobId: jobId(i, modelId, inputDigest),
      modelId,
      inputDigest,
      outputDigest: h(`out${i}`),
      executor,
      fee: BigInt(i) * 1000n + 7n,
    },
    executorKey.secretKey,
  );
}

test('job records round-trip through their 168-byte encoding', () => {
  const r = record(3);
  const b = encodeJobRecord(r);
  assert.equal(b.length, JOB_RECORD_BYTES);
  const { signature: _, ...unsigned } = r;
  assert.deepEqual(decodeJobRecord(b), unsigned);
});

test("result signatures: the executor's verifies; another key's, another record's or a malformed one does not", () => {
  const r = record(5);
  assert.ok(verifyResult(r, r.signature));
  assert.ok(!verifyResult({ ...r, outputDigest: h('other') }, r.signature));
  assert.ok(!verifyResult(r, record(6).signature));
  const other = Keypair.generate();
  assert.ok(!verifyResult(r, signResult(r, other.secretKey).signature));
  assert.ok(!verifyResult(r, 'zz'.repeat(64)));
  assert.ok(!verifyResult(r, r.signature.slice(2)));
  // The signed message is H(0xff "optinfer result" || record): 32 bytes, domain-tagged.
  const digest = sha256(Buffer.from('\xffoptinfer result', 'latin1'), encodeJobRecord(r));
  assert.deepEqual(Buffer.from(resultDigest(r)), Buffer.from(digest));
});

test('job ids differ by sequence number for the same model and input', () => {
  assert.notEqual(jobId(1, h('m') as ModelId, h('i')), jobId(2, h('m') as ModelId, h('i')));
});

test('every job of a batch has a valid inclusion proof; a changed record does not verify', () => {
  const batch = new Batch(
    4 as BatchIndex,
    Array.from({ length: 11 }, (_, i) => record(i)),
  );
  for (let i = 0; i < 11; i++) {
    const p = batch.proof(i);
    assert.ok(verifyInclusion(p));
    const tampered = encodeJobRecord({ ...record(i), outputDigest: h('forged') });
    assert.ok(!verifyInclusion({ ...p, record: Buffer.from(tampered).toString('hex') }));
    // The leaf commits to the signature too.
    assert.ok(!verifyInclusion({ ...p, signature: record((i + 1) % 11).signature }));
  }
});

test('sampling rate: the fraction of audited jobs is close to p', () => {
  const secret = sha256(new TextEncoder().encode('secret'));
  const root = h('root');
  let hits = 0;
  for (let i = 0; i < 20000; i++) if (isSampled(secret, root, h(`job${i}`) as JobId, 0.05)) hits++;
  assert.ok(hits > 800 && hits < 1200, `hits=${hits}`);
  assert.equal(sampleThreshold(0), 0n);
  assert.equal(sampleThreshold(1), 1n << 64n);
  assert.throws(() => sampleThreshold(1.5), /expected a number in 0..1, got 1.5/);
});
