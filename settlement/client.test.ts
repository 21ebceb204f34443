// SettlementClient against the real SBF program in LiteSVM: configuration, model registration, bonds,
// batches committed from state/job.ts records and finalized after the window, errors mapped, lamports kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { isOptinferError } from '../state/errors.ts';
import { Batch, jobId, signResult, type JobRecord } from '../state/job.ts';
import { fromHex } from '../state/hash.ts';
import type { BatchIndex, ExecutorId, Hash32, ModelId } from '../state/types.ts';
import { chainModel, mlpModel } from '../programs/tests/lib/model.ts';
import { LocalWorld, PARAMS } from './testkit.ts';
import { eventsNamed } from './events.ts';
import { modelReady } from './accounts.ts';
import { disputable, finalizable, freeBond, windowEndSlot } from './client.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex') as Hash32;

function records(w: LocalWorld, executor: Keypair, n: number, seq0 = 0): JobRecord[] {
  const out: JobRecord[] = [];
  for (let i = 0; i < n; i++) {
    const modelId = hex(w.modelId) as ModelId;
    const inputDigest = hex(w.inputDigest());
    out.push(
      signResult(
        {
          jobId: jobId(seq0 + i, modelId, inputDigest),
          modelId,
          inputDigest,
          outputDigest: hex(Buffer.alloc(32, i + 1)),
          executor: executor.publicKey.toBase58() as ExecutorId,
          fee: 1000n,
        },
        executor.secretKey,
      ),
    );
  }
  return out;
}

async function rejects(p: Promise<unknown>, code: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isOptinferError(e), `OptinferError expected, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('initialize, register a model, bond, commit batches in order, finalize after the window', async () => {
  const w = new LocalWorld();
  const c = w.client;

  const init = await c.initialize(w.authority, w.params());
  assert.deepEqual(
    init.events.map((e) => e.name),
    ['ConfigUpdated'],
  );
  const cfg = await c.config();
  assert.ok(cfg.authority.equals(w.authority.publicKey));
  assert.ok(cfg.sequencer.equals(w.sequencer.publicKey));
  assert.ok(cfg.treasury.equals(w.treasury));
  assert.equal(cfg.challengeWindow, PARAMS.challengeWindow);
  assert.equal(cfg.clockSlots, PARAMS.clockSlots);
  assert.equal(cfg.minExecutorBond, PARAMS.minExecutorBond);
  assert.equal(cfg.minChallengerBond, PARAMS.minChallengerBond);
  assert.equal(cfg.unbondingSlots, PARAMS.unbondingSlots);
  assert.equal(cfg.bountyBps, PARAMS.bountyBps);
  assert.equal(cfg.nextBatchIndex, 0n);
  assert.equal(cfg.paused, 0);

  // A 40-layer model: register, the shape record (created, then 1,124 bytes in two writes), two op pages.
  const reg = await w.registerModel(chainModel(40));
  assert.equal(reg.length, 6);
  const model = (await c.fetchModel(w.modelId))!;
  assert.equal(model.layerCount, 40);
  assert.equal(model.opsLoaded, 40);
  assert.equal(model.outputNameText, w.model.outputName);
  assert.ok(modelReady(model));
  assert.deepEqual(model.modelId, w.modelId);
  const page1 = (await c.fetchOpsPage(w.modelId, 1))!;
  assert.equal(page1.count, 8);
  assert.equal(page1.entries.length, 8);
  assert.equal((await w.registerModel(chainModel(40))).length, 0, 'registration is idempotent');

  const exec = w.fund();
  const chal = w.fund();
  const b1 = await c.bond(exec, 10_000_000_000n);
  assert.deepEqual(eventsNamed(b1.events, 'Bonded')[0].bonded, 10_000_000_000n);
  await c.bond(chal, 3_000_000_000n);
  await c.bond(chal, 1_000_000_000n);
  const op = (await c.fetchOperator(chal.publicKey))!;
  assert.equal(op.bonded, 4_000_000_000n);
  assert.ok(op.owner.equals(chal.publicKey));
  assert.equal(op.locked, 0n);

  // Batches from the node's own records (state/job.ts), committed in order.
  const batches: Batch[] = [];
  for (let i = 0; i < 3; i++) {
    const b = new Batch(i as BatchIndex, records(w, exec, 5 + i, i * 100));
    batches.push(b);
    const r = await c.commitBatch(w.sequencer, {
      index: i,
      root: fromHex(b.root, 32),
      jobCount: b.records.length,
    });
    const ev = eventsNamed(r.events, 'BatchCommitted')[0];
    assert.equal(ev.index, BigInt(i));
    assert.equal(hex(ev.root), b.root);
    assert.equal(ev.jobCount, 5 + i);
  }
  const b1acc = (await c.fetchBatch(1))!;
  assert.equal(hex(b1acc.root), batches[1].root);
  assert.equal(b1acc.index, 1n);
  assert.equal(b1acc.jobCount, 6);
  assert.equal(b1acc.finalized, 0);
  assert.equal((await c.config()).nextBatchIndex, 3n);

  // Out of order, replayed, wrong signer, not yet final.
  await rejects(
    c.commitBatch(w.sequencer, { index: 5, root: Buffer.alloc(32), jobCount: 1 }),
    'PROGRAM_BAD_BATCH_INDEX',
  );
  await rejects(
    c.commitBatch(exec, { index: 3, root: Buffer.alloc(32), jobCount: 1 }),
    'PROGRAM_NOT_SEQUENCER',
  );
  await rejects(
    c.commitBatch(w.sequencer, { index: 3, root: Buffer.alloc(32), jobCount: 0 }),
    'PROGRAM_EMPTY_BATCH',
  );
  await rejects(c.finalizeBatch(exec, 0), 'PROGRAM_WINDOW_OPEN');
  await rejects(
    c.registerModel(exec, {
      modelId: Buffer.alloc(32, 9),
      profileHash: Buffer.alloc(32),
      weightRoot: Buffer.alloc(32),
      weightCount: 0,
      opEntries: [Buffer.alloc(24, 0)],
      outputName: 'y',
      shapes: { inputs: [], weights: [], layers: [] },
    }),
    'PROGRAM_NOT_AUTHORITY',
  );

  const slot = await w.sender.getSlot();
  const b0 = (await c.fetchBatch(0))!;
  assert.equal(windowEndSlot(b0, cfg), b0.commitSlot + PARAMS.challengeWindow);
  assert.ok(disputable(b0, cfg, slot));
  assert.ok(!finalizable(b0, cfg, slot));
  w.sender.warp(PARAMS.challengeWindow + 1n);
  assert.ok(!disputable(b0, cfg, await w.sender.getSlot()));
  assert.ok(finalizable(b0, cfg, await w.sender.getSlot()));
  for (let i = 0; i < 3; i++) {
    const r = await c.finalizeBatch(exec, i);
    assert.deepEqual(eventsNamed(r.events, 'BatchFinalized'), [{ index: BigInt(i), invalidated: 0 }]);
    assert.equal((await c.fetchBatch(i))!.finalized, 1);
  }
  await rejects(c.finalizeBatch(exec, 0), 'PROGRAM_ALREADY_FINALIZED');

  // Unbond and withdraw after the delay.
  await rejects(c.withdraw(chal), 'PROGRAM_NOTHING_UNBONDING');
  await rejects(c.requestUnbond(chal, 5_000_000_000n), 'PROGRAM_INSUFFICIENT_BOND');
  const ub = await c.requestUnbond(chal, 1_000_000_000n);
  const ready = eventsNamed(ub.events, 'UnbondRequested')[0].readySlot;
  const unbonding = (await c.fetchBond(chal.publicKey))!;
  assert.equal(unbonding.unbondReadySlot, ready);
  assert.equal(freeBond(unbonding), 3_000_000_000n);
  await rejects(c.withdraw(chal), 'PROGRAM_UNBONDING_NOT_READY');
  w.sender.warp(PARAMS.unbondingSlots + 1n);
  const before = await w.sender.getBalance(chal.publicKey);
  const wd = await c.withdraw(chal);
  assert.deepEqual(eventsNamed(wd.events, 'Withdrawn')[0].amount, 1_000_000_000n);
  assert.equal(await w.sender.getBalance(chal.publicKey), before + 1_000_000_000n - 5000n);
  assert.equal((await c.fetchOperator(chal.publicKey))!.bonded, 3_000_000_000n);

  assert.equal(w.unaccountedLamports(), 0n, 'lamports conserved (fees counted as burned)');
});

test('pause: update_config by the authority stops commits; another signer cannot', async () => {
  const w = new LocalWorld();
  const c = w.client;
  await c.initialize(w.authority, w.params());
  await rejects(c.updateConfig(w.sequencer, { paused: true }), 'PROGRAM_NOT_AUTHORITY');
  const r = await c.updateConfig(w.authority, { paused: true, params: { clockSlots: 77n } });
  const cfg = await c.config();
  assert.equal(cfg.clockSlots, 77n);
  assert.equal(cfg.challengeWindow, PARAMS.challengeWindow, 'other parameters kept');
  assert.ok(cfg.authority.equals(w.authority.publicKey));
  assert.deepEqual(eventsNamed(r.events, 'ConfigUpdated')[0].paused, 1);
  await rejects(
    c.commitBatch(w.sequencer, { index: 0, root: Buffer.alloc(32, 1), jobCount: 1 }),
    'PROGRAM_PAUSED',
  );
  await c.updateConfig(w.authority, { paused: false });
  await c.commitBatch(w.sequencer, { index: 0, root: Buffer.alloc(32, 1), jobCount: 1 });
  await rejects(c.initialize(w.authority, w.params()), 'PROGRAM_ACCOUNT_ALREADY_IN_USE');
  void mlpModel;
});
