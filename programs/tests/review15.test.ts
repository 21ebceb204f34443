// Review 15 (fault reserve): the sequencer's executor-stake shield against the short-escrow top-up, stopped by a retryable top-up, and a data timeout that left an honest executor's stake locked, stopped by end_moot_game releasing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, PARAMS, Player, attempt, claimOne, commitTree, holds, type TxResult } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import { DATA_ANSWER_SLOTS } from '../../settlement/instructions.ts';

const SOL = 1_000_000_000n;
const S = PARAMS.minExecutorBond;

const eventOf = <T>(r: TxResult, name: string): T => {
  const ev = r.events.find((e) => e.name === name);
  assert.ok(ev, `${name} emitted`);
  return ev.data as T;
};

test("top-up lock: a sequencer bonded 15 SOL (enough to top up the 8 SOL it withholds above one fault slash) has its sybil dispute its own two records in the commit's slot, so its whole bond is executor stake, then prove the short escrow itself; the top-up finds nothing takeable then, but the honest executor's later proof retries it once the games end, and is paid", async () => {
  const world = new World();
  await world.init();
  const m = mlpModel();
  await world.registerModel(m);
  const honest = await world.operator(10n * SOL);
  const seqKey = world.sequencer;
  const seq = seqKey.publicKey;
  world.must(await attempt(world.client.bond(seqKey, 15n * SOL)), 'sequencer bond');
  // The sybil: a challenger bonded for two games (min_challenger_bond each).
  const sybil = await world.operator(2n * PARAMS.minChallengerBond);
  const side = () => holds(world, seq) + holds(world, sybil.publicKey);
  const seqBefore = side();
  const honestBefore = holds(world, honest.publicKey);
  const feesBefore = world.sender.feesBurned;
  const trace = world.trace(run(m));
  const right = world.outputDigest(trace);
  const FEE = 8n * SOL;
  // What the honest executor sees on chain before it works: the bond covers the shortfall.
  {
    const op = await world.operatorOf(seq);
    assert.ok(op.bonded - (op.locked - op.challengerLocked) >= FEE, 'the bond covers the fees withheld');
  }
  const { b, res } = await commitTree(
    world,
    0,
    [
      [seqKey, 0n, right],
      [seqKey, 0n, right],
      [honest, FEE],
    ],
    0n,
  );
  world.must(res, 'commit_batch escrowing nothing');
  const games = [];
  for (const j of [0, 1]) {
    const g = await world.openDispute(sybil, b, j);
    world.must(g.res, `sybil open_dispute on the sequencer's own correct record ${j}`);
    games.push(g.dispute);
  }
  const op = await world.operatorOf(seq);
  console.log(`sequencer bonded ${op.bonded}, executor-locked ${op.locked - op.challengerLocked}`);
  const r = world.must(await world.proveShortEscrow(sybil, b, 2), 'prove_short_escrow by the sybil');
  const topped = eventOf<{ toppedUp: bigint }>(r, 'EscrowShortProven').toppedUp;
  console.log(
    `top-up ${topped} of a ${FEE} shortfall; slash ${eventOf<{ amount: bigint }>(r, 'Slashed').amount}`,
  );
  const again = await world.proveShortEscrow(honest, b, 2);
  assert.equal(again.error, 'EscrowShortProven', 'nothing takeable yet: the retry fails, changing nothing');
  // The sequencer wins its own games (the sybil abandons them).
  const sp = new Player(world, seqKey, trace);
  for (const d of games) world.must(await sp.commitTrace(d), 'sequencer commit_trace');
  world.warp(PARAMS.clockSlots + 1n);
  for (const d of games) world.must(await world.claimTimeout(seqKey, d), 'claim_timeout');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest, 0), 'finalize_batch');
  // The games are over: the bond is free again, and a retried proof tops the escrow up (no second slash).
  const retry = world.must(await world.proveShortEscrow(honest, b, 2), 'prove_short_escrow retried');
  assert.equal(eventOf<{ toppedUp: bigint }>(retry, 'EscrowShortProven').toppedUp, FEE, 'the retry tops up');
  assert.ok(!retry.events.some((e) => e.name === 'Slashed'), 'no second slash');
  const claim = await claimOne(world, honest, b, 2);
  world.warp(PARAMS.challengeWindow);
  world.must(await attempt(world.client.closeBatch(honest, 0)), 'close_batch');
  const fees = world.sender.feesBurned - feesBefore;
  const seqNet = side() - seqBefore;
  const honestNet = holds(world, honest.publicKey) - honestBefore;
  console.log(
    `claim ${claim.ok ? 'paid' : claim.error}; withheld ${FEE}; honest executor net ${honestNet}; sequencer with its sybil net ${seqNet} (tx fees all sides ${fees})`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(claim.ok, true, "the honest executor's fee is paid: the bond covered the shortfall at commit");
  assert.ok(
    -seqNet > FEE,
    `shorting the escrow costs the sequencer more than the fees it withheld (${seqNet})`,
  );
});

test("moot freeze: the sequencer's sybil requests data on an honest executor's correct job, then disputes it before the deadline; the sequencer withholds, the timeout invalidates the job, the game turns moot, and the honest executor's stake must not stay locked forever", async () => {
  const world = new World();
  await world.init();
  const m = mlpModel();
  await world.registerModel(m);
  const honest = await world.operator(10n * SOL);
  const sybil = await world.operator(5n * SOL);
  const seq = world.sequencer.publicKey;
  const trace = world.trace(run(m));
  const right = world.outputDigest(trace);
  const { b, res } = await commitTree(world, 0, [[honest, 1000n, right]], 1000n);
  world.must(res, 'commit_batch');
  const side = () => holds(world, seq) + holds(world, sybil.publicKey);
  const seqBefore = side();
  world.must(await attempt(world.client.requestData(sybil, 0, 0)), 'sybil request_data');
  // Dispute late enough that the challenger's clock outlasts the answer deadline.
  world.warp(BigInt(DATA_ANSWER_SLOTS) - 20n);
  const { dispute, res: opened } = await world.openDispute(sybil, b, 0);
  world.must(opened, "sybil open_dispute on the honest executor's correct record");
  assert.equal((await world.operatorOf(honest.publicKey)).locked, S, 'the honest stake is locked');
  const hp = new Player(world, honest, trace);
  world.must(await hp.commitTrace(dispute), 'honest commit_trace');
  world.warp(20n);
  // The sequencer never answers (it withholds the batch tree from the executor too).
  world.must(await attempt(world.client.claimDataTimeout(sybil, 0, 0)), 'claim_data_timeout');
  world.must(await world.endMootGame(sybil, dispute), 'end_moot_game');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest, 0), 'finalize_batch');
  world.warp(PARAMS.challengeWindow + PARAMS.unbondingSlots + 1000n);
  const op = await world.operatorOf(honest.publicKey);
  console.log(
    `honest executor after the moot game: bonded ${op.bonded}, locked ${op.locked}, open games ${op.openDisputes}, slashed ${op.slashed}; sequencer with its sybil net ${side() - seqBefore}`,
  );
  const unbond = await attempt(world.client.requestUnbond(honest, op.bonded));
  console.log(`request_unbond of the whole bond: ${unbond.ok ? 'landed' : unbond.error}`);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(op.slashed, 0n, 'the honest executor was not slashed');
  assert.equal(op.locked, 0n, "the honest executor's stake is unlocked once no game on the job is open");
  assert.equal(unbond.ok, true, 'the honest executor can unbond its whole bond');
});
