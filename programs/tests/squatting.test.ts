// Dispute squatting (issue 13, attack 1): one game per (job, challenger); a job falls once any game is won.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair, PublicKey } from '@solana/web3.js';
import {
  PARAMS,
  PHASE,
  SIDE,
  World,
  Player,
  attempt,
  cheatLayers,
  playToOneStep,
  type CommittedBatch,
} from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';

const BOND_E = 10_000_000_000n;
const BOND_C = 5_000_000_000n;
const bounty = (stake: bigint) => (stake * BigInt(PARAMS.bountyBps)) / 10000n;

/** A world whose executor (10 SOL) claims a wrong output for job 1 of batch 0. */
async function cheatingBatch() {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const e = await world.operator(BOND_E);
  const exec = new Player(world, e, world.trace(cheatLayers(m, 3, 1)));
  const honestTrace = world.trace(run(m));
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  /** A bonded challenger playing from the honest trace. */
  const challenger = async () => new Player(world, await world.operator(BOND_C), honestTrace);
  return { world, exec, batch, challenger };
}

async function open(world: World, c: Player, b: CommittedBatch): Promise<PublicKey> {
  const { dispute, res } = await world.openDispute(c.key, b, 1);
  world.must(res, `open_dispute by ${c.key.publicKey.toBase58().slice(0, 6)}`);
  return dispute;
}

/** Plays the game on `dispute` to the one-step and has the challenger submit it (it wins). */
async function winAsChallenger(world: World, exec: Player, chal: Player, dispute: PublicKey) {
  await playToOneStep({ world, exec, chal, dispute });
  const { steps } = await chal.submitOneStep(dispute);
  world.must(await chal.closeBuffer(dispute), 'close_proof_buffer');
  return steps[steps.length - 1];
}

const op = (world: World, k: Keypair) => world.operatorOf(k.publicKey);

test('squatting: an accomplice opens first and abandons; an honest challenger still wins and the job is invalidated', async () => {
  const { world, exec, batch, challenger } = await cheatingBatch();
  const accomplice = await challenger();
  const honest = await challenger();
  const squat = await open(world, accomplice, batch);
  // The honest challenger is not refused: its game is its own.
  const game = await open(world, honest, batch);
  assert.notEqual(game.toBase58(), squat.toBase58());
  assert.equal((await world.batch(0)).openDisputes, 2);
  // The accomplice abandons its game; the executor moves in it to run the accomplice's clock down.
  world.must(await exec.commitTrace(squat), 'executor commit_trace in the squatted game');
  const end = await winAsChallenger(world, exec, honest, game);
  assert.ok(end.events.some((e) => e.name === 'JobInvalidated'));
  world.warp(PARAMS.clockSlots + 1n);
  // The accomplice's game is now moot: no timeout can pay the executor for a job proven wrong.
  assert.equal((await world.claimTimeout(exec.key, squat)).error, 'GameMoot');
  world.must(await world.endMootGame(exec.key, squat), 'end_moot_game');

  assert.equal((await world.dispute(game)).winner, SIDE.CHALLENGER);
  const b = await world.batch(0);
  assert.equal(b.invalidated, 1);
  assert.equal(b.openDisputes, 0);
  const [e, h, a] = [await op(world, exec.key), await op(world, honest.key), await op(world, accomplice.key)];
  assert.equal(e.bonded, BOND_E - PARAMS.minExecutorBond, 'the cheater is slashed one stake');
  assert.equal(h.bonded, BOND_C + bounty(PARAMS.minExecutorBond), 'the honest challenger gains the bounty');
  assert.equal(a.bonded, BOND_C, 'the moot game costs the accomplice nothing, and pays the cheater nothing');
  for (const o of [e, h, a]) assert.equal(o.locked, 0n);
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest.key, 0), 'finalize_batch');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('squatting: sybil games opened first cannot lock the executor stake away from the honest game', async () => {
  const { world, exec, batch, challenger } = await cheatingBatch();
  // Two sybil games: with a stake locked per game they would lock the whole 10 SOL bond first.
  const sybils = [await challenger(), await challenger()];
  const squats = [];
  for (const s of sybils) squats.push(await open(world, s, batch));
  const honest = await challenger();
  const game = await open(world, honest, batch);
  const e0 = await op(world, exec.key);
  assert.equal(e0.locked, PARAMS.minExecutorBond, 'one executor stake per job, whatever the number of games');
  await winAsChallenger(world, exec, honest, game);
  for (const s of squats) world.must(await world.endMootGame(honest.key, s), 'end_moot_game');
  const e = await op(world, exec.key);
  assert.equal(e.bonded, BOND_E - PARAMS.minExecutorBond, 'the cheater loses its full stake');
  assert.equal(e.locked, 0n);
  assert.equal(e.openDisputes, 0);
  assert.equal((await op(world, honest.key)).bonded, BOND_C + bounty(PARAMS.minExecutorBond));
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('a losing slow challenger does not clear the job', async () => {
  const { world, exec, batch, challenger } = await cheatingBatch();
  const slow = await challenger();
  const first = await open(world, slow, batch);
  world.must(await exec.commitTrace(first), 'executor commit_trace');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(exec.key, first), 'claim_timeout');
  assert.equal((await world.dispute(first)).winner, SIDE.EXECUTOR);
  assert.equal((await op(world, slow.key)).bonded, BOND_C - PARAMS.minChallengerBond, 'the slow one pays');
  // The same challenger has had its game on this job; a fresh one still can.
  assert.ok(!(await world.openDispute(slow.key, batch, 1)).res.ok, 'one game per (job, challenger)');
  const honest = await challenger();
  const game = await open(world, honest, batch);
  await winAsChallenger(world, exec, honest, game);
  const b = await world.batch(0);
  assert.equal(b.invalidated, 1);
  assert.equal(b.openDisputes, 0);
  const e = await op(world, exec.key);
  assert.equal(
    e.bonded,
    BOND_E + bounty(PARAMS.minChallengerBond) - PARAMS.minExecutorBond,
    'the cheater kept the slow challenger bounty but lost its stake',
  );
  assert.equal(e.locked, 0n);
  assert.equal((await op(world, honest.key)).bonded, BOND_C + bounty(PARAMS.minExecutorBond));
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest.key, 0), 'finalize_batch');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('a second winner on the same job does not slash twice or count the job twice', async () => {
  const { world, exec, batch, challenger } = await cheatingBatch();
  const [h1, h2] = [await challenger(), await challenger()];
  const [g1, g2] = [await open(world, h1, batch), await open(world, h2, batch)];
  await playToOneStep({ world, exec, chal: h1, dispute: g1 });
  await playToOneStep({ world, exec, chal: h2, dispute: g2 });
  await h1.submitOneStep(g1);
  // The second game reaches the same verdict, but the job is already invalidated.
  await h2.fillBuffer(g2);
  assert.equal((await h2.oneStep(g2)).error, 'GameMoot');
  assert.equal((await world.claimTimeout(h2.key, g2)).error, 'GameMoot');
  // Nobody opens a new game on a job already proven wrong.
  const late = await challenger();
  assert.equal((await world.openDispute(late.key, batch, 1)).res.error, 'JobInvalidated');
  world.must(await world.endMootGame(h2.key, g2), 'end_moot_game');
  for (const [p, g] of [
    [h1, g1],
    [h2, g2],
  ] as const)
    world.must(await p.closeBuffer(g), 'close_proof_buffer');

  const b = await world.batch(0);
  assert.equal(b.invalidated, 1, 'the job counts once');
  assert.equal(b.openDisputes, 0);
  const e = await op(world, exec.key);
  assert.equal(e.bonded, BOND_E - PARAMS.minExecutorBond, 'slashed once');
  assert.equal(e.locked, 0n);
  assert.equal((await op(world, h1.key)).bonded, BOND_C + bounty(PARAMS.minExecutorBond));
  const second = await op(world, h2.key);
  assert.equal(second.bonded, BOND_C, 'the second winner keeps its bond');
  assert.equal(second.locked, 0n);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('moot games end with stakes unlocked and rent returned', async () => {
  const { world, exec, batch, challenger } = await cheatingBatch();
  const [other, honest] = [await challenger(), await challenger()];
  const moot = await open(world, other, batch);
  const game = await open(world, honest, batch);
  world.must(await exec.commitTrace(moot), 'executor commit_trace');
  // Before the job falls, a game is not moot.
  assert.equal((await world.endMootGame(honest.key, moot)).error, 'GameNotMoot');
  await winAsChallenger(world, exec, honest, game);

  const d = await world.dispute(moot);
  const rent = world.balance(moot);
  const wallet = world.balance(other.key.publicKey);
  const anyone = world.fund();
  world.must(await world.endMootGame(anyone, moot), 'end_moot_game by a third party');
  assert.equal(world.balance(moot), 0n, 'the moot Dispute account is closed');
  assert.equal(world.balance(other.key.publicKey), wallet + rent, 'its rent goes back to its challenger');
  const o = await op(world, other.key);
  assert.equal(o.bonded, BOND_C);
  assert.equal(o.locked, 0n);
  assert.equal(o.openDisputes, 0);
  const e = await op(world, exec.key);
  assert.equal(e.locked, 0n);
  assert.equal(e.openDisputes, 0);
  const again = world.client.ix.endMootGame({ dispute: moot, ...d });
  const twice = await attempt(world.client.send(['end_moot_game'], [again], [anyone]));
  assert.equal(twice.ok, false, 'a closed game cannot end twice');
  // A resolved game is a verdict, not a moot game.
  assert.equal((await world.endMootGame(anyone, game)).error, 'DisputeResolved');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('a batch finalizes only when every game on it is closed', async () => {
  const { world, exec, batch, challenger } = await cheatingBatch();
  const [slow, honest] = [await challenger(), await challenger()];
  const g1 = await open(world, slow, batch);
  const g2 = await open(world, honest, batch);
  world.must(await exec.commitTrace(g1), 'executor commit_trace');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(exec.key, g1), 'claim_timeout');
  world.warp(PARAMS.challengeWindow);
  // One game resolved, the other still open (its executor never moved): no finalization yet.
  assert.equal((await world.batch(0)).openDisputes, 1);
  assert.equal((await world.finalize(honest.key, 0)).error, 'FinalizeDuringDispute');
  world.must(await world.claimTimeout(honest.key, g2), 'claim_timeout');
  assert.equal((await world.dispute(g2)).phase, PHASE.RESOLVED);
  world.must(await world.finalize(honest.key, 0), 'finalize_batch');
  const b = await world.batch(0);
  assert.equal(b.invalidated, 1);
  assert.equal((await op(world, exec.key)).locked, 0n);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
