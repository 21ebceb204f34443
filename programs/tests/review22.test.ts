// Review 22: attacks on the late-answer rule (review 21) around config changes, pauses and re-requests. Each test is
// named after its attack and asserts what an honest protocol must guarantee. Before the fix the unbond, hold and
// close checks sized the late disputes with the clock in force when they ran, while a data request's deadline and
// an answer's clock used the clock in force at the request and at the answer (tests 1-5 failed). Now a batch's
// deadline and late clock are its own (Batch.dispute_clock) and unbonds wait for Config.latest_dispute_end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { World, answerData, PARAMS, attempt, cheatLayers, type CommittedBatch } from './lib/game.ts';
import { mlpModel, run, type ModelDef } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { DATA_ANSWER_SLOTS } from '../../settlement/instructions.ts';
import { gameSlot } from '../../settlement/client.ts';

const SOL = 1_000_000_000n;
/** state/config.rs UNBONDING_MARGIN_SLOTS. */
const MARGIN = 150n;
const ANSWER_MIN = BigInt(DATA_ANSWER_SLOTS);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
/** state/config.rs late_dispute_slots. */
const late = (clock: bigint) => max(clock, ANSWER_MIN) + clock;

/** Game time now (paused slots excluded). */
const gameNow = async (world: World) => gameSlot(await world.client.config(), await world.sender.getSlot());

/**
 * A world under `over`, the mlp model, an executor E (10 SOL) whose batch 0 (3 jobs) claims the output of `layers`
 * at job 1 (honest: the model's own run), and the commit's game slot.
 */
async function setup(over: Partial<typeof PARAMS>, cheat: boolean) {
  const world = new World();
  await world.init(over);
  const m: ModelDef = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(10n * SOL);
  const trace = world.trace(cheat ? cheatLayers(m, 2, 0) : run(m));
  const batch = await world.commitBatch(0, e, world.outputDigest(trace));
  const commit = (await world.batch(0)).commitSlot;
  return { world, m, e, batch, commit };
}

async function answer(world: World, by: Keypair, b: CommittedBatch, job: number, inputs: Buffer) {
  return world.must(await answerData(world, by, b, job, inputs), 'answer_data');
}

/** Warps to game slot `at` (it must be ahead). */
async function warpTo(world: World, at: bigint) {
  const now = await gameNow(world);
  assert.ok(at >= now, `warp to ${at} from ${now}`);
  world.warp(at - now);
}

// ---- Attack 1: trade window for clock (span unchanged, no hold), then frame the honest sequencer ----

test('window-for-clock trade: after the authority shortens the window and lengthens the clock (same unbond span), an honest executor that unbonded before and closed its account cannot be turned into a kind-0 fault against the honest sequencer by a promptly answered request', async () => {
  // Defaults: window 1000, clock 100, unbonding 1350. The honest executor E requests its unbond right after its
  // batch commits: ready at max(commit + 1350, commit + 1000 + late(100) + 150) = commit + 1406.
  const { world, m, e, batch, commit } = await setup({}, false);
  world.must(await attempt(world.client.requestUnbond(e, 10n * SOL)), 'request_unbond');
  const ready = (await world.operatorOf(e.publicKey)).unbondReadySlot;
  assert.equal(ready, commit + PARAMS.challengeWindow + late(PARAMS.clockSlots) + MARGIN);
  // A routine change: window 100, clock 550; window + 2 x clock + 150 stays 1350, so no raise is noted and no
  // commit ever holds withdrawals.
  const params = { challengeWindow: 100n, clockSlots: 550n, unbondingSlots: 1350n };
  world.must(await attempt(world.client.updateConfig(world.authority, { params })), 'update_config');
  // A hostile requester H asks for job 0's data at the window's last slot; the honest sequencer answers at once.
  const h = world.fund(5n * SOL);
  const hStart = world.balance(h.publicKey);
  await warpTo(world, commit + PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(h, batch.index, 0)), 'request_data');
  await answer(world, world.sequencer, batch, 0, P.postInputs(m.inputs));
  const until = (await world.batch(0)).disputableUntil;
  assert.equal(
    until,
    commit + PARAMS.challengeWindow - 1n + PARAMS.clockSlots,
    "the answer leaves the batch's own clock (the one it committed under), not the new one",
  );
  // E's unbond is ready before that clock ends: it withdraws and closes its Operator (it has nothing left).
  await warpTo(world, ready);
  const w = await attempt(world.client.withdraw(e, { close: true }));
  // H proves job 0 is a record of a key with no Operator: kind 0, against the sequencer that committed it while
  // E was bonded with 10 SOL.
  const reserveBefore = (await world.batch(0)).faultReserve;
  const seqSlashedBefore = (await world.operatorOf(world.sequencer.publicKey)).slashed;
  const f = await world.proveFault(h, batch, 0, 'unbondedExecutor');
  const b = await world.batch(0);
  const seqSlashed = (await world.operatorOf(world.sequencer.publicKey)).slashed - seqSlashedBefore;
  console.log(
    `window-for-clock trade: commit ${commit}, unbond ready ${ready}, disputable until ${until}; withdraw+close ${w.ok ? 'ok' : w.error} at ${await gameNow(world)}, prove_record_fault ${f.ok ? 'ok' : f.error}; reserve ${reserveBefore} -> ${b.faultReserve}, sequencer slashed ${seqSlashed}, H net ${world.balance(h.publicKey) - hStart} (request rent still locked)`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(seqSlashed, 0n, 'the honest sequencer is not slashed for a record its bonded executor signed');
  assert.equal(b.invalidated, 0, "the honest executor's job stands");
});

test('window-for-clock trade, unbonding escape: a cheater that unbonded before the change cannot withdraw before the dispute a late answer allows opens', async () => {
  const { world, m, e, batch, commit } = await setup({}, true);
  const c = await world.operator(5n * SOL);
  world.must(await attempt(world.client.requestUnbond(e, 10n * SOL)), 'request_unbond');
  const params = { challengeWindow: 100n, clockSlots: 550n, unbondingSlots: 1350n };
  world.must(await attempt(world.client.updateConfig(world.authority, { params })), 'update_config');
  await warpTo(world, commit + PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  const req = await world.client.fetchDataRequest(0, 1);
  // The sequencer (down, or colluding) answers at the last slot of the answer time: deadline - 1.
  await warpTo(world, req!.deadline - 1n);
  const ready = (await world.operatorOf(e.publicKey)).unbondReadySlot;
  // The cheater left before the answer landed.
  const w = await attempt(world.client.withdraw(e));
  await answer(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  const until = (await world.batch(0)).disputableUntil;
  world.warp(1);
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute after the late answer');
  const stake = (await world.dispute(dispute)).executorStake;
  console.log(
    `window-for-clock escape: unbond ready ${ready}, request deadline ${req!.deadline}, withdraw ${w.ok ? 'ok' : w.error}, disputable until ${until}, executor stake in the dispute ${stake}`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(stake, PARAMS.minExecutorBond, "the dispute holds the cheater's full stake");
});

// ---- Attack 2: lower the clock while a request made under the longer clock is pending ----

test("clock cut under a pending request: a cheater that requests its unbond after the authority shortens the clock cannot withdraw and close before the request's late answer, leaving its lie disputable only as a kind-0 fault of the sequencer", async () => {
  // Clock 2000 (window 1000, unbonding 1000 + 4000 + 150).
  const { world, m, e, batch, commit } = await setup({ clockSlots: 2000n, unbondingSlots: 5150n }, true);
  const c = await world.operator(5n * SOL);
  const W = commit + PARAMS.challengeWindow;
  await warpTo(world, W - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  const deadline = (await world.client.fetchDataRequest(0, 1))!.deadline;
  assert.equal(deadline, W - 1n + 2000n);
  // The authority shortens the clock back to 100 (unbonding 1350): allowed.
  const params = { clockSlots: 100n, unbondingSlots: 1350n };
  world.must(await attempt(world.client.updateConfig(world.authority, { params })), 'update_config');
  world.must(await attempt(world.client.requestUnbond(e, 10n * SOL)), 'request_unbond');
  const ready = (await world.operatorOf(e.publicKey)).unbondReadySlot;
  // The cheater tries to withdraw and close just before the sequencer answers, at the deadline's last
  // slot (back from an outage).
  await warpTo(world, deadline - 1n);
  const w = await attempt(world.client.withdraw(e, { close: true }));
  assert.equal(w.error, 'UnbondingNotReady', 'no withdrawal before the late answer');
  await answer(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  const until = (await world.batch(0)).disputableUntil;
  world.warp(1);
  const { dispute, res } = await world.openDispute(c, batch, 1);
  const stake = res.ok ? (await world.dispute(dispute)).executorStake : 0n;
  // The cheater's sybil turns its own lie into a kind-0 fault of the sequencer and takes the bounty.
  const sybil = world.fund(1n * SOL);
  const sStart = world.balance(sybil.publicKey);
  const f = res.ok ? undefined : await world.proveFault(sybil, batch, 1, 'unbondedExecutor');
  console.log(
    `clock cut: window end ${W}, deadline ${deadline}, unbond ready ${ready}, withdraw+close ${w.ok ? 'ok' : w.error}, disputable until ${until}, open_dispute ${res.ok ? 'ok' : res.error}, stake ${stake}; sybil prove_record_fault ${f ? (f.ok ? 'ok' : f.error) : '-'}, sybil net ${world.balance(sybil.publicKey) - sStart}`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.ok(res.ok, `open_dispute after the late answer: ${res.error}`);
  assert.equal(stake, PARAMS.minExecutorBond, "the dispute holds the cheater's full stake");
});

test('clock cut under a pending request, sequencer escape: a sequencer that unbonds after the clock is shortened cannot withdraw before the timeouts of requests made under the longer clock', async () => {
  const { world, batch, commit } = await setup({ clockSlots: 2000n, unbondingSlots: 5150n }, false);
  const seq = world.sequencer;
  const h = world.fund(5n * SOL);
  const W = commit + PARAMS.challengeWindow;
  await warpTo(world, W - 1n);
  world.must(await attempt(world.client.requestData(h, batch.index, 0)), 'request_data 0');
  world.must(await attempt(world.client.requestData(h, batch.index, 1)), 'request_data 1');
  const params = { clockSlots: 100n, unbondingSlots: 1350n };
  world.must(await attempt(world.client.updateConfig(world.authority, { params })), 'update_config');
  const op = await world.operatorOf(seq.publicKey);
  const free = op.bonded - op.locked - op.unbonding;
  world.must(await attempt(world.client.requestUnbond(seq, free)), 'request_unbond');
  const ready = (await world.operatorOf(seq.publicKey)).unbondReadySlot;
  // The sequencer tries to withdraw at the deadline, before the timeouts are claimed.
  const deadline = (await world.client.fetchDataRequest(0, 1))!.deadline;
  await warpTo(world, deadline);
  const w = await attempt(world.client.withdraw(seq));
  assert.equal(w.error, 'UnbondingNotReady', 'no withdrawal before the timeouts can be claimed');
  const before = (await world.operatorOf(seq.publicKey)).slashed;
  world.must(await attempt(world.client.claimDataTimeout(h, batch.index, 0)), 'claim_data_timeout 0');
  world.must(await attempt(world.client.claimDataTimeout(h, batch.index, 1)), 'claim_data_timeout 1');
  const slashed = (await world.operatorOf(seq.publicKey)).slashed - before;
  console.log(
    `sequencer escape: bonded free ${free}, unbond ready ${ready}, withdraw ${w.ok ? 'ok' : w.error}, deadline ${deadline}, slashed over 2 timeouts ${slashed}`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(slashed, 2n * PARAMS.minExecutorBond, 'each withheld job costs the sequencer one fault slash');
});

// ---- Attack 3: raise the clock, no batch under it ----

test('clock raise, no batch under it: an honest executor that unbonded before the raise and closed cannot be framed as a kind-0 fault by a request answered under the longer clock', async () => {
  const { world, m, e, batch, commit } = await setup({}, false);
  world.must(await attempt(world.client.requestUnbond(e, 10n * SOL)), 'request_unbond');
  const ready = (await world.operatorOf(e.publicKey)).unbondReadySlot;
  const params = { clockSlots: 2000n, unbondingSlots: 5150n };
  world.must(await attempt(world.client.updateConfig(world.authority, { params })), 'update_config');
  // No batch commits after the raise (a quiet sequencer): no hold.
  const h = world.fund(5n * SOL);
  await warpTo(world, commit + PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(h, batch.index, 0)), 'request_data');
  await answer(world, world.sequencer, batch, 0, P.postInputs(m.inputs));
  const until = (await world.batch(0)).disputableUntil;
  await warpTo(world, ready);
  const w = await attempt(world.client.withdraw(e, { close: true }));
  const before = (await world.operatorOf(world.sequencer.publicKey)).slashed;
  const f = await world.proveFault(h, batch, 0, 'unbondedExecutor');
  const slashed = (await world.operatorOf(world.sequencer.publicKey)).slashed - before;
  console.log(
    `clock raise: unbond ready ${ready}, withdraw floor ${(await world.client.config()).withdrawFloor}, disputable until ${until}, withdraw+close ${w.ok ? 'ok' : w.error}, prove_record_fault ${f.ok ? 'ok' : f.error}, sequencer slashed ${slashed}`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(slashed, 0n, 'the honest sequencer is not slashed');
});

// ---- Stopped (expected to pass) ----

test("late answer under a constant long clock (stopped): a cheater unbonding right after its commit cannot withdraw before a late answer's dispute opens", async () => {
  const { world, m, e, batch, commit } = await setup({ clockSlots: 2000n, unbondingSlots: 5150n }, true);
  const c = await world.operator(5n * SOL);
  world.must(await attempt(world.client.requestUnbond(e, 10n * SOL)), 'request_unbond');
  await warpTo(world, commit + PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  const deadline = (await world.client.fetchDataRequest(0, 1))!.deadline;
  await warpTo(world, deadline - 1n);
  await answer(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  await warpTo(world, (await world.batch(0)).disputableUntil - 1n);
  assert.equal((await attempt(world.client.withdraw(e))).error, 'UnbondingNotReady');
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute at the last slot');
  assert.equal((await world.dispute(dispute)).executorStake, PARAMS.minExecutorBond);
});

test('re-request after a timeout (stopped): a timed-out job cannot be requested again to hold the batch', async () => {
  const { world, batch } = await setup({}, false);
  const h = world.fund(5n * SOL);
  world.must(await attempt(world.client.requestData(h, batch.index, 0)), 'request_data');
  world.warp(ANSWER_MIN);
  world.must(await attempt(world.client.claimDataTimeout(h, batch.index, 0)), 'claim_data_timeout');
  assert.equal((await attempt(world.client.requestData(h, batch.index, 0))).error, 'JobInvalidated');
  assert.equal(world.unaccountedLamports(), 0n);
});

test('pause over a pending request (stopped): neither the unbond nor the answer time runs while paused; the late answer still leaves its clock', async () => {
  const { world, m, e, batch, commit } = await setup({}, true);
  const c = await world.operator(5n * SOL);
  world.must(await attempt(world.client.requestUnbond(e, 10n * SOL)), 'request_unbond');
  await warpTo(world, commit + PARAMS.challengeWindow - 1n);
  world.must(await attempt(world.client.requestData(c, batch.index, 1)), 'request_data');
  world.must(await attempt(world.client.updateConfig(world.authority, { paused: true })), 'pause');
  world.warp(100_000n);
  assert.equal(
    (await attempt(world.client.withdraw(e))).error,
    'UnbondingNotReady',
    'no withdraw in the pause',
  );
  assert.equal((await attempt(world.client.claimDataTimeout(c, batch.index, 1))).error, 'Paused');
  world.must(await attempt(world.client.updateConfig(world.authority, { paused: false })), 'unpause');
  const deadline = (await world.client.fetchDataRequest(0, 1))!.deadline;
  await warpTo(world, deadline - 1n);
  await answer(world, world.sequencer, batch, 1, P.postInputs(m.inputs));
  world.warp(PARAMS.clockSlots - 1n);
  assert.equal((await attempt(world.client.withdraw(e))).error, 'UnbondingNotReady');
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute');
  assert.equal((await world.dispute(dispute)).executorStake, PARAMS.minExecutorBond);
});
