// Every rejected move fails with its own error code, and rejected transactions change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { World, Player, PARAMS, PHASE, attempt, cheatLayers, startGame, playToOneStep } from './lib/game.ts';
import { mlpModel, run, encodeEntry, OP, REF, chainModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';

/** A world with the mlp model registered and two bonded operators (executor and challenger). */
async function disputable(chalBond = 5_000_000_000n, execBond = 10_000_000_000n) {
  const world = new World();
  await world.init();
  const m = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(execBond);
  const c = await world.operator(chalBond);
  return { world, m, e, c };
}

test('out-of-turn moves are rejected with NotYourTurn', async () => {
  const g = await startGame(
    (m) => cheatLayers(m, 2, 0),
    (m) => run(m),
  );
  assert.equal((await g.chal.commitTrace(g.dispute)).error, 'NotYourTurn');
  g.world.must(await g.exec.move(g.dispute), 'commit_trace');
  assert.equal((await g.exec.commitTrace(g.dispute)).error, 'NotYourTurn', 'replaying a move is out of turn');
  g.world.must(await g.chal.move(g.dispute), 'commit_trace');
  g.world.must(await g.exec.move(g.dispute), 'bisect');
  assert.equal((await g.exec.bisectLayer(g.dispute)).error, 'NotYourTurn', 'replayed bisection move');
});

test('moves by a non-party are rejected with NotAParty', async () => {
  const g = await startGame(
    (m) => cheatLayers(m, 2, 0),
    (m) => run(m),
  );
  const stranger = new Player(g.world, g.world.fund(), g.exec.trace);
  assert.equal((await stranger.commitTrace(g.dispute)).error, 'NotAParty');
});

test('moves in the wrong phase are rejected with WrongPhase', async () => {
  const g = await startGame(
    (m) => cheatLayers(m, 2, 0),
    (m) => run(m),
  );
  assert.equal((await g.exec.revealLayer(g.dispute)).error, 'WrongPhase');
  assert.equal((await g.exec.bisectLayer(g.dispute)).error, 'WrongPhase');
});

test('forged proofs are rejected', async () => {
  const g = await startGame(
    (m) => cheatLayers(m, 5, 1),
    (m) => run(m),
  );
  // Executor claiming a trace that does not end at its recorded output.
  const liar = new Player(g.world, g.exec.key, g.chal.trace);
  assert.equal((await liar.commitTrace(g.dispute)).error, 'OutputMismatch');
  g.world.must(await g.exec.move(g.dispute), 'commit_trace');
  // Challenger claiming the executor's own output has nothing to dispute.
  const agree = new Player(g.world, g.chal.key, g.exec.trace);
  assert.equal((await agree.commitTrace(g.dispute)).error, 'NoDisagreement');
  g.world.must(await g.chal.move(g.dispute), 'commit_trace');
  // A prefix revealed with a proof from the other side's tree.
  const wrongTree = new Player(g.world, g.exec.key, g.chal.trace);
  assert.equal((await wrongTree.bisectLayer(g.dispute)).error, 'InvalidProof');
  await playToOneStep(g);
  // One-step data whose input tensor was altered no longer hashes to the agreed trace.
  const data = await g.chal.stepData(g.dispute);
  data[data.length - 1] ^= 1;
  await g.chal.fillBuffer(g.dispute, data);
  assert.equal((await g.chal.oneStep(g.dispute)).error, 'InvalidProof');
  assert.equal((await g.world.dispute(g.dispute)).phase, PHASE.ONE_STEP, 'a failed one-step changes nothing');
});

test('opening a dispute with a forged job proof fails with InvalidProof, a replayed open fails', async () => {
  const { world, m, e, c } = await disputable();
  const b = await world.commitBatch(0, e, world.outputDigest(world.trace(run(m))));
  const sib = P.batchProof(b.levels, 1);
  sib.siblings = sib.siblings.map((s) => Buffer.from(s));
  sib.siblings[0][3] ^= 1;
  assert.equal((await world.openDispute(c, b, 1, sib)).res.error, 'InvalidProof');
  // A sibling's fee sum other than the committed one does not open the root either.
  const fees = P.batchProof(b.levels, 1);
  fees.siblingFees[0] += 1n;
  assert.equal((await world.openDispute(c, b, 1, fees)).res.error, 'InvalidProof');
  assert.equal(
    (await world.openDispute(c, b, 7, P.batchProof(b.levels, 1), b.records[1], b.signatures[1])).res.error,
    'JobIndexOutOfRange',
  );
  // Self-challenge: the executor's and challenger's operator accounts coincide, which Anchor
  // refuses first as a duplicate mutable account (its code 2040), before the program's SelfChallenge.
  assert.equal((await world.openDispute(e, b, 1)).res.error, 'ConstraintDuplicateMutableAccount');
  world.must((await world.openDispute(c, b, 1)).res, 'open');
  const again = (await world.openDispute(c, b, 1)).res;
  assert.equal(again.ok, false, 'a second dispute on the same job cannot be opened');
  assert.match(again.logs.join('\n'), /already in use/);
});

test('moves after resolution fail with DisputeResolved', async () => {
  const g = await startGame(
    (m) => run(m),
    (m) => cheatLayers(m, 1, 0),
  );
  g.world.warp(PARAMS.clockSlots + 1n);
  g.world.must(await g.world.claimTimeout(g.chal.key, g.dispute), 'timeout');
  assert.equal((await g.exec.commitTrace(g.dispute)).error, 'DisputeResolved');
  assert.equal((await g.world.claimTimeout(g.chal.key, g.dispute)).error, 'DisputeResolved');
});

test('finalizing during a dispute fails; after resolution and the window it succeeds', async () => {
  const g = await startGame(
    (m) => cheatLayers(m, 0, 0),
    (m) => run(m),
  );
  g.world.warp(PARAMS.challengeWindow + 1n);
  assert.equal((await g.world.finalize(g.chal.key, g.batch.index)).error, 'FinalizeDuringDispute');
  g.world.must(await g.world.claimTimeout(g.chal.key, g.dispute), 'timeout');
  const res = g.world.must(await g.world.finalize(g.chal.key, g.batch.index), 'finalize');
  assert.ok(res.events.some((e) => e.name === 'BatchFinalized' && e.data.invalidated === 1));
  assert.equal((await g.world.finalize(g.chal.key, g.batch.index)).error, 'AlreadyFinalized');
});

test('withdrawing a bond during a dispute fails; unbonding waits for its delay', async () => {
  const g = await startGame(
    (m) => cheatLayers(m, 0, 0),
    (m) => run(m),
  );
  const { world, exec } = g;
  const unbond = (amount: bigint) => attempt(world.client.requestUnbond(exec.key, amount));
  const withdraw = () => attempt(world.client.withdraw(exec.key));
  // 10 SOL bonded, 5 SOL locked in the dispute: at most 5 SOL can start unbonding.
  assert.equal((await unbond(6_000_000_000n)).error, 'InsufficientBond');
  world.must(await unbond(4_000_000_000n), 'request_unbond');
  world.warp(PARAMS.unbondingSlots + 1n);
  assert.equal((await withdraw()).error, 'WithdrawDuringDispute');
  world.warp(PARAMS.clockSlots);
  world.must(await world.claimTimeout(g.chal.key, g.dispute), 'timeout');
  const bal = world.balance(exec.key.publicKey);
  world.must(await withdraw(), 'withdraw');
  assert.equal(world.balance(exec.key.publicKey), bal + 4_000_000_000n - 5000n);
  assert.equal((await withdraw()).error, 'NothingUnbonding');
  world.must(await unbond(1_000_000_000n), 'request_unbond');
  assert.equal((await withdraw()).error, 'UnbondingNotReady');
  assert.equal(world.unaccountedLamports(), 0n);
});

test('model registration refuses ops the one-step cannot recompute, naming the error', async () => {
  const world = new World();
  await world.init();
  const m = chainModel(3);
  const bad = m.layers.map(encodeEntry);
  bad[1] = encodeEntry({ op: 42, refs: [REF.layer(0)] });
  // A short page that does not complete the table is refused: pages fill in order, whole.
  const short = await world.registerEntries(m, [bad[0]]);
  assert.equal(short[short.length - 1].error, 'BadOpPage');
  const world2 = new World();
  await world2.init();
  const res = await world2.registerEntries(m, bad.slice(0, 3));
  assert.equal(res[res.length - 1].error, 'UnsupportedOp');
  assert.match(res[res.length - 1].logs.join('\n'), /layer 1 op code 42 refused/);
  const world3 = new World();
  await world3.init();
  const mixed = Buffer.alloc(14);
  mixed[0] = P.DT.UINT8;
  mixed[1] = P.DT.INT8;
  const inexact = [
    encodeEntry({ op: OP.MATMUL_INTEGER, refs: [REF.input(0), REF.weight(0)], attrs: mixed }),
    ...bad.slice(1),
  ];
  const r3 = await world3.registerEntries(m, inexact);
  assert.equal(r3[r3.length - 1].error, 'InexactOp');
  const world4 = new World();
  await world4.init();
  const forward = [encodeEntry({ op: OP.RELU, refs: [REF.layer(2)] }), ...m.layers.slice(1).map(encodeEntry)];
  const r4 = await world4.registerEntries(m, forward);
  assert.equal(r4[r4.length - 1].error, 'BadOpEntry', 'a layer may only read earlier layers');
});

test('authority, sequencer and pause checks', async () => {
  const world = new World();
  await world.init();
  const m = chainModel(2);
  const mallory = world.fund();
  const modelId = P.sha(Buffer.from('x'));
  const reg = await attempt(
    world.client
      .registerModel(mallory, {
        modelId,
        profileHash: modelId,
        weightRoot: modelId,
        weightCount: 1,
        opEntries: [encodeEntry(m.layers[0]), encodeEntry(m.layers[1])],
        outputName: 'y',
        shapes: { inputs: [], weights: [], layers: [] },
      })
      .then((sent) => sent[0]),
  );
  assert.equal(reg.error, 'NotAuthority');
  await world.registerModel(m);
  const commit = (signer: Keypair, index: number) =>
    attempt(world.client.commitBatch(signer, { index, root: modelId, jobCount: 1 }));
  assert.equal((await commit(mallory, 0)).error, 'NotSequencer');
  assert.equal((await commit(world.sequencer, 1)).error, 'BadBatchIndex');
  world.must(await commit(world.sequencer, 0), 'commit 0');
  const pause = (paused: boolean, signer = world.authority) =>
    attempt(world.client.updateConfig(signer, { paused }));
  assert.equal((await pause(true, mallory)).error, 'NotAuthority');
  world.must(await pause(true), 'pause');
  assert.equal((await commit(world.sequencer, 1)).error, 'Paused');
  world.must(await pause(false), 'unpause');
  world.must(await commit(world.sequencer, 1), 'commit 1');
  assert.equal((await world.client.config()).nextBatchIndex, 2n);
});

test('the challenge window bounds disputes and finalization', async () => {
  const { world, m, e, c } = await disputable();
  const b = await world.commitBatch(0, e, world.outputDigest(world.trace(run(m))));
  assert.equal((await world.finalize(c, b.index)).error, 'WindowOpen');
  world.warp(PARAMS.challengeWindow);
  assert.equal((await world.openDispute(c, b, 0)).res.error, 'WindowClosed');
  world.must(await world.finalize(c, b.index), 'finalize');
  assert.equal((await world.openDispute(c, b, 0)).res.error, 'AlreadyFinalized');
});

test('an under-bonded challenger cannot open a dispute', async () => {
  const { world, m, e, c } = await disputable(1_000_000_000n);
  const b = await world.commitBatch(0, e, world.outputDigest(world.trace(run(m))));
  assert.equal((await world.openDispute(c, b, 1)).res.error, 'InsufficientBond');
});

test('bond that is unbonding stays slashable; the slashed executor withdraws only what is left', async () => {
  const { world, m, e, c } = await disputable(5_000_000_000n, 6_000_000_000n);
  const unbond = (amount: bigint) => attempt(world.client.requestUnbond(e, amount));
  const withdraw = () => attempt(world.client.withdraw(e));
  // The executor tries to leave with 5 of its 6 SOL before anyone disputes its bad job.
  world.must(await unbond(5_000_000_000n), 'request_unbond');
  const bad = world.trace(cheatLayers(m, 1, 0));
  const good = world.trace(run(m));
  const b = await world.commitBatch(0, e, world.outputDigest(bad));
  const { dispute, res } = await world.openDispute(c, b, 1);
  world.must(res, 'open_dispute');
  assert.equal(
    (await world.operatorOf(e.publicKey)).locked,
    PARAMS.minExecutorBond,
    'stake taken from unbonding bond too',
  );
  // Nothing more can start unbonding: locked plus unbonding already exceed the bond.
  assert.equal((await unbond(1n)).error, 'InsufficientBond');
  assert.equal((await withdraw()).error, 'WithdrawDuringDispute');
  const g = { world, exec: new Player(world, e, bad), chal: new Player(world, c, good), dispute };
  await playToOneStep(g);
  await g.chal.submitOneStep(dispute);
  const after = await world.operatorOf(e.publicKey);
  assert.equal(after.bonded, 1_000_000_000n);
  assert.equal(after.unbonding, 1_000_000_000n, 'unbonding clamped to what is left');
  world.warp(PARAMS.unbondingSlots);
  const bal = world.balance(e.publicKey);
  world.must(await withdraw(), 'withdraw');
  assert.equal(world.balance(e.publicKey), bal + 1_000_000_000n - 5000n);
  assert.equal(world.unaccountedLamports(), 0n);
});
