// Whole dispute games in the SBF VM: the honest side wins wherever the cheat is and on either side;
// bonds move as specified and lamports are conserved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PARAMS,
  PHASE,
  SIDE,
  assertPayout,
  cheatLayers,
  executorCorrect,
  snapshot,
  startGame,
  playToOneStep,
} from './lib/game.ts';
import { bigMatmulModel, run, wideModel, type ModelDef } from './lib/model.ts';
import type { Tensor } from './lib/protocol.ts';

type Layers = (m: ModelDef) => Tensor[];
const honest: Layers = (m) => run(m);

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
  test(`cheating executor at layer ${at} chunk ${chunk} loses to the honest challenger's one-step`, async () => {
    const g = await startGame((m) => cheatLayers(m, at, chunk), honest);
    await playToOneStep(g);
    const d = await g.world.dispute(g.dispute);
    assert.equal(d.disagree, at, 'layer bisection stops at the first wrong layer');
    assert.equal(d.chunkIndex, chunk, 'chunk descent stops at the wrong chunk');
    const before = await snapshot(g);
    const { steps } = await g.chal.submitOneStep(g.dispute);
    assert.equal(steps.length, 1);
    assert.equal(executorCorrect(steps[0]), false);
    assert.ok(steps[0].events.some((e) => e.name === 'JobInvalidated'));
    const after = await g.world.dispute(g.dispute);
    assert.equal(after.phase, PHASE.RESOLVED);
    assert.equal(after.winner, SIDE.CHALLENGER);
    assert.equal((await g.world.batch(g.batch.index)).invalidated, 1);
    g.world.must(await g.chal.closeBuffer(g.dispute), 'close_proof_buffer');
    await assertPayout(g, 'chal', before);
  });
}

for (const [at, chunk] of [
  [0, 1],
  [2, 3],
  [4, 2],
  [6, 0],
  [7, 1],
] as const) {
  test(`cheating challenger at layer ${at} chunk ${chunk} loses to the honest executor's one-step`, async () => {
    const g = await startGame(honest, (m) => cheatLayers(m, at, chunk));
    await playToOneStep(g);
    const d = await g.world.dispute(g.dispute);
    assert.equal(d.disagree, at);
    assert.equal(d.chunkIndex, chunk);
    const before = await snapshot(g);
    // The one-step is the challenger's move, but anyone may submit it: the executor proves itself right.
    const { steps } = await g.exec.submitOneStep(g.dispute);
    assert.equal(executorCorrect(steps[steps.length - 1]), true);
    assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
    assert.equal((await g.world.batch(g.batch.index)).invalidated, 0);
    g.world.must(await g.exec.closeBuffer(g.dispute), 'close_proof_buffer');
    await assertPayout(g, 'exec', before);
  });
}

test('a cheating challenger that stalls at the one-step loses on time, claimed by a third party', async () => {
  const g = await startGame(honest, (m) => cheatLayers(m, 5, 1));
  await playToOneStep(g);
  const before = await snapshot(g);
  const anyone = g.world.fund();
  const early = await g.world.claimTimeout(anyone, g.dispute);
  assert.equal(early.error, 'ClockNotExpired');
  g.world.warp(PARAMS.clockSlots + 1n);
  const res = g.world.must(await g.world.claimTimeout(anyone, g.dispute), 'claim_timeout');
  assert.ok(res.events.some((e) => e.name === 'TimeoutClaimed' && e.data.side === SIDE.CHALLENGER));
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
  await assertPayout(g, 'exec', before);
});

test('an executor that never commits its trace loses on time', async () => {
  const g = await startGame(honest, (m) => cheatLayers(m, 2, 0));
  const before = await snapshot(g);
  g.world.warp(PARAMS.clockSlots + 1n);
  // A move after the clock ran out is refused, so it cannot race the timeout claim.
  assert.equal((await g.exec.commitTrace(g.dispute)).error, 'ClockExpired');
  g.world.must(await g.world.claimTimeout(g.chal.key, g.dispute), 'claim_timeout');
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.CHALLENGER);
  await assertPayout(g, 'chal', before);
});

test('chess clocks: a side that moves in time keeps the remainder of its budget', async () => {
  const g = await startGame((m) => cheatLayers(m, 4, 0), honest);
  g.world.warp(30);
  g.world.must(await g.exec.move(g.dispute), 'commit_trace');
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.clock[0], PARAMS.clockSlots - 30n);
  assert.equal(d.clock[1], PARAMS.clockSlots);
  // The challenger's clock runs now; the executor's does not.
  g.world.warp(PARAMS.clockSlots - 10n);
  assert.equal((await g.world.claimTimeout(g.chal.key, g.dispute)).error, 'ClockNotExpired');
  g.world.warp(11);
  g.world.must(await g.world.claimTimeout(g.exec.key, g.dispute), 'claim_timeout');
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
});

test('a cheating executor that lies about the shape of a layer loses on the header', async () => {
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
  const g = await startGame(liar, honest);
  await playToOneStep(g);
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.disagree, 3);
  assert.equal(d.chunkIndex, 0xffffffff, 'header dispute skips the chunk descent');
  const { steps } = await g.chal.submitOneStep(g.dispute);
  assert.equal(executorCorrect(steps[0]), false);
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.CHALLENGER);
  assert.equal(g.world.unaccountedLamports(), 0n);
});

// Tensors of 16 KiB: the one-step opens only the input chunk the disputed output chunk reads.
const onlyChunk = (c: number) => (_pos: number, t: { bytes: Uint8Array }) =>
  t.bytes.length > 256 ? [c] : undefined;

test('sparse openings: a cheating executor on 16 KiB layers loses (layer 2, chunk 37)', async () => {
  const g = await startGame((m) => cheatLayers(m, 2, 37), honest, wideModel());
  await playToOneStep(g);
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.disagree, 2);
  assert.equal(d.chunkIndex, 37);
  const full = await g.chal.stepData(g.dispute);
  assert.ok(full.length > 9216, 'the whole input would not fit the proof buffer');
  const { writes, steps } = await g.chal.submitOneStep(g.dispute, { openings: onlyChunk(37) });
  assert.ok(writes.length <= 2, `sparse data in ${writes.length} writes`);
  assert.equal(executorCorrect(steps[0]), false);
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.CHALLENGER);
  assert.equal(g.world.unaccountedLamports(), 0n);
});

test('sparse openings: an honest executor wins on 16 KiB layers from the job input (layer 0, chunk 63)', async () => {
  const g = await startGame(honest, (m) => cheatLayers(m, 0, 63), wideModel());
  await playToOneStep(g);
  assert.equal((await g.world.dispute(g.dispute)).chunkIndex, 63);
  // Opening the wrong chunk leaves the recomputation without its input.
  await g.exec.fillBuffer(g.dispute, await g.exec.stepData(g.dispute, onlyChunk(62)));
  assert.equal((await g.exec.oneStep(g.dispute)).error, 'MissingChunk');
  const { steps } = await g.exec.submitOneStep(g.dispute, { openings: onlyChunk(63) });
  assert.equal(executorCorrect(steps[0]), true);
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
  assert.equal(g.world.unaccountedLamports(), 0n);
});

test('a resumable one-step: the recomputation runs in slices over several transactions', async () => {
  const g = await startGame((m) => cheatLayers(m, 0, 2), honest);
  await playToOneStep(g);
  await g.chal.fillBuffer(g.dispute);
  // Layer 0 is MatMulInteger int32 output: 64 elements per chunk, 16 per transaction.
  for (const done of [16, 32, 48]) {
    const part = g.world.must(await g.chal.oneStep(g.dispute, 16), 'one_step slice');
    const ev = part.events.find((e) => e.name === 'OneStepProgress');
    assert.ok(ev?.name === 'OneStepProgress');
    assert.equal(ev.data.done, done);
    assert.equal(ev.data.of, 64);
    assert.equal((await g.world.dispute(g.dispute)).phase, PHASE.ONE_STEP);
  }
  // Anyone may continue it from any valid opening of the same inputs; the last slice resolves.
  const { steps } = await g.exec.submitOneStep(g.dispute, { maxElements: 16 });
  assert.equal(steps.length, 1, 'one slice was left');
  assert.equal(executorCorrect(steps[0]), false);
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.CHALLENGER);
  assert.equal(g.world.unaccountedLamports(), 0n);
});

test('a one-step whose data passes 10 KiB grows the proof buffer while it is written', async () => {
  const g = await startGame(honest, (m) => cheatLayers(m, 1, 20), wideModel());
  await playToOneStep(g);
  const data = await g.exec.stepData(g.dispute);
  assert.ok(data.length > 16384, `whole 16 KiB input opened (${data.length} bytes)`);
  const writes = await g.exec.fillBuffer(g.dispute, data);
  const buf = g.world.sender.accountData(g.exec.proofBuffer(g.dispute))!;
  assert.ok(buf.length >= data.length, 'buffer grew to hold the data');
  assert.ok(writes.every((w) => w.size <= 1232));
  const res = g.world.must(await g.exec.oneStep(g.dispute), 'one_step');
  assert.equal(executorCorrect(res), true);
  g.world.must(await g.exec.closeBuffer(g.dispute), 'close');
  assert.equal(g.world.unaccountedLamports(), 0n, 'growth rent returned on close');
});

test('MatMulInteger with K = 2048 (128 KiB of weights): the one-step runs in slices under 1.4M CU', async () => {
  const g = await startGame((m) => cheatLayers(m, 0, 0), honest, bigMatmulModel(2048));
  await playToOneStep(g);
  assert.equal((await g.world.dispute(g.dispute)).disagree, 0);
  const writes = await g.chal.fillBuffer(g.dispute);
  assert.ok(writes.length > 140, `${writes.length} buffer transactions`);
  // The whole chunk at once needs 64 x 2048 multiply-adds: more than one transaction allows.
  const whole = await g.chal.oneStep(g.dispute);
  assert.equal(whole.ok, false);
  assert.match(whole.logs.join('\n'), /exceeded CUs meter|computational budget exceeded/);
  // The node's one-step resumes from the filled buffer and slices until the dispute resolves.
  const { writes: more, steps } = await g.chal.submitOneStep(g.dispute, { maxElements: 4 });
  assert.equal(more.length, 0, 'the buffer already held the data');
  assert.equal(steps.length, 16);
  const cus = steps.map((s) => s.cu);
  assert.ok(Math.max(...cus) < 1_400_000, `slices: ${cus.join(', ')} CU`);
  assert.equal(executorCorrect(steps[steps.length - 1]), false);
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.CHALLENGER);
  g.world.must(await g.chal.closeBuffer(g.dispute), 'close');
  assert.equal(g.world.unaccountedLamports(), 0n);
});
