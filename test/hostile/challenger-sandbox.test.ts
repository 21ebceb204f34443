// A challenger cannot be frozen by the job it audits: a cheater's result for a never-ending model is
// skipped at the sandbox's time limit, and the honest jobs of the same batch are still audited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { createMemoryBus } from '../../bus/memory.ts';
import { Challenger } from '../../challenger/challenger.ts';
import type { JobSource } from '../../challenger/source.ts';
import { DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { ModelRegistry } from '../../executor/model.ts';
import { tensorOf } from '../../executor/onnx/builder.ts';
import { loopForever } from '../helpers/hostile-models.ts';
import { runModel } from '../../executor/run.ts';
import { isOptinferError } from '../../state/errors.ts';
import { Batch, jobId, signResult, type JobRecord } from '../../state/job.ts';
import type { TensorMap } from '../../state/tensor-map.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../../state/types.ts';

const TIME_LIMIT_MS = 2_000;

test("a cheater's claimed result for a never-ending model is skipped at the time limit; the batch's honest job is still audited", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-chal-sandbox-'));
  const registry = new ModelRegistry();
  const bus = createMemoryBus();
  const loopBytes = loopForever();
  const demoBytes = new Uint8Array(readFileSync(DEMO_MODEL_PATH));
  const loop = await registry.register(loopBytes);
  const demo = await registry.register(demoBytes);
  const executorKey = Keypair.generate();
  const executor = executorKey.publicKey.toBase58() as ExecutorId;

  const loopInputs: TensorMap = { x: tensorOf('float32', [1], [1]) };
  const demoInputs: TensorMap = {
    x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(16).map((_, k) => (k * 7) & 0xff) },
  };
  const honest = await runModel(demo, demoInputs);
  const rec = (seq: number, modelId: ModelId, inputs: TensorMap, outputDigest: Hash32): JobRecord => {
    const inputDigest = tensorSetDigest(inputs);
    const r = {
      jobId: jobId(seq, modelId, inputDigest),
      modelId,
      inputDigest,
      outputDigest,
      executor,
      fee: 0n,
    };
    return signResult(r, executorKey.secretKey);
  };
  // The cheater never ran the loop: it made up a digest and the sequencer batched it.
  const records = [
    rec(0, loop.modelId, loopInputs, 'ee'.repeat(32) as Hash32),
    rec(1, demo.modelId, demoInputs, honest.outputDigest),
  ];
  const batch = new Batch(0 as BatchIndex, records);
  const inputsOf = new Map<JobId, TensorMap>([
    [records[0].jobId, loopInputs],
    [records[1].jobId, demoInputs],
  ]);
  const source: JobSource = {
    batch: async (i) =>
      i === 0 ? { index: 0, root: batch.root, jobCount: 2, jobIds: records.map((r) => r.jobId) } : undefined,
    proof: async (id) => {
      const i = records.findIndex((r) => r.jobId === id);
      return i < 0 ? undefined : batch.proof(i);
    },
    inputs: async (id) => inputsOf.get(id),
    modelBytes: async (id) => (id === loop.modelId ? loopBytes : demoBytes),
  };
  const challenger = await Challenger.start({
    config: { dataDir: dir, id: 'audit', sampleRate: 1, sandbox: { size: 1, timeMs: TIME_LIMIT_MS } },
    bus,
    source,
    registry,
  });
  try {
    await assert.rejects(challenger.audit(records[0].jobId, 0, batch.root), (e: unknown) =>
      isOptinferError(e, 'TIME_LIMIT'),
    );
    const t0 = performance.now();
    await challenger.onBatch({ index: 0, root: batch.root, jobCount: 2, windowEndsAt: Date.now() + 60_000 });
    const took = performance.now() - t0;
    assert.ok(took < TIME_LIMIT_MS + 10_000, `the batch audit took ${took.toFixed(0)} ms`);
    assert.equal(challenger.stats.audited, 1, 'only the demo job could be re-executed');
    assert.equal(challenger.stats.mismatches, 0);
  } finally {
    await challenger.close();
    await bus.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
