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
import { Intake } from './intake.ts';
import type { JobState, Ledger } from './ledger.ts';
import type { Settlement } from './ports.ts';
import {
  RecordingMetrics,
  executorId,
  int8,
  recordingLogger,
  signFor,
  seedJob,
  tempLedger,
  waitFor,
} from './testing.ts';

const A = executorId('A');
const B = executorId('B');
const CONFIG: DispatchConfig = { assignTimeoutMs: 60_000, executorTimeoutMs: 10_000, maxAttempts: 3 };

/** A dispatcher on a memory bus, with executors that only record what they are assigned. */
async function setup(
  opts: { config?: Partial<DispatchConfig>; settlement?: Pick<Settlement, 'executorBond'> } = {},
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
  /** What the job's record on disk said at the moment each assignment reached its executor. */
  const onDiskAtDelivery: Promise<JobState | undefined>[] = [];
  const consumers: { stop(): Promise<void> }[] = [];
  const beating = new Map<ExecutorId, NodeJS.Timeout>();
  /** Heartbeats every `everyMs` until `silence(id)`, as a live executor does. */
  async function keepBeating(id: ExecutorId, capacity: number, everyMs = 10): Promise<void> {
    await join(id, capacity);
    beating.set(
      id,
      setInterval(() => messages.publish(bus, messages.HEARTBEAT, id, { executorId: id, capacity }), everyMs),
    );
  }
  function silence(id: ExecutorId): void {
    clearInterval(beating.get(id));
    beating.delete(id);
  }
  async function join(id: ExecutorId, capacity: number): Promise<void> {
    if (!got.has(id)) {
      got.set(id, []);
      consumers.push(
        await messages.consume(bus, messages.ASSIGN, { of: id }, `exec-${id}`, (m) => {
          got.get(id)!.push(m);
          order.push([id, m]);
          onDiskAtDelivery.push(t.ledger.jobs.get(m.jobId));
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
    onDiskAtDelivery,
    join,
    keepBeating,
    silence,
    async enqueue(seq: number): Promise<JobState> {
      const j = await seedJob(t.ledger, seq);
      d.enqueue({ seq, jobId: j.jobId, inputs: fromStored((await t.ledger.inputs.get(j.jobId))!) });
      return j;
    },
    async close() {
      for (const id of [...beating.keys()]) silence(id);
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

/** `executor`'s signed result for job `j`: one int8 output `value`. */
function answer(bus: Bus, executor: ExecutorId, j: JobState, value = 7): Promise<void> {
  const outputs = { y: int8([value]) };
  const outputDigest = tensorSetDigest(outputs);
  return messages.send(bus, messages.RESULT, executor, {
    jobId: j.jobId,
    executor,
    outputs,
    outputDigest,
    signature: signFor(executor, j, outputDigest),
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

    await answer(s.bus, A, jobs[0]);
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
    await answer(s.bus, A, j, 42);
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
    await answer(s.bus, B, j);
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

test('a result whose signature does not verify is refused, counted, and the job goes to another executor', async () => {
  const s = await setup();
  try {
    await s.join(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment');
    const outputs = { y: int8([1]) };
    const outputDigest = tensorSetDigest(outputs);
    // Signed by another executor's key: a record naming A that A never signed.
    await messages.send(s.bus, messages.RESULT, A, {
      jobId: j.jobId,
      executor: A,
      outputs,
      outputDigest,
      signature: signFor(executorId('Z'), j, outputDigest),
    });
    await waitFor(() => s.metrics.count('results_bad_signature_total') === 1, 'the refusal');
    await waitFor(() => s.metrics.count('jobs_reassigned_total') === 1, 'the re-queue');
    const line = s.logs.lines.find((l) => l.msg === 'job re-queued');
    assert.match(String(line?.why), /signature does not verify/);
    assert.equal(s.executed.length, 0);
    assert.deepEqual((await stateOf(s.ledger, j)).excluded, [A]);
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
    assert.equal(failed.error, `executor ${A} failed: out of memory; gave up after 1 attempt`);
    assert.equal(await s.ledger.open.get(seqKey(5)), undefined);
    assert.equal(await s.ledger.meta.get('nextSeq'), 6);
    assert.equal(s.ledger.active.has(j.jobId), false);
    assert.equal(s.d.queued, 0);
  } finally {
    await s.close();
  }
});

test('an executor whose free bond is below one stake gets no job; a bonded one does', async () => {
  const asked: ExecutorId[] = [];
  const s = await setup({
    settlement: {
      async executorBond(e: ExecutorId) {
        asked.push(e);
        return { free: e === B ? 10n : 9n, unbonding: 0n, stake: 10n };
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
    await answer(s.bus, B, first);
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

/** Runs `expire` every `everyMs` the way the sequencer's timer does (never two at once). */
function ticking(d: Dispatcher, everyMs = 10): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void d.expire(Date.now()).finally(() => (busy = false));
  }, everyMs);
  return { stop: () => clearInterval(timer) };
}

test('a job that every live executor fails ends failed with the last error, before maxAttempts', async () => {
  // Today: with two executors each failure excludes one, the third attempt is never made, and the job stays queued.
  const s = await setup({ config: { maxAttempts: 3, executorTimeoutMs: 100 } });
  try {
    await s.keepBeating(A, 4);
    await s.keepBeating(B, 4);
    const j = await s.enqueue(4);
    await waitFor(() => s.order.length === 1, 'the first assignment');
    const [first] = s.order[0];
    const second = first === A ? B : A;
    await messages.send(s.bus, messages.RESULT, first, { jobId: j.jobId, executor: first, error: 'boom 1' });
    await waitFor(() => s.order.length === 2, 'the second assignment');
    assert.equal(s.order[1][0], second);
    await messages.send(s.bus, messages.RESULT, second, {
      jobId: j.jobId,
      executor: second,
      error: 'boom 2',
    });
    await waitFor(async () => (await s.ledger.jobs.get(j.jobId))?.status === 'failed', 'the failure');
    const failed = (await s.ledger.jobs.get(j.jobId))!;
    assert.match(failed.error!, /boom 2/, 'the last error');
    assert.match(failed.error!, /every live executor has failed it/);
    assert.equal(failed.attempts, 2, 'ended before the attempt limit');
    assert.equal(await s.ledger.open.get(seqKey(4)), undefined, 'no longer open');
    assert.equal(s.ledger.active.has(j.jobId), false);
    assert.equal(s.d.queued, 0);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(s.order.length, 2, 'never assigned again');
  } finally {
    await s.close();
  }
});

test('an executor that stops heart-beating loses its in-flight job at the lapse, long before the assignment timeout', async () => {
  const s = await setup({ config: { assignTimeoutMs: 60_000, executorTimeoutMs: 100 } });
  const ticker = ticking(s.d);
  try {
    await s.keepBeating(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment to A');
    await s.keepBeating(B, 4);
    const silencedAt = Date.now();
    s.silence(A);
    await waitFor(() => s.order.length === 2, 'the re-run on B', 2_000);
    const elapsed = Date.now() - silencedAt;
    assert.equal(s.order[1][0], B);
    assert.equal(s.order[1][1].jobId, j.jobId);
    assert.ok(
      elapsed < 1_000,
      `re-queued ${elapsed} ms after the last heartbeat (lapse 100 ms, deadline 60 s)`,
    );
    const now = await stateOf(s.ledger, j);
    assert.equal(now.status, 'executing');
    assert.equal(now.executor, B);
    assert.equal(now.attempts, 2, 'the lapsed attempt counts');
    assert.deepEqual(now.excluded, [], 'a lapse is not a failure of the job');
    assert.match(
      String(s.logs.lines.find((l) => l.msg === 'job re-queued')?.why),
      new RegExp(`executor ${A} stopped heart-beating`),
    );
  } finally {
    ticker.stop();
    await s.close();
  }
});

test('a late result from an executor whose job was re-queued at its lapse is ignored; the re-run is batched once', async () => {
  const s = await setup({ config: { executorTimeoutMs: 100 } });
  const ticker = ticking(s.d);
  try {
    await s.keepBeating(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment to A');
    await s.keepBeating(B, 4);
    s.silence(A);
    await waitFor(() => s.order.length === 2, 'the re-run on B');
    await answer(s.bus, A, j, 1);
    await waitFor(
      () => s.logs.lines.some((l) => l.msg === 'ignoring a result for a job not assigned to that executor'),
      "A's late result ignored",
    );
    assert.equal(s.executed.length, 0);
    await answer(s.bus, B, j, 2);
    await waitFor(() => s.executed.length === 1, "B's result");
    await answer(s.bus, A, j, 1);
    await answer(s.bus, B, j, 2);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(s.executed.length, 1, 'batched once');
    const done = (await s.ledger.jobs.get(j.jobId))!;
    assert.equal(done.executor, B);
    assert.equal(done.outputDigest, tensorSetDigest({ y: int8([2]) }));
  } finally {
    ticker.stop();
    await s.close();
  }
});

test('a lapse is not a failure: the lone executor that comes back runs the job again', async () => {
  const s = await setup({ config: { executorTimeoutMs: 100 } });
  const ticker = ticking(s.d);
  try {
    await s.keepBeating(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment to A');
    s.silence(A);
    await waitFor(() => s.metrics.count('jobs_reassigned_total') === 1, 'the re-queue at the lapse');
    assert.equal((await stateOf(s.ledger, j)).status, 'queued');
    await s.keepBeating(A, 4);
    await waitFor(() => s.order.length === 2, 'the job back on A');
    assert.equal(s.order[1][0], A);
    assert.equal((await stateOf(s.ledger, j)).attempts, 2);
  } finally {
    ticker.stop();
    await s.close();
  }
});

test('a job whose executor dies with it every time ends failed after maxAttempts lapses', async () => {
  const s = await setup({ config: { maxAttempts: 2, executorTimeoutMs: 100 } });
  const ticker = ticking(s.d);
  try {
    await s.keepBeating(A, 4);
    await s.keepBeating(B, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the first assignment');
    s.silence(s.order[0][0]);
    await waitFor(() => s.order.length === 2, 'the second assignment');
    s.silence(s.order[1][0]);
    await waitFor(async () => (await s.ledger.jobs.get(j.jobId))?.status === 'failed', 'the failure');
    const failed = (await s.ledger.jobs.get(j.jobId))!;
    assert.match(failed.error!, /stopped heart-beating/);
    assert.match(failed.error!, /2 attempts/);
  } finally {
    ticker.stop();
    await s.close();
  }
});

test('a sequencer that stalled longer than the lapse takes no job from executors it could not hear', async () => {
  // Until runs leave the event loop, a long run in the all-in-one node freezes the sequencer and the executors
  // alike; on waking, the sequencer must not read its own deafness as the executors' death.
  const s = await setup({ config: { executorTimeoutMs: 100 } });
  const ticker = ticking(s.d);
  try {
    await s.keepBeating(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment to A');
    const until = Date.now() + 300;
    while (Date.now() < until); // the event loop is blocked: no heartbeat, no tick
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(s.metrics.count('jobs_reassigned_total'), 0);
    assert.equal((await stateOf(s.ledger, j)).executor, A);
    assert.equal(s.order.length, 1);
  } finally {
    ticker.stop();
    await s.close();
  }
});

test('an assignment is on disk, attempt counted, before its executor receives it', async () => {
  const s = await setup();
  try {
    await s.join(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment');
    const atDelivery = await s.onDiskAtDelivery[0];
    assert.equal(atDelivery?.status, 'executing');
    assert.equal(atDelivery?.executor, A);
    assert.equal(atDelivery?.attempts, 1);
    assert.equal(s.order[0][1].jobId, j.jobId);
  } finally {
    await s.close();
  }
});

test('a job that hangs the node on every start is failed by the start after maxAttempts, which then serves', async () => {
  // The node is killed while the job runs (the run never returns); each restart re-dispatches it. Attempts in
  // flight at a crash count, so the fourth start ends the job instead of running it again.
  const t = await tempLedger();
  const j = await seedJob(t.ledger, 0);
  const healthy = await seedJob(t.ledger, 1);
  const assignedAt: number[] = [];
  try {
    for (let start = 1; start <= 4; start++) {
      const ledger = start === 1 ? t.ledger : await t.reopen();
      const bus = createMemoryBus();
      const logs = recordingLogger();
      const d = new Dispatcher(CONFIG, ledger, bus, {}, { add() {} }, logs.log, new RecordingMetrics());
      const intake = new Intake(
        { defaultFeeLamports: 1_000n },
        ledger,
        { get: () => undefined, validateInputs() {} },
        d,
        { restore() {} },
        new RecordingMetrics(),
      );
      await intake.recover();
      const heartbeats = await d.listenHeartbeats();
      const got: AssignMessage[] = [];
      const consumer = await messages.consume(bus, messages.ASSIGN, { of: A }, 'exec-A', (m) => {
        // The poisoned job never returns; the healthy one would, but the node dies first.
        got.push(m);
      });
      messages.publish(bus, messages.HEARTBEAT, A, { executorId: A, capacity: 1 });
      await waitFor(() => got.length === 1, `an assignment on start ${start}`);
      if (got[0].jobId === j.jobId) assignedAt.push(start);
      // kill -9: nothing more is written.
      d.close();
      await consumer.stop();
      await heartbeats.unsubscribe();
      await bus.close();
      if (start === 4) {
        assert.equal(got[0].jobId, healthy.jobId, 'the fourth start serves the healthy job');
        const failed = (await ledger.jobs.get(j.jobId))!;
        assert.equal(failed.status, 'failed');
        assert.match(failed.error!, /the node stopped while it ran/);
        assert.match(failed.error!, /3 attempts/);
        assert.equal(await ledger.open.get(seqKey(0)), undefined);
        assert.equal(d.queued, 0, 'the healthy job was the only one left');
      }
    }
    assert.deepEqual(assignedAt, [1, 2, 3]);
  } finally {
    await t.close();
  }
});

test('a job its only executor failed right after start waits out the start-up grace, then ends failed', async () => {
  // Executors announce themselves within a heartbeat lapse: until then another may still join and take the job.
  const s = await setup({ config: { executorTimeoutMs: 300 } });
  try {
    await s.keepBeating(A, 4);
    const j = await s.enqueue(0);
    await waitFor(() => s.order.length === 1, 'the assignment to A');
    await messages.send(s.bus, messages.RESULT, A, { jobId: j.jobId, executor: A, error: 'bad shape' });
    await waitFor(() => s.metrics.count('jobs_reassigned_total') === 1, 'the re-queue');
    assert.equal((await stateOf(s.ledger, j)).status, 'queued', 'within the grace the job waits');
    assert.equal((await stateOf(s.ledger, j)).lastError, `executor ${A} failed: bad shape`);
    await waitFor(async () => (await s.ledger.jobs.get(j.jobId))?.status === 'failed', 'the failure', 3_000);
    const failed = (await s.ledger.jobs.get(j.jobId))!;
    assert.equal(failed.error, `executor ${A} failed: bad shape; every live executor has failed it`);
    assert.equal(await s.ledger.open.get(seqKey(0)), undefined);
    assert.equal(s.d.queued, 0);
    assert.equal(s.order.length, 1);
  } finally {
    await s.close();
  }
});
