// Seventh review (issue 13/14): attacks that still succeed against the program, each asserting what should hold (they fail today).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { World, PARAMS, attempt, cheatLayers, type CommittedBatch } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';

const SOL = 1_000_000_000n;
const bounty = (stake: bigint) => (stake * BigInt(PARAMS.bountyBps)) / 10_000n;

/** Batch `index` of one record per entry: [its signer, its output digest, its fee]. */
function batchOf(world: World, index: number, jobs: [Keypair, Buffer, bigint][]) {
  const records = jobs.map(([k, out, fee], j) =>
    P.jobRecord({
      jobId: P.sha(Buffer.from([9]), P.u64(index * 100 + j)),
      modelId: world.modelId,
      inputDigest: world.inputDigest(),
      outputDigest: out,
      executor: k.publicKey.toBytes(),
      fee,
    }),
  );
  const signatures = records.map((r, j) => P.signRecord(r, jobs[j][0].secretKey));
  const levels = P.recordTree(records, signatures);
  const b: CommittedBatch = {
    index,
    address: world.client.pdas.batch(index),
    records,
    signatures,
    levels,
    res: undefined as never,
  };
  return { b, root: P.batchRoot(levels) };
}

/**
 * Batch 0: one record signed by `sybil` whose fee is a whole stake, committed with nothing escrowed (this
 * bonds the sequencer one fault slash), then finalized undisputed.
 */
async function unescrowedFeeBatch(world: World, sybil: Keypair) {
  const b0 = batchOf(world, 0, [[sybil, P.sha(Buffer.from('any output')), PARAMS.minExecutorBond]]);
  world.must(
    await attempt(
      world.client.commitBatch(world.sequencer, { index: 0, root: b0.root, jobCount: 1, feeTotal: 0n }),
    ),
    'commit_batch 0 (bonds the sequencer one fault slash)',
  );
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(world.fund(), 0), 'finalize_batch 0');
  return b0;
}

/**
 * The attack: one transaction, commit_batch of `b1` (its bond check passes), then `sybil` claims batch 0's
 * unescrowed fee. The batch tree shows batch 0's fee sum past its escrow, so the claim is refused
 * (EscrowShort) and with it the whole transaction; `b1` is then committed alone.
 */
async function commitWhileSybilClaims(
  world: World,
  sybil: Keypair,
  b0: ReturnType<typeof batchOf>,
  b1: ReturnType<typeof batchOf>,
) {
  const seq = world.sequencer;
  const claim = {
    jobIndex: 0,
    record: b0.b.records[0],
    signature: b0.b.signatures[0],
    ...P.batchProof(b0.b.levels, 0),
  };
  const both = await world.sendRaw(
    [
      world.client.ix.commitBatch({
        sequencer: seq.publicKey,
        index: 1,
        root: b1.root,
        jobCount: 1,
        feeTotal: 1000n,
      }),
      world.client.ix.claimFees({
        executor: sybil.publicKey,
        batchIndex: 0,
        claims: [claim],
        withJobs: false,
      }),
    ],
    [seq, sybil],
  );
  assert.equal(both.error, 'EscrowShort', 'the unescrowed fee is not paid from the bond');
  world.must(
    await attempt(world.client.commitBatch(seq, { index: 1, root: b1.root, jobCount: 1, feeTotal: 1000n })),
    'commit_batch 1',
  );
}

test('sequencer bond drain: in the transaction that commits a faulty batch, the sequencer pays its whole bond to its sybil through claim_fees on an older batch it never escrowed, so the fault slashes nothing and the honest prover pays for the proof', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  // The sequencer's sybil executor, bonded (so its own record is no kind-0 fault) with a little.
  const sybil = await world.operator(SOL / 100n);
  const prover = await world.operator(5n * SOL);
  const seq = world.sequencer;

  const b0 = await unescrowedFeeBatch(world, sybil);
  assert.equal((await world.operatorOf(seq.publicKey)).bonded, PARAMS.minExecutorBond);

  // Batch 1: a wrong result signed by a key that never bonded (a kind-0 fault: undisputable).
  const fresh = world.fund(SOL);
  const wrong = world.outputDigest(world.trace(cheatLayers(m, 3, 1)));
  const b1 = batchOf(world, 1, [[fresh, wrong, 1000n]]);
  // One transaction: commit_batch sees the bond cover one fault slash, then claim_fees pays it all out.
  const sybilBefore = world.balance(sybil.publicKey);
  await commitWhileSybilClaims(world, sybil, b0, b1);
  const drained = world.balance(sybil.publicKey) - sybilBefore;
  const seqOp = await world.operatorOf(seq.publicKey);
  console.log(
    `sybil received ${drained} lamports from the sequencer's bond; sequencer bonded now ${seqOp.bonded}`,
  );

  // The honest prover proves the fault at once, in the same slot.
  const proverBefore = world.balance(prover.publicKey);
  const feesBefore = world.sender.feesBurned;
  const r = world.must(
    await attempt(
      world.client.proveRecordFault(prover, {
        batchIndex: 1,
        jobIndex: 0,
        kind: 'unbondedExecutor',
        record: b1.b.records[0],
        signature: b1.b.signatures[0],
        ...P.batchProof(b1.b.levels, 0),
      }),
    ),
    'prove_record_fault',
  );
  const jobRent = world.balance(world.client.pdas.job(b1.b.address, 0));
  const fees = world.sender.feesBurned - feesBefore;
  const proverNet = world.balance(prover.publicKey) - proverBefore;
  const slashed = r.events.find((e) => e.name === 'Slashed')?.data as { amount?: bigint } | undefined;
  console.log(
    `fault slash ${slashed?.amount}; prover net ${proverNet} (Job rent ${jobRent}, fees ${fees}); sequencer bonded ${(await world.operatorOf(seq.publicKey)).bonded}`,
  );
  assert.equal((await world.client.fetchJob(b1.b.address, 0))?.invalidated, 1, 'the lie is invalidated');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');

  // What should hold: the bond commit_batch checked backs the batch's faults until its window closes.
  assert.equal(slashed?.amount, PARAMS.minExecutorBond, 'the fault slashes the bond commit_batch required');
  assert.equal(proverNet, bounty(PARAMS.minExecutorBond) - jobRent - fees, 'the prover is paid the bounty');
  assert.ok(proverNet > 0n, 'the honest prover ends richer');
});

test("sequencer stake escape: the sequencer signs a lie as executor, and in the committing transaction drains its bond to its sybil through claim_fees, so the honest challenger's won game stakes 0 and it is out the Job rent", async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const sybil = await world.operator(SOL / 100n);
  const challenger = await world.operator(5n * SOL);
  const seq = world.sequencer;
  const b0 = await unescrowedFeeBatch(world, sybil);
  // Batch 1: the sequencer's own lie, signed with its own key as executor.
  const wrong = world.outputDigest(world.trace(cheatLayers(m, 3, 1)));
  const b1 = batchOf(world, 1, [[seq, wrong, 1000n]]);
  await commitWhileSybilClaims(world, sybil, b0, b1);
  // The honest challenger disputes at once and wins on time (the cheater abandons).
  // Its wallet and its bond (the bounty lands in its Operator account).
  const holds = () =>
    world.balance(challenger.publicKey) + world.balance(world.client.pdas.operator(challenger.publicKey));
  const before = holds();
  const feesBefore = world.sender.feesBurned;
  const { dispute, res } = await world.openDispute(challenger, b1.b, 0);
  world.must(res, 'open_dispute');
  const staked = (await world.dispute(dispute)).executorStake;
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(challenger, dispute), 'claim_timeout');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(challenger, 1), 'finalize_batch 1');
  world.must(await attempt(world.client.closeDispute(challenger, dispute)), 'close_dispute');
  const fees = world.sender.feesBurned - feesBefore;
  const net = holds() - before;
  console.log(
    `executor stake ${staked}; challenger net ${net} (fees ${fees}); cheater slashed ${(await world.operatorOf(seq.publicKey)).slashed}`,
  );
  assert.equal((await world.client.fetchJob(b1.b.address, 0))?.invalidated, 1, 'the lie is invalidated');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  // What should hold: the bond commit_batch checked stakes the sequencer's own lie; the winner gains.
  assert.equal(staked, PARAMS.minExecutorBond, 'the lie stakes the batch stake');
  assert.ok(net > 0n, 'the honest challenger ends richer');
});
