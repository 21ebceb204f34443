// Batcher: cuts at max jobs and at max age, oldest first, persists before committing, root as state/ builds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batch, batchRoot, verifyInclusion } from '../state/job.ts';
import { seqKey } from '../state/store.ts';
import type { BatchIndex } from '../state/types.ts';
import { Batcher, type BatcherConfig } from './batcher.ts';
import { toRecord, type BatchState, type JobState } from './ledger.ts';
import { RecordingMetrics, seedJob, tempLedger, waitFor } from './testing.ts';

async function setup(config: BatcherConfig, opts: { failCommit?: boolean } = {}) {
  const t = await tempLedger();
  const committed: BatchState[] = [];
  const remembered = new Map<number, Batch>();
  const metrics = new RecordingMetrics();
  /** What the store held for each batch at the moment it was handed to settlement. */
  const storedAtCommit: (BatchState | undefined)[] = [];
  const batcher = new Batcher(
    config,
    t.ledger,
    {
      async commit(b) {
        storedAtCommit.push(await t.ledger.batches.get(seqKey(b.index)));
        if (opts.failCommit) throw new Error('settlement unreachable');
        const c: BatchState = { ...b, status: 'committed', windowEndsAt: 99 };
        committed.push(c);
        return c;
      },
    },
    { remember: (i, b) => remembered.set(i, b) },
    metrics,
  );
  return { ...t, ledger: t.ledger, batcher, committed, remembered, metrics, storedAtCommit };
}

async function executed(ledger: Parameters<typeof seedJob>[0], n: number, from = 0): Promise<JobState[]> {
  const out = [];
  for (let i = from; i < from + n; i++) out.push(await seedJob(ledger, i, { status: 'executed' }));
  return out;
}

test('due: never when empty, at batchMaxJobs waiting, or once the oldest is batchMaxAgeMs old', async () => {
  const s = await setup({ batchMaxJobs: 3, batchMaxAgeMs: 1_000 });
  try {
    assert.equal(s.batcher.due(10_000), false);
    const [a, b] = await executed(s.ledger, 2);
    s.batcher.restore({ seq: 0, jobId: a.jobId, at: 5_000 });
    s.batcher.restore({ seq: 1, jobId: b.jobId, at: 5_500 });
    assert.equal(s.batcher.due(5_999), false);
    assert.equal(s.batcher.due(6_000), true, 'the oldest, not the newest, sets the age');
    const [c] = await executed(s.ledger, 1, 2);
    s.batcher.restore({ seq: 2, jobId: c.jobId, at: 5_900 });
    assert.equal(s.batcher.due(5_900), true, 'full');
  } finally {
    await s.close();
  }
});

test('the batchMaxJobs-th executed job cuts a batch at once; its root is the state/ Merkle root', async () => {
  const s = await setup({ batchMaxJobs: 3, batchMaxAgeMs: 3_600_000 });
  try {
    const jobs = await executed(s.ledger, 3);
    s.batcher.add({ seq: 0, jobId: jobs[0].jobId, at: Date.now() });
    s.batcher.add({ seq: 1, jobId: jobs[1].jobId, at: Date.now() });
    assert.equal(s.committed.length, 0);
    s.batcher.add({ seq: 2, jobId: jobs[2].jobId, at: Date.now() });
    await waitFor(() => s.committed.length === 1, 'the batch cut by the third job');

    const b = s.committed[0];
    assert.equal(b.index, 0);
    assert.equal(b.jobCount, 3);
    assert.deepEqual(
      b.jobIds,
      jobs.map((j) => j.jobId),
    );
    assert.equal(b.root, batchRoot(jobs.map(toRecord)));
    assert.equal(s.batcher.waiting, 0);
    assert.equal(s.ledger.nextBatch, 1);
    assert.equal(s.metrics.observed.get('batch_build_seconds')?.length, 1);
    // The tree handed over proves each job against the committed root.
    const tree = s.remembered.get(0)!;
    assert.equal(tree.root, b.root);
    assert.ok(verifyInclusion(tree.proof(2)));
  } finally {
    await s.close();
  }
});

test('a cut takes at most batchMaxJobs, oldest first, and leaves the rest waiting', async () => {
  const s = await setup({ batchMaxJobs: 2, batchMaxAgeMs: 0 });
  try {
    const jobs = await executed(s.ledger, 3);
    jobs.forEach((j, i) => s.batcher.restore({ seq: i, jobId: j.jobId, at: 0 }));
    const first = (await s.batcher.cut())!;
    assert.deepEqual(first.jobIds, [jobs[0].jobId, jobs[1].jobId]);
    assert.equal(s.batcher.waiting, 1);
    const second = (await s.batcher.cut())!;
    assert.equal(second.index, 1);
    assert.deepEqual(second.jobIds, [jobs[2].jobId]);
    assert.equal(await s.batcher.cut(), undefined, 'nothing left to cut');
  } finally {
    await s.close();
  }
});

test('a batch is persisted, with its jobs batched and out of the open table, before it is committed', async () => {
  const s = await setup({ batchMaxJobs: 8, batchMaxAgeMs: 0 });
  try {
    const jobs = await executed(s.ledger, 2);
    s.ledger.nextSeq = 7;
    jobs.forEach((j, i) => s.batcher.restore({ seq: i, jobId: j.jobId, at: 0 }));
    await s.batcher.cut();
    const stored = s.storedAtCommit[0]!;
    assert.equal(stored.status, 'pending');
    assert.equal(stored.root, s.committed[0].root);
    assert.equal(await s.ledger.meta.get('nextBatch'), 1);
    assert.equal(await s.ledger.meta.get('nextSeq'), 7);
    for (const [i, j] of jobs.entries()) {
      const after = (await s.ledger.jobs.get(j.jobId))!;
      assert.equal(after.status, 'batched');
      assert.equal(after.batchIndex, 0);
      assert.equal(after.position, i);
      assert.equal(await s.ledger.open.get(seqKey(j.seq)), undefined);
      assert.equal(s.ledger.active.has(j.jobId), false);
    }
  } finally {
    await s.close();
  }
});

test('a failed commit leaves the batch persisted as pending and lets the next cut run', async () => {
  const s = await setup({ batchMaxJobs: 1, batchMaxAgeMs: 0 }, { failCommit: true });
  try {
    const jobs = await executed(s.ledger, 2);
    jobs.forEach((j, i) => s.batcher.restore({ seq: i, jobId: j.jobId, at: 0 }));
    await assert.rejects(s.batcher.cut(), /settlement unreachable/);
    assert.equal((await s.ledger.batches.get(seqKey(0)))?.status, 'pending');
    await assert.rejects(s.batcher.cut(), /settlement unreachable/);
    assert.equal(
      (await s.ledger.batches.get(seqKey(1)))?.status,
      'pending',
      'the batching flag was released',
    );
  } finally {
    await s.close();
  }
});

test('a second cut while one is running returns nothing and takes no job twice', async () => {
  const s = await setup({ batchMaxJobs: 8, batchMaxAgeMs: 0 });
  try {
    const jobs = await executed(s.ledger, 2);
    jobs.forEach((j, i) => s.batcher.restore({ seq: i, jobId: j.jobId, at: 0 }));
    const [a, b] = await Promise.all([s.batcher.cut(), s.batcher.cut()]);
    assert.equal(a?.jobCount, 2);
    assert.equal(b, undefined);
    assert.equal(s.committed.length, 1);
    assert.equal(new Batch(0 as BatchIndex, jobs.map(toRecord)).root, a?.root);
  } finally {
    await s.close();
  }
});
