// Late answer (issue 15, review 21): a data request's answer may land after the batch's window; the
// challenger still gets one clock from the answer to open its dispute, and nothing finalizes or
// unbonds before that clock runs out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import {
  World,
  answerData,
  Player,
  PARAMS,
  attempt,
  cheatLayers,
  playToOneStep,
  type CommittedBatch,
} from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { DATA_ANSWER_SLOTS } from '../../settlement/instructions.ts';

/** The answer time a request gets: max(clock_slots, DATA_ANSWER_SLOTS). */
const ANSWER_SLOTS = BigInt(Math.max(Number(PARAMS.clockSlots), DATA_ANSWER_SLOTS));
/** state/config.rs UNBONDING_MARGIN_SLOTS. */
const MARGIN = 150n;

/** A cheating executor's batch 0 (job 1 wrong at layer 2), an honest challenger, and the slot of the commit. */
async function cheated(over: Partial<typeof PARAMS> = {}) {
  const world = new World();
  await world.init(over);
  const m = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(10_000_000_000n);
  const c = await world.operator(5_000_000_000n);
  const exec = new Player(world, e, world.trace(cheatLayers(m, 2, 0)));
  const chal = new Player(world, c, world.trace(run(m)));
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  return { world, m, e, c, exec, chal, batch };
}

async function answerLate(world: World, by: Keypair, b: CommittedBatch, job: number, inputs: Buffer) {
  return world.must(await answerData(world, by, b, job, inputs), 'answer_data');
}

test("late answer: a request at the window's last slot, answered at its deadline, still leaves the challenger a clock to dispute the lie, and wins", async () => {
  const { world, m, c, exec, chal, batch } = await cheated();
  world.warp(PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  // The sequencer waits to the last slot of the answer time: the window has closed by then.
  world.warp(ANSWER_SLOTS - 1n);
  await answerLate(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  assert.equal(
    (await world.finalize(c, 0)).error,
    'WindowOpen',
    'no finalizing while the answered job can still be disputed',
  );
  world.warp(PARAMS.clockSlots - 1n);
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute one clock after the answer');
  await playToOneStep({ world, exec, chal, dispute });
  await chal.submitOneStep(dispute);
  assert.equal((await world.job(0, 1)).invalidated, 1, 'the lie is invalidated');
  assert.equal(world.unaccountedLamports(), 0n);
});

test('late answer: the clock after an answer ends; then open_dispute is refused and the batch finalizes', async () => {
  const { world, m, c, batch } = await cheated();
  world.warp(PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  world.warp(ANSWER_SLOTS - 1n);
  await answerLate(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  world.warp(PARAMS.clockSlots);
  assert.equal((await world.openDispute(c, batch, 1)).res.error, 'WindowClosed');
  assert.equal(
    (await attempt(world.client.requestData(c, batch.index, 0))).error,
    'WindowClosed',
    'no new request',
  );
  world.must(await world.finalize(c, 0), 'finalize_batch');
});

test('late answer: an answer inside the window does not shorten it', async () => {
  const { world, m, c, batch } = await cheated();
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  await answerLate(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  world.warp(PARAMS.challengeWindow - 1n);
  assert.equal((await world.finalize(c, 0)).error, 'WindowOpen');
  world.must((await world.openDispute(c, batch, 0)).res, 'open_dispute at the window end');
});

test("late answer, unbonding escape: after the authority shortens window and delay, a cheater that requested an unbond cannot withdraw before a late answer's dispute can open", async () => {
  // A clock longer than the unbonding margin (150 slots), and a batch committed under a long window.
  const clockSlots = 400n;
  const { world, m, e, c, exec, chal, batch } = await cheated({
    clockSlots,
    unbondingSlots: PARAMS.challengeWindow + 2n * clockSlots + MARGIN,
  });
  const commit = (await world.batch(0)).commitSlot;
  // A routine change within the bounds: a short window and the least delay the rule allows.
  const short = { challengeWindow: 100n, clockSlots, unbondingSlots: 100n + 2n * clockSlots + MARGIN };
  world.must(await attempt(world.client.updateConfig(world.authority, { params: short })), 'update_config');
  world.must(await attempt(world.client.requestUnbond(e, 10_000_000_000n)), 'request_unbond');
  world.warp(PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  const answerSlots = clockSlots > ANSWER_SLOTS ? clockSlots : ANSWER_SLOTS;
  world.warp(answerSlots - 1n);
  await answerLate(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  // The latest a dispute may open is one clock after the answer. The cheater tries to leave with its
  // bond one slot before it.
  world.warp(clockSlots - 2n);
  assert.equal(
    (await attempt(world.client.withdraw(e))).error,
    'UnbondingNotReady',
    'the unbond waits for the last dispute a late answer allows',
  );
  const op = await world.operatorOf(e.publicKey);
  assert.ok(
    op.unbondReadySlot >= commit + PARAMS.challengeWindow + answerSlots + clockSlots + MARGIN,
    `unbond ready at ${op.unbondReadySlot}`,
  );
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute');
  await playToOneStep({ world, exec, chal, dispute });
  await chal.submitOneStep(dispute);
  assert.equal(
    (await world.operatorOf(e.publicKey)).bonded,
    10_000_000_000n - PARAMS.minExecutorBond,
    'slashed',
  );
  assert.equal(world.unaccountedLamports(), 0n);
});
