// Whole disputes driven through SettlementClient and dispute/moves.ts against the SBF program in
// LiteSVM: the honest side wins on either side, a silent side loses by timeout, bonds move as the
// program specifies, the batch finalizes with the job invalidated, and lamports are conserved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair, PublicKey } from '@solana/web3.js';
import { isOptinferError } from '../state/errors.ts';
import { Batch, jobId, signResult, type JobRecord } from '../state/job.ts';
import { fromHex } from '../state/hash.ts';
import type { BatchIndex, ExecutorId, Hash32, ModelId } from '../state/types.ts';
import { PROFILE, cheatLayers, type Trace } from '../programs/tests/lib/game.ts';
import * as P from '../programs/tests/lib/protocol.ts';
import { dtypeFromCode, type Tensor as StateTensor } from '../state/tensor.ts';
import { modelViewOf, traceViewOf, weightRoot } from '../dispute/views.ts';
import { mlpModel, run, wideModel, type ModelDef } from '../programs/tests/lib/model.ts';
import { LocalWorld, PARAMS, traceView } from './testkit.ts';
import { PHASE, SIDE, PHASE_NAMES, unpackHeader } from './accounts.ts';
import { clockLeft, headerDispute, timeoutSlot } from './client.ts';
import { nextMove, playMove, submitOneStep } from '../dispute/moves.ts';
import { stepData } from '../dispute/step-data.ts';
import { eventsNamed } from './events.ts';
import type { SendResult } from './sender.ts';
import { PROOF_WRITE_BYTES } from './instructions.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex') as Hash32;

/** CU and size per instruction, over every test of this file (printed at the end). */
const figures = new Map<string, { n: number; maxCu: number; maxSize: number }>();
function note(name: string, r: SendResult) {
  const f = figures.get(name) ?? { n: 0, maxCu: 0, maxSize: 0 };
  f.n++;
  f.maxCu = Math.max(f.maxCu, r.computeUnits);
  f.maxSize = Math.max(f.maxSize, r.size);
  figures.set(name, f);
}

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isOptinferError(e), `OptinferError expected, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

interface Setup {
  w: LocalWorld;
  exec: Keypair;
  chal: Keypair;
  execTrace: Trace;
  chalTrace: Trace;
  batch: Batch;
  dispute: PublicKey;
}

/** Config, the mlp model, bonded parties, one batch of 4 jobs whose job 2 claims execTrace's output. */
async function setup(
  execLayers = run(mlpModel()),
  chalLayers = run(mlpModel()),
  model: ModelDef = mlpModel(),
): Promise<Setup> {
  const w = new LocalWorld();
  const c = w.client;
  note('initialize', await c.initialize(w.authority, w.params()));
  for (const r of await w.registerModel(model)) note('register_model / add_model_ops', r);
  const exec = w.fund();
  const chal = w.fund();
  note('bond', await c.bond(exec, 10_000_000_000n));
  note('bond', await c.bond(chal, 5_000_000_000n));
  const execTrace = w.trace(execLayers);
  const chalTrace = w.trace(chalLayers);
  const modelId = hex(w.modelId) as ModelId;
  const inputDigest = hex(w.inputDigest());
  const records: JobRecord[] = [0, 1, 2, 3].map((i) =>
    signResult(
      {
        jobId: jobId(i, modelId, inputDigest),
        modelId,
        inputDigest,
        outputDigest: i === 2 ? hex(w.outputDigest(execTrace)) : hex(Buffer.alloc(32, i + 1)),
        executor: exec.publicKey.toBase58() as ExecutorId,
        fee: 1000n,
      },
      exec.secretKey,
    ),
  );
  const batch = new Batch(0 as BatchIndex, records);
  note(
    'commit_batch',
    await c.commitBatch(w.sequencer, { index: 0, root: fromHex(batch.root, 32), jobCount: 4 }),
  );
  const open = await c.openDispute(chal, batch.proof(2));
  note('open_dispute', open.result);
  const ev = eventsNamed(open.result.events, 'DisputeOpened')[0];
  assert.ok(ev.dispute.equals(open.dispute));
  assert.equal(ev.jobIndex, 2);
  assert.ok(ev.executor.equals(exec.publicKey));
  return { w, exec, chal, execTrace, chalTrace, batch, dispute: open.dispute };
}

/** Both sides move in turn until the one-step (or resolution); returns the moves made. */
async function playToOneStep(s: Setup): Promise<number> {
  const c = s.w.client;
  for (let moves = 0; moves < 200; moves++) {
    const d = await c.dispute(s.dispute);
    const next = nextMove(d);
    if (next.kind === 'one_step' || next.kind === 'resolved') return moves;
    const [key, trace] = next.side === SIDE.EXECUTOR ? [s.exec, s.execTrace] : [s.chal, s.chalTrace];
    const other = next.side === SIDE.EXECUTOR ? s.chal : s.exec;
    // The other side has nothing to do.
    assert.equal(
      await playMove(c, other, s.dispute, traceView(next.side === SIDE.EXECUTOR ? s.chalTrace : s.execTrace)),
      null,
    );
    const r = await playMove(c, key, s.dispute, traceView(trace), d);
    assert.ok(r, `a move in phase ${PHASE_NAMES[d.phase]}`);
    note(next.kind, r);
    assert.equal(eventsNamed(r.events, 'DisputeMove').length, 1);
    s.w.sender.warp(1);
  }
  throw new Error('dispute does not reach the one-step');
}

test('a cheating executor loses to the honest challenger; the job is invalidated, the batch finalizes', async () => {
  const s = await setup(cheatLayers(mlpModel(), 3, 1), run(mlpModel()));
  const { w, exec, chal } = s;
  const c = w.client;
  const e0 = (await c.fetchOperator(exec.publicKey))!;
  const c0 = (await c.fetchOperator(chal.publicKey))!;
  assert.equal(e0.locked, PARAMS.minExecutorBond);
  assert.equal(c0.locked, PARAMS.minChallengerBond);
  const opened = await c.dispute(s.dispute);
  assert.equal(opened.phase, PHASE.EXEC_TRACE);
  assert.equal(opened.jobIndex, 2);
  assert.deepEqual(opened.clock, [PARAMS.clockSlots, PARAMS.clockSlots]);
  assert.ok(opened.batch.equals(c.pdas.batch(0)));

  // Moves out of turn and by a stranger are refused with the program's errors.
  const ct = traceView(s.chalTrace);
  const chalCommit = {
    root: ct.root,
    layerCount: ct.layerCount,
    prevPrefix: ct.prefix(ct.layerCount - 2),
    lastDigest: ct.digest(ct.layerCount - 1),
    siblings: ct.prefixProof(ct.layerCount - 1),
  };
  await rejects(c.commitTrace(chal, s.dispute, chalCommit), 'PROGRAM_NOT_YOUR_TURN');
  await rejects(
    c.bisectLayer(chal, s.dispute, { prefix: Buffer.alloc(32), siblings: [] }),
    'PROGRAM_WRONG_PHASE',
  );
  await rejects(
    c.bisectLayer(w.fund(), s.dispute, { prefix: Buffer.alloc(32), siblings: [] }),
    'PROGRAM_NOT_A_PARTY',
  );
  await rejects(c.claimTimeout(w.sequencer, s.dispute), 'PROGRAM_CLOCK_NOT_EXPIRED');

  const moves = await playToOneStep(s);
  const d = await c.dispute(s.dispute);
  assert.equal(d.phase, PHASE.ONE_STEP);
  assert.equal(d.disagree, 3, 'layer bisection stops at the first wrong layer');
  assert.equal(d.chunkIndex, 1, 'chunk descent stops at the wrong chunk');
  assert.ok(moves >= 10);

  const t0 = await w.sender.getBalance(c.pdas.vault());
  const { writes, steps } = await submitOneStep(c, chal, s.dispute, traceView(s.chalTrace), w.modelView());
  for (const r of writes) note(r === writes[0] ? 'init_proof_buffer' : 'write_proof_buffer', r);
  for (const r of steps) note('one_step', r);
  const step = steps[steps.length - 1];
  assert.equal(eventsNamed(step.events, 'OneStepExecuted')[0].executorCorrect, false);
  assert.deepEqual(eventsNamed(step.events, 'JobInvalidated'), [{ batchIndex: 0n, jobIndex: 2 }]);
  const resolved = eventsNamed(step.events, 'DisputeResolved')[0];
  assert.equal(resolved.winner, SIDE.CHALLENGER);
  const bounty = (PARAMS.minExecutorBond * BigInt(PARAMS.bountyBps)) / 10_000n;
  assert.equal(resolved.bounty, bounty);
  assert.equal(resolved.toTreasury, PARAMS.minExecutorBond - bounty);
  assert.deepEqual(eventsNamed(step.events, 'Slashed'), [
    { operator: exec.publicKey, amount: PARAMS.minExecutorBond },
  ]);

  const after = await c.dispute(s.dispute);
  assert.equal(after.phase, PHASE.RESOLVED);
  assert.equal(after.winner, SIDE.CHALLENGER);
  assert.deepEqual(nextMove(after), { kind: 'resolved', winner: SIDE.CHALLENGER });
  const e1 = (await c.fetchOperator(exec.publicKey))!;
  const c1 = (await c.fetchOperator(chal.publicKey))!;
  assert.equal(e1.bonded, e0.bonded - PARAMS.minExecutorBond);
  assert.equal(c1.bonded, c0.bonded + bounty);
  assert.equal(e1.locked + c1.locked, 0n);
  assert.equal(e1.openDisputes + c1.openDisputes, 0);
  assert.equal(await w.sender.getBalance(c.pdas.vault()), t0 + PARAMS.minExecutorBond - bounty);
  const buf = (await c.fetchProofBuffer(s.dispute, chal.publicKey))!;
  assert.ok(buf.owner.equals(chal.publicKey));
  assert.ok(buf.dispute.equals(s.dispute));
  assert.ok(buf.len > 0 && buf.len <= buf.capacity);

  // A move after the resolution is refused; the buffer's rent comes back on close.
  await rejects(c.claimTimeout(w.sequencer, s.dispute), 'PROGRAM_DISPUTE_RESOLVED');
  note('close_proof_buffer', await c.closeProofBuffer(chal, s.dispute));
  assert.equal(await c.fetchProofBuffer(s.dispute, chal.publicKey), null);

  // The rest of the batch finalizes after the window, with the job counted invalid.
  await rejects(c.finalizeBatch(w.sequencer, 0), 'PROGRAM_WINDOW_OPEN');
  w.sender.warp(PARAMS.challengeWindow);
  const fin = await c.finalizeBatch(w.sequencer, 0);
  note('finalize_batch', fin);
  assert.deepEqual(eventsNamed(fin.events, 'BatchFinalized'), [{ index: 0n, invalidated: 1 }]);
  assert.equal(w.unaccountedLamports(), 0n, 'lamports conserved');
});

test('listings and the event stream: disputes by party and state, batches, operators', async () => {
  const s = await setup(cheatLayers(mlpModel(), 1, 0), run(mlpModel()));
  const c = s.w.client;
  const seen: string[] = [];
  const unsubscribe = c.subscribe((e) => seen.push(...e.events.map((x) => x.name)));
  const mine = await c.listDisputes({ party: s.exec.publicKey, open: true });
  assert.equal(mine.length, 1);
  assert.ok(mine[0].address.equals(s.dispute));
  assert.equal(mine[0].dispute.jobIndex, 2);
  assert.equal((await c.listDisputes({ party: s.w.sequencer.publicKey })).length, 0);
  assert.deepEqual(
    (await c.listBatches()).map((b) => b.batch.index),
    [0n],
  );
  // The executor, the challenger and the sequencer (bonded for record faults at its first commit).
  assert.equal((await c.listOperators()).length, 3);
  await playMove(c, s.exec, s.dispute, traceView(s.execTrace));
  s.w.sender.warp(PARAMS.clockSlots + 1n);
  await c.claimTimeout(s.w.sequencer, s.dispute);
  await unsubscribe();
  await c.finalizeBatch(s.w.sequencer, 0).catch(() => undefined);
  assert.deepEqual(seen, ['DisputeMove', 'TimeoutClaimed', 'Slashed', 'DisputeResolved']);
  assert.equal((await c.listDisputes({ open: true })).length, 0);
  assert.equal((await c.listDisputes()).length, 1);
});

test('a cheating challenger loses: the honest executor submits the one-step itself', async () => {
  const s = await setup(run(mlpModel()), cheatLayers(mlpModel(), 5, 2));
  const { w, exec, chal } = s;
  const c = w.client;
  const c0 = (await c.fetchOperator(chal.publicKey))!;
  await playToOneStep(s);
  const d = await c.dispute(s.dispute);
  assert.equal(d.disagree, 5);
  // Sliced one-step: 16 output elements per transaction.
  const { steps } = await submitOneStep(c, exec, s.dispute, traceView(s.execTrace), w.modelView(), {
    maxElements: 16,
  });
  assert.ok(steps.length > 1, 'resumed over several transactions');
  for (const r of steps.slice(0, -1)) assert.equal(eventsNamed(r.events, 'OneStepProgress').length, 1);
  const last = steps[steps.length - 1];
  assert.equal(eventsNamed(last.events, 'OneStepExecuted')[0].executorCorrect, true);
  assert.equal(eventsNamed(last.events, 'JobInvalidated').length, 0);
  const after = await c.dispute(s.dispute);
  assert.equal(after.winner, SIDE.EXECUTOR);
  assert.equal((await c.fetchOperator(chal.publicKey))!.bonded, c0.bonded - PARAMS.minChallengerBond);
  await c.closeProofBuffer(exec, s.dispute);
  w.sender.warp(PARAMS.challengeWindow);
  const fin = await c.finalizeBatch(w.sequencer, 0);
  assert.deepEqual(eventsNamed(fin.events, 'BatchFinalized'), [{ index: 0n, invalidated: 0 }]);
  assert.equal(w.unaccountedLamports(), 0n, 'lamports conserved');
});

test('a silent executor loses by timeout; the batch cannot finalize while the dispute is open', async () => {
  const s = await setup(cheatLayers(mlpModel(), 1, 0), run(mlpModel()));
  const { w, exec } = s;
  const c = w.client;
  // The executor commits its trace, then goes silent after the challenger's answer.
  await playMove(c, exec, s.dispute, traceView(s.execTrace));
  w.sender.warp(3);
  await playMove(c, s.chal, s.dispute, traceView(s.chalTrace));
  const d = await c.dispute(s.dispute);
  assert.equal(d.turn, SIDE.EXECUTOR);
  const at = timeoutSlot(d);
  assert.equal(clockLeft(d, d.lastMoveSlot), d.clock[SIDE.EXECUTOR]);
  w.sender.warp(at - (await w.sender.getSlot()) - 1n);
  await rejects(c.claimTimeout(w.sequencer, s.dispute), 'PROGRAM_CLOCK_NOT_EXPIRED');
  w.sender.warp(PARAMS.challengeWindow);
  assert.equal(clockLeft(d, await w.sender.getSlot()), 0n);
  await rejects(c.finalizeBatch(w.sequencer, 0), 'PROGRAM_FINALIZE_DURING_DISPUTE');
  // A move past the clock is refused, so it cannot beat the timeout claim.
  await rejects(playMove(c, exec, s.dispute, traceView(s.execTrace)), 'PROGRAM_CLOCK_EXPIRED');
  const r = await c.claimTimeout(w.sequencer, s.dispute);
  note('claim_timeout', r);
  assert.deepEqual(eventsNamed(r.events, 'TimeoutClaimed')[0].side, SIDE.EXECUTOR);
  assert.equal(eventsNamed(r.events, 'DisputeResolved')[0].winner, SIDE.CHALLENGER);
  assert.equal(eventsNamed(r.events, 'JobInvalidated').length, 1);
  const fin = await c.finalizeBatch(w.sequencer, 0);
  assert.deepEqual(eventsNamed(fin.events, 'BatchFinalized'), [{ index: 0n, invalidated: 1 }]);
  assert.equal(w.unaccountedLamports(), 0n, 'lamports conserved');
});

for (const [layer, op] of [
  [0, 'MatMulInteger'],
  [6, 'QuantizeLinear (above the 200k default CU budget)'],
] as const) {
  test(`one-step on layer ${layer} (${op}) through the client's compute budget`, async () => {
    const s = await setup(cheatLayers(mlpModel(), layer, 0), run(mlpModel()));
    await playToOneStep(s);
    const { steps } = await submitOneStep(
      s.w.client,
      s.chal,
      s.dispute,
      traceView(s.chalTrace),
      s.w.modelView(),
    );
    for (const r of steps) note('one_step', r);
    assert.equal(eventsNamed(steps[0].events, 'OneStepExecuted')[0].executorCorrect, false);
    assert.equal(s.w.unaccountedLamports(), 0n, 'lamports conserved');
  });
}

test('proof buffer: an interrupted fill resumes, a longer stale buffer is replaced, 16 KiB data grows it', async () => {
  const m = wideModel();
  const s = await setup(run(m), cheatLayers(m, 1, 20), m);
  const { w, exec } = s;
  const c = w.client;
  await playToOneStep(s);
  const d = await c.dispute(s.dispute);
  const entry = (await c.fetchOpsPage(d.modelId, 0))!.entries[d.disagree];
  const data = stepData(d, entry, traceView(s.execTrace), w.modelView());
  assert.ok(data.length > 16384, `the whole 16 KiB input opened (${data.length} bytes)`);
  const pieces = Math.ceil(data.length / PROOF_WRITE_BYTES);

  // Interrupted after the first two pieces: the fill sends only the rest.
  await c.initProofBuffer(exec, s.dispute);
  await c.writeProofBuffer(exec, s.dispute, { offset: 0, data: data.subarray(0, PROOF_WRITE_BYTES) });
  await c.writeProofBuffer(exec, s.dispute, {
    offset: PROOF_WRITE_BYTES,
    data: data.subarray(PROOF_WRITE_BYTES, 2 * PROOF_WRITE_BYTES),
  });
  const rest = await c.fillProofBuffer(exec, s.dispute, data);
  assert.equal(rest.length, pieces - 2);
  for (const r of rest) note('write_proof_buffer', r);
  const buf = (await c.fetchProofBuffer(s.dispute, exec.publicKey))!;
  assert.ok(buf.capacity >= data.length, `grown to ${buf.capacity}`);
  assert.ok(buf.data.equals(data));
  assert.equal((await c.fillProofBuffer(exec, s.dispute, data)).length, 0, 'nothing left to write');

  // Shorter data than the buffer holds: closed, recreated, rewritten.
  const short = data.subarray(0, 1000);
  const again = await c.fillProofBuffer(exec, s.dispute, short);
  assert.equal(again.length, 2 + 2);
  assert.ok((await c.fetchProofBuffer(s.dispute, exec.publicKey))!.data.equals(short));

  const r = await submitOneStep(c, exec, s.dispute, traceView(s.execTrace), w.modelView());
  assert.equal(eventsNamed(r.steps[0].events, 'OneStepExecuted')[0].executorCorrect, true);
  await c.closeProofBuffer(exec, s.dispute);
  assert.equal(w.unaccountedLamports(), 0n, 'lamports conserved, growth rent returned');
});

test('a dispute played from state/ tensors (views.ts) by the challenger', async () => {
  const m = mlpModel();
  const s = await setup(cheatLayers(m, 4, 0), run(m));
  const { w } = s;
  const toState = (t: P.Tensor): StateTensor => ({
    dtype: dtypeFromCode(t.dtype)!,
    dims: t.dims,
    data: t.bytes,
  });
  const view = traceViewOf({
    modelId: hex(w.modelId) as ModelId,
    inputDigest: hex(w.inputDigest()),
    profileHash: hex(PROFILE),
    layers: run(m).map(toState),
  });
  const model = modelViewOf({
    inputs: Object.fromEntries(m.inputs.map(([n, t]) => [n, toState(t)])),
    weights: m.weights.map(toState),
  });
  // The same commitments as the harness's own construction.
  const ref = traceView(s.chalTrace);
  assert.deepEqual(Buffer.from(view.root), Buffer.from(ref.root));
  assert.deepEqual(Buffer.from(weightRoot(m.weights.map(toState))), P.rootOf(w.weightLevels));
  for (const i of [-1, 0, 5, 7]) assert.deepEqual(Buffer.from(view.prefix(i)), Buffer.from(ref.prefix(i)));
  for (const i of [0, 3, 7]) {
    assert.deepEqual(
      view.prefixProof(i).map((x) => Buffer.from(x)),
      ref.prefixProof(i),
    );
    assert.deepEqual(Buffer.from(view.layer(i).header), Buffer.from(ref.layer(i).header));
  }
  s.chalTrace = undefined as never;
  const c = w.client;
  for (let moves = 0; moves < 100; moves++) {
    const d = await c.dispute(s.dispute);
    const next = nextMove(d);
    if (
      next.kind !== 'commit_trace' &&
      next.kind !== 'bisect_layer' &&
      next.kind !== 'reveal_layer' &&
      next.kind !== 'bisect_chunk'
    )
      break;
    if (next.side === SIDE.EXECUTOR) await playMove(c, s.exec, s.dispute, traceView(s.execTrace), d);
    else await playMove(c, s.chal, s.dispute, view, d);
    w.sender.warp(1);
  }
  const r = await submitOneStep(c, s.chal, s.dispute, view, model);
  assert.equal(eventsNamed(r.steps[0].events, 'OneStepExecuted')[0].executorCorrect, false);
  assert.equal((await c.dispute(s.dispute)).disagree, 4);
});

for (const layer of [0, 1, 2, 3, 4, 5, 6, 7]) {
  test(`honest side wins at layer ${layer} on either side, with automatic sparse openings`, async () => {
    const m = mlpModel();
    for (const cheater of ['executor', 'challenger'] as const) {
      const bad = cheatLayers(m, layer, layer % 4);
      const s = cheater === 'executor' ? await setup(bad, run(m)) : await setup(run(m), bad);
      await playToOneStep(s);
      const [key, trace] = cheater === 'executor' ? [s.chal, s.chalTrace] : [s.exec, s.execTrace];
      const { steps } = await submitOneStep(s.w.client, key, s.dispute, traceView(trace), s.w.modelView());
      const ev = eventsNamed(steps[steps.length - 1].events, 'OneStepExecuted')[0];
      assert.equal(ev.layer, layer);
      assert.equal(ev.executorCorrect, cheater === 'challenger', `${cheater} cheats at layer ${layer}`);
      assert.equal(s.w.unaccountedLamports(), 0n);
    }
  });
}

test('16 KiB layers: automatic sparse openings keep the one-step data small', async () => {
  const m = wideModel();
  for (const [layer, chunk, cheater] of [
    [2, 37, 'executor'],
    [0, 63, 'challenger'],
    [3, 5, 'executor'],
  ] as const) {
    const bad = cheatLayers(m, layer, chunk);
    const s = cheater === 'executor' ? await setup(bad, run(m), m) : await setup(run(m), bad, m);
    await playToOneStep(s);
    const d = await s.w.client.dispute(s.dispute);
    assert.equal(d.chunkIndex, chunk);
    const [key, trace] = cheater === 'executor' ? [s.chal, s.chalTrace] : [s.exec, s.execTrace];
    const { writes, steps } = await submitOneStep(
      s.w.client,
      key,
      s.dispute,
      traceView(trace),
      s.w.modelView(),
    );
    assert.equal(writes.length, 2, 'init and one write');
    const buf = (await s.w.client.fetchProofBuffer(s.dispute, key.publicKey))!;
    assert.ok(buf.len < 1000, `${buf.len} bytes instead of 16 KiB`);
    assert.equal(
      eventsNamed(steps[0].events, 'OneStepExecuted')[0].executorCorrect,
      cheater === 'challenger',
    );
  }
});

test('a cheating executor that lies about a layer shape loses on the header', async () => {
  const m = mlpModel();
  const liar = run(m);
  liar[3] = { ...liar[3], dims: [32, 8] };
  const last = Buffer.from(liar[7].bytes);
  last[0] ^= 1;
  liar[7] = { ...liar[7], bytes: last };
  const s = await setup(liar, run(m));
  await playToOneStep(s);
  const d = await s.w.client.dispute(s.dispute);
  assert.equal(d.disagree, 3);
  assert.ok(headerDispute(d));
  assert.deepEqual(unpackHeader(d.header[SIDE.EXECUTOR]).dims, [32, 8]);
  assert.deepEqual(unpackHeader(d.header[SIDE.CHALLENGER]), { dtype: liar[3].dtype, dims: run(m)[3].dims });
  const { steps } = await submitOneStep(
    s.w.client,
    s.chal,
    s.dispute,
    traceView(s.chalTrace),
    s.w.modelView(),
  );
  assert.equal(eventsNamed(steps[0].events, 'OneStepExecuted')[0].executorCorrect, false);
  assert.equal((await s.w.client.dispute(s.dispute)).winner, SIDE.CHALLENGER);
});

test('dispute refusals: a forged inclusion proof, a closed window, a self-challenge', async () => {
  const s = await setup();
  const { w, exec } = s;
  const c = w.client;
  const p = s.batch.proof(1);
  const forged = { ...p, siblings: p.siblings.map(() => hex(Buffer.alloc(32, 7))) };
  await rejects(c.openDispute(s.chal, forged), 'PROGRAM_INVALID_PROOF');
  // The executor challenging its own job trips Anchor's duplicate-mutable-account check first.
  await rejects(c.openDispute(exec, p), 'PROGRAM_CONSTRAINT_DUPLICATE_MUTABLE_ACCOUNT');
  w.sender.warp(PARAMS.challengeWindow + 1n);
  await rejects(c.openDispute(s.chal, s.batch.proof(0)), 'PROGRAM_WINDOW_CLOSED');
});

test('compute units per instruction, measured through the client', async () => {
  // The instructions no dispute above sends.
  const w = new LocalWorld();
  const c = w.client;
  await c.initialize(w.authority, w.params());
  note('update_config', await c.updateConfig(w.authority, { params: { clockSlots: 50n } }));
  const op = w.fund();
  await c.bond(op, 3_000_000_000n);
  note('request_unbond', await c.requestUnbond(op, 1_000_000_000n));
  w.sender.warp(PARAMS.unbondingSlots + 1n);
  note('withdraw', await c.withdraw(op));

  const rows = [...figures].map(([name, f]) => ({
    instruction: name,
    txs: f.n,
    'max CU': f.maxCu,
    'max bytes': f.maxSize,
  }));
  console.table(rows);
  for (const r of rows) {
    assert.ok(r['max bytes'] <= 1232, `${r.instruction} fits a transaction`);
    assert.ok(r['max CU'] < (r.instruction === 'one_step' ? 1_400_000 : 200_000), `${r.instruction} CU`);
  }
});
