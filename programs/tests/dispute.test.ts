// Whole dispute games in the SBF VM: the honest side wins wherever the cheat is and on either side;
// bonds move as specified and lamports are conserved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PARAMS,
  PHASE,
  SIDE,
  cheatLayers,
  startGame,
  playToOneStep,
  type Game,
  type Player,
} from './lib/game.ts';
import { bigMatmulModel, run, wideModel, type ModelDef } from './lib/model.ts';
import { PDA } from './lib/svm.ts';
import type { Tensor } from './lib/protocol.ts';

type Layers = (m: ModelDef) => Tensor[];
const honest: Layers = (m) => run(m);

const op = (g: Game, who: Player) => g.world.h.fetch('Operator', PDA.operator(who.key.publicKey));
const big = (x: { toString(): string }) => BigInt(x.toString());

function assertPayout(g: Game, winner: 'exec' | 'chal', before: { e: any; c: any; t: bigint }) {
  const e = op(g, g.exec),
    c = op(g, g.chal);
  const stake = winner === 'exec' ? PARAMS.minChallengerBond : PARAMS.minExecutorBond;
  const bounty = (stake * BigInt(PARAMS.bountyBps)) / 10000n;
  const [w, l, w0, l0] = winner === 'exec' ? [e, c, before.e, before.c] : [c, e, before.c, before.e];
  assert.equal(big(w.bonded), big(w0.bonded) + bounty, 'winner bond plus bounty');
  assert.equal(big(l.bonded), big(l0.bonded) - stake, 'loser slashed by its stake');
  assert.equal(big(e.locked), 0n);
  assert.equal(big(c.locked), 0n);
  assert.equal(e.open_disputes, 0);
  assert.equal(
    g.world.h.balance(g.world.treasury),
    before.t + stake - bounty,
    'rest of the stake to the treasury',
  );
  assert.equal(g.world.totalLamports() + g.world.fees, g.total0, 'lamports conserved');
}

function snapshot(g: Game) {
  return { e: op(g, g.exec), c: op(g, g.chal), t: g.world.h.balance(g.world.treasury) };
}

for (const [at, chunk] of [
  [0, 0],
  [0, 3],
  [1, 2],
  [2, 1],
  [3, 1],
  [4, 0],
  [5, 3],
  [6, 0],
  [7, 2],
  [7, 3],
] as const) {
  test(`cheating executor at layer ${at} chunk ${chunk} loses to the honest challenger's one-step`, () => {
    const g = startGame((m) => cheatLayers(m, at, chunk), honest);
    playToOneStep(g);
    const d = g.world.dispute(g.dispute);
    assert.equal(d.disagree, at, 'layer bisection stops at the first wrong layer');
    assert.equal(d.chunk_index, chunk, 'chunk descent stops at the wrong chunk');
    const before = snapshot(g);
    g.chal.fillBuffer(g.dispute);
    const res = g.world.must(g.chal.oneStep(g.dispute), 'one_step');
    assert.equal(res.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, false);
    assert.ok(res.events.some((e) => e.name === 'JobInvalidated'));
    const after = g.world.dispute(g.dispute);
    assert.equal(after.phase, PHASE.RESOLVED);
    assert.equal(after.winner, SIDE.CHALLENGER);
    assert.equal(g.world.h.fetch('Batch', g.batch).invalidated, 1);
    g.world.must(g.chal.closeBuffer(g.dispute), 'close_proof_buffer');
    assertPayout(g, 'chal', before);
  });
}

for (const [at, chunk] of [
  [0, 1],
  [2, 3],
  [4, 2],
  [6, 0],
  [7, 1],
] as const) {
  test(`cheating challenger at layer ${at} chunk ${chunk} loses to the honest executor's one-step`, () => {
    const g = startGame(honest, (m) => cheatLayers(m, at, chunk));
    playToOneStep(g);
    const d = g.world.dispute(g.dispute);
    assert.equal(d.disagree, at);
    assert.equal(d.chunk_index, chunk);
    const before = snapshot(g);
    // The one-step is the challenger's move, but anyone may submit it: the executor proves itself right.
    g.exec.fillBuffer(g.dispute);
    const res = g.world.must(g.exec.oneStep(g.dispute), 'one_step');
    assert.equal(res.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, true);
    assert.equal(g.world.dispute(g.dispute).winner, SIDE.EXECUTOR);
    assert.equal(g.world.h.fetch('Batch', g.batch).invalidated, 0);
    g.world.must(g.exec.closeBuffer(g.dispute), 'close_proof_buffer');
    assertPayout(g, 'exec', before);
  });
}

test('a cheating challenger that stalls at the one-step loses on time, claimed by a third party', () => {
  const g = startGame(honest, (m) => cheatLayers(m, 5, 1));
  playToOneStep(g);
  const before = snapshot(g);
  const anyone = g.world.h.fund();
  g.world.signers.push(anyone);
  g.total0 += g.world.h.balance(anyone.publicKey);
  const early = g.world.claimTimeout(anyone, g.dispute);
  assert.equal(early.error, 'ClockNotExpired');
  g.world.h.warp(PARAMS.clockSlots + 1);
  const res = g.world.must(g.world.claimTimeout(anyone, g.dispute), 'claim_timeout');
  assert.ok(res.events.some((e) => e.name === 'TimeoutClaimed' && e.data.side === SIDE.CHALLENGER));
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.EXECUTOR);
  assertPayout(g, 'exec', before);
});

test('an executor that never commits its trace loses on time', () => {
  const g = startGame(honest, (m) => cheatLayers(m, 2, 0));
  const before = snapshot(g);
  g.world.h.warp(PARAMS.clockSlots + 1);
  // A move after the clock ran out is refused, so it cannot race the timeout claim.
  assert.equal(g.exec.commitTrace(g.dispute).error, 'ClockExpired');
  g.world.must(g.world.claimTimeout(g.chal.key, g.dispute), 'claim_timeout');
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.CHALLENGER);
  assertPayout(g, 'chal', before);
});

test('chess clocks: a side that moves in time keeps the remainder of its budget', () => {
  const g = startGame((m) => cheatLayers(m, 4, 0), honest);
  g.world.h.warp(30);
  g.world.must(g.exec.commitTrace(g.dispute), 'commit_trace');
  const d = g.world.dispute(g.dispute);
  assert.equal(big(d.clock[0]), BigInt(PARAMS.clockSlots - 30));
  assert.equal(big(d.clock[1]), BigInt(PARAMS.clockSlots));
  // The challenger's clock runs now; the executor's does not.
  g.world.h.warp(PARAMS.clockSlots - 10);
  assert.equal(g.world.claimTimeout(g.chal.key, g.dispute).error, 'ClockNotExpired');
  g.world.h.warp(11);
  g.world.must(g.world.claimTimeout(g.exec.key, g.dispute), 'claim_timeout');
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.EXECUTOR);
});

test('a cheating executor that lies about the shape of a layer loses on the header', () => {
  const liar: Layers = (m) => {
    const l = run(m);
    // Same bytes, different dims at the reshape layer: a header dispute.
    l[3] = { ...l[3], dims: [32, 8] };
    // ... and, to disagree on the output, a different last layer.
    const last = Buffer.from(l[7].bytes);
    last[0] ^= 1;
    l[7] = { ...l[7], bytes: last };
    return l;
  };
  const g = startGame(liar, honest);
  playToOneStep(g);
  const d = g.world.dispute(g.dispute);
  assert.equal(d.disagree, 3);
  assert.equal(d.chunk_index, 0xffffffff, 'header dispute skips the chunk descent');
  g.chal.fillBuffer(g.dispute);
  const res = g.world.must(g.chal.oneStep(g.dispute), 'one_step');
  assert.equal(res.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, false);
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.CHALLENGER);
  assert.equal(g.world.totalLamports() + g.world.fees, g.total0);
});

// Tensors of 16 KiB: the one-step opens only the input chunk the disputed output chunk reads.
const onlyChunk = (c: number) => (_pos: number, t: Tensor) => (t.bytes.length > 256 ? [c] : undefined);

test('sparse openings: a cheating executor on 16 KiB layers loses (layer 2, chunk 37)', () => {
  const g = startGame((m) => cheatLayers(m, 2, 37), honest, wideModel());
  playToOneStep(g);
  const d = g.world.dispute(g.dispute);
  assert.equal(d.disagree, 2);
  assert.equal(d.chunk_index, 37);
  const full = g.chal.stepData(g.dispute);
  assert.ok(full.length > 9216, 'the whole input would not fit the proof buffer');
  g.chal.fillBuffer(g.dispute, g.chal.stepData(g.dispute, onlyChunk(37)));
  const res = g.world.must(g.chal.oneStep(g.dispute), 'one_step');
  assert.equal(res.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, false);
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.CHALLENGER);
  assert.equal(g.world.totalLamports() + g.world.fees, g.total0);
});

test('sparse openings: an honest executor wins on 16 KiB layers from the job input (layer 0, chunk 63)', () => {
  const g = startGame(honest, (m) => cheatLayers(m, 0, 63), wideModel());
  playToOneStep(g);
  assert.equal(g.world.dispute(g.dispute).chunk_index, 63);
  // Opening the wrong chunk leaves the recomputation without its input.
  g.exec.fillBuffer(g.dispute, g.exec.stepData(g.dispute, onlyChunk(62)));
  assert.equal(g.exec.oneStep(g.dispute).error, 'MissingChunk');
  g.exec.fillBuffer(g.dispute, g.exec.stepData(g.dispute, onlyChunk(63)));
  const res = g.world.must(g.exec.oneStep(g.dispute), 'one_step');
  assert.equal(res.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, true);
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.EXECUTOR);
  assert.equal(g.world.totalLamports() + g.world.fees, g.total0);
});

test('a resumable one-step: the recomputation runs in slices over several transactions', () => {
  const g = startGame((m) => cheatLayers(m, 0, 2), honest);
  playToOneStep(g);
  g.chal.fillBuffer(g.dispute);
  // Layer 0 is MatMulInteger int32 output: 64 elements per chunk, 16 per transaction.
  for (const done of [16, 32, 48]) {
    const part = g.world.must(g.chal.oneStep(g.dispute, 16), 'one_step slice');
    const ev = part.events.find((e) => e.name === 'OneStepProgress');
    assert.equal(ev?.data.done, done);
    assert.equal(ev?.data.of, 64);
    assert.equal(g.world.dispute(g.dispute).phase, PHASE.ONE_STEP);
  }
  // Anyone may continue it from any valid opening of the same inputs; the last slice resolves.
  g.exec.fillBuffer(g.dispute);
  const last = g.world.must(g.exec.oneStep(g.dispute, 16), 'last slice');
  assert.equal(last.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, false);
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.CHALLENGER);
  assert.equal(
    g.world.totalLamports() + g.world.fees + 0n,
    g.total0 + g.world.h.balance(g.exec.key.publicKey) * 0n,
  );
});

test('a one-step whose data passes 10 KiB grows the proof buffer while it is written', () => {
  const g = startGame(honest, (m) => cheatLayers(m, 1, 20), wideModel());
  playToOneStep(g);
  const data = g.exec.stepData(g.dispute);
  assert.ok(data.length > 16384, `whole 16 KiB input opened (${data.length} bytes)`);
  const writes = g.exec.fillBuffer(g.dispute, data);
  const buf = g.world.h.data(PDA.proof(g.dispute, g.exec.key.publicKey))!;
  assert.ok(buf.length >= data.length, 'buffer grew to hold the data');
  assert.ok(writes.every((w) => w.size <= 1232));
  const res = g.world.must(g.exec.oneStep(g.dispute), 'one_step');
  assert.equal(res.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, true);
  g.world.must(g.exec.closeBuffer(g.dispute), 'close');
  assert.equal(g.world.totalLamports() + g.world.fees, g.total0, 'growth rent returned on close');
});

test('MatMulInteger with K = 2048 (128 KiB of weights): the one-step runs in slices under 1.4M CU', () => {
  const g = startGame((m) => cheatLayers(m, 0, 0), honest, bigMatmulModel(2048));
  playToOneStep(g);
  assert.equal(g.world.dispute(g.dispute).disagree, 0);
  const writes = g.chal.fillBuffer(g.dispute);
  assert.ok(writes.length > 140, `${writes.length} buffer transactions`);
  // The whole chunk at once needs 64 x 2048 multiply-adds: more than one transaction allows.
  const whole = g.chal.oneStep(g.dispute);
  assert.equal(whole.ok, false);
  assert.match(whole.logs.join('\n'), /exceeded CUs meter|computational budget exceeded/);
  let last;
  const cus: number[] = [];
  for (let i = 0; i < 16; i++) {
    last = g.world.must(g.chal.oneStep(g.dispute, 4), `slice ${i}`);
    cus.push(last.cu);
  }
  assert.ok(Math.max(...cus) < 1_400_000, `slices: ${cus.join(', ')} CU`);
  assert.equal(last!.events.find((e) => e.name === 'OneStepExecuted')?.data.executor_correct, false);
  assert.equal(g.world.dispute(g.dispute).winner, SIDE.CHALLENGER);
  g.world.must(g.chal.closeBuffer(g.dispute), 'close');
  assert.equal(g.world.totalLamports() + g.world.fees, g.total0);
});
