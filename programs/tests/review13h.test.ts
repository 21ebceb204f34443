// Eighth review (issue 14, executor pay): the sybil front-run of a shared escrow and the burned claim, both stopped by the batch tree's fee sum.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair, PublicKey } from '@solana/web3.js';
import { World, PARAMS, attempt, type CommittedBatch } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { feeClaimed } from '../../settlement/accounts.ts';

const SOL = 1_000_000_000n;
const FEE = 1000n;
/** The sybil's inflated fee: more than the escrow and than any free bond. */
const INFLATED = 1_000_000n;

/** Commits batch `index`, record j signed by jobs[j][0] with fee jobs[j][1]; the sequencer escrows `feeTotal`. */
async function commit(
  world: World,
  index: number,
  jobs: [Keypair, bigint][],
  feeTotal: bigint,
): Promise<CommittedBatch> {
  const records = jobs.map(([k, fee], j) =>
    P.jobRecord({
      jobId: P.sha(Buffer.from([13]), P.u64(index * 100 + j)),
      modelId: world.modelId,
      inputDigest: world.inputDigest(),
      outputDigest: P.sha(Buffer.from(`out ${j}`)),
      executor: k.publicKey.toBytes(),
      fee,
    }),
  );
  const signatures = records.map((r, j) => P.signRecord(r, jobs[j][0].secretKey));
  const levels = P.recordTree(records, signatures);
  const res = world.must(
    await attempt(
      world.client.commitBatch(world.sequencer, {
        index,
        root: P.batchRoot(levels),
        jobCount: records.length,
        feeTotal,
      }),
    ),
    'commit_batch',
  );
  return { index, address: world.client.pdas.batch(index), records, signatures, levels, res };
}

const claim = (world: World, by: Keypair, b: CommittedBatch, j: number) =>
  attempt(
    world.client.claimFees(by, b.index, [
      { jobIndex: j, record: b.records[j], signature: b.signatures[j], ...P.batchProof(b.levels, j) },
    ]),
  );

/** What `k` gained from a transaction it paid the fee of (5000 lamports per signature). */
const gained = (world: World, k: PublicKey, before: bigint) => world.balance(k) - before + 5000n;

async function setup() {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const honest = await world.operator(10n * SOL);
  const sybil = await world.operator(SOL);
  return { world, honest, sybil };
}

test("sybil front-run: the sequencer's sybil record with an inflated fee claims first, yet with the whole tree sum escrowed the honest executor is paid in full", async () => {
  const { world, honest, sybil } = await setup();
  const b = await commit(
    world,
    0,
    [
      [sybil, INFLATED],
      [honest, FEE],
    ],
    INFLATED + FEE,
  );
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(world.fund(), 0), 'finalize_batch');
  world.must(await claim(world, sybil, b, 0), 'the sybil claims first');
  const before = world.balance(honest.publicKey);
  world.must(await claim(world, honest, b, 1), "the honest executor's claim");
  assert.equal(gained(world, honest.publicKey, before), FEE, 'paid in full');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test("sybil front-run, short escrow: escrowing only the honest executor's fee, the sybil's claim takes nothing and no bond; the honest executor proves the short escrow and gains more than its fee", async () => {
  const { world, honest, sybil } = await setup();
  const b = await commit(
    world,
    0,
    [
      [sybil, INFLATED],
      [honest, FEE],
    ],
    FEE,
  );
  const seqBefore = await world.operatorOf(world.sequencer.publicKey);
  // The honest executor sees its batch's fee sum pass the escrow and proves it.
  const before = world.balance(honest.publicKey);
  const r = world.must(await world.proveShortEscrow(honest, b, 1), 'prove_short_escrow');
  const ev = r.events.find((x) => x.name === 'EscrowShortProven')?.data as
    { bounty?: bigint; toppedUp?: bigint } | undefined;
  assert.ok(gained(world, honest.publicKey, before) > FEE, 'the bounty covers more than its fee');
  assert.equal(gained(world, honest.publicKey, before), ev!.bounty);
  // The sequencer's bond is one fault slash, which a top-up never takes: the escrow stays short.
  assert.equal(ev!.toppedUp, 0n, 'nothing topped up');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(world.fund(), 0), 'finalize_batch');
  const sybilBefore = world.balance(sybil.publicKey);
  assert.equal((await claim(world, sybil, b, 0)).error, 'EscrowShort', "the sybil's claim is refused");
  assert.equal(world.balance(sybil.publicKey), sybilBefore - 5000n, 'the sybil took nothing');
  const seq = await world.operatorOf(world.sequencer.publicKey);
  assert.equal(seq.bonded, seqBefore.bonded, 'the bond paid nothing: the slash came from the batch reserve');
  assert.equal((await world.batch(0)).faultReserve, 0n, 'the reserve paid the slash');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('burned claim: a claim the escrow cannot pay is refused whole, so it marks no job claimed', async () => {
  const { world, honest } = await setup();
  const b = await commit(world, 0, [[honest, FEE]], 0n);
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(world.fund(), 0), 'finalize_batch');
  const before = world.balance(honest.publicKey);
  const r = await claim(world, honest, b, 0);
  assert.equal(r.error, 'EscrowShort');
  assert.equal(world.balance(honest.publicKey), before - 5000n, 'nothing paid, nothing taken but the fee');
  assert.equal(feeClaimed((await world.sender.getAccountData(b.address))!, 0), false, 'the bit stays unset');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
