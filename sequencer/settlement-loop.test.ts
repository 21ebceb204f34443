// Settlement loop: commits and announces roots, retries pending commits, finalizes after the window, re-runs lost jobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import type { BatchCommittedMessage } from '../bus/messages.ts';
import { seqKey } from '../state/store.ts';
import type { ExecutorId, JobId } from '../state/types.ts';
import type { QueuedJob } from './dispatch.ts';
import { toRecord, type BatchState, type JobState, type Ledger } from './ledger.ts';
import { LocalSettlement, type BatchHeader, type Settlement } from './ports.ts';
import { SETTLEMENT_POLL_MS, SettlementLoop } from './settlement-loop.ts';
import { checkIntegrity } from './integrity.ts';
import {
  RecordingMetrics,
  executorId,
  int8,
  recordingLogger,
  seedJob,
  tempLedger,
  waitFor,
} from './testing.ts';
import { toStored } from '../state/tensor-map.ts';
import { batchRoot } from '../state/job.ts';

const A = executorId('A');

async function setup(settlement: Settlement) {
  const t = await tempLedger();
  const bus = createMemoryBus();
  const announced: BatchCommittedMessage[] = [];
  const consumer = await messages.consume(bus, messages.BATCH_COMMITTED, 'all', 'test-challenger', (m) => {
    announced.push(m);
  });
  const requeued: { jobId: JobId; excluded: ExecutorId[]; job: QueuedJob | undefined }[] = [];
  let dispatched = 0;
  const metrics = new RecordingMetrics();
  const logs = recordingLogger();
  const loop = new SettlementLoop(
    t.ledger,
    settlement,
    bus,
    {
      requeueLost: (jobId, excluded, job) => requeued.push({ jobId, excluded, job }),
      dispatch: () => dispatched++,
    },
    logs.log,
    metrics,
  );
  return {
    ...t,
    ledger: t.ledger,
    loop,
    announced,
    requeued,
    dispatched: () => dispatched,
    metrics,
    logs,
    async close() {
      await consumer.stop();
      await bus.close();
      await t.close();
    },
  };
}

/** Persists a pending batch of `n` executed, batched jobs, as the batcher leaves it. */
async function pendingBatch(
  ledger: Ledger,
  index: number,
  n: number,
): Promise<{ b: BatchState; jobs: JobState[] }> {
  const jobs: JobState[] = [];
  for (let i = 0; i < n; i++) {
    const j = await seedJob(ledger, index * 100 + i, { status: 'executed', executor: A });
    const batched: JobState = { ...j, status: 'batched', batchIndex: index, position: i };
    await ledger.store.write([ledger.jobs.put(j.jobId, batched), ledger.open.del(seqKey(j.seq))]);
    ledger.active.delete(j.jobId);
    jobs.push(batched);
  }
  const b: BatchState = {
    index,
    root: batchRoot(jobs.map(toRecord)),
    jobCount: n,
    jobIds: jobs.map((j) => j.jobId),
    createdAt: 1,
    windowEndsAt: 0,
    status: 'pending',
  };
  await ledger.store.write([ledger.batches.put(seqKey(index), b)]);
  return { b, jobs };
}

test('commit records the window from settlement and announces the batch to challengers', async () => {
  const headers: BatchHeader[] = [];
  const s = await setup({
    kind: 'fake',
    async commitBatch(h) {
      headers.push(h);
      return { windowEndsAt: 12_345 };
    },
    canFinalize: async () => false,
  });
  try {
    const { b } = await pendingBatch(s.ledger, 0, 2);
    const c = await s.loop.commit(b);
    assert.deepEqual(headers, [{ index: 0, root: b.root, jobCount: 2 }]);
    assert.equal(c.status, 'committed');
    assert.equal(c.windowEndsAt, 12_345);
    assert.deepEqual(await s.ledger.batches.get(seqKey(0)), c);
    assert.equal(s.loop.open, 1);
    await waitFor(() => s.announced.length === 1, 'the batch announcement');
    assert.deepEqual(s.announced[0], { index: 0, root: b.root, jobCount: 2, windowEndsAt: 12_345 });
    assert.equal(s.metrics.count('batches_committed_total'), 1);
    assert.equal(s.logs.lines.find((l) => l.msg === 'batch committed')?.settlement, 'fake');
  } finally {
    await s.close();
  }
});

test('batches a crash left pending are committed in order on retry; a failure waits for the next try', async () => {
  let down = true;
  const committedIdx: number[] = [];
  const settlement: Settlement = {
    kind: 'fake',
    async commitBatch(h) {
      if (down) throw new Error('rpc down');
      committedIdx.push(h.index);
      return { windowEndsAt: 1 };
    },
    canFinalize: async () => false,
  };
  const s = await setup(settlement);
  try {
    await pendingBatch(s.ledger, 0, 1);
    await pendingBatch(s.ledger, 1, 1);
    await s.loop.recover();
    await s.loop.retryCommits();
    assert.equal(s.logs.lines.filter((l) => l.msg === 'batch commit failed; will retry').length, 1);
    assert.equal((await s.ledger.batches.get(seqKey(0)))?.status, 'pending');
    down = false;
    await s.loop.retryCommits();
    assert.deepEqual(committedIdx, [0, 1]);
    assert.equal((await s.ledger.batches.get(seqKey(1)))?.status, 'committed');
    await s.loop.retryCommits();
    assert.deepEqual(committedIdx, [0, 1], 'nothing is committed twice');
  } finally {
    await s.close();
  }
});

test('a batch finalizes once settlement says its window is over, and only once', async () => {
  const s = await setup(new LocalSettlement(50));
  try {
    const { b } = await pendingBatch(s.ledger, 0, 1);
    const c = await s.loop.commit(b);
    await s.loop.poll(c.windowEndsAt - 1);
    assert.equal((await s.ledger.batches.get(seqKey(0)))?.status, 'committed');
    await s.loop.poll(c.windowEndsAt + SETTLEMENT_POLL_MS);
    const done = (await s.ledger.batches.get(seqKey(0)))!;
    assert.equal(done.status, 'finalized');
    assert.ok(done.finalizedAt);
    assert.equal(s.loop.open, 0);
    await s.loop.poll(c.windowEndsAt + 3 * SETTLEMENT_POLL_MS);
    assert.equal(s.metrics.count('batches_finalized_total'), 1);
    assert.ok(s.logs.lines.some((l) => l.msg === 'batch finalized'));
  } finally {
    await s.close();
  }
});

test('settlement is asked at most once per SETTLEMENT_POLL_MS', async () => {
  let asked = 0;
  const s = await setup({
    kind: 'fake',
    commitBatch: async () => ({ windowEndsAt: 0 }),
    async canFinalize() {
      asked++;
      return false;
    },
  });
  try {
    const { b } = await pendingBatch(s.ledger, 0, 1);
    await s.loop.commit(b);
    await s.loop.poll(10_000);
    await s.loop.poll(10_000 + SETTLEMENT_POLL_MS - 1);
    assert.equal(asked, 1);
    await s.loop.poll(10_000 + SETTLEMENT_POLL_MS);
    assert.equal(asked, 2);
  } finally {
    await s.close();
  }
});

test('a job that lost a dispute is re-queued once, away from its executor, and its batch remembers it', async () => {
  const s = await setup({
    kind: 'fake',
    commitBatch: async () => ({ windowEndsAt: 0 }),
    canFinalize: async () => false,
    invalidatedJobs: async () => [1],
  });
  try {
    const { b, jobs } = await pendingBatch(s.ledger, 0, 3);
    await s.loop.commit(b);
    await s.loop.poll(10_000);
    const lost = jobs[1];
    assert.equal(s.requeued.length, 1);
    assert.equal(s.requeued[0].jobId, lost.jobId);
    assert.deepEqual(s.requeued[0].excluded, [A]);
    assert.equal(s.requeued[0].job?.seq, lost.seq);
    assert.ok(s.requeued[0].job?.inputs.x, 'the stored inputs go with it');
    assert.equal(s.dispatched(), 1);

    const after = (await s.ledger.jobs.get(lost.jobId))!;
    assert.equal(after.status, 'queued');
    assert.equal(after.attempts, 0);
    assert.equal(after.executor, undefined);
    assert.equal(after.batchIndex, undefined);
    assert.deepEqual(after.excluded, [A]);
    assert.deepEqual(
      after.invalidations?.map(({ batchIndex, position, executor }) => ({ batchIndex, position, executor })),
      [{ batchIndex: 0, position: 1, executor: A }],
    );
    assert.equal(await s.ledger.open.get(seqKey(lost.seq)), lost.jobId, 'open again, so a crash keeps it');
    assert.deepEqual((await s.ledger.batches.get(seqKey(0)))?.invalidated, [1]);
    assert.equal((await s.ledger.jobs.get(jobs[0].jobId))?.status, 'batched', 'the others stay batched');
    assert.equal(s.metrics.count('jobs_reassigned_total'), 1);

    await s.loop.poll(10_000 + SETTLEMENT_POLL_MS);
    assert.equal(s.requeued.length, 1, 'the same position is not re-queued twice');
    assert.deepEqual((await s.ledger.batches.get(seqKey(0)))?.invalidated, [1], 'nor recorded twice');
  } finally {
    await s.close();
  }
});

test('a batch with a position that lost a dispute still has its root rebuilt at start: a changed record there is found', async () => {
  const s = await setup({
    kind: 'fake',
    commitBatch: async () => ({ windowEndsAt: 0 }),
    canFinalize: async () => false,
    invalidatedJobs: async () => [1],
  });
  try {
    const { b, jobs } = await pendingBatch(s.ledger, 0, 3);
    await s.loop.commit(b);
    await s.loop.poll(10_000);
    const lost = (await s.ledger.jobs.get(jobs[1].jobId))!;
    assert.equal(lost.invalidations?.[0].outputDigest, jobs[1].outputDigest, 'the lie is remembered');
    assert.equal(lost.signature, undefined, 'the re-queued job holds no stale signature');
    // What the batcher and the results would have stored beside it: the counter and the outputs served.
    await s.ledger.store.write([
      s.ledger.meta.put('nextBatch', 1),
      ...[0, 2].map((i) => s.ledger.outputs.put(jobs[i].jobId, toStored({ y: int8([jobs[i].seq]) }))),
    ]);
    const local = { kind: 'local' } as unknown as Settlement;
    await checkIntegrity(s.ledger, local);
    // Another position of that batch changed on disk: before, a batch with an invalidated position was never rebuilt.
    const other = (await s.ledger.jobs.get(jobs[2].jobId))!;
    await s.ledger.store.write([s.ledger.jobs.put(other.jobId, { ...other, fee: other.fee + 1 })]);
    await assert.rejects(checkIntegrity(s.ledger, local), (e: Error) => {
      assert.match(e.message, /batch 0: its job records rebuild root [0-9a-f]{64}, expected/);
      return true;
    });
  } finally {
    await s.close();
  }
});

test('recover keeps committed batches open and skips finalized ones', async () => {
  const s = await setup(new LocalSettlement(0));
  try {
    const { b: b0 } = await pendingBatch(s.ledger, 0, 1);
    const { b: b1 } = await pendingBatch(s.ledger, 1, 1);
    await s.ledger.store.write([
      s.ledger.batches.put(seqKey(0), { ...b0, status: 'finalized' }),
      s.ledger.batches.put(seqKey(1), { ...b1, status: 'committed', windowEndsAt: 5 }),
    ]);
    await s.loop.recover();
    assert.equal(s.loop.open, 1);
    await s.loop.poll(10_000);
    assert.equal((await s.ledger.batches.get(seqKey(1)))?.status, 'finalized');
    assert.equal(s.metrics.count('batches_finalized_total'), 1);
  } finally {
    await s.close();
  }
});
