// Views: a job's view follows its record (outputs, batch, proof, finalized), and batch listings stay light.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batch, verifyInclusion } from '../state/job.ts';
import { seqKey } from '../state/store.ts';
import { toStored } from '../state/tensor-map.ts';
import type { BatchIndex, JobId } from '../state/types.ts';
import { toRecord, type BatchState, type JobState } from './ledger.ts';
import { int8, seedJob, tempLedger } from './testing.ts';
import { Views } from './views.ts';

test('a queued job shows no outputs or batch; an executed one shows its outputs unless asked not to', async () => {
  const t = await tempLedger();
  try {
    const views = new Views(t.ledger);
    const q = await seedJob(t.ledger, 0);
    const qv = (await views.getJob(q.jobId))!;
    assert.equal(qv.status, 'queued');
    assert.equal(qv.outputs, undefined);
    assert.equal(qv.batch, undefined);

    const e = await seedJob(t.ledger, 1, { status: 'executed' });
    await t.ledger.store.write([t.ledger.outputs.put(e.jobId, toStored({ y: int8([1]) }))]);
    const ev = (await views.getJob(e.jobId))!;
    assert.equal(ev.status, 'executed');
    assert.equal(ev.outputDigest, e.outputDigest);
    assert.deepEqual(ev.outputs, { y: int8([1]) });
    assert.equal((await views.getJob(e.jobId, { outputs: false }))!.outputs, undefined);
    assert.deepEqual(await views.getInputs(q.jobId), { x: int8([0, 1, 2, 3]) });
    assert.equal(await views.getJob('00'.repeat(32) as JobId), undefined);
  } finally {
    await t.close();
  }
});

test('a batched job carries a proof that verifies against its batch root, and reads finalized with its batch', async () => {
  const t = await tempLedger();
  try {
    const jobs: JobState[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await seedJob(t.ledger, i, { status: 'executed' }));
    const tree = new Batch(0 as BatchIndex, jobs.map(toRecord));
    const b: BatchState = {
      index: 0,
      root: tree.root,
      jobCount: 3,
      jobIds: jobs.map((j) => j.jobId),
      createdAt: 1,
      windowEndsAt: 2,
      status: 'committed',
    };
    await t.ledger.store.write([
      t.ledger.batches.put(seqKey(0), b),
      ...jobs.map((j, i) =>
        t.ledger.jobs.put(j.jobId, { ...j, status: 'batched', batchIndex: 0, position: i }),
      ),
    ]);
    for (const j of jobs) t.ledger.active.delete(j.jobId);

    // A fresh Views has no tree: it rebuilds it from the stored records.
    const views = new Views(t.ledger);
    const v = (await views.getJob(jobs[2].jobId))!;
    assert.equal(v.status, 'batched');
    assert.deepEqual(v.batch, { index: 0, root: tree.root });
    assert.equal(v.proof?.index, 2);
    assert.ok(verifyInclusion(v.proof!));
    assert.equal((await views.getJob(jobs[2].jobId, { proof: false }))!.proof, undefined);
    assert.deepEqual(await views.batchRecords(b), jobs.map(toRecord));

    await t.ledger.store.write([t.ledger.batches.put(seqKey(0), { ...b, status: 'finalized' })]);
    assert.equal((await views.getJob(jobs[0].jobId))!.status, 'finalized');
    assert.deepEqual(await views.listBatches(), [{ ...b, status: 'finalized', jobIds: [] }]);
    assert.equal((await views.getBatch(0))?.jobIds.length, 3);
  } finally {
    await t.close();
  }
});

test('batch records refuse a batch whose job lost its result', async () => {
  const t = await tempLedger();
  try {
    const q = await seedJob(t.ledger, 0);
    const views = new Views(t.ledger);
    await assert.rejects(
      views.batchRecords({
        index: 4,
        root: q.inputDigest,
        jobCount: 1,
        jobIds: [q.jobId],
        createdAt: 0,
        windowEndsAt: 0,
        status: 'committed',
      }),
      (e: Error & { code?: string }) =>
        e.code === 'STORE_CORRUPT' && /batch 4: job .* is missing its result/.test(e.message),
    );
  } finally {
    await t.close();
  }
});
