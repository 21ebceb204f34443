// Rent comes back (issue 14): closing finalized batches, resolved disputes, undisputed jobs and emptied operators, and the attacks on each close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { PARAMS, SIDE, World, attempt, cheatLayers, startGame, type Game } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import { reclaimBatches, reclaimGames } from '../../settlement/reclaim.ts';

const FEE = 5000n;
/** Game slots from commit until close_batch is accepted: the window, then one more (CLOSE_GRACE_WINDOWS). */
const CLOSE_AFTER = PARAMS.challengeWindow * 2n;

/** A world with the mlp model, a bonded executor and batch 0 (3 jobs) committed. */
async function committed(jobs = 3) {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const e = await world.operator(10_000_000_000n);
  const b = await world.commitBatch(0, e, world.outputDigest(world.trace(run(mlpModel()))), jobs);
  return { world, e, b };
}

const closeBatch = (world: World, by: Keypair, index: number) => attempt(world.client.closeBatch(by, index));
const closeDispute = (g: Game, by: Keypair) => attempt(g.world.client.closeDispute(by, g.dispute));
const closeJob = (g: Game, by: Keypair) => attempt(g.world.client.closeJob(by, g.batch.index, 1));

/** A game on job 1 of batch 0 the challenger wins on time (the executor never commits its trace): job 1 invalidated. */
async function challengerWins(): Promise<Game> {
  const g = await startGame((m) => cheatLayers(m, 2, 0), run);
  g.world.warp(PARAMS.clockSlots + 1n);
  g.world.must(await g.world.claimTimeout(g.chal.key, g.dispute), 'claim_timeout');
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.CHALLENGER);
  return g;
}

/** A game on job 1 of batch 0 the executor wins on time (the challenger never answers its trace). */
async function executorWins(): Promise<Game> {
  const g = await startGame(run, (m) => cheatLayers(m, 2, 0));
  g.world.must(await g.exec.move(g.dispute), 'commit_trace');
  g.world.warp(PARAMS.clockSlots + 1n);
  g.world.must(await g.world.claimTimeout(g.exec.key, g.dispute), 'claim_timeout');
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
  return g;
}

/** Warps past batch 0's window and finalizes it. */
async function finalize(world: World) {
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(world.fund(), 0), 'finalize_batch');
}

test('early close: a batch is closed neither before finalization nor inside its grace; then anyone closes it and the sequencer gets the rent', async () => {
  const { world, b } = await committed();
  const stranger = world.fund();
  assert.equal((await closeBatch(world, stranger, 0)).error, 'BatchNotFinalized');
  await finalize(world);
  assert.equal((await closeBatch(world, stranger, 0)).error, 'CloseGraceNotOver');
  world.warp(CLOSE_AFTER - PARAMS.challengeWindow - 2n);
  assert.equal((await closeBatch(world, stranger, 0)).error, 'CloseGraceNotOver');
  world.warp(2);
  const rent = world.balance(b.address);
  assert.ok(rent > 0n);
  const [seq, str] = [world.balance(world.sequencer.publicKey), world.balance(stranger.publicKey)];
  const res = world.must(await closeBatch(world, stranger, 0), 'close_batch');
  assert.equal(
    world.balance(world.sequencer.publicKey) - seq,
    rent,
    'the rent goes to the sequencer that paid it',
  );
  assert.equal(str - world.balance(stranger.publicKey), FEE, 'the closer pays only its fee');
  assert.equal(world.balance(b.address), 0n);
  assert.ok(res.events.some((e) => e.name === 'BatchClosed' && e.data.lamports === rent));
  assert.deepEqual(await world.client.batchState(0), { state: 'closed', index: 0n });
  assert.deepEqual(await world.client.batchState(1), { state: 'uncommitted' });
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('rent theft: close_batch naming anyone but the payer is refused and the batch stays', async () => {
  const { world, b } = await committed();
  await finalize(world);
  world.warp(CLOSE_AFTER);
  const thief = world.fund();
  const rent = world.balance(b.address);
  const ix = world.client.ix.closeBatch({ index: 0, payer: thief.publicKey });
  assert.equal((await world.sendRaw([ix], [thief])).error, 'WrongAccount');
  assert.equal(world.balance(b.address), rent);
  assert.equal((await world.batch(0)).finalized, 1);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('re-commit: a closed batch index is never committed again; the next index is', async () => {
  const { world, e } = await committed();
  await finalize(world);
  world.warp(CLOSE_AFTER);
  world.must(await closeBatch(world, world.fund(), 0), 'close_batch');
  const again = await attempt(
    world.client.commitBatch(world.sequencer, { index: 0, root: Buffer.alloc(32, 7), jobCount: 1 }),
  );
  assert.equal(again.error, 'BadBatchIndex');
  assert.deepEqual(await world.client.batchState(0), { state: 'closed', index: 0n });
  await world.commitBatch(1, e, Buffer.alloc(32, 1));
  assert.equal((await world.client.batchState(1)).state, 'open');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('early close: an open dispute, or a resolved one on an unfinalized batch, is not closed; then its rent goes to its challenger', async () => {
  const g = await startGame((m) => cheatLayers(m, 2, 0), run);
  const anyone = g.world.fund();
  assert.equal((await closeDispute(g, anyone)).error, 'DisputeNotResolved');
  g.world.warp(PARAMS.clockSlots + 1n);
  g.world.must(await g.world.claimTimeout(g.chal.key, g.dispute), 'claim_timeout');
  // Resolved, but inside the window: closing would let the same challenger open this game's address again.
  assert.equal((await closeDispute(g, anyone)).error, 'BatchNotFinalized');
  const bond = (await g.world.operatorOf(g.chal.key.publicKey)).bonded;
  await finalize(g.world);
  const rent = g.world.balance(g.dispute);
  const ix = g.world.client.ix.closeDispute({
    dispute: g.dispute,
    challenger: anyone.publicKey,
    batch: g.batch.address,
  });
  assert.equal((await g.world.sendRaw([ix], [anyone])).error, 'WrongAccount', 'rent theft refused');
  const before = g.world.balance(g.chal.key.publicKey);
  const res = g.world.must(await closeDispute(g, anyone), 'close_dispute');
  assert.equal(g.world.balance(g.chal.key.publicKey) - before, rent, 'the rent goes to the challenger');
  assert.ok(res.events.some((e) => e.name === 'DisputeClosed' && e.data.winner === SIDE.CHALLENGER));
  assert.equal(g.world.balance(g.dispute), 0n);
  assert.equal(
    (await g.world.operatorOf(g.chal.key.publicKey)).bonded,
    bond,
    'the winner keeps its bond and bounty',
  );
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('verdict kept: an invalidated job account is never closed, and stays readable after its batch closes', async () => {
  const g = await challengerWins();
  const anyone = g.world.fund();
  assert.equal((await closeJob(g, anyone)).error, 'JobIsVerdict');
  await finalize(g.world);
  assert.equal((await closeJob(g, anyone)).error, 'JobIsVerdict');
  g.world.warp(CLOSE_AFTER);
  g.world.must(await closeDispute(g, anyone), 'close_dispute');
  g.world.must(await closeBatch(g.world, anyone, 0), 'close_batch');
  assert.equal((await closeJob(g, anyone)).error, 'JobIsVerdict');
  assert.equal((await g.world.job(0, 1)).invalidated, 1);
  assert.deepEqual(await g.world.client.invalidatedJobs(0), [1]);
  assert.deepEqual(await g.world.client.batchState(0), { state: 'closed', index: 0n });
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('early close: an upheld job account closes only once its batch is final, its rent to the challenger that paid it', async () => {
  const g = await executorWins();
  const anyone = g.world.fund();
  assert.equal((await closeJob(g, anyone)).error, 'BatchNotFinalized');
  const execBond = (await g.world.operatorOf(g.exec.key.publicKey)).bonded;
  await finalize(g.world);
  const job = g.world.client.pdas.job(g.batch.address, 1);
  const ix = g.world.client.ix.closeJob({ batch: g.batch.address, jobIndex: 1, payer: anyone.publicKey });
  assert.equal((await g.world.sendRaw([ix], [anyone])).error, 'WrongAccount', 'rent theft refused');
  // The batch closes first: the job still closes (a closed batch was a finalized one).
  g.world.warp(CLOSE_AFTER);
  g.world.must(await closeBatch(g.world, anyone, 0), 'close_batch');
  const rent = g.world.balance(job);
  const before = g.world.balance(g.chal.key.publicKey);
  g.world.must(await closeJob(g, anyone), 'close_job');
  assert.equal(g.world.balance(g.chal.key.publicKey) - before, rent);
  assert.equal(g.world.balance(job), 0n);
  g.world.must(await closeDispute(g, anyone), 'close_dispute');
  assert.deepEqual(await g.world.client.invalidatedJobs(0), []);
  assert.equal(
    (await g.world.operatorOf(g.exec.key.publicKey)).bonded,
    execBond,
    'the honest executor keeps its bond',
  );
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('early close: an operator with bond, a pending unbond or a locked stake is not closed; after a full withdrawal it is', async () => {
  const g = await startGame((m) => cheatLayers(m, 2, 0), run);
  const { world } = g;
  const c = g.chal.key;
  const op = world.client.pdas.operator(c.publicKey);
  const closeOp = (k: Keypair) => attempt(world.client.closeOperator(k));
  // Locked: its challenger stake is in the open game.
  assert.equal((await closeOp(c)).error, 'OperatorNotEmpty');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(c, g.dispute), 'claim_timeout');
  const bonded = (await world.operatorOf(c.publicKey)).bonded;
  assert.equal((await closeOp(c)).error, 'OperatorNotEmpty', 'still bonded');
  world.must(await attempt(world.client.requestUnbond(c, bonded)), 'request_unbond');
  assert.equal((await closeOp(c)).error, 'OperatorNotEmpty', 'unbonding');
  world.warp(PARAMS.unbondingSlots + PARAMS.challengeWindow);
  world.must(await attempt(world.client.withdraw(c)), 'withdraw');
  // Someone else cannot close it: the account is the signer's own PDA.
  const other = world.fund();
  const ix = world.client.ix.closeOperator({ owner: other.publicKey });
  const forged = {
    ...ix,
    keys: ix.keys.map((k) =>
      k.pubkey.equals(world.client.pdas.operator(other.publicKey)) ? { ...k, pubkey: op } : k,
    ),
  };
  assert.ok((await world.sendRaw([forged], [other])).error);
  const rent = world.balance(op);
  const before = world.balance(c.publicKey);
  const res = world.must(await closeOp(c), 'close_operator');
  assert.equal(world.balance(c.publicKey) - before, rent - FEE);
  assert.equal(world.balance(op), 0n);
  assert.ok(res.events.some((e) => e.name === 'OperatorClosed' && e.data.lamports === rent));
  assert.equal(await world.client.fetchOperator(c.publicKey), null);
  // Bonding again creates it again.
  world.must(await world.bond(c, 2_000_000_000n), 'bond again');
  assert.equal((await world.operatorOf(c.publicKey)).bonded, 2_000_000_000n);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('rent per job: a closed 64-job batch costs its sequencer only the three fees', async (t) => {
  const { world, b } = await committed(64);
  const seq = world.sequencer;
  const rent = world.balance(b.address);
  // The commit is already paid: count it from its fee and the rent now held by the batch.
  const start = world.balance(seq.publicKey) + rent + FEE;
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(seq, 0), 'finalize_batch');
  world.warp(PARAMS.challengeWindow);
  world.must(await closeBatch(world, seq, 0), 'close_batch');
  const spent = start - world.balance(seq.publicKey);
  assert.equal(spent, 3n * FEE);
  t.diagnostic(`batch rent ${rent} lamports (${Number(rent) / 64} per job at 64 jobs, before closing)`);
  t.diagnostic(`with rent recovered: ${spent} lamports per batch, ${Number(spent) / 64} per job`);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('reclaim sweeps: the sequencer closes only its batches past their grace, the challenger only its own finished games and upheld jobs', async () => {
  const g = await executorWins();
  const { world } = g;
  const seq = world.sequencer;
  const stranger = world.fund();
  // Nothing is closable before finalization, and nothing is a stranger's to sweep.
  assert.deepEqual(await reclaimBatches(world.client, seq), []);
  assert.deepEqual(await reclaimGames(world.client, g.chal.key), []);
  await finalize(world);
  assert.deepEqual(await reclaimBatches(world.client, seq), [], 'inside the grace');
  assert.deepEqual(await reclaimGames(world.client, stranger), []);
  const games = await reclaimGames(world.client, g.chal.key);
  assert.deepEqual(games.map((c) => c.kind).sort(), ['dispute', 'job']);
  world.warp(CLOSE_AFTER);
  assert.deepEqual(await reclaimBatches(world.client, stranger), [], 'not the payer');
  const before = world.balance(seq.publicKey);
  const [batch] = await reclaimBatches(world.client, seq);
  assert.equal(world.balance(seq.publicKey) - before, batch.lamports - FEE);
  assert.deepEqual(await world.client.batchState(0), { state: 'closed', index: 0n });
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('withdraw with close: a full withdrawal closes the Operator in the same transaction; a partial one keeps it', async () => {
  const world = new World();
  await world.init();
  const [a, b] = [await world.operator(3_000_000_000n), await world.operator(3_000_000_000n)];
  world.must(await attempt(world.client.requestUnbond(a, 3_000_000_000n)), 'request_unbond a');
  world.must(await attempt(world.client.requestUnbond(b, 1_000_000_000n)), 'request_unbond b');
  world.warp(PARAMS.unbondingSlots);
  const opA = world.client.pdas.operator(a.publicKey);
  const rent = world.balance(opA) - 3_000_000_000n;
  const before = world.balance(a.publicKey);
  world.must(await attempt(world.client.withdraw(a, { close: true })), 'withdraw a');
  assert.equal(world.balance(a.publicKey) - before, 3_000_000_000n + rent - FEE);
  assert.equal(await world.client.fetchOperator(a.publicKey), null);
  world.must(await attempt(world.client.withdraw(b, { close: true })), 'withdraw b');
  assert.equal((await world.operatorOf(b.publicKey)).bonded, 2_000_000_000n);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
