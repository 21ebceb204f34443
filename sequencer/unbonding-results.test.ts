// Attack 3 off chain, results in flight: an executor that requests an unbond after taking a job cannot get it batched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus, Consumer } from '../bus/bus.ts';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import type { AssignMessage } from '../bus/messages.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { ExecutorId, JobId, ModelId } from '../state/types.ts';
import type { BatchHeader, ExecutorBond, Settlement } from './ports.ts';
import { DEFAULT_SEQUENCER_CONFIG, Sequencer } from './sequencer.ts';
import { FakeInspector, RecordingMetrics, executorId, int8, signFor, waitFor } from './testing.ts';

const A = executorId('A');
const B = executorId('B');
const STAKE = 1_000n;

/** Operator bonds the test changes, with the program's UnbondRequested event; batches never finalize. */
class FakeChain implements Settlement {
  readonly kind = 'fake-chain';
  readonly bonds = new Map<ExecutorId, { bonded: bigint; unbonding: bigint }>();
  private readonly watchers: ((e: ExecutorId, unbonding: boolean) => void)[] = [];

  watchBonds(onChange: (e: ExecutorId, unbonding: boolean) => void): () => Promise<void> {
    this.watchers.push(onChange);
    return async () => void this.watchers.splice(this.watchers.indexOf(onChange), 1);
  }

  requestUnbond(e: ExecutorId, amount: bigint): void {
    this.bonds.get(e)!.unbonding += amount;
    for (const w of this.watchers) w(e, true);
  }

  async executorBond(e: ExecutorId): Promise<ExecutorBond> {
    const b = this.bonds.get(e) ?? { bonded: 0n, unbonding: 0n };
    return { free: b.bonded - b.unbonding, unbonding: b.unbonding, stake: STAKE };
  }

  async commitBatch(): Promise<{ windowEndsAt: number }> {
    return { windowEndsAt: Date.now() };
  }

  async canFinalize(_b: BatchHeader): Promise<boolean> {
    return false;
  }
}

/** An executor that holds each job until `answer()` is called, then returns a signed result; heart-beating. */
async function heldExecutor(bus: Bus, id: ExecutorId) {
  const held: AssignMessage[] = [];
  const consumer: Consumer = await messages.consume(
    bus,
    messages.ASSIGN,
    { of: id },
    `held-${id}`,
    async (m) => {
      held.push(m);
    },
  );
  const beat = () => messages.publish(bus, messages.HEARTBEAT, id, { executorId: id, capacity: 8 });
  beat();
  const timer = setInterval(beat, 20);
  return {
    held,
    async answer(): Promise<void> {
      for (const m of held.splice(0)) {
        const outputs = { y: int8([m.inputs.x.data[0]]) };
        const outputDigest = tensorSetDigest(outputs);
        const j = { jobId: m.jobId, modelId: m.modelId, inputDigest: tensorSetDigest(m.inputs), fee: m.fee };
        await messages.send(bus, messages.RESULT, id, {
          jobId: m.jobId,
          executor: id,
          outputs,
          outputDigest,
          signature: signFor(id, j, outputDigest),
        });
      }
    },
    async stop() {
      clearInterval(timer);
      await consumer.stop();
    },
  };
}

test('unbonding cheater: a result in flight from an executor that then requests an unbond is refused, and the job runs on another', async () => {
  const chain = new FakeChain();
  chain.bonds.set(A, { bonded: 10n * STAKE, unbonding: 0n });
  chain.bonds.set(B, { bonded: 10n * STAKE, unbonding: 0n });
  const bus = createMemoryBus();
  const metrics = new RecordingMetrics();
  const seq = await Sequencer.start({
    config: {
      ...DEFAULT_SEQUENCER_CONFIG,
      dataDir: mkdtempSync(join(tmpdir(), 'optinfer-unbonding-')),
      batchMaxJobs: 1,
      batchMaxAgeMs: 50,
      executorTimeoutMs: 300,
    },
    bus,
    inspector: new FakeInspector(),
    settlement: chain,
    metrics,
  });
  const a = await heldExecutor(bus, A);
  let b: Awaited<ReturnType<typeof heldExecutor>> | undefined;
  try {
    const model = await seq.registerModel(new Uint8Array([1, 2, 3]), 'fake');
    await waitFor(() => seq.stats().executors === 1, 'A eligible');
    const submit = async (x: number): Promise<JobId> =>
      (await seq.submit({ modelId: model.modelId as ModelId, inputs: { x: int8([x]) } })).jobId;

    // Control: a result A returns while bonded is batched under A.
    const kept = await submit(1);
    await waitFor(() => a.held.length === 1, 'A holds the first job');
    await a.answer();
    await waitFor(async () => (await seq.getJob(kept))?.status === 'batched', 'the first job batched');
    assert.equal((await seq.getJob(kept))!.executor, A);

    // A takes a second job, then asks for its bond back before answering (it would withdraw before a late batch
    // could be disputed). B joins.
    const id = await submit(2);
    await waitFor(() => a.held.length === 1, 'A holds the second job');
    b = await heldExecutor(bus, B);
    await waitFor(() => seq.stats().executors === 2, 'B eligible');
    chain.requestUnbond(A, 2n * STAKE);
    await waitFor(
      () => seq.executors().find((v) => v.executor === A)?.unbonding === (2n * STAKE).toString(),
      'the unbond seen',
    );
    await a.answer();

    // A's signed, valid result is refused; the job goes to B and is batched under B.
    await waitFor(() => b!.held.length === 1, 'the job re-assigned to B');
    assert.equal(b.held[0].jobId, id);
    assert.equal(metrics.count('results_refused_unbonding_total'), 1);
    await b.answer();
    await waitFor(async () => (await seq.getJob(id))?.status === 'batched', 'the re-run batched');
    const j = (await seq.getJob(id))!;
    assert.equal(j.executor, B, 'the batch still names the executor that left');
    assert.ok(j.proof, 'the re-run is in a committed batch');
    assert.equal(
      seq.executors().find((v) => v.executor === A)?.exposureJobs,
      1,
      'only the kept job charged to A',
    );
  } finally {
    await a.stop();
    await b?.stop();
    await seq.close();
    await bus.close();
  }
});
