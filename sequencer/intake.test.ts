// Intake: refuses what its model would refuse, acknowledges only what is on disk, and resumes open jobs after a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobId as makeJobId } from '../state/job.ts';
import { seqKey, type WriteOp } from '../state/store.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromStored } from '../state/tensor-map.ts';
import type { ExecutorId, ModelId } from '../state/types.ts';
import type { ExecutedJob } from './batcher.ts';
import type { QueuedJob } from './dispatch.ts';
import { Intake } from './intake.ts';
import type { Ledger } from './ledger.ts';
import type { ModelInfo } from './ports.ts';
import {
  FakeInspector,
  MODEL_ID,
  RecordingMetrics,
  executorId,
  int8,
  seedJob,
  tempLedger,
} from './testing.ts';

const MODEL: ModelInfo = {
  modelId: MODEL_ID,
  name: 'fake',
  inputs: [{ name: 'x', dtype: 'int8', dims: [1, null] }],
  outputs: [],
  provable: false,
  unprovableOps: [],
  sizeBytes: 1,
  registeredAt: 1,
};

function setup(ledger: Ledger) {
  const inspector = new FakeInspector();
  const enqueued: QueuedJob[] = [];
  const restored: { job: QueuedJob; excluded: ExecutorId[] }[] = [];
  const executed: ExecutedJob[] = [];
  const metrics = new RecordingMetrics();
  const intake = new Intake(
    { defaultFeeLamports: 1_000n },
    ledger,
    {
      get: (id: ModelId) => (id === MODEL_ID ? MODEL : undefined),
      validateInputs: (m, inputs) => inspector.validateInputs(m, inputs),
    },
    {
      enqueue: (j) => enqueued.push(j),
      restore: (job, state) => void restored.push({ job, excluded: state.excluded }),
    },
    { restore: (j) => executed.push(j) },
    metrics,
  );
  return { intake, enqueued, restored, executed, metrics };
}

test('a valid job is persisted in jobs, inputs and open, then queued; ids follow the sequence', async () => {
  const t = await tempLedger();
  try {
    const s = setup(t.ledger);
    const inputs = { x: int8([1, 2, 3]) };
    const { jobId } = await s.intake.submit({ modelId: MODEL_ID, inputs, fee: 5n });
    const second = await s.intake.submit({ modelId: MODEL_ID, inputs });
    assert.equal(jobId, makeJobId(0, MODEL_ID, tensorSetDigest(inputs)));
    assert.equal(second.jobId, makeJobId(1, MODEL_ID, tensorSetDigest(inputs)), 'same inputs, new id');
    assert.deepEqual(
      s.enqueued.map((j) => [j.seq, j.jobId]),
      [
        [0, jobId],
        [1, second.jobId],
      ],
    );
    assert.equal(s.metrics.count('jobs_accepted_total'), 2);

    const ledger = await t.reopen();
    const stored = (await ledger.jobs.get(jobId))!;
    assert.equal(stored.status, 'queued');
    assert.equal(stored.fee, '5');
    assert.equal((await ledger.jobs.get(second.jobId))!.fee, '1000', 'the default fee');
    assert.deepEqual(fromStored((await ledger.inputs.get(jobId))!), inputs);
    assert.equal(await ledger.open.get(seqKey(0)), jobId);
    assert.equal(await ledger.open.get(seqKey(1)), second.jobId);
  } finally {
    await t.close();
  }
});

test('oversized inputs: a job whose inputs could not be posted on chain within a data request is refused, naming the bound', async () => {
  const t = await tempLedger();
  try {
    const s = setup(t.ledger);
    // 32 KiB posted at most: u32 count, u16 nameLen, 'x', dtype, rank 2, two u64 dims, then the bytes.
    const fits = 32 * 1024 - (4 + 2 + 1 + 2 + 16);
    await s.intake.submit({ modelId: MODEL_ID, inputs: { x: int8(new Array<number>(fits).fill(1)) } });
    await assert.rejects(
      s.intake.submit({ modelId: MODEL_ID, inputs: { x: int8(new Array<number>(fits + 1).fill(1)) } }),
      /32769 bytes posted, at most 32768/,
    );
    assert.equal(s.metrics.count('jobs_rejected_total'), 1);
    assert.equal(s.enqueued.length, 1);
  } finally {
    await t.close();
  }
});

test('a job is acknowledged only once its write is done', async () => {
  const t = await tempLedger();
  try {
    const s = setup(t.ledger);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const write = t.ledger.write.bind(t.ledger);
    t.ledger.write = (ops: WriteOp[]) => gate.then(() => write(ops));
    let acked = false;
    const pending = s.intake.submit({ modelId: MODEL_ID, inputs: { x: int8([1]) } }).then((r) => {
      acked = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(acked, false);
    assert.equal(s.enqueued.length, 0, 'not handed out before it is durable');
    release();
    const { jobId } = await pending;
    assert.ok((await t.ledger.jobs.get(jobId))?.status === 'queued');
    assert.equal(s.enqueued.length, 1);
  } finally {
    await t.close();
  }
});

test('an unknown model, bad inputs or an out-of-range fee are refused and nothing is stored', async () => {
  const t = await tempLedger();
  try {
    const s = setup(t.ledger);
    await assert.rejects(
      s.intake.submit({ modelId: 'cd'.repeat(32) as ModelId, inputs: { x: int8([1]) } }),
      (e: Error & { code?: string }) => e.code === 'NOT_FOUND' && /POST \/v1\/models first/.test(e.message),
    );
    await assert.rejects(
      s.intake.submit({ modelId: MODEL_ID, inputs: { y: int8([1]) } }),
      (e: Error & { code?: string }) => e.code === 'INVALID_INPUT' && /input 'x'/.test(e.message),
    );
    for (const fee of [-1n, 1n << 64n]) {
      await assert.rejects(
        s.intake.submit({ modelId: MODEL_ID, inputs: { x: int8([1]) }, fee }),
        (e: Error & { code?: string }) =>
          e.code === 'INVALID_INPUT' && /fee: expected 0\.\.2\^64-1/.test(e.message),
      );
    }
    assert.equal(s.metrics.count('jobs_rejected_total'), 2, 'model and input refusals are counted');
    assert.equal(s.enqueued.length, 0);
    assert.deepEqual(await t.ledger.open.entries(), []);
    assert.equal(t.ledger.nextSeq, 0, 'no sequence number is spent on a refusal');
  } finally {
    await t.close();
  }
});

test('a closed intake refuses new jobs as unavailable', async () => {
  const t = await tempLedger();
  try {
    const s = setup(t.ledger);
    s.intake.close();
    await assert.rejects(
      s.intake.submit({ modelId: MODEL_ID, inputs: { x: int8([1]) } }),
      (e: Error & { code?: string }) => e.code === 'UNAVAILABLE',
    );
  } finally {
    await t.close();
  }
});

test('recover queues open jobs again with their exclusions, hands executed ones to the batcher, raises nextSeq', async () => {
  const t = await tempLedger();
  try {
    const queued = await seedJob(t.ledger, 3);
    await t.ledger.store.write([t.ledger.jobs.put(queued.jobId, { ...queued, excluded: [executorId('A')] })]);
    const executing = await seedJob(t.ledger, 4);
    await t.ledger.store.write([
      t.ledger.jobs.put(executing.jobId, { ...executing, status: 'executing', executor: executorId('B') }),
    ]);
    const done = await seedJob(t.ledger, 9, { status: 'executed' });
    const ledger = await t.reopen();
    assert.equal(ledger.nextSeq, 0, 'nothing persisted nextSeq');

    const s = setup(ledger);
    const before = Date.now();
    await s.intake.recover();
    assert.deepEqual(
      s.restored.map((r) => [r.job.seq, r.job.jobId, r.excluded]),
      [
        [3, queued.jobId, [executorId('A')]],
        [4, executing.jobId, []],
      ],
    );
    assert.deepEqual(s.restored[0].job.inputs, { x: int8([3, 1, 2, 3]) });
    assert.deepEqual(
      s.executed.map((e) => [e.seq, e.jobId]),
      [[9, done.jobId]],
    );
    assert.ok(s.executed[0].at >= before, 'the age of a recovered job counts from the restart');
    assert.equal(ledger.nextSeq, 10);
    assert.equal(ledger.active.get(executing.jobId)?.status, 'executing');
    assert.equal(s.enqueued.length, 0, 'nothing is dispatched before executors are known');
  } finally {
    await t.close();
  }
});

test('recover refuses a store whose open job has no record', async () => {
  const t = await tempLedger();
  try {
    await t.ledger.store.write([t.ledger.open.put(seqKey(0), 'ef'.repeat(32) as never)]);
    const s = setup(t.ledger);
    await assert.rejects(s.intake.recover(), (e: Error & { code?: string }) => e.code === 'STORE_CORRUPT');
  } finally {
    await t.close();
  }
});
