// Framing: a sequencer commits records naming a bonded executor that never signed them; its accomplice disputes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputeBudgetProgram, TransactionInstruction, type Keypair } from '@solana/web3.js';
import { ED25519_PROGRAM_ID, MAX_BATCH_JOBS } from '../../settlement/instructions.ts';
import { PARAMS, World, attempt, type CommittedBatch, type TxResult } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';

const SOL = 1_000_000_000n;
/** The Ed25519 program's InvalidSignature: the runtime refuses the transaction before open_dispute runs. */
const PRECOMPILE_REFUSED = 'Custom2';

interface Scene {
  world: World;
  victim: Keypair;
  accomplice: Keypair;
  bonded: bigint;
}

async function scene(): Promise<Scene> {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const victim = await world.operator(10n * SOL);
  const accomplice = await world.operator(5n * SOL);
  return { world, victim, accomplice, bonded: (await world.operatorOf(victim.publicKey)).bonded };
}

/** A batch naming the victim whose job 1 claims an output the victim never produced, "signed" by `forge`. */
const framed = (s: Scene, forge: (record: Buffer) => Buffer): Promise<CommittedBatch> =>
  s.world.commitBatch(0, s.victim, P.sha(Buffer.from('victim never ran this')), 3, 1, forge);

/** The attack is refused with `error`, nothing is locked or slashed, and lamports are conserved. */
async function assertRefused(s: Scene, res: TxResult, error: string) {
  assert.equal(res.ok, false, "the accomplice's dispute is refused");
  assert.equal(res.error, error);
  const v = await s.world.operatorOf(s.victim.publicKey);
  assert.equal(v.bonded, s.bonded, "the victim's bond is intact");
  assert.equal(v.locked, 0n);
  assert.equal(v.openDisputes, 0);
  assert.equal((await s.world.batch(0)).openDisputes, 0);
  assert.equal(s.world.unaccountedLamports(), 0n, 'lamports conserved');
}

/** An Ed25519 instruction carrying key, signature and message in its own data (the usual self-contained form). */
function selfContained(pubkey: Uint8Array, signature: Uint8Array, message: Uint8Array, dataIx = 0xffff) {
  const data = Buffer.alloc(16 + 32 + 64 + message.length);
  data[0] = 1;
  [48, dataIx, 16, dataIx, 112, message.length, dataIx].forEach((v, k) => data.writeUInt16LE(v, 2 + 2 * k));
  data.set(pubkey, 16);
  data.set(signature, 48);
  data.set(message, 112);
  return new TransactionInstruction({ programId: ED25519_PROGRAM_ID, keys: [], data });
}
const openArgs = (s: Scene, b: CommittedBatch, job = 1) => ({
  challenger: s.accomplice.publicKey,
  batchIndex: b.index,
  jobIndex: job,
  record: b.records[job],
  signature: b.signatures[job],
  ...P.batchProof(b.levels, job),
});
const openIx = (s: Scene, b: CommittedBatch) => s.world.client.ix.openDispute(openArgs(s, b));

test("framing: the sequencer commits a record naming a victim that never signed it; the accomplice's dispute is refused and the victim's bond is intact", async () => {
  const s = await scene();
  // The sequencer cannot sign for the victim: it commits its own signature over the record.
  const b = await framed(s, (r) => P.signRecord(r, s.accomplice.secretKey));
  const { dispute, res } = await s.world.openDispute(s.accomplice, b, 1);
  if (res.ok) {
    // Before executor-signed results: the victim cannot commit a trace ending at that digest and loses on time.
    s.world.warp(PARAMS.clockSlots + 1n);
    s.world.must(await s.world.claimTimeout(s.accomplice, dispute), 'claim_timeout');
  }
  // The Ed25519 program refuses the whole transaction: the signature is not the victim's.
  assert.equal(res.ok, false, "the accomplice's dispute is refused");
  await assertRefused(s, res, PRECOMPILE_REFUSED);
});

test('framing: open_dispute without an Ed25519 instruction is refused (MissingResultSignature)', async () => {
  const s = await scene();
  const b = await framed(s, () => Buffer.alloc(64, 7));
  const res = await s.world.sendRaw([openIx(s, b)], [s.accomplice]);
  await assertRefused(s, res, 'MissingResultSignature');
});

test("framing: an Ed25519 check of the victim's real signature over a different record is refused (BadResultSignature)", async () => {
  const s = await scene();
  // A result the victim really signed (an honest job it ran), replayed under the framed record.
  const real = P.jobRecord({
    jobId: P.sha(Buffer.from('another job')),
    modelId: s.world.modelId,
    inputDigest: s.world.inputDigest(),
    outputDigest: P.sha(Buffer.from('honest output')),
    executor: s.victim.publicKey.toBytes(),
    fee: 1000n,
  });
  const realSig = P.signRecord(real, s.victim.secretKey);
  const b = await framed(s, () => realSig);
  // Offsets as open_dispute pins them, but the message is the other record's digest.
  const ed = s.world.client.ix.resultSignatureCheck({ record: real, openDisputeIndex: 1 });
  const res = await s.world.sendRaw([ed, openIx(s, b)], [s.accomplice]);
  await assertRefused(s, res, 'BadResultSignature');
  // And the self-contained form of the same real signature.
  const res2 = await s.world.sendRaw(
    [selfContained(s.victim.publicKey.toBytes(), realSig, P.resultDigest(real)), openIx(s, b)],
    [s.accomplice],
  );
  await assertRefused(s, res2, 'BadResultSignature');
});

test('framing: an Ed25519 check over this record by a different key is refused (BadResultSignature)', async () => {
  const s = await scene();
  const b = await framed(s, (r) => P.signRecord(r, s.accomplice.secretKey));
  const digest = P.resultDigest(b.records[1]);
  const res = await s.world.sendRaw(
    [selfContained(s.accomplice.publicKey.toBytes(), b.signatures[1], digest), openIx(s, b)],
    [s.accomplice],
  );
  await assertRefused(s, res, 'BadResultSignature');
});

test('framing: Ed25519 offsets into a third instruction are refused (BadResultSignature)', async () => {
  const s = await scene();
  const b = await framed(s, (r) => P.signRecord(r, s.accomplice.secretKey));
  const digest = P.resultDigest(b.records[1]);
  // Instruction 0 points every offset into instruction 2, which holds the accomplice's key, its
  // signature and the digest: the Ed25519 program accepts, open_dispute (instruction 1) must not.
  const third = selfContained(s.accomplice.publicKey.toBytes(), b.signatures[1], digest);
  const first = selfContained(s.accomplice.publicKey.toBytes(), b.signatures[1], digest, 2);
  const res = await s.world.sendRaw([first, openIx(s, b), third], [s.accomplice]);
  await assertRefused(s, res, 'BadResultSignature');
});

test('framing: an Ed25519 check that is not the instruction right before open_dispute is refused (MissingResultSignature)', async () => {
  const s = await scene();
  // Even a genuine signature counts only in the pinned place.
  const b = await s.world.commitBatch(0, s.victim, P.sha(Buffer.from('some output')));
  const ed = s.world.client.ix.resultSignatureCheck({ record: b.records[1], openDisputeIndex: 2 });
  const gap = ComputeBudgetProgram.setComputeUnitLimit({ units: 400_000 });
  const res = await s.world.sendRaw([ed, gap, openIx(s, b)], [s.accomplice]);
  await assertRefused(s, res, 'MissingResultSignature');
  // The same transaction without the gap opens the dispute: the victim signed this record.
  s.world.must(
    await s.world.sendRaw(s.world.client.ix.openDisputeIxs(openArgs(s, b)), [s.accomplice]),
    'open_dispute',
  );
  assert.equal((await s.world.operatorOf(s.victim.publicKey)).openDisputes, 1);
});

test('open_dispute on the last job of the deepest batch (MAX_BATCH_JOBS) fits 1232 bytes; a bigger batch is refused (BatchTooLarge)', async () => {
  const s = await scene();
  const n = MAX_BATCH_JOBS;
  const record = P.jobRecord({
    jobId: P.sha(Buffer.from('deep job')),
    modelId: s.world.modelId,
    inputDigest: s.world.inputDigest(),
    outputDigest: P.sha(Buffer.from('deep output')),
    executor: s.victim.publicKey.toBytes(),
    fee: 1000n,
  });
  const signature = P.signRecord(record, s.victim.secretKey);
  const leaves = Array.from({ length: n }, (_, i) => ({ hash: P.sha(Buffer.from(`leaf ${i}`)), fee: 1000n }));
  leaves[n - 1] = { hash: P.signedLeaf(record, signature), fee: 1000n };
  const levels = P.batchTree(leaves);
  const { client, sequencer } = s.world;
  const big = await attempt(
    client.commitBatch(sequencer, { index: 0, root: P.batchRoot(levels), jobCount: n + 1 }),
  );
  assert.equal(big.error, 'BatchTooLarge');
  s.world.must(
    await attempt(
      client.commitBatch(sequencer, {
        index: 0,
        root: P.batchRoot(levels),
        jobCount: n,
        feeTotal: P.batchFees(levels),
      }),
    ),
    'commit_batch',
  );
  const proof = P.batchProof(levels, n - 1);
  assert.equal(proof.siblings.length, Math.log2(n));
  const res = await s.world.sendRaw(
    client.ix.openDisputeIxs({
      challenger: s.accomplice.publicKey,
      batchIndex: 0,
      jobIndex: n - 1,
      record,
      signature,
      ...proof,
    }),
    [s.accomplice],
  );
  s.world.must(res, `open_dispute at depth ${Math.log2(n)}`);
  assert.ok(res.size <= 1232, `open_dispute is ${res.size} bytes`);
  console.log(`open_dispute, depth ${Math.log2(n)}: ${res.size} bytes, ${res.cu} CU`);
  assert.equal(s.world.unaccountedLamports(), 0n, 'lamports conserved');
});
