// Review 13 attacks that still succeed against the program: each test asserts what SHOULD hold, so it fails today.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { World, Player, PARAMS, SIDE, attempt, cheatLayers } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import {
  disputeSpan,
  lateDisputeSlots,
  minUnbondingSlots,
  type RecordFault,
} from '../../settlement/instructions.ts';
import { gameSlot } from '../../settlement/client.ts';

const SOL = 1_000_000_000n;
const bounty = (stake: bigint, bps = PARAMS.bountyBps) => (stake * BigInt(bps)) / 10_000n;

/** A world with the mlp model registered; `e` (bonded `execBond`) claims a wrong output for job 1 of batch 0. */
async function cheatingExecutor(execBond: bigint, over: Partial<typeof PARAMS> = {}) {
  const m = mlpModel();
  const world = new World();
  await world.init(over);
  await world.registerModel(m);
  const e = await world.operator(execBond);
  const bad = world.trace(cheatLayers(m, 3, 1));
  const batch = await world.commitBatch(0, e, world.outputDigest(bad));
  return { world, e, batch };
}

const op = (world: World, k: Keypair) => world.operatorOf(k.publicKey);

/** The least min_executor_bond initialize accepts at PARAMS.bountyBps (BountyBelowCosts below it), by bisection. */
async function leastAcceptedStake(): Promise<bigint> {
  let [lo, hi] = [1n, PARAMS.minExecutorBond];
  while (lo < hi) {
    const mid = (lo + hi) / 2n;
    const w = new World();
    const r = await attempt(w.client.initialize(w.authority, w.params({ minExecutorBond: mid })));
    if (r.ok) hi = mid;
    else {
      assert.equal(r.error, 'BountyBelowCosts', `min_executor_bond ${mid}`);
      lo = mid + 1n;
    }
  }
  return lo;
}

test('stake escape: a cheating executor locks its own bond in challenger games so the honest dispute on its bad job stakes 0', async () => {
  // 6 SOL covers one job at the 5 SOL stake: the sequencer's exposure cap gives it exactly the one bad job.
  const BOND_E = 6n * SOL;
  const { world, e, batch } = await cheatingExecutor(BOND_E);
  // Someone else's batch with three wrong jobs (its executor X never defends them): any job the
  // cheater can win or see mooted as a challenger will do, so parking its bond there costs nothing.
  const x = await world.operator(3n * PARAMS.minExecutorBond);
  const other = await world.commitBatch(1, x, P.sha(Buffer.from('x claims')));
  // Before anyone disputes its bad job, the cheater opens challenger games from its own operator
  // account: 3 x 2 SOL locks its whole 6 SOL bond.
  const parked = [];
  for (const j of [0, 1, 2]) {
    const { dispute, res } = await world.openDispute(e, other, j);
    world.must(res, `cheater parks its bond on job ${j} of batch 1`);
    parked.push(dispute);
  }
  // The honest challenger now disputes the bad job inside its window.
  const honest = await world.operator(5n * SOL);
  const { dispute: game, res } = await world.openDispute(honest, batch, 1);
  world.must(res, 'honest open_dispute');
  const stakeAtOpen = (await world.job(0, 1)).executorStake;
  // The cheater never defends its bad job; X never defends its jobs: every game times out.
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(honest, game), 'honest claim_timeout');
  for (const d of parked) world.must(await world.claimTimeout(e, d), 'cheater claim_timeout as challenger');
  assert.equal((await world.dispute(game)).winner, SIDE.CHALLENGER, 'the bad job is invalidated');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest, 0), 'finalize_batch 0');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');

  const cheater = await op(world, e);
  const gained = 3n * bounty(PARAMS.minExecutorBond);
  assert.equal(
    cheater.bonded,
    BOND_E + gained - PARAMS.minExecutorBond,
    `the cheater must lose one full stake for its bad job (it lost ${BOND_E + gained - cheater.bonded} lamports)`,
  );
  assert.equal(stakeAtOpen, PARAMS.minExecutorBond, 'the honest game stakes a full executor stake');
  assert.ok(
    (await op(world, honest)).bonded > 5n * SOL,
    'the honest challenger that proved the job wrong gains a bounty',
  );
});

test('retroactive unbonding: after the authority shortens window and unbonding, a cheater withdraws before its old batch window closes', async () => {
  const BOND_E = PARAMS.minExecutorBond;
  const { world, e, batch } = await cheatingExecutor(BOND_E);
  // A routine parameter change, within the bounds (the clock at the registered model's floor, the
  // least unbonding delay the rule allows); batch 0 keeps its 1000-slot window.
  const clockSlots = (await world.client.config()).clockFloor;
  const short = { challengeWindow: 100n, clockSlots, unbondingSlots: minUnbondingSlots(100n, clockSlots) };
  assert.ok(short.unbondingSlots < PARAMS.challengeWindow, 'the new delay ends inside batch 0 window');
  world.must(await attempt(world.client.updateConfig(world.authority, { params: short })), 'update_config');
  world.must(await attempt(world.client.requestUnbond(e, BOND_E)), 'request_unbond');
  world.warp(short.unbondingSlots + 1n);
  const w = await attempt(world.client.withdraw(e));
  // Batch 0's window (1000 game slots from its commit) is still open: the job can still be disputed.
  const honest = await world.operator(5n * SOL);
  const { dispute, res } = await world.openDispute(honest, batch, 1);
  world.must(res, 'honest open_dispute inside the window');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(honest, dispute), 'claim_timeout');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(w.ok, false, 'no withdrawal while a batch committed before the request is still disputable');
  assert.equal(
    (await world.dispute(dispute)).executorStake,
    PARAMS.minExecutorBond,
    'the cheater is slashed',
  );
  assert.ok((await op(world, honest)).bonded > 5n * SOL, 'the honest challenger gains a bounty');
});

test('unprofitable honesty: parameters under which a won dispute cannot repay the challenger the accounts it paid for are refused', async () => {
  // The Dispute (~0.0082 SOL) and Job (~0.0013 SOL) rent is never returned to the winner (resolved
  // games and jobs are not closed): only the bounty can repay it, and the bounds let it be 0 or dust.
  const cases: [Partial<typeof PARAMS>, string][] = [
    [{ bountyBps: 0 }, 'a zero bounty'],
    [{ minExecutorBond: 1_000_000n }, 'a 0.001 SOL executor stake (bounty 0.0005 SOL)'],
  ];
  const accepted: string[] = [];
  for (const [over, why] of cases) {
    const w = new World();
    if ((await attempt(w.client.initialize(w.authority, w.params(over)))).ok) accepted.push(why);
  }
  // (Corrected: the refused configuration cannot be played any more.) The least executor stake the
  // bounds accept at this bounty, the winner's bounty just covering the Dispute and Job rent and the
  // fee margin: the honest winner does not end poorer.
  const least = await leastAcceptedStake();
  const { world, batch } = await cheatingExecutor(least, { minExecutorBond: least });
  const honest = await world.operator(5n * SOL);
  const holding = () =>
    world.balance(honest.publicKey) + world.balance(world.client.pdas.operator(honest.publicKey));
  const before = holding();
  const { dispute, res } = await world.openDispute(honest, batch, 1);
  world.must(res, 'open_dispute');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(honest, dispute), 'claim_timeout');
  assert.equal((await world.dispute(dispute)).winner, SIDE.CHALLENGER);
  const rent = world.balance(dispute) + world.balance(world.client.pdas.job(batch.address, 1));
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.deepEqual(accepted, [], 'configurations under which honest challenges lose money are refused');
  assert.ok(
    holding() + 20_000n >= before,
    `the honest winner ends ${before - holding()} lamports poorer (rent left behind ${rent})`,
  );
});

test('stake escape: a challenger stake the executor slash already took pays what is left, and counters and lamports stay consistent', async () => {
  // The cheater bonds 6 SOL and parks 2 x 2 SOL as challenger on jobs an honest executor X defends.
  const BOND_E = 6n * SOL;
  const { world, e, batch } = await cheatingExecutor(BOND_E);
  const m = world.model;
  const x = await world.operator(10n * SOL);
  const xPlayer = new Player(world, x, world.trace(run(m)));
  const parked = [];
  for (const index of [1, 2]) {
    const b = await world.commitBatch(index, x, world.outputDigest(xPlayer.trace));
    const { dispute, res } = await world.openDispute(e, b, 1);
    world.must(res, `cheater challenges X's honest job in batch ${index}`);
    parked.push(dispute);
  }
  // The honest dispute on the bad job still stakes a full executor stake (it ignores the 4 SOL
  // the cheater staked as challenger), so the operator's locks exceed its bond.
  const honest = await world.operator(5n * SOL);
  const { dispute: game, res } = await world.openDispute(honest, batch, 1);
  world.must(res, 'honest open_dispute');
  const locked = await op(world, e);
  assert.equal(locked.locked, PARAMS.minExecutorBond + 2n * PARAMS.minChallengerBond);
  assert.equal(locked.challengerLocked, 2n * PARAMS.minChallengerBond);
  // X defends both of its jobs; the cheater never moves; everyone claims on time.
  for (const d of parked) world.must(await xPlayer.commitTrace(d), 'X commit_trace');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(honest, game), 'honest claim_timeout (executor slash first)');
  const vault = world.client.pdas.vault();
  const v0 = world.balance(vault);
  const x0 = (await op(world, x)).bonded;
  for (const d of parked) world.must(await world.claimTimeout(x, d), 'X claim_timeout');
  // 6 - 5 = 1 SOL was left: the first lost challenger stake pays it, the second pays nothing.
  const paid = [
    (await world.dispute(parked[0])).challengerStake,
    (await world.dispute(parked[1])).challengerStake,
  ];
  assert.deepEqual(paid, [BOND_E - PARAMS.minExecutorBond, 0n], 'challenger stakes paid from what is left');
  const after = await op(world, e);
  assert.equal(after.bonded, 0n, 'the cheater lost its whole bond');
  assert.equal(after.locked, 0n);
  assert.equal(after.challengerLocked, 0n);
  assert.equal(after.openDisputes, 0);
  const opKey = world.client.pdas.operator(e.publicKey);
  const opData = await world.sender.getAccountData(opKey);
  assert.equal(
    world.balance(opKey),
    world.sender.svm.minimumBalanceForRentExemption(BigInt(opData!.length)),
    'the operator account holds its rent and nothing else',
  );
  const b = bounty(BOND_E - PARAMS.minExecutorBond);
  assert.equal((await op(world, x)).bonded, x0 + b, 'X gains the bounty of what was paid');
  assert.equal(world.balance(vault), v0 + BOND_E - PARAMS.minExecutorBond - b, 'the rest to the vault');
  assert.equal(
    (await op(world, honest)).bonded,
    5n * SOL + bounty(PARAMS.minExecutorBond),
    'honest gains a full bounty',
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('stake escape: raising min_executor_bond mid-window does not let one job stake the bond backing another', async () => {
  // 10 SOL backs two jobs of 5 SOL in batch 0 (jobs 0 and 1 both claim outputs it cannot open).
  const BOND_E = 2n * PARAMS.minExecutorBond;
  const { world, e, batch } = await cheatingExecutor(BOND_E);
  const raised = PARAMS.minExecutorBond + 3n * SOL;
  world.must(
    await attempt(world.client.updateConfig(world.authority, { params: { minExecutorBond: raised } })),
    'update_config raises the minimum',
  );
  const h1 = await world.operator(5n * SOL);
  const h2 = await world.operator(5n * SOL);
  const g1 = await world.openDispute(h1, batch, 1);
  world.must(g1.res, 'open_dispute on job 1');
  const g0 = await world.openDispute(h2, batch, 0);
  world.must(g0.res, 'open_dispute on job 0');
  assert.equal((await world.batch(0)).executorStake, PARAMS.minExecutorBond, 'the batch keeps its stake');
  assert.equal((await world.job(0, 1)).executorStake, PARAMS.minExecutorBond, 'job 1 stakes the batch stake');
  assert.equal((await world.job(0, 0)).executorStake, PARAMS.minExecutorBond, 'job 0 is not shorted');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(h1, g1.dispute), 'claim_timeout 1');
  world.must(await world.claimTimeout(h2, g0.dispute), 'claim_timeout 0');
  assert.equal((await op(world, e)).bonded, 0n, 'slashed a full stake per bad job');
  for (const h of [h1, h2]) {
    assert.equal(
      (await op(world, h)).bonded,
      5n * SOL + bounty(PARAMS.minExecutorBond),
      'each honest challenger gains a full bounty',
    );
  }
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

/** The mlp model registered, and batch 0 holding job 1's wrong result (layer 3) from an executor bonded one stake. */
async function committedLie() {
  const m = mlpModel();
  const w = new World();
  await w.init();
  await w.registerModel(m);
  const bad = w.trace(cheatLayers(m, 3, 1));
  const good = w.trace(run(m));
  const e = await w.operator(PARAMS.minExecutorBond);
  const batch = await w.commitBatch(0, e, w.outputDigest(bad));
  return { w, e, bad, good, batch };
}

// Review 13b. Before: update_config paired a 2 bps bounty with a 100 SOL stake (20M lamports, within
// the bounds), and a game on a batch committed at a 5 SOL stake paid the new 2 bps of 5 SOL: 1M
// lamports, less than the Dispute and Job rent the honest winner paid, which ended 7,951,640
// lamports poorer. Now each batch keeps the bounty it was committed with, checked with its stake.
test('retroactive bounty: a bounty lowered after a batch commits does not underpay a winner on that batch', async () => {
  const { w, batch } = await committedLie();
  assert.equal((await w.client.fetchBatch(0n))!.bountyBps, PARAMS.bountyBps, 'the batch keeps its bounty');
  const params = { minExecutorBond: 100n * SOL, bountyBps: 2 };
  w.must(await attempt(w.client.updateConfig(w.authority, { params })), 'update_config');
  const honest = await w.operator(5n * SOL);
  const holding = () => w.balance(honest.publicKey) + w.balance(w.client.pdas.operator(honest.publicKey));
  const before = holding();
  const { dispute, res } = await w.openDispute(honest, batch, 1);
  w.must(res, 'open_dispute');
  w.warp(PARAMS.clockSlots + 1n);
  w.must(await w.claimTimeout(honest, dispute), 'claim_timeout');
  const d = await w.dispute(dispute);
  assert.equal(d.winner, SIDE.CHALLENGER);
  assert.equal(d.bountyBps, PARAMS.bountyBps, "the game pays the batch's bounty, not the lowered one");
  assert.equal(d.executorStake, PARAMS.minExecutorBond, "the batch's stake");
  assert.ok(holding() > before, `the honest winner ends ${before - holding()} lamports poorer`);
  assert.equal(w.unaccountedLamports(), 0n, 'lamports conserved');
});

// Review 13b. Before: the honest challenger opened first and paid the Job account; the cheater's
// sybil opened right after, the cheater moved just in time in the honest game and never in the
// sybil's, so the sybil's claim_timeout invalidated the job first. The honest game was moot and
// end_moot_game returned only its Dispute rent: the honest challenger ended 1,319,560 lamports
// poorer. Now the resolution repays the Job rent to its payer from the vault's share.
test('laundering front-run: a sybil that invalidates the job first does not leave the honest challenger that paid the Job account poorer', async () => {
  const { w, e, bad, good, batch } = await committedLie();
  const honest = await w.operator(5n * SOL);
  const sybil = await w.operator(5n * SOL);
  const holding = (k: Keypair) => w.balance(k.publicKey) + w.balance(w.client.pdas.operator(k.publicKey));
  const before = holding(honest);
  const vaultBefore = w.balance(w.client.pdas.vault());
  const cheater = new Player(w, e, bad);
  const h = new Player(w, honest, good);
  const g = await w.openDispute(honest, batch, 1);
  w.must(g.res, 'honest open_dispute');
  const s = await w.openDispute(sybil, batch, 1);
  w.must(s.res, 'sybil open_dispute');
  w.warp(PARAMS.clockSlots - 2n);
  w.must(await cheater.commitTrace(g.dispute), 'cheater commit_trace in the honest game, just in time');
  w.must(await h.commitTrace(g.dispute), 'honest commit_trace');
  w.warp(3n);
  w.must(await w.claimTimeout(sybil, s.dispute), 'sybil claim_timeout');
  assert.equal((await w.claimTimeout(honest, g.dispute)).ok, false, 'the honest game is moot');
  w.must(await w.endMootGame(honest, g.dispute), 'end_moot_game');
  const job = w.client.pdas.job(batch.address, 1);
  const jobRent = w.balance(job) / 2n;
  // Anyone may pay the refund out; it goes to the payer only, once.
  w.must(await attempt(w.client.refundJobRent(sybil, batch.address, 1)), 'refund_job_rent');
  const again = await attempt(w.client.refundJobRent(sybil, batch.address, 1));
  assert.equal(again.error, 'NoRefund');
  assert.equal(w.balance(job), jobRent, 'the verdict record keeps its own rent');
  const cost = before - holding(honest);
  // What remains is the transaction fees it paid (5,000 lamports a signature).
  assert.ok(cost <= 50_000n, `the honest challenger ends ${cost} lamports poorer`);
  const stake = PARAMS.minExecutorBond;
  assert.equal(
    w.balance(w.client.pdas.vault()) - vaultBefore,
    stake - (stake * BigInt(PARAMS.bountyBps)) / 10_000n - jobRent,
    "the refund came out of the vault's share",
  );
  assert.equal(w.unaccountedLamports(), 0n, 'lamports conserved');
});

/** A record fault of `kind` proved by `prover` against job `job` of the committed batch `b`. */
function proveFault(
  world: World,
  prover: Keypair,
  b: Awaited<ReturnType<World['commitBatch']>>,
  job: number,
  kind: RecordFault,
) {
  return world.proveFault(prover, b, job, kind);
}

/**
 * An executor with one stake requests an unbond; the authority then raises the window (or the clock) by `raise`;
 * the honest sequencer commits the executor's results (accepted before the request) `commitAfter` slots later,
 * within its 2 x clock + margin slack. Returns the world, the executor and the batch.
 */
async function unbondThenRaise(raise: { challengeWindow?: bigint; clockSlots?: bigint }, commitAfter = 1n) {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const e = await world.operator(PARAMS.minExecutorBond);
  world.must(await attempt(world.client.requestUnbond(e, PARAMS.minExecutorBond)), 'request_unbond');
  const cur = await world.client.config();
  const window = raise.challengeWindow ?? cur.challengeWindow;
  const clock = raise.clockSlots ?? cur.clockSlots;
  const params = {
    challengeWindow: window,
    clockSlots: clock,
    unbondingSlots: minUnbondingSlots(window, clock),
  };
  world.must(await attempt(world.client.updateConfig(world.authority, { params })), 'update_config');
  world.warp(commitAfter);
  const b = await world.commitBatch(0, e, P.sha(Buffer.from('honest result')));
  return { world, e, b };
}

const gameNow = async (world: World) => gameSlot(await world.client.config(), await world.sender.getSlot());

test('window raise: an executor unbonding when the authority lengthens the window cannot withdraw before its committed records close, nor frame the honest sequencer', async () => {
  const { world, e, b } = await unbondThenRaise({ challengeWindow: 5000n });
  const sybil = world.fund(SOL);
  const seqBefore = (await world.operatorOf(world.sequencer.publicKey)).bonded;
  // The request's ready slot was fixed under the old delay, which ends inside batch 0's 5000-slot window.
  world.warp(PARAMS.unbondingSlots + 1n);
  const early = await attempt(world.client.withdraw(e));
  // Its sybil tries to turn each of its honest records into a record fault against the sequencer.
  const proofs = [];
  for (const j of [0, 1, 2]) proofs.push(await proveFault(world, sybil, b, j, 'unbondedExecutor'));
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(
    early.error,
    'UnbondingNotReady',
    'no withdrawal while a batch holding its records is in its window',
  );
  assert.deepEqual(
    proofs.map((p) => p.error),
    ['NoRecordFault', 'NoRecordFault', 'NoRecordFault'],
    'its records are no faults while it stays bonded',
  );
  assert.equal(
    (await world.operatorOf(world.sequencer.publicKey)).bonded,
    seqBefore,
    'the honest sequencer keeps its bond',
  );
  // Batch 0 (committed one slot after the raise) closes before the hold ends.
  const c = await world.client.config();
  const batch = (await world.client.fetchBatch(b.index))!;
  const end = batch.commitSlot + batch.challengeWindow;
  assert.ok(end < c.withdrawFloor, `window end ${end} before the hold ${c.withdrawFloor}`);
});

test('window raise: the hold ends: the unbonding executor withdraws once the batch committed under the longer window closes (plus the margin)', async () => {
  const { world, e, b } = await unbondThenRaise({ challengeWindow: 5000n });
  const c = await world.client.config();
  const batch = (await world.client.fetchBatch(b.index))!;
  assert.equal(
    c.withdrawFloor,
    batch.commitSlot + 5000n + lateDisputeSlots(c.clockSlots) + 150n,
    "the hold is the batch's window end plus a late answer's dispute time and the margin",
  );
  world.warp(c.withdrawFloor - (await gameNow(world)) - 1n);
  assert.equal(
    (await attempt(world.client.withdraw(e))).error,
    'UnbondingNotReady',
    'one slot before the hold',
  );
  world.warp(1n);
  const before = world.balance(e.publicKey);
  world.must(await attempt(world.client.withdraw(e)), 'withdraw at the hold');
  assert.ok(world.balance(e.publicKey) > before, 'the bond is paid out');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('window raise, no batch under it: a raise long past (beyond its span) holds nothing at a later commit', async () => {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const e = await world.operator(PARAMS.minExecutorBond);
  const params = { challengeWindow: 2000n, unbondingSlots: minUnbondingSlots(2000n, PARAMS.clockSlots) };
  world.must(await attempt(world.client.updateConfig(world.authority, { params })), 'update_config');
  // Every unbond requested from now on waits the longer delay; a commit long after the raise holds nothing.
  world.warp(disputeSpan(params.challengeWindow, PARAMS.clockSlots) + 1n);
  await world.commitBatch(0, e, P.sha(Buffer.from('honest result')));
  assert.equal((await world.client.config()).withdrawFloor, 0n, 'no hold');
});

test('clock raise: an executor unbonding when the authority lengthens the clock cannot withdraw before its committed records close', async () => {
  // A longer clock lengthens the sequencer's commit slack (2 x clock + margin) as a longer window does.
  // The sequencer commits 2 x the new clock + 100 slots after the request: inside its new slack, outside the old.
  const clock = PARAMS.clockSlots * 3n;
  const { world, e, b } = await unbondThenRaise({ clockSlots: clock }, 2n * clock + 100n);
  const batch = (await world.client.fetchBatch(b.index))!;
  world.warp(PARAMS.unbondingSlots - 2n * clock - 100n + 1n); // one slot past the request's old ready slot
  assert.ok(
    (await gameNow(world)) < batch.commitSlot + batch.challengeWindow,
    'the old delay has ended while the batch is still in its window',
  );
  assert.equal((await attempt(world.client.withdraw(e))).error, 'UnbondingNotReady');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('config change that shortens nothing: a bounty change does not hold pending withdrawals', async () => {
  const world = new World();
  await world.init();
  const e = await world.operator(PARAMS.minExecutorBond);
  world.must(await attempt(world.client.requestUnbond(e, PARAMS.minExecutorBond)), 'request_unbond');
  const floor = (await world.client.config()).withdrawFloor;
  world.must(
    await attempt(world.client.updateConfig(world.authority, { params: { bountyBps: 4000 } })),
    'update_config',
  );
  assert.equal((await world.client.config()).withdrawFloor, floor, 'no new hold');
  world.warp(PARAMS.unbondingSlots + 1n);
  world.must(await attempt(world.client.withdraw(e)), 'withdraw after the delay');
});
