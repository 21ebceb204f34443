// Review 21: crash safety of the challenger's disputes. A lying executor signs the same made-up output digest for two
// jobs of one model, one runnable and one onnxruntime refuses (the unrunnable lie); the challenger finds both and is
// killed. After the restart it must rebuild each game's views from its own finding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { createMemoryBus } from '../bus/memory.ts';
import { ModelRegistry } from '../executor/model.ts';
import { IN_PROCESS } from '../executor/sandbox/pool.ts';
import { OptinferError } from '../state/errors.ts';
import { fromHex, toHex } from '../state/hash.ts';
import { Batch, jobId, signResult } from '../state/job.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { BatchIndex, ExecutorId, Hash32 } from '../state/types.ts';
import type { DisputeAccount, SettlementClient } from '../settlement/index.ts';
import { toyBatch, toyConfig, toyDispute, toyModel, toyOperator } from '../dispute/testkit.ts';
import { gatherI, gatherModel, gatherX } from '../programs/tests/lib/unrunnable-models.ts';
import { Challenger } from './challenger.ts';
import type { JobSource } from './source.ts';

test('twin lies across a restart: two findings on one model with the same signed output (one runnable job, one unrunnable) each resume their own game after a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-rev21r-'));
  const registry = new ModelRegistry();
  const model = await registry.register(gatherModel, { name: 'unrun-gather' });
  const exec = Keypair.generate();
  // Job 0 runs; job 1 reads row 7 of 4 (onnxruntime refuses). Both claim the same made-up output.
  const inputs = [
    { i: gatherI([0, 3, 1, 2]), x: gatherX },
    { i: gatherI([0, 3, 7, 2]), x: gatherX },
  ];
  const made = 'ee'.repeat(32) as Hash32;
  const records = inputs.map((x, k) =>
    signResult(
      {
        jobId: jobId(k, model.modelId, tensorSetDigest(x)),
        modelId: model.modelId,
        inputDigest: tensorSetDigest(x),
        outputDigest: made,
        executor: exec.publicKey.toBase58() as ExecutorId,
        fee: 1000n,
      },
      exec.secretKey,
    ),
  );
  const batch = new Batch(0 as BatchIndex, records);
  const root = Buffer.from(fromHex(batch.root, 32));
  const client = {
    sender: { getSlot: async () => 1010n },
    config: async () => toyConfig(),
    fetchBatch: async () => toyBatch({ root, jobCount: 2 }),
    listBatches: async () => [
      { address: Keypair.generate().publicKey, batch: toyBatch({ root, jobCount: 2 }) },
    ],
    fetchModel: async () => toyModel(),
    fetchJob: async () => null,
    fetchOperator: async (owner: PublicKey) => toyOperator({ owner, bonded: 10n }),
    fetchDispute: async () => null,
    bond: async () => {},
    listDisputes: async () => [],
    openDispute: async () => {
      throw new OptinferError('UNAVAILABLE', 'no games in this test');
    },
    fetchDataRequest: async () => null,
  } as unknown as SettlementClient;
  const source: JobSource = {
    batch: async () => ({ index: 0, root: batch.root, jobCount: 2, jobIds: records.map((r) => r.jobId) }),
    proof: async (id) => batch.proof(records.findIndex((r) => r.jobId === id)),
    inputs: async (id) => inputs[records.findIndex((r) => r.jobId === id)],
    modelBytes: async () => model.bytes,
  };
  const start = () =>
    Challenger.start({
      config: {
        dataDir: dir,
        id: 'c1',
        sampleRate: 1,
        sandbox: false,
        retryMs: 50,
        chain: { client, bondLamports: 10n },
      },
      bus: createMemoryBus(),
      source,
      registry,
    });
  const first = await start();
  for (const [k, r] of records.entries()) {
    const o = await first.audit(r.jobId, 0, batch.root, k);
    assert.equal(o.outcome, 'mismatch', `job ${k} found wrong (${o.reason ?? ''})`);
  }
  await first.close(); // as a kill -9 would leave it: findings, pending entries and inputs in LevelDB
  const second = await start();
  try {
    const honest = await IN_PROCESS.trace(model, inputs[0], {});
    const game = (k: number): DisputeAccount =>
      toyDispute({
        modelId: Buffer.from(model.modelId, 'hex'),
        inputDigest: Buffer.from(records[k].inputDigest, 'hex'),
        outputDigest: Buffer.from(made, 'hex'),
        jobIndex: k,
      });
    const viewsOf = (d: DisputeAccount) =>
      (
        second as unknown as {
          disputeViews(d: DisputeAccount): Promise<{ trace: { root: Uint8Array } } | null>;
        }
      ).disputeViews(d);
    const errs: string[] = [];
    const runnable = await viewsOf(game(0)).catch((e: Error) => {
      errs.push(`runnable job's game: ${e.message}`);
      return null;
    });
    if (runnable && toHex(runnable.trace.root) !== honest.traceRoot)
      errs.push("runnable job's game: played with another trace than onnxruntime's");
    const unrunnable = await viewsOf(game(1)).catch((e: Error) => {
      errs.push(`unrunnable job's game: ${e.message}`);
      return null;
    });
    if (!unrunnable && errs.length === 0) errs.push("unrunnable job's game: no views");
    assert.deepEqual(
      errs,
      [],
      'after the restart a game has no views: the driver never moves and it is lost on time',
    );
  } finally {
    await second.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
