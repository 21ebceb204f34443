// Second review: damage to the stored inputs and outputs of jobs (what the node serves and disputes are judged on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../../bus/bus.ts';
import { createMemoryBus } from '../../bus/memory.ts';
import * as messages from '../../bus/messages.ts';
import { OptinferError } from '../../state/errors.ts';
import { Store, seqKey } from '../../state/store.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import { fromWire } from '../../state/tensor-map.ts';
import type { ExecutorId, JobId } from '../../state/types.ts';
import { Ledger } from '../../sequencer/ledger.ts';
import { LocalSettlement } from '../../sequencer/ports.ts';
import { DEFAULT_SEQUENCER_CONFIG, Sequencer, type SequencerConfig } from '../../sequencer/sequencer.ts';
import { FakeInspector, executorId, int8, signFor, waitFor } from '../../sequencer/testing.ts';

const E = executorId('E');
const JOBS = 32;
const PER_BATCH = 8;

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

const settlement = () => new LocalSettlement(3_600_000);

/** A node data dir: JOBS jobs run, batched and committed, plus 3 acknowledged and still queued. */
async function builtNode(): Promise<{ dataDir: string; db: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-review2-store-'));
  const bus = createMemoryBus();
  const seq = await Sequencer.start({
    config: config(dataDir),
    bus,
    inspector: new FakeInspector(),
    settlement: settlement(),
  });
  const exec = await fakeExecutor(bus, E);
  const model = await seq.registerModel(new Uint8Array([1, 2, 3]), 'fake');
  for (let i = 0; i < JOBS; i++) await seq.submit({ modelId: model.modelId, inputs: { x: int8([i + 1]) } });
  await waitFor(
    async () => (await seq.getBatch(JOBS / PER_BATCH - 1))?.status === 'committed',
    'every batch committed',
    10_000,
  );
  await exec.stop();
  for (let i = 0; i < 3; i++) await seq.submit({ modelId: model.modelId, inputs: { x: int8([i + 1]) } });
  await seq.close();
  await bus.close();
  return { dataDir, db: join(dataDir, 'sequencer.db') };
}

async function refusal(dataDir: string): Promise<OptinferError> {
  const bus = createMemoryBus();
  try {
    const seq = await Sequencer.start({
      config: config(dataDir),
      bus,
      inspector: new FakeInspector(),
      settlement: settlement(),
    });
    await seq.close();
    assert.fail('the node started on a damaged store');
  } catch (e) {
    if (!(e instanceof OptinferError)) throw e;
    assert.equal(e.code, 'STORE_CORRUPT', e.message);
    assert.match(e.message, /restore/i);
    return e;
  } finally {
    await bus.close();
  }
}

/** Opens the stopped node's store, lets `damage` change it, closes it. */
async function damage(
  db: string,
  f: (ledger: Ledger, batched: JobId, open: JobId) => Promise<void>,
): Promise<{ batched: JobId; open: JobId }> {
  const store = await Store.open(db);
  const ledger = new Ledger(store);
  const b = (await ledger.batches.get(seqKey(2)))!;
  const [[, open]] = await ledger.open.entries({ limit: 1 });
  await f(ledger, b.jobIds[5], open);
  await store.close();
  return { batched: b.jobIds[5], open };
}

/** The stored tensor map with its first byte changed: still well formed, another value. */
function flipped(s: Record<string, { dtype: string; dims: number[]; b64: string }>) {
  const [name, t] = Object.entries(s)[0];
  const bytes = Buffer.from(t.b64, 'base64');
  bytes[0] ^= 0x40;
  return { ...s, [name]: { ...t, b64: bytes.toString('base64') } };
}

test('the outputs of a batched job changed on disk are refused at start, not served as the committed result', async () => {
  const { dataDir, db } = await builtNode();
  const { batched } = await damage(db, async (l, id) => {
    await l.store.write([l.outputs.put(id, flipped((await l.outputs.get(id))!))]);
  });
  const e = await refusal(dataDir);
  assert.ok(e.message.includes(`job ${batched}`), e.message);
  assert.match(e.message, /outputs/);
});

test('the outputs of a batched job deleted on disk are refused at start, not served without outputs', async () => {
  const { dataDir, db } = await builtNode();
  const { batched } = await damage(db, async (l, id) => {
    await l.store.write([l.outputs.del(id)]);
  });
  const e = await refusal(dataDir);
  assert.ok(e.message.includes(`job ${batched}`), e.message);
});

test('the inputs of a batched job changed on disk are refused at start (a dispute would be judged on them)', async () => {
  const { dataDir, db } = await builtNode();
  const { batched } = await damage(db, async (l, id) => {
    await l.store.write([l.inputs.put(id, flipped((await l.inputs.get(id))!))]);
  });
  const e = await refusal(dataDir);
  assert.ok(e.message.includes(`job ${batched}`), e.message);
  assert.match(e.message, /inputs/);
});

test('the inputs of an acknowledged, queued job deleted on disk are refused at start', async () => {
  const { dataDir, db } = await builtNode();
  const { open } = await damage(db, async (l, _b, id) => {
    await l.store.write([l.inputs.del(id)]);
  });
  const e = await refusal(dataDir);
  assert.ok(e.message.includes(`job ${open}`), e.message);
});
