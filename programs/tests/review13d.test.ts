// Review 13d attacks (fourth review): a reverted window typo, a bond drained to dust before its lie is batched, a lowered stake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { World, PARAMS, SIDE, attempt, cheatLayers, loseChallengerGames } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { lateDisputeSlots, minUnbondingSlots } from '../../settlement/instructions.ts';
import { freeBond, gameSlot } from '../../settlement/client.ts';
import { capJobs } from '../../sequencer/dispatch.ts';

const SOL = 1_000_000_000n;

const gameNow = async (world: World) => gameSlot(await world.client.config(), await world.sender.getSlot());
/** A key's own lamports plus its Operator account's: everything it holds. */
const holding = (w: World, k: Keypair) =>
  w.balance(k.publicKey) + w.balance(w.client.pdas.operator(k.publicKey));

/** The honest sequencer's cap (sequencer/dispatch.ts capJobs): unfinalized jobs the executor's free bond covers. */
async function sequencerCap(world: World, k: Keypair): Promise<number> {
  const op = await world.operatorOf(k.publicKey);
  const stake = (await world.client.config()).minExecutorBond;
  return capJobs({ free: freeBond(op), unbonding: op.unbonding, stake });
}

// A mistyped window (extra zeros) reverted one slot later, before any batch is committed under it,
// must not hold the pending unbonds of the program (executors', challengers', the sequencer's): the
// hold comes only from a batch committed under the longer window. A window near 2^62, which would
// freeze every batch and bond for good, is refused (MAX_DURATION_SLOTS).
test('window typo: a window raise reverted before any batch commits under it does not freeze pending unbonds', async () => {
  const world = new World();
  await world.init();
  const honest = await world.operator(PARAMS.minExecutorBond);
  world.must(await attempt(world.client.requestUnbond(honest, PARAMS.minExecutorBond)), 'request_unbond');
  world.warp(PARAMS.unbondingSlots + 1n);
  // The unbond is ready now; the authority's typo and its revert land before the honest operator withdraws.
  // Far past any sane window (1e9 slots, ~12.7 years) is refused outright; a typo inside the 30-day bound is accepted.
  const far = await attempt(
    world.client.updateConfig(world.authority, {
      params: {
        challengeWindow: 1_000_000_000n,
        unbondingSlots: minUnbondingSlots(1_000_000_000n, PARAMS.clockSlots),
      },
    }),
  );
  assert.equal(far.error, 'DurationTooLong', 'a window above 30 days is refused');
  const typo = 5_000_000n;
  world.must(
    await attempt(
      world.client.updateConfig(world.authority, {
        params: { challengeWindow: typo, unbondingSlots: minUnbondingSlots(typo, PARAMS.clockSlots) },
      }),
    ),
    'update_config with the mistyped window',
  );
  world.warp(1n);
  world.must(
    await attempt(
      world.client.updateConfig(world.authority, {
        params: { challengeWindow: PARAMS.challengeWindow, unbondingSlots: PARAMS.unbondingSlots },
      }),
    ),
    'update_config reverting it',
  );
  const held = (await world.client.config()).withdrawFloor - (await gameNow(world));
  const before = holding(world, honest);
  const w = await attempt(world.client.withdraw(honest));
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(
    w.ok,
    true,
    `the ready unbond withdraws (refused ${w.error}: held ${held} more game slots, ~${(Number(held) * 0.4) / 86400 / 365} years)`,
  );
  assert.ok(holding(world, honest) <= before, 'withdraw only moves the bond to its owner');
});

// The cheater E is assigned its job while its free bond covers one stake (the honest sequencer's cap),
// signs a wrong result, and before the result is batched loses its bond, as a challenger that abandons
// three games, to its own sybil executor X (half of each stake comes back to X). It keeps 1 lamport, so
// its record is no record fault (bonded != 0) and the honest game on the lie stakes 1 lamport: the lie is
// invalidated, but the cheater's lie costs it nothing, and the honest challenger wins a 0 bounty while
// paying the Job account (kept for good as the verdict) and its fees. Draining to 0 instead is the
// open "executor empties its bond" row; draining to dust leaves the sequencer alone and robs the challenger.
test('dust drain: a cheater that loses its bond to its own sybil as challenger before its lie is batched loses at least half a stake, and the honest challenger is out at most the Job rent and its fees', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const cStake = PARAMS.minChallengerBond;
  const e = await world.operator(3n * cStake + 1n);
  const x = await world.operator(3n * PARAMS.minExecutorBond);
  assert.equal(await sequencerCap(world, e), 1, 'the honest sequencer may give the cheater one job');
  // X's three honest results, each in its own batch (job 0 of each).
  const honestTrace = world.trace(run(m));
  const xb = [];
  for (const i of [0, 1, 2]) xb.push(await world.commitBatch(i, x, world.outputDigest(honestTrace), 1, 0));
  // The cheater, holding its signed lie, challenges X's results and abandons each game.
  const eBefore = holding(world, e) + holding(world, x);
  await loseChallengerGames(world, e, x, xb, honestTrace);
  assert.equal((await world.operatorOf(e.publicKey)).bonded, 1n, 'the cheater keeps 1 lamport');
  // Now its lie is batched, and the honest challenger disputes it at once.
  const bad = world.trace(cheatLayers(m, 3, 1));
  const lie = await world.commitBatch(3, e, world.outputDigest(bad), 3, 1);
  const h = await world.operator(5n * SOL);
  const hBefore = holding(world, h);
  const feesBefore = world.sender.feesBurned;
  const g = await world.openDispute(h, lie, 1);
  world.must(g.res, 'honest open_dispute');
  const stake = (await world.job(3, 1)).executorStake;
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(h, g.dispute), 'honest claim_timeout');
  assert.equal((await world.dispute(g.dispute)).winner, SIDE.CHALLENGER, 'the lie is invalidated');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(h, 3), 'finalize_batch 3');
  world.must(await attempt(world.client.closeDispute(h, g.dispute)), 'close_dispute');
  const hLoss = hBefore - holding(world, h);
  const coalitionLoss = eBefore - (holding(world, e) + holding(world, x));
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  // The honest challenger is out at most the Job rent it paid (kept as the verdict record) and its fees:
  // the stake left (1 lamport) cannot repay them, and the vault is never drawn on (review13f).
  const jobRent = world.balance(world.client.pdas.job(lie.address, 1));
  const fees = world.sender.feesBurned - feesBefore;
  assert.ok(
    hLoss <= jobRent + fees,
    `the honest challenger ends ${hLoss} lamports poorer: at most the Job rent ${jobRent} and fees ${fees} (stake taken ${stake} lamports; the cheater's coalition lost ${coalitionLoss})`,
  );

  // The stake itself is what the drain left (1 lamport): no rule on chain locks a bond at commit. The drain
  // cost the coalition the vault's share of each stake it lost, at least half, as self-challenge laundering does.
  assert.equal(stake, 1n, 'the drained bond stakes what is left');
  assert.ok(
    coalitionLoss >= PARAMS.minExecutorBond / 2n,
    `escaping the slash cost the cheater's coalition ${coalitionLoss} lamports, at least half a stake`,
  );
});

// The honest sequencer caps an executor's unfinalized jobs at free bond / min_executor_bond, read now
// (sequencer/dispatch.ts capJobs). The program snapshots the stake into each batch. After the authority
// lowers min_executor_bond (5 -> 1 SOL, within the bounds), an executor with 10 SOL and 2 jobs in a
// 5 SOL batch gets 8 more jobs: 18 SOL of stakes on a 10 SOL bond. It loses its two 5 SOL lies; its bond
// is 0, so its 8 later records are record faults, which its sybil proves against the honest sequencer.
test('stake lowered: after the authority lowers min_executor_bond, an executor at the honest sequencer cap cannot turn its later records into faults against the honest sequencer', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  world.must(await world.bond(world.sequencer, 10n * SOL), 'sequencer bond');
  const e = await world.operator(10n * SOL);
  assert.equal(await sequencerCap(world, e), 2);
  const bad = world.trace(cheatLayers(m, 3, 1));
  const b0 = await world.commitBatch(0, e, world.outputDigest(bad), 2, 1);
  const low = 1n * SOL;
  world.must(
    await attempt(world.client.updateConfig(world.authority, { params: { minExecutorBond: low } })),
    'update_config lowering min_executor_bond (within bounds)',
  );
  const cap = await sequencerCap(world, e);
  assert.equal(cap, 10, 'the honest sequencer now counts 10 jobs covered');
  const b1 = await world.commitBatch(1, e, world.outputDigest(world.trace(run(m))), cap - 2, 0);
  // Honest challengers dispute both lies of batch 0; the cheater abandons them (5 SOL each).
  const h = await world.operator(10n * SOL);
  const games = [];
  for (const j of [0, 1]) {
    const g = await world.openDispute(h, b0, j);
    world.must(g.res, `honest open_dispute on batch 0 job ${j}`);
    games.push(g.dispute);
  }
  world.warp(PARAMS.clockSlots + 1n);
  for (const d of games) world.must(await world.claimTimeout(h, d), 'honest claim_timeout');
  assert.equal((await world.operatorOf(e.publicKey)).bonded, 0n, 'the cheater paid its two stakes');
  // Its sybil proves the 8 records of batch 1 (results the honest sequencer took within its cap) as faults.
  const sybil = world.fund(SOL);
  const sybilBefore = world.balance(sybil.publicKey);
  const seqBefore = (await world.operatorOf(world.sequencer.publicKey)).bonded;
  const proofs = [];
  for (let j = 0; j < cap - 2; j++) proofs.push(await world.proveFault(sybil, b1, j));
  const seqLoss = seqBefore - (await world.operatorOf(world.sequencer.publicKey)).bonded;
  const sybilGain = world.balance(sybil.publicKey) - sybilBefore;
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(
    seqLoss,
    0n,
    `the honest sequencer keeps its bond (it lost ${seqLoss} lamports over ${proofs.filter((p) => p.ok).length} faults; the cheater's sybil gained ${sybilGain})`,
  );
});

/** A record fault of kind 0 proved by `prover` on job `j` of batch `b`. */
const proveUnbonded = (
  world: World,
  prover: Keypair,
  b: Awaited<ReturnType<World['commitBatch']>>,
  j: number,
) => world.proveFault(prover, b, j);

// An executor with one stake has a lie (job 1) and two honest records in batch 0. Its lie is disputed and
// lost: the slash takes its bond to 0. It then closes its emptied Operator account, so its honest records
// read as records of a key that never bonded, and its sybil proves them as faults against the sequencer
// that committed them while it was bonded.
test('slashed then closed: an executor slashed to 0 after its batch committed cannot close its account to turn its records into faults against the honest sequencer', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const e = await world.operator(PARAMS.minExecutorBond);
  const b = await world.commitBatch(0, e, world.outputDigest(world.trace(cheatLayers(m, 3, 1))));
  const h = await world.operator(5n * SOL);
  const g = await world.openDispute(h, b, 1);
  world.must(g.res, 'honest open_dispute');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(h, g.dispute), 'claim_timeout');
  assert.equal((await world.operatorOf(e.publicKey)).bonded, 0n, 'the slash took the whole bond');
  const closed = await attempt(world.client.closeOperator(e));
  const sybil = world.fund(SOL);
  const seqBefore = (await world.operatorOf(world.sequencer.publicKey)).bonded;
  const proofs = [await proveUnbonded(world, sybil, b, 0), await proveUnbonded(world, sybil, b, 2)];
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(
    closed.error,
    'OperatorRecentlySlashed',
    'the emptied account stays while batch 0 is in its window',
  );
  assert.deepEqual(
    proofs.map((p) => p.error),
    ['NoRecordFault', 'NoRecordFault'],
    'records committed while it was bonded are no faults',
  );
  assert.equal(
    (await world.operatorOf(world.sequencer.publicKey)).bonded,
    seqBefore,
    'the sequencer keeps its bond',
  );
  // Once every window open at the slash has closed, and a late answer's dispute time after it, the
  // account closes and its rent goes back.
  const batch = (await world.client.fetchBatch(b.index))!;
  const ready = batch.commitSlot + batch.challengeWindow + lateDisputeSlots(PARAMS.clockSlots) + 150n;
  world.warp(ready - (await gameNow(world)) - 1n);
  assert.equal(
    (await attempt(world.client.closeOperator(e))).error,
    'OperatorRecentlySlashed',
    "the account stays until a late answer's dispute time and the margin have passed",
  );
  world.warp(1n);
  world.must(await attempt(world.client.closeOperator(e)), 'close_operator after the windows');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

// The converse: the sequencer commits a record of an executor whose bond a slash had already taken to 0.
test('slashed before commit: a record committed after its executor was slashed to 0 is a fault of the sequencer', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  world.must(await world.bond(world.sequencer, 10n * SOL), 'sequencer bond');
  const e = await world.operator(PARAMS.minExecutorBond);
  const b0 = await world.commitBatch(0, e, world.outputDigest(world.trace(cheatLayers(m, 3, 1))));
  const h = await world.operator(5n * SOL);
  const g = await world.openDispute(h, b0, 1);
  world.must(g.res, 'honest open_dispute');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(h, g.dispute), 'claim_timeout');
  // The honest sequencer is given the margin (150 slots) to see the slash; past it the record is its fault.
  world.warp(150n);
  const b1 = await world.commitBatch(1, e, P.sha(Buffer.from('after the slash')));
  const seqBefore = (await world.operatorOf(world.sequencer.publicKey)).bonded;
  world.must(await proveUnbonded(world, h, b1, 0), 'kind-0 fault on a record committed after the bond hit 0');
  assert.equal((await world.operatorOf(world.sequencer.publicKey)).bonded, seqBefore, 'the bond stays');
  assert.equal((await world.batch(1)).faultReserve, 0n, "one fault slash, from the batch's reserve");
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
