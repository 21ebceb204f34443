// Dispatch: round robin over live eligible executors, capacity, exclusion after a failure, timeouts, results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import type { AssignMessage } from '../bus/messages.ts';
import type { Bus } from '../bus/bus.ts';
import { seqKey } from '../state/store.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromStored } from '../state/tensor-map.ts';
import type { ExecutorId } from '../state/types.ts';
import type { ExecutedJob } from './batcher.ts';
import { Dispatcher, type DispatchConfig } from './dispatch.ts';
import type { JobState, Ledger } from './ledger.ts';
import type { Settlement } from './ports.ts';
import {
  RecordingMetrics,
  executorId,
  int8,
  recordingLogger,
  seedJob,
  tempLedger,
  waitFor,
} from './testing.ts';

const A = executorId('A');
const B = executorId('B');
const CONFIG: DispatchConfig = { assignTimeoutMs: 60_000, executorTimeoutMs: 10_000, maxAttempts: 3 };

/** A dispatcher on a memory bus, with executors that only record what they are assigned. */
async function setup(
  opts: { config?: Partial<DispatchConfig>; settlement?: Pick<Settlement, 'executorEligible'> } = {},
) {
  const t = await tempLedger();
  const bus = createMemoryBus();
  const executed: ExecutedJob[] = [];
  const metrics = new RecordingMetrics();
  const logs = recordingLogger();
  const d = new Dispatcher(
    { ...CONFIG, ...opts.config },
    t.ledger,
    bus,
    opts.settlement ?? {},
    { add: (j) => executed.push(j) },
    logs.log,
    metrics,
  );
  const subs = [await d.listenHeartbeats(), await d.consumeResults()];
  const got = new Map<ExecutorId, AssignMessage[]>();
  const order: [ExecutorId, AssignMessage][] = [];
  const consumers: { stop(): Promise<void> }[] = [];
  async function join(id: ExecutorId, capacity: number): Promise<void> {
    if (!got.has(id)) {
      got.set(id, []);
      consumers.push(
        await messages.consume(bus, messages.ASSIGN, { of: id }, `exec-${id}`, (m) => {
          got.get(id)!.push(m);
          order.push([id, m]);
        }),
      );
    }
    messages.publish(bus, messages.HEARTBEAT, id, { executorId: id, capacity });
    await new Promise((r) => setImmediate(r));
  }
  return {
    ledger: t.ledger,
    bus,
    d,
    executed,
    metrics,
    logs,
    got,
    order,
    join,
    async enqueue(seq: number): Promise<JobState> {
      const j = await seedJob(t.ledger, seq);
      d.enqueue({ seq, jobId: j.jobId, inputs: fromStored((await t.ledger.inputs.get(j.jobId))!) });
      return j;
    },
    async close() {
      d.close();
      for (const c of consumers) await c.stop();
      for (const sub of subs) {
        if ('stop' in sub) await sub.stop();
        else await sub.unsubscribe();
      }
      await bus.close();
      await t.close();
    },
  };
}

function answer(bus: Bus, executor: ExecutorId, jobId: AssignMessage['jobId'], value = 7): Promise<void> {
  const outputs = { y: int8([value]) };
  return messages.send(bus, messages.RESULT, executor, {
    jobId,
    executor,
    outputs,
    outputDigest: tensorSetDigest(outputs),
  });
}

async function stateOf(ledger: Ledger, j: JobState): Promise<JobState> {
  return (await ledger.stateOf(j.jobId))!;
}

test('jobs go round robin over the live executors, in sequence order', async () => {
  const s = await setup();
  try {
    await s.join(A, 8);
    await s.join(B, 8);
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await s.enqueue(i));
    await waitFor(() => s.order.length === 4, 'four assignments');
    assert.deepEqual(
      s.order.map(([ex, m]) => [ex, m.jobId]),
      [
        [A, jobs[0].jobId],
        [B, jobs[1].jobId],
        [A, jobs[2].jobId],
        [B, jobs[3].jobId],
      ],
    );
    const first = await stateOf(s.ledger, jobs[0]);
    assert.equal(first.status, 'executing');
    assert.equal(first.executor, A);
    assert.equal(first.attempts, 1);
  } finally {
    await s.close();
  }
});

test('an executor never holds more jobs than its heartbeat capacity; a result frees a slot', async () => {
  const s = await setup();
  try {
    await s.join(A, 2);
    const jobs = [];
    for (let i = 0; i < 5; i++) jobs.push(await s.enqueue(i));
    await waitFor(() => s.order.length === 2, 'two assignments');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.order.length, 2);
    assert.equal(s.d.queued, 3);
    assert.equal(s.d.assigned, 2);

    await answer(s.bus, A, jobs[0].jobId);
    await waitFor(() => s.order.length === 3, 'a third assignment after one result');
    assert.equal(s.order[2][1].jobId, jobs[2].jobId);
    assert.equal(s.d.assigned, 2);
  } finally {
    await s.close();
  }
});

test('a result is persisted with its outputs and handed on to be batched', async () => {
  const s = await setup();
  try {
    await s.join(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment');
    await answer(s.bus, A, j.jobId, 42);
    await waitFor(() => s.executed.length === 1, 'the executed job');
    assert.equal(s.executed[0].jobId, j.jobId);
    assert.equal(s.executed[0].seq, 0);
    const stored = (await s.ledger.jobs.get(j.jobId))!;
    assert.equal(stored.status, 'executed');
    assert.equal(stored.outputDigest, tensorSetDigest({ y: int8([42]) }));
    assert.deepEqual(fromStored((await s.ledger.outputs.get(j.jobId))!), { y: int8([42]) });
    assert.equal(s.metrics.count('jobs_executed_total'), 1);
    assert.equal(s.d.assigned, 0);
  } finally {
    await s.close();
  }
});

test('a result from an executor the job is not assigned to is ignored', async () => {
  const s = await setup();
  try {
    await s.join(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment');
    await answer(s.bus, B, j.jobId);
    await waitFor(
      () => s.logs.lines.some((l) => l.msg === 'ignoring a result for a job not assigned to that executor'),
      'the ignore log line',
    );
    assert.equal(s.executed.length, 0);
    assert.equal((await stateOf(s.ledger, j)).status, 'executing');
  } finally {
    await s.close();
  }
});

test('a job an executor failed is re-queued and never assigned to that executor again', async () => {
  const s = await setup();
  try {
    await s.join(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment');
    await messages.send(s.bus, messages.RESULT, A, { jobId: j.jobId, executor: A, error: 'boom' });
    await waitFor(() => s.metrics.count('jobs_reassigned_total') === 1, 'the re-queue');
    const requeued = await stateOf(s.ledger, j);
    assert.equal(requeued.status, 'queued');
    assert.deepEqual(requeued.excluded, [A]);
    assert.deepEqual((await s.ledger.jobs.get(j.jobId))!.excluded, [A], 'the exclusion is persisted');
    // A still has free capacity, yet the job waits.
    await s.join(A, 4);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.order.length, 1);
    assert.equal(s.d.queued, 1);

    await s.join(B, 4);
    await waitFor(() => s.order.length === 2, 'the assignment to B');
    assert.deepEqual(s.order[1], [B, s.order[1][1]]);
    assert.equal(s.order[1][1].jobId, j.jobId);
    assert.equal((await stateOf(s.ledger, j)).attempts, 2);
  } finally {
    await s.close();
  }
});

test('a result whose digest does not match its outputs counts as a failure', async () => {
  const s = await setup();
  try {
    await s.join(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment');
    await messages.send(s.bus, messages.RESULT, A, {
      jobId: j.jobId,
      executor: A,
      outputs: { y: int8([1]) },
      outputDigest: tensorSetDigest({ y: int8([2]) }),
    });
    await waitFor(() => s.metrics.count('jobs_reassigned_total') === 1, 'the re-queue');
    const line = s.logs.lines.find((l) => l.msg === 'job re-queued');
    assert.match(String(line?.why), /malformed result: outputDigest does not match/);
    assert.equal(s.executed.length, 0);
  } finally {
    await s.close();
  }
});

test('an executor that misses its deadline loses the job to another executor', async () => {
  const s = await setup({ config: { assignTimeoutMs: 40 } });
  try {
    await s.join(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment');
    await s.join(B, 4);
    await s.d.expire(Date.now());
    assert.equal(s.order.length, 1, 'not yet past the deadline');
    await new Promise((r) => setTimeout(r, 50));
    await s.d.expire(Date.now());
    await waitFor(() => s.order.length === 2, 'the second assignment');
    assert.equal(s.order[1][0], B);
    assert.deepEqual((await stateOf(s.ledger, j)).excluded, [A]);
    assert.equal(s.logs.lines.find((l) => l.msg === 'job re-queued')?.why, `executor ${A} timed out`);
  } finally {
    await s.close();
  }
});

test('after maxAttempts failures a job is failed and leaves the open table', async () => {
  const s = await setup({ config: { maxAttempts: 1 } });
  try {
    await s.join(A, 4);
    const j = await s.enqueue(5);
    await waitFor(() => s.order.length === 1, 'the assignment');
    await messages.send(s.bus, messages.RESULT, A, { jobId: j.jobId, executor: A, error: 'out of memory' });
    await waitFor(async () => (await s.ledger.jobs.get(j.jobId))?.status === 'failed', 'the failure');
    const failed = (await s.ledger.jobs.get(j.jobId))!;
    assert.equal(failed.error, `executor ${A} failed: out of memory`);
    assert.equal(await s.ledger.open.get(seqKey(5)), undefined);
    assert.equal(await s.ledger.meta.get('nextSeq'), 6);
    assert.equal(s.ledger.active.has(j.jobId), false);
    assert.equal(s.d.queued, 0);
  } finally {
    await s.close();
  }
});

test('an executor settlement calls ineligible gets no job; an eligible one does', async () => {
  const asked: ExecutorId[] = [];
  const s = await setup({
    settlement: {
      async executorEligible(e) {
        asked.push(e);
        return e === B ? { ok: true } : { ok: false, why: 'bond too small' };
      },
    },
  });
  try {
    await s.enqueue(0);
    await s.join(A, 4);
    await waitFor(() => asked.includes(A), 'the eligibility check of A');
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.order.length, 0);
    assert.equal(s.d.liveCount(), 0);
    await s.join(B, 4);
    await waitFor(() => s.order.length === 1, 'the assignment to B');
    assert.equal(s.order[0][0], B);
  } finally {
    await s.close();
  }
});

test('an executor silent past executorTimeoutMs gets no more jobs', async () => {
  const s = await setup({ config: { executorTimeoutMs: 30 } });
  try {
    await s.join(A, 4);
    assert.equal(s.d.liveCount(), 1);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(s.d.liveCount(), 0);
    await s.enqueue(0);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.order.length, 0);
    assert.equal(s.d.queued, 1);
  } finally {
    await s.close();
  }
});

test('a job that lost a dispute goes to the back of the queue, away from the executor that lied', async () => {
  const s = await setup();
  try {
    const first = await s.enqueue(0);
    const lost = await seedJob(s.ledger, 1);
    s.d.requeueLost(lost.jobId, [A], { seq: 1, jobId: lost.jobId, inputs: { x: int8([1]) } });
    await s.join(B, 1);
    await waitFor(() => s.order.length === 1, 'the first assignment');
    assert.deepEqual(s.order[0], [B, s.order[0][1]]);
    assert.equal(s.order[0][1].jobId, first.jobId, 'the lost job waits behind the one queued before it');
    await s.join(A, 4);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.order.length, 1, 'A has room, but lied about the lost job');
    await answer(s.bus, B, first.jobId);
    await waitFor(() => s.order.length === 2, 'the lost job on B');
    assert.deepEqual(
      s.order.map(([ex, m]) => [ex, m.jobId]),
      [
        [B, first.jobId],
        [B, lost.jobId],
      ],
    );
  } finally {
    await s.close();
  }
});
