// Review of issue 14's executor pay (round 14a): attacks on the batch tree escrow, stopped by saturating fee sums, prove_short_escrow and a close grace counted from finalization (its open rows are closed in fault-reserve.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, PARAMS, Player, attempt, claimOne as claim, commitTree, holds } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import { minUnbondingSlots } from '../../settlement/instructions.ts';

const SOL = 1_000_000_000n;
const U64_MAX = 2n ** 64n - 1n;
const TX_FEE = 5000n;

async function setup() {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const honest = await world.operator(10n * SOL);
  return { world, honest };
}

test('overflow tree: a padding node whose fee sum takes the root past 2^64 - 1 still opens (the sum saturates): the records stay disputable, no claim is paid, and the short escrow is proven', async () => {
  const { world, honest } = await setup();
  const seq = world.sequencer.publicKey;
  const FEE = SOL;
  const { b, res } = await commitTree(
    world,
    0,
    [
      [honest, FEE],
      [honest, FEE],
      [honest, FEE],
    ],
    0n,
    [{ hash: Buffer.alloc(32), fee: U64_MAX - FEE }],
  );
  world.must(res, 'commit_batch (the program cannot see the tree)');
  const seqBefore = (await world.operatorOf(seq)).bonded;
  const disputed = await world.openDispute(await world.operator(5n * SOL), b, 0);
  world.must(disputed.res, 'open_dispute: the record opens the root');
  const r = world.must(await world.proveShortEscrow(honest, b, 1), 'prove_short_escrow');
  const ev = r.events.find((e) => e.name === 'EscrowShortProven')?.data as { feeSum: bigint } | undefined;
  assert.equal(ev?.feeSum, U64_MAX, 'the fee sum saturates');
  assert.equal((await world.operatorOf(seq)).bonded, seqBefore, 'no top-up: the shortfall passes any bond');
  assert.equal((await world.batch(0)).faultReserve, 0n, "the sequencer is slashed, from the batch's reserve");
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test("stake freeze: the sequencer's sybil disputes an honest executor's two jobs of a short-escrow batch and proves the short escrow; no job is invalidated, so the games play on, the honest executor wins them and its whole bond is free again", async () => {
  const { world, honest } = await setup();
  const m = mlpModel();
  const sybil = await world.operator(5n * SOL);
  const FEE = 1000n;
  const right = world.outputDigest(world.trace(run(m)));
  const { b, res } = await commitTree(
    world,
    0,
    [
      [honest, FEE, right],
      [honest, FEE, right],
    ],
    FEE,
  );
  world.must(res, 'commit_batch (escrow short by one fee)');
  const disputes = [];
  for (let j = 0; j < 2; j++) {
    const { dispute, res: opened } = await world.openDispute(sybil, b, j);
    world.must(opened, `open_dispute on the honest executor's correct record ${j}`);
    disputes.push(dispute);
  }
  world.must(await world.proveShortEscrow(sybil, b, 0), 'prove_short_escrow');
  assert.equal(
    (await world.proveShortEscrow(sybil, b, 1)).error,
    'EscrowShortProven',
    'once per batch (the bond, one fault slash, tops nothing up)',
  );
  assert.equal((await world.endMootGame(sybil, disputes[0])).ok, false, 'the games are not moot');
  const wp = new Player(world, honest, world.trace(run(m)));
  for (const d of disputes) world.must(await wp.commitTrace(d), 'commit_trace');
  world.warp(PARAMS.clockSlots + 1n);
  for (const d of disputes) world.must(await world.claimTimeout(honest, d), 'claim_timeout');
  const op = await world.operatorOf(honest.publicKey);
  assert.equal(op.slashed, 0n, 'the honest executor was not slashed');
  assert.equal(op.locked, 0n, "the honest executor's stake is unlocked");
  assert.ok(op.bountiesEarned > 0n, "it won the sybil's stakes");
  world.must(
    await attempt(world.client.requestUnbond(honest, op.bonded)),
    'the honest executor unbonds its whole bond',
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test("late finalize: with the CLI's default window and clock (150 and 150 slots), the sequencer's sybils hold a game on a dust-bonded sybil job open to the old close slot, then time it out and finalize; close_batch waits a window from finalization, and the honest executor claims its fees", async () => {
  const world = new World();
  const window = 150n;
  const clock = 150n;
  await world.init({
    challengeWindow: window,
    clockSlots: clock,
    unbondingSlots: minUnbondingSlots(window, clock),
  });
  await world.registerModel(mlpModel());
  const honest = await world.operator(10n * SOL);
  const sybilExecutor = await world.operator(SOL / 100n);
  const sybilChallenger = await world.operator(5n * SOL);
  const FEE = SOL;
  const { b, res } = await commitTree(
    world,
    0,
    [
      [honest, FEE],
      [honest, FEE],
      [sybilExecutor, 1000n],
    ],
    2n * FEE + 1000n,
  );
  world.must(res, 'commit_batch');
  const seq = world.sequencer.publicKey;
  world.warp(window - 1n);
  const { dispute, res: opened } = await world.openDispute(sybilChallenger, b, 2);
  world.must(opened, 'open_dispute');
  world.warp(clock + 1n);
  const ix = world.client.ix;
  const atomic = await world.sendRaw(
    [
      ix.claimTimeout({
        dispute,
        batch: b.address,
        jobIndex: 2,
        executor: sybilExecutor.publicKey,
        challenger: sybilChallenger.publicKey,
      }),
      ix.finalizeBatch({ index: 0 }),
      ix.closeBatch({ index: 0, payer: seq }),
    ],
    [sybilChallenger],
  );
  assert.equal(atomic.error, 'CloseGraceNotOver', 'no close in the finalizing transaction');
  world.must(
    await world.sendRaw(
      [
        ix.claimTimeout({
          dispute,
          batch: b.address,
          jobIndex: 2,
          executor: sybilExecutor.publicKey,
          challenger: sybilChallenger.publicKey,
        }),
        ix.finalizeBatch({ index: 0 }),
      ],
      [sybilChallenger],
    ),
    'claim_timeout + finalize_batch',
  );
  world.warp(window - 1n);
  assert.equal(
    (await attempt(world.client.closeBatch(honest, 0))).error,
    'CloseGraceNotOver',
    'a window from finalization',
  );
  const before = holds(world, honest.publicKey);
  for (const j of [0, 1]) world.must(await claim(world, honest, b, j), `claim job ${j}`);
  assert.equal(
    holds(world, honest.publicKey) - before,
    2n * FEE - 2n * TX_FEE,
    'the honest executor is paid',
  );
  world.warp(1n);
  world.must(await attempt(world.client.closeBatch(honest, 0)), 'close_batch once the grace has passed');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
