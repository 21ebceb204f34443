// Review 23: attacks on the on-chain timing rules (unbonds, closes, holds, late answers, record faults). Each test
// is named after its attack and asserts what an honest protocol must guarantee. "slash then close" failed before
// close_operator waited for the margin after the slash; the others were stopped. Its "slash then withdraw" attack
// (a record assigned after the executor's unbond request, which the sequencer's own rule refuses) stays on branch
// i-rev23 as an open row of PROTOCOL.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import {
  World,
  answerData,
  Player,
  PARAMS,
  SIDE,
  attempt,
  cheatLayers,
  type CommittedBatch,
} from './lib/game.ts';
import { mlpModel, run, type ModelDef } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { gameSlot } from '../../settlement/client.ts';

const SOL = 1_000_000_000n;
/** state/config.rs UNBONDING_MARGIN_SLOTS. */
const MARGIN = 150n;

/** Game time now (paused slots excluded). */
const gameNow = async (world: World) => gameSlot(await world.client.config(), await world.sender.getSlot());

async function answer(world: World, by: Keypair, b: CommittedBatch, job: number, inputs: Buffer) {
  return world.must(await answerData(world, by, b, job, inputs), 'answer_data');
}

/**
 * Slash-then-close: a cheating executor E (bond = one stake) loses a game its own sybil challenger X opened on a
 * late-answered job, the game stretched over both clocks, so E's bond empties at a game slot S past
 * Config.latest_dispute_end + 150; close_operator then lets E close at once (by_windows). The honest sequencer
 * commits, one slot after S, a record E signed before the slash: inside the margin prove_record_fault gives a
 * sequencer to see a slash (emptied_slot + 150 > commit). With `close`, E's account is gone and kind 0 reads
 * "no Operator": the honest sequencer is slashed.
 */
async function slashThenClose(close: boolean) {
  const clockSlots = 400n;
  const world = new World();
  await world.init({ clockSlots, unbondingSlots: PARAMS.challengeWindow + 2n * clockSlots + MARGIN });
  const m: ModelDef = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(PARAMS.minExecutorBond);
  const x = await world.operator(5n * SOL);
  const exec = new Player(world, e, world.trace(cheatLayers(m, 2, 0)));
  const chal = new Player(world, x, world.trace(run(m)));
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  const commit = (await world.batch(0)).commitSlot;
  // X asks for job 1's data at the window's last slot; the honest sequencer answers at once.
  world.warp(PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(x, batch.index, 1)), 'request_data');
  world.warp(1);
  await answer(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  // X opens its game at the last slot the answer allows, and both sides spend their whole clocks.
  world.warp(clockSlots - 2n);
  const { dispute, res } = await world.openDispute(x, batch, 1);
  world.must(res, 'open_dispute');
  world.warp(clockSlots - 1n);
  world.must(await exec.move(dispute), 'executor move');
  world.warp(clockSlots - 1n);
  world.must(await chal.move(dispute), 'challenger move');
  assert.equal((await world.dispute(dispute)).turn, SIDE.EXECUTOR);
  world.warp(3);
  world.must(await world.claimTimeout(x, dispute), 'claim_timeout');
  const op = await world.operatorOf(e.publicKey);
  assert.equal(op.bonded, 0n, 'E emptied');
  const slashAt = op.emptiedSlot;
  const latest = (await world.client.config()).latestDisputeEnd;
  assert.ok(slashAt > latest + MARGIN, `slash at ${slashAt}, latest dispute end ${latest}, commit ${commit}`);
  const closed = close ? await attempt(world.client.closeOperator(e)) : undefined;
  // One slot later the honest sequencer commits a record E signed before the slash.
  world.warp(1);
  const b1 = await world.commitBatch(1, e, P.sha(Buffer.from('e honest output')));
  const c1 = (await world.batch(1)).commitSlot;
  assert.ok(c1 < slashAt + MARGIN, 'inside the margin the sequencer is given to see a slash');
  const prover = world.fund();
  const seqBefore = world.balance(world.client.pdas.batch(1));
  const fault = await world.proveFault(prover, b1, 1);
  return { world, fault, seqBefore, b1, slashAt, c1, closed };
}

test('slash then close: a record an executor signed before a slash, committed inside the margin, is no kind-0 fault of the honest sequencer (account kept)', async () => {
  const { fault } = await slashThenClose(false);
  assert.equal(fault.error, 'NoRecordFault');
});

test('slash then close: an executor emptied by a slash cannot close its account to turn its records committed inside the margin into kind-0 faults against the honest sequencer', async () => {
  const { world, fault, slashAt, c1, closed } = await slashThenClose(true);
  assert.equal(closed?.error, 'OperatorRecentlySlashed', 'no close inside the margin after the slash');
  assert.notEqual(
    fault.error,
    undefined,
    `prove_record_fault kind 0 landed on batch 1 committed at ${c1}, ${c1 - slashAt} slots after the slash; batch reserve left ${(await world.batch(1)).faultReserve}`,
  );
});

const ANSWER_MIN = 156n; // state/data_request.rs DATA_ANSWER_SLOTS
const max = (a: bigint, b: bigint) => (a > b ? a : b);
/** state/config.rs late_dispute_slots. */
const late = (clock: bigint) => max(clock, ANSWER_MIN) + clock;

test('unbond then close, honest executor: a record committed at the margin after its unbond request cannot be proven a kind-0 fault once it withdrew and closed', async () => {
  const world = new World();
  await world.init();
  const m = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(10n * SOL);
  const honest = world.outputDigest(world.trace(run(m)));
  world.must(await attempt(world.client.requestUnbond(e, 10n * SOL)), 'request_unbond');
  const ready = (await world.operatorOf(e.publicKey)).unbondReadySlot;
  // The sequencer commits E's last records (signed before the request) at the end of the margin.
  world.warp(MARGIN);
  const b = await world.commitBatch(0, e, honest);
  const commit = (await world.batch(0)).commitSlot;
  const now = await gameNow(world);
  world.warp(ready - now - 1n);
  assert.equal((await attempt(world.client.withdraw(e, { close: true }))).error, 'UnbondingNotReady');
  world.warp(1);
  world.must(await attempt(world.client.withdraw(e, { close: true })), 'withdraw and close');
  const fault = await world.proveFault(world.fund(), b, 1);
  assert.equal(fault.error, 'WindowClosed', `batch committed at ${commit}, unbond ready at ${ready}`);
});

test('hostile sequencer: its unbond requested right after a commit is not withdrawable before a data request at the window end times out', async () => {
  const world = new World();
  await world.init();
  const m = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(10n * SOL);
  const c = await world.operator(5n * SOL);
  const batch = await world.commitBatch(0, e, world.outputDigest(world.trace(cheatLayers(m, 2, 0))));
  const seqOp = await world.operatorOf(world.sequencer.publicKey);
  world.must(
    await attempt(world.client.requestUnbond(world.sequencer, seqOp.bonded)),
    'sequencer request_unbond',
  );
  world.warp(PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  const deadline = (await world.client.fetchDataRequest(batch.index, 1))!.deadline;
  const now = await gameNow(world);
  world.warp(deadline - now);
  assert.equal((await attempt(world.client.withdraw(world.sequencer))).error, 'UnbondingNotReady');
  const before = (await world.operatorOf(world.sequencer.publicKey)).slashed;
  world.must(await attempt(world.client.claimDataTimeout(c, batch.index, 1)), 'claim_data_timeout');
  assert.ok((await world.operatorOf(world.sequencer.publicKey)).slashed > before);
});

test('finalization griefing: a data request at the window end answered at its deadline by a griefer holds the batch no longer than window + late_dispute_slots(clock)', async () => {
  const world = new World();
  await world.init();
  const m = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(10n * SOL);
  const g = await world.operator(5n * SOL);
  const g2 = world.fund();
  const batch = await world.commitBatch(0, e, world.outputDigest(world.trace(run(m))));
  const commit = (await world.batch(0)).commitSlot;
  world.warp(PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(g, batch.index, 1)), 'request_data');
  world.warp(max(PARAMS.clockSlots, ANSWER_MIN) - 1n);
  await answer(world, g2, batch, 1, P.postInputs(m.inputs));
  const bound = commit + PARAMS.challengeWindow + late(PARAMS.clockSlots);
  const now = await gameNow(world);
  world.warp(bound - now);
  world.must(await world.finalize(g, 0), `finalize_batch at ${bound}`);
});
