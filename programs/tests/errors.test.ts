// Every rejected move fails with its own error code, and rejected transactions change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import BN from 'bn.js';
import { Keypair, SystemProgram } from '@solana/web3.js';
import {
  World,
  Player,
  Trace,
  PARAMS,
  PHASE,
  SIDE,
  cheatLayers,
  outputDigest,
  startGame,
  playToOneStep,
} from './lib/game.ts';
import { mlpModel, run, encodeEntry, OP, REF, chainModel } from './lib/model.ts';
import { PDA } from './lib/svm.ts';
import * as P from './lib/protocol.ts';

const w = (pubkey: import('@solana/web3.js').PublicKey, isSigner = false) => ({
  pubkey,
  isSigner,
  isWritable: true,
});
const r = (pubkey: import('@solana/web3.js').PublicKey, isSigner = false) => ({
  pubkey,
  isSigner,
  isWritable: false,
});

test('out-of-turn moves are rejected with NotYourTurn', () => {
  const g = startGame(
    (m) => cheatLayers(m, 2, 0),
    (m) => run(m),
  );
  assert.equal(g.chal.commitTrace(g.dispute).error, 'NotYourTurn');
  g.world.must(g.exec.commitTrace(g.dispute), 'commit_trace');
  assert.equal(g.exec.commitTrace(g.dispute).error, 'NotYourTurn', 'replaying a move is out of turn');
  g.world.must(g.chal.commitTrace(g.dispute), 'commit_trace');
  g.world.must(g.exec.bisectLayer(g.dispute), 'bisect');
  assert.equal(g.exec.bisectLayer(g.dispute).error, 'NotYourTurn', 'replayed bisection move');
});

test('moves by a non-party are rejected with NotAParty', () => {
  const g = startGame(
    (m) => cheatLayers(m, 2, 0),
    (m) => run(m),
  );
  const stranger = new Player(g.world, g.world.h.fund(), g.exec.trace);
  assert.equal(stranger.commitTrace(g.dispute).error, 'NotAParty');
});

test('moves in the wrong phase are rejected with WrongPhase', () => {
  const g = startGame(
    (m) => cheatLayers(m, 2, 0),
    (m) => run(m),
  );
  assert.equal(g.exec.revealLayer(g.dispute).error, 'WrongPhase');
  assert.equal(g.exec.bisectLayer(g.dispute).error, 'WrongPhase');
});

test('forged proofs are rejected', () => {
  const g = startGame(
    (m) => cheatLayers(m, 5, 1),
    (m) => run(m),
  );
  // Executor claiming a trace that does not end at its recorded output.
  const liar = new Player(g.world, g.exec.key, g.chal.trace);
  assert.equal(liar.commitTrace(g.dispute).error, 'OutputMismatch');
  g.world.must(g.exec.commitTrace(g.dispute), 'commit_trace');
  // Challenger claiming the executor's own output has nothing to dispute.
  const agree = new Player(g.world, g.chal.key, g.exec.trace);
  assert.equal(agree.commitTrace(g.dispute).error, 'NoDisagreement');
  g.world.must(g.chal.commitTrace(g.dispute), 'commit_trace');
  // A prefix revealed with a proof from the other side's tree.
  const wrongTree = new Player(g.world, g.exec.key, g.chal.trace);
  assert.equal(wrongTree.bisectLayer(g.dispute).error, 'InvalidProof');
  playToOneStep(g);
  // One-step data whose input tensor was altered no longer hashes to the agreed trace.
  const data = g.chal.stepData(g.dispute);
  data[data.length - 1] ^= 1;
  g.chal.fillBuffer(g.dispute, data);
  assert.equal(g.chal.oneStep(g.dispute).error, 'InvalidProof');
  assert.equal(g.world.dispute(g.dispute).phase, PHASE.ONE_STEP, 'a failed one-step changes nothing');
});

test('opening a dispute with a forged job proof fails with InvalidProof, a replayed open fails', () => {
  const world = new World();
  world.init();
  const m = mlpModel();
  world.registerModel(m);
  const e = world.operator(10_000_000_000n);
  const c = world.operator(5_000_000_000n);
  const honestTrace = new Trace(run(m), world.seed(world.inputDigest()));
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, honestTrace));
  const sib = P.proof(b.levels, 1).map((s) => Buffer.from(s));
  sib[0][3] ^= 1;
  assert.equal(world.openDispute(c, e.publicKey, b, 1, sib).res.error, 'InvalidProof');
  assert.equal(
    world.openDispute(c, e.publicKey, b, 7, P.proof(b.levels, 1), b.records[1]).res.error,
    'JobIndexOutOfRange',
  );
  // Self-challenge: the executor's and challenger's operator accounts coincide, which Anchor
  // refuses first as a duplicate mutable account (its code 2040), before the program's SelfChallenge.
  assert.equal(world.openDispute(e, e.publicKey, b, 1).res.error, 'code 2040');
  world.must(world.openDispute(c, e.publicKey, b, 1).res, 'open');
  const again = world.openDispute(c, e.publicKey, b, 1).res;
  assert.equal(again.ok, false, 'a second dispute on the same job cannot be opened');
  assert.match(again.logs.join('\n'), /already in use/);
});

test('moves after resolution fail with DisputeResolved', () => {
  const g = startGame(
    (m) => run(m),
    (m) => cheatLayers(m, 1, 0),
  );
  g.world.h.warp(PARAMS.clockSlots + 1);
  g.world.must(g.world.claimTimeout(g.chal.key, g.dispute), 'timeout');
  assert.equal(g.exec.commitTrace(g.dispute).error, 'DisputeResolved');
  assert.equal(g.world.claimTimeout(g.chal.key, g.dispute).error, 'DisputeResolved');
});

test('finalizing during a dispute fails; after resolution and the window it succeeds', () => {
  const g = startGame(
    (m) => cheatLayers(m, 0, 0),
    (m) => run(m),
  );
  g.world.h.warp(PARAMS.challengeWindow + 1);
  assert.equal(g.world.finalize(g.chal.key, g.batch).error, 'FinalizeDuringDispute');
  g.world.must(g.world.claimTimeout(g.chal.key, g.dispute), 'timeout');
  const res = g.world.must(g.world.finalize(g.chal.key, g.batch), 'finalize');
  assert.ok(res.events.some((e) => e.name === 'BatchFinalized' && e.data.invalidated === 1));
  assert.equal(g.world.finalize(g.chal.key, g.batch).error, 'AlreadyFinalized');
});

test('withdrawing a bond during a dispute fails; unbonding waits for its delay', () => {
  const g = startGame(
    (m) => cheatLayers(m, 0, 0),
    (m) => run(m),
  );
  const { world, exec } = g;
  const unbond = (amount: bigint) =>
    world.send(
      [
        world.h.ix('request_unbond', { amount: new BN(amount.toString()) }, [
          r(exec.key.publicKey, true),
          r(PDA.config()),
          w(PDA.operator(exec.key.publicKey)),
        ]),
      ],
      [exec.key],
    );
  const withdraw = () =>
    world.send(
      [world.h.ix('withdraw', {}, [w(exec.key.publicKey, true), w(PDA.operator(exec.key.publicKey))])],
      [exec.key],
    );
  // 10 SOL bonded, 5 SOL locked in the dispute: at most 5 SOL can start unbonding.
  assert.equal(unbond(6_000_000_000n).error, 'InsufficientBond');
  world.must(unbond(4_000_000_000n), 'request_unbond');
  world.h.warp(PARAMS.unbondingSlots + 1);
  assert.equal(withdraw().error, 'WithdrawDuringDispute');
  world.h.warp(PARAMS.clockSlots);
  world.must(world.claimTimeout(g.chal.key, g.dispute), 'timeout');
  const bal = world.h.balance(exec.key.publicKey);
  world.must(withdraw(), 'withdraw');
  assert.equal(world.h.balance(exec.key.publicKey), bal + 4_000_000_000n - 5000n);
  assert.equal(withdraw().error, 'NothingUnbonding');
  world.must(unbond(1_000_000_000n), 'request_unbond');
  assert.equal(withdraw().error, 'UnbondingNotReady');
  assert.equal(world.totalLamports() + world.fees, g.total0);
});

test('model registration refuses ops the one-step cannot recompute, naming the error', () => {
  const world = new World();
  world.init();
  const m = chainModel(3);
  const bad = m.layers.map(encodeEntry);
  bad[1] = encodeEntry({ op: 42, refs: [REF.layer(0)] });
  // A short page that does not complete the table is refused: pages fill in order, whole.
  const short = world.registerModel(m, [bad[0]]);
  assert.equal(short[short.length - 1].error, 'BadOpPage');
  const world2 = new World();
  world2.init();
  const res = world2.registerModel(m, bad.slice(0, 3));
  assert.equal(res[res.length - 1].error, 'UnsupportedOp');
  assert.match(res[res.length - 1].logs.join('\n'), /layer 1 op code 42 refused/);
  const world3 = new World();
  world3.init();
  const mixed = Buffer.alloc(14);
  mixed[0] = P.DT.UINT8;
  mixed[1] = P.DT.INT8;
  const inexact = [
    encodeEntry({ op: OP.MATMUL_INTEGER, refs: [REF.input(0), REF.weight(0)], attrs: mixed }),
    ...bad.slice(1),
  ];
  const r3 = world3.registerModel(m, inexact);
  assert.equal(r3[r3.length - 1].error, 'InexactOp');
  const world4 = new World();
  world4.init();
  const forward = [encodeEntry({ op: OP.RELU, refs: [REF.layer(2)] }), ...m.layers.slice(1).map(encodeEntry)];
  const r4 = world4.registerModel(m, forward);
  assert.equal(r4[r4.length - 1].error, 'BadOpEntry', 'a layer may only read earlier layers');
});

test('authority, sequencer and pause checks', () => {
  const world = new World();
  world.init();
  const m = chainModel(2);
  const mallory = world.h.fund();
  const modelId = P.sha(Buffer.from('x'));
  const reg = world.send(
    [
      world.h.ix(
        'register_model',
        {
          model_id: [...modelId],
          profile_hash: [...modelId],
          weight_root: [...modelId],
          weight_count: 1,
          layer_count: 2,
          output_name: Buffer.from('y'),
        },
        [w(mallory.publicKey, true), r(PDA.config()), w(PDA.model(modelId)), r(SystemProgram.programId)],
      ),
    ],
    [mallory],
  );
  assert.equal(reg.error, 'NotAuthority');
  world.registerModel(m);
  const commit = (signer: Keypair, index: number) =>
    world.send(
      [
        world.h.ix('commit_batch', { index: new BN(index), root: [...modelId], job_count: 1 }, [
          w(signer.publicKey, true),
          w(PDA.config()),
          w(PDA.batch(index)),
          r(SystemProgram.programId),
        ]),
      ],
      [signer],
    );
  assert.equal(commit(mallory, 0).error, 'NotSequencer');
  assert.equal(commit(world.sequencer, 1).error, 'BadBatchIndex');
  world.must(commit(world.sequencer, 0), 'commit 0');
  const pause = (paused: number, signer = world.authority) =>
    world.send(
      [
        world.h.ix(
          'update_config',
          { params: world.params(), new_authority: world.authority.publicKey, paused },
          [r(signer.publicKey, true), w(PDA.config())],
        ),
      ],
      [signer],
    );
  assert.equal(pause(1, mallory).error, 'NotAuthority');
  world.must(pause(1), 'pause');
  assert.equal(commit(world.sequencer, 1).error, 'Paused');
  world.must(pause(0), 'unpause');
  world.must(commit(world.sequencer, 1), 'commit 1');
  assert.equal(world.h.fetch('Config', PDA.config()).next_batch_index.toNumber(), 2);
});

test('the challenge window bounds disputes and finalization', () => {
  const world = new World();
  world.init();
  const m = mlpModel();
  world.registerModel(m);
  const e = world.operator(10_000_000_000n);
  const c = world.operator(5_000_000_000n);
  const t = new Trace(run(m), world.seed(world.inputDigest()));
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, t));
  assert.equal(world.finalize(c, b.batch).error, 'WindowOpen');
  world.h.warp(PARAMS.challengeWindow);
  assert.equal(world.openDispute(c, e.publicKey, b, 0).res.error, 'WindowClosed');
  world.must(world.finalize(c, b.batch), 'finalize');
  assert.equal(world.openDispute(c, e.publicKey, b, 0).res.error, 'AlreadyFinalized');
});

test('an under-bonded challenger cannot open a dispute', () => {
  const world = new World();
  world.init();
  const m = mlpModel();
  world.registerModel(m);
  const e = world.operator(10_000_000_000n);
  const c = world.operator(1_000_000_000n);
  const t = new Trace(run(m), world.seed(world.inputDigest()));
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, t));
  assert.equal(world.openDispute(c, e.publicKey, b, 1).res.error, 'InsufficientBond');
  void SIDE;
});

test('bond that is unbonding stays slashable; the slashed executor withdraws only what is left', () => {
  const world = new World();
  world.init();
  const m = mlpModel();
  world.registerModel(m);
  const e = world.operator(6_000_000_000n);
  const c = world.operator(5_000_000_000n);
  const op = (k: Keypair) => world.h.fetch('Operator', PDA.operator(k.publicKey));
  const unbond = (amount: bigint) =>
    world.send(
      [
        world.h.ix('request_unbond', { amount: new BN(amount.toString()) }, [
          r(e.publicKey, true),
          r(PDA.config()),
          w(PDA.operator(e.publicKey)),
        ]),
      ],
      [e],
    );
  const withdraw = () =>
    world.send([world.h.ix('withdraw', {}, [w(e.publicKey, true), w(PDA.operator(e.publicKey))])], [e]);
  // The executor tries to leave with 5 of its 6 SOL before anyone disputes its bad job.
  world.must(unbond(5_000_000_000n), 'request_unbond');
  const seed = world.seed(world.inputDigest());
  const bad = new Trace(cheatLayers(m, 1, 0), seed);
  const good = new Trace(run(m), seed);
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, bad));
  const total0 = world.totalLamports() + world.fees;
  const { dispute } = world.openDispute(c, e.publicKey, b, 1);
  assert.equal(
    BigInt(op(e).locked.toString()),
    PARAMS.minExecutorBond,
    'stake taken from unbonding bond too',
  );
  // Nothing more can start unbonding: locked plus unbonding already exceed the bond.
  assert.equal(unbond(1n).error, 'InsufficientBond');
  world.h.warp(PARAMS.unbondingSlots + 1);
  assert.equal(withdraw().error, 'WithdrawDuringDispute');
  const g = {
    world,
    exec: new Player(world, e, bad),
    chal: new Player(world, c, good),
    dispute,
    batch: b.batch,
    total0,
  };
  playToOneStep(g);
  g.chal.fillBuffer(dispute);
  world.must(g.chal.oneStep(dispute), 'one_step');
  const after = op(e);
  assert.equal(BigInt(after.bonded.toString()), 1_000_000_000n);
  assert.equal(BigInt(after.unbonding.toString()), 1_000_000_000n, 'unbonding clamped to what is left');
  const bal = world.h.balance(e.publicKey);
  world.must(withdraw(), 'withdraw');
  assert.equal(world.h.balance(e.publicKey), bal + 1_000_000_000n - 5000n);
  assert.equal(world.totalLamports() + world.fees, total0);
});
