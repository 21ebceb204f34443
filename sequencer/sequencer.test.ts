// The wiring, without onnxruntime or a chain: submit → assign → result → batch → commit → finalize, and a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus, Consumer } from '../bus/bus.ts';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import type { BatchCommittedMessage } from '../bus/messages.ts';
import { verifyInclusion } from '../state/job.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromWire } from '../state/tensor-map.ts';
import type { ExecutorId } from '../state/types.ts';
import { LocalSettlement } from './ports.ts';
import { DEFAULT_SEQUENCER_CONFIG, Sequencer, type SequencerConfig } from './sequencer.ts';
import { FakeInspector, executorId, int8, signFor, waitFor } from './testing.ts';

const E = executorId('E');

/** An executor that answers every job with its first input byte doubled, and heartbeats while it runs. */
async function fakeExecutor(bus: Bus, id: ExecutorId): Promise<{ stop(): Promise<void> }> {
  const consumer: Consumer = await messages.consume(
    bus,
    messages.ASSIGN,
    { of: id },
    'fake-exec',
    async (m) => {
      const outputs = { y: int8([m.inputs.x.data[0] * 2]) };
      await messages.send(bus, messages.RESULT, id, {
        jobId: m.jobId,
        executor: id,
        outputs,
        outputDigest: tensorSetDigest(outputs),
        signature: signFor(
          id,
          { ...m, inputDigest: tensorSetDigest(fromWire(m.inputs, 'inputs')) },
          tensorSetDigest(outputs),
        ),
      });
    },
  );
  const beat = () => messages.publish(bus, messages.HEARTBEAT, id, { executorId: id, capacity: 4 });
  beat();
  const timer = setInterval(beat, 50);
  return {
    async stop() {
      clearInterval(timer);
      await consumer.stop();
    },
  };
}

function config(dataDir: string, over: Partial<SequencerConfig> = {}): SequencerConfig {
  return { ...DEFAULT_SEQUENCER_CONFIG, dataDir, batchMaxJobs: 3, batchMaxAgeMs: 60_000, ...over };
}

test('three jobs run on the executor, make one batch, and finalize after the window with valid proofs', async () => {
  const bus = createMemoryBus();
  const announced: BatchCommittedMessage[] = [];
  const watcher = await messages.consume(bus, messages.BATCH_COMMITTED, 'all', 'watcher', (m) => {
    announced.push(m);
  });
  const seq = await Sequencer.start({
    config: config(mkdtempSync(join(tmpdir(), 'optinfer-seq-wiring-'))),
    bus,
    inspector: new FakeInspector(),
    settlement: new LocalSettlement(100),
  });
  const exec = await fakeExecutor(bus, E);
  try {
    const model = await seq.registerModel(new Uint8Array([1, 2, 3]), 'fake');
    assert.deepEqual(seq.listModels(), [model]);
    const ids = [];
    for (let i = 1; i <= 3; i++)
      ids.push((await seq.submit({ modelId: model.modelId, inputs: { x: int8([i]) } })).jobId);
    await waitFor(() => announced.length === 1, 'the batch announcement');
    assert.equal(announced[0].jobCount, 3);
    const b = (await seq.getBatch(0))!;
    assert.deepEqual(b.jobIds, ids, 'batched in submission order');
    assert.equal(b.root, announced[0].root);

    await waitFor(async () => (await seq.getBatch(0))?.status === 'finalized', 'finality', 5_000);
    for (const [i, id] of ids.entries()) {
      const v = (await seq.getJob(id))!;
      assert.equal(v.status, 'finalized');
      assert.equal(v.executor, E);
      assert.deepEqual(v.outputs, { y: int8([(i + 1) * 2]) });
      assert.ok(verifyInclusion(v.proof!));
      assert.equal(v.proof!.batchRoot, b.root);
    }
    const stats = seq.stats();
    assert.deepEqual(stats, { queued: 0, inflight: 0, executed: 0, executors: 1, nextBatch: 1 });
  } finally {
    await exec.stop();
    await seq.close();
    await watcher.stop();
    await bus.close();
  }
});

test('jobs acknowledged before a restart run and batch after it, with fresh ids never reused', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-seq-wiring-'));
  const bus = createMemoryBus();
  const first = await Sequencer.start({
    config: config(dataDir),
    bus,
    inspector: new FakeInspector(),
    settlement: new LocalSettlement(60_000),
  });
  const model = await first.registerModel(new Uint8Array([1, 2, 3]), 'fake');
  const before = [];
  for (let i = 1; i <= 2; i++)
    before.push((await first.submit({ modelId: model.modelId, inputs: { x: int8([i]) } })).jobId);
  assert.equal(first.stats().queued, 2, 'no executor yet');
  await first.close();

  const second = await Sequencer.start({
    config: config(dataDir),
    bus,
    inspector: new FakeInspector(),
    settlement: new LocalSettlement(60_000),
  });
  const exec = await fakeExecutor(bus, E);
  try {
    assert.equal(second.getModel(model.modelId)?.name, 'fake');
    const after = (await second.submit({ modelId: model.modelId, inputs: { x: int8([1]) } })).jobId;
    assert.ok(!before.includes(after), 'same inputs after a restart still get a new id');
    await waitFor(async () => (await second.getBatch(0)) !== undefined, 'the batch');
    assert.deepEqual((await second.getBatch(0))!.jobIds, [...before, after]);
  } finally {
    await exec.stop();
    await second.close();
    await bus.close();
  }
});

test('a closed sequencer refuses jobs', async () => {
  const bus = createMemoryBus();
  const seq = await Sequencer.start({
    config: config(mkdtempSync(join(tmpdir(), 'optinfer-seq-wiring-'))),
    bus,
    inspector: new FakeInspector(),
    settlement: new LocalSettlement(100),
  });
  const model = await seq.registerModel(new Uint8Array([1]), 'fake');
  await seq.close();
  await assert.rejects(
    seq.submit({ modelId: model.modelId, inputs: { x: int8([1]) } }),
    (e: Error & { code?: string }) => e.code === 'UNAVAILABLE',
  );
  await bus.close();
});
