// Attacks on the sequencer's LevelDB store: overwrite, truncation, lost and duplicated records must stop the node, never be served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readdirSync, statSync, truncateSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../../bus/bus.ts';
import { createMemoryBus } from '../../bus/memory.ts';
import * as messages from '../../bus/messages.ts';
import { OptinferError } from '../../state/errors.ts';
import { Store, seqKey } from '../../state/store.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import { fromWire } from '../../state/tensor-map.ts';
import type { ExecutorId, Hash32 } from '../../state/types.ts';
import { buildHttp } from '../../sequencer/http.ts';
import { Ledger, type BatchState } from '../../sequencer/ledger.ts';
import { LocalSettlement, type BatchHeader, type Settlement } from '../../sequencer/ports.ts';
import { DEFAULT_SEQUENCER_CONFIG, Sequencer, type SequencerConfig } from '../../sequencer/sequencer.ts';
import { FakeInspector, executorId, int8, signFor, waitFor } from '../../sequencer/testing.ts';

const E = executorId('E');
const JOBS = 96;
const PER_BATCH = 8;

/** Settlement that keeps what it was committed and reads it back, as ChainSettlement does on chain. */
class RecordingChain implements Settlement {
  readonly kind = 'test-chain';
  readonly roots = new Map<number, { root: Hash32; jobCount: number }>();
  async commitBatch(b: BatchHeader): Promise<{ windowEndsAt: number }> {
    const had = this.roots.get(b.index);
    if (had && had.root !== b.root)
      throw new OptinferError(
        'SETTLEMENT_CONFLICT',
        `batch ${b.index} holds root ${had.root}, not ${b.root}`,
      );
    this.roots.set(b.index, { root: b.root, jobCount: b.jobCount });
    return { windowEndsAt: Date.now() + 3_600_000 };
  }
  async canFinalize(): Promise<boolean> {
    return false;
  }
  async batchCount(): Promise<number> {
    return this.roots.size;
  }
  async readBatch(index: number): Promise<{ root: Hash32; jobCount: number } | undefined> {
    return this.roots.get(index);
  }
}

/** An executor that answers every job with its input, signed with its key as a real executor signs. */
async function fakeExecutor(bus: Bus, id: ExecutorId): Promise<{ stop(): Promise<void> }> {
  const consumer = await messages.consume(bus, messages.ASSIGN, { of: id }, 'fake-exec', async (m) => {
    const outputs = { y: int8([m.inputs.x.data[0]]) };
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
  });
  const beat = () => messages.publish(bus, messages.HEARTBEAT, id, { executorId: id, capacity: 8 });
  beat();
  const timer = setInterval(beat, 50);
  return {
    async stop() {
      clearInterval(timer);
      await consumer.stop();
    },
  };
}

function config(dataDir: string): SequencerConfig {
  return { ...DEFAULT_SEQUENCER_CONFIG, dataDir, batchMaxJobs: PER_BATCH, batchMaxAgeMs: 60_000 };
}

/** A real node data dir: JOBS jobs run, batched and committed, plus a few acknowledged and still queued. */
async function builtNode(settlement: Settlement): Promise<{ dataDir: string; db: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-hostile-store-'));
  const bus = createMemoryBus();
  const seq = await Sequencer.start({
    config: config(dataDir),
    bus,
    inspector: new FakeInspector(),
    settlement,
  });
  const exec = await fakeExecutor(bus, E);
  const model = await seq.registerModel(new Uint8Array([1, 2, 3]), 'fake');
  for (let i = 0; i < JOBS; i++) await seq.submit({ modelId: model.modelId, inputs: { x: int8([i % 100]) } });
  await waitFor(
    async () => (await seq.getBatch(JOBS / PER_BATCH - 1))?.status === 'committed',
    'every batch committed',
    10_000,
  );
  await exec.stop();
  for (let i = 0; i < 3; i++) await seq.submit({ modelId: model.modelId, inputs: { x: int8([i]) } });
  await seq.close();
  await bus.close();
  return { dataDir, db: join(dataDir, 'sequencer.db') };
}

function logFile(db: string): string {
  const logs = readdirSync(db).filter((f) => f.endsWith('.log'));
  assert.equal(logs.length, 1, `one LevelDB log in ${readdirSync(db).join(' ')}`);
  return join(db, logs[0]);
}

/** Starts a node on the data dir; resolves with the refusal, or fails the test if it started. */
async function refusal(dataDir: string, settlement: Settlement): Promise<OptinferError> {
  const bus = createMemoryBus();
  try {
    const seq = await Sequencer.start({
      config: config(dataDir),
      bus,
      inspector: new FakeInspector(),
      settlement,
    });
    const batches = await seq.listBatches(1_000);
    await seq.close();
    assert.fail(`the node started on a damaged store (serving ${batches.length} batches)`);
  } catch (e) {
    if (!(e instanceof OptinferError)) throw e;
    assert.equal(e.code, 'STORE_CORRUPT', e.message);
    assert.match(e.message, /restore/i, 'the refusal says how to recover');
    assert.doesNotMatch(e.message, /\n\s+at /, 'no stack trace');
    return e;
  } finally {
    await bus.close();
  }
}

test('an intact store starts again (the checks accept what the node wrote)', async () => {
  const chain = new RecordingChain();
  const { dataDir } = await builtNode(chain);
  const bus = createMemoryBus();
  const seq = await Sequencer.start({
    config: config(dataDir),
    bus,
    inspector: new FakeInspector(),
    settlement: chain,
  });
  try {
    assert.equal(seq.stats().queued, 3);
    assert.equal(seq.stats().nextBatch, JOBS / PER_BATCH);
    assert.deepEqual(seq.health(), { ok: true });
  } finally {
    await seq.close();
    await bus.close();
  }
});

test('a 4 KB overwrite in the middle of the LevelDB log is refused at start', async () => {
  const { dataDir, db } = await builtNode(new LocalSettlement(3_600_000));
  const log = logFile(db);
  const size = statSync(log).size;
  assert.ok(size > 16_384, `log is ${size} bytes`);
  const fd = openSync(log, 'r+');
  writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 2));
  closeSync(fd);
  const e = await refusal(dataDir, new LocalSettlement(3_600_000));
  assert.match(e.message, /damaged: LevelDB skipped part of its log .*dropping \d+ bytes/);
});

test('a LevelDB log truncated to half is refused: the chain holds batches the node lost', async () => {
  const chain = new RecordingChain();
  const { dataDir, db } = await builtNode(chain);
  const log = logFile(db);
  truncateSync(log, Math.floor(statSync(log).size / 2));
  const e = await refusal(dataDir, chain);
  assert.match(
    e.message,
    /batch \d+: committed on test-chain with root [0-9a-f]{64} \(8 jobs\), missing here/,
  );
});

test('a batched job whose record is deleted is refused, not served as a 404', async () => {
  const { dataDir, db } = await builtNode(new LocalSettlement(3_600_000));
  const store = await Store.open(db);
  const ledger = new Ledger(store);
  const b = (await ledger.batches.get(seqKey(5)))!;
  await store.write([ledger.jobs.del(b.jobIds[3])]);
  await store.close();
  const e = await refusal(dataDir, new LocalSettlement(3_600_000));
  assert.ok(e.message.includes(`batch 5: job ${b.jobIds[3]} at position 3 has no record`), e.message);
});

test('an acknowledged job whose record is deleted is refused, not lost', async () => {
  const { dataDir, db } = await builtNode(new LocalSettlement(3_600_000));
  const store = await Store.open(db);
  const ledger = new Ledger(store);
  const [[key, id]] = await ledger.open.entries({ limit: 1 });
  await store.write([ledger.jobs.del(id)]);
  await store.close();
  const e = await refusal(dataDir, new LocalSettlement(3_600_000));
  assert.ok(
    e.message.includes(`job ${id}: acknowledged (open, seq ${Number(key)}) but its record is missing`),
    e.message,
  );
});

test('an acknowledged job dropped from the open table is refused, not left queued forever', async () => {
  const { dataDir, db } = await builtNode(new LocalSettlement(3_600_000));
  const store = await Store.open(db);
  const ledger = new Ledger(store);
  const [[key, id]] = await ledger.open.entries({ limit: 1 });
  await store.write([ledger.open.del(key)]);
  await store.close();
  const e = await refusal(dataDir, new LocalSettlement(3_600_000));
  assert.ok(
    e.message.includes(`job ${id}: acknowledged and `) &&
      /, but missing from the open jobs \(it would never run\)/.test(e.message),
    e.message,
  );
});

test('a job duplicated into a second batch is refused, never committed twice', async () => {
  const chain = new RecordingChain();
  const { dataDir, db } = await builtNode(chain);
  const store = await Store.open(db);
  const ledger = new Ledger(store);
  const b2 = (await ledger.batches.get(seqKey(2)))!;
  const next = JOBS / PER_BATCH;
  const dup: BatchState = { ...b2, index: next, status: 'pending', createdAt: Date.now() };
  await store.write([ledger.batches.put(seqKey(next), dup), ledger.meta.put('nextBatch', next + 1)]);
  await store.close();
  const e = await refusal(dataDir, chain);
  assert.ok(
    e.message.includes(
      `job ${b2.jobIds[0]}: in two batches (batch 2 position 0, and batch ${next} position 0)`,
    ),
    e.message,
  );
  assert.equal(chain.roots.size, next, 'nothing more was committed');
});

test('a committed root the chain does not hold is refused', async () => {
  const chain = new RecordingChain();
  const { dataDir } = await builtNode(chain);
  const real = chain.roots.get(4)!;
  chain.roots.set(4, { ...real, root: 'ee'.repeat(32) as Hash32 });
  const e = await refusal(dataDir, chain);
  assert.ok(
    e.message.includes(`batch 4: test-chain holds root ${'ee'.repeat(32)} (8 jobs), this node ${real.root}`),
    e.message,
  );
});

test('a commit the chain refuses as a conflict takes the node out: 503 on jobs, healthz not ok', async () => {
  const chain = new RecordingChain();
  const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-hostile-store-'));
  const bus = createMemoryBus();
  const seq = await Sequencer.start({
    config: config(dataDir),
    bus,
    inspector: new FakeInspector(),
    settlement: chain,
  });
  const app = buildHttp({ sequencer: seq });
  const exec = await fakeExecutor(bus, E);
  try {
    // Someone else's root already sits at index 0.
    chain.roots.set(0, { root: 'dd'.repeat(32) as Hash32, jobCount: PER_BATCH });
    const model = await seq.registerModel(new Uint8Array([1, 2, 3]), 'fake');
    for (let i = 0; i < PER_BATCH; i++)
      await seq.submit({ modelId: model.modelId, inputs: { x: int8([i]) } });
    await waitFor(() => !seq.health().ok, 'the node to notice the conflict', 5_000);
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 503);
    assert.equal(health.json().ok, false);
    assert.match(health.json().reason, /batch 0 holds root d{64}/);
    const job = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'content-type': 'application/json' },
      payload: { modelId: model.modelId, inputs: { x: { dtype: 'int8', dims: [1, 1], data: [1] } } },
    });
    assert.equal(job.statusCode, 503, job.body);
    assert.equal(job.json().error.code, 'UNAVAILABLE');
  } finally {
    await exec.stop();
    await app.close();
    await seq.close();
    await bus.close();
  }
});
