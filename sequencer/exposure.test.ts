// Attack 3 off chain: an unbonding executor gets no new job, and no executor holds more unfinalized jobs than its bond covers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus, Consumer } from '../bus/bus.ts';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromWire } from '../state/tensor-map.ts';
import type { ExecutorId, JobId, ModelId } from '../state/types.ts';
import type { BatchHeader, ExecutorBond, Settlement } from './ports.ts';
import { DEFAULT_SEQUENCER_CONFIG, Sequencer, type SequencerConfig } from './sequencer.ts';
import { FakeInspector, executorId, int8, signFor, waitFor } from './testing.ts';

const A = executorId('A');
const B = executorId('B');
const STAKE = 1_000n;

/** The chain as the sequencer sees it: operator bonds it can change, and batches that finalize when told. */
class FakeChain implements Settlement {
  readonly kind = 'fake-chain';
  readonly bonds = new Map<ExecutorId, { bonded: bigint; locked: bigint; unbonding: bigint }>();
  /** Batch indexes allowed to finalize (the window over, no dispute open). */
  readonly finalizable = new Set<number>();
  reads = 0;
  watchBonds?: Settlement['watchBonds'];
  private readonly watchers: ((e: ExecutorId, unbonding: boolean) => void)[] = [];

  constructor(o: { events: boolean }) {
    if (o.events) {
      this.watchBonds = (onChange) => {
        this.watchers.push(onChange);
        return async () => void this.watchers.splice(this.watchers.indexOf(onChange), 1);
      };
    }
  }

  bond(e: ExecutorId, bonded: bigint, locked = 0n): void {
    this.bonds.set(e, { bonded, locked, unbonding: 0n });
  }

  /** request_unbond as the program does it, with its UnbondRequested event. */
  requestUnbond(e: ExecutorId, amount: bigint): void {
    this.bonds.get(e)!.unbonding += amount;
    for (const w of this.watchers) w(e, true);
  }

  async executorBond(e: ExecutorId): Promise<ExecutorBond> {
    this.reads++;
    const b = this.bonds.get(e) ?? { bonded: 0n, locked: 0n, unbonding: 0n };
    return { free: b.bonded - b.locked - b.unbonding, unbonding: b.unbonding, stake: STAKE };
  }

  async commitBatch(): Promise<{ windowEndsAt: number }> {
    return { windowEndsAt: Date.now() };
  }

  async canFinalize(b: BatchHeader): Promise<boolean> {
    return this.finalizable.has(b.index);
  }

  /** Positions per batch whose executor lost a dispute. */
  readonly lost = new Map<number, number[]>();
  async invalidatedJobs(b: BatchHeader): Promise<number[]> {
    return this.lost.get(b.index) ?? [];
  }
}

/** An executor that answers every job at once with a signed result, heart-beating; it records the jobs it was given. */
async function executor(bus: Bus, id: ExecutorId, capacity = 8) {
  const got: JobId[] = [];
  const consumer: Consumer = await messages.consume(
    bus,
    messages.ASSIGN,
    { of: id },
    `fake-${id}`,
    async (m) => {
      got.push(m.jobId);
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
    },
  );
  const beat = () => messages.publish(bus, messages.HEARTBEAT, id, { executorId: id, capacity });
  beat();
  const timer = setInterval(beat, 20);
  return {
    got,
    async stop() {
      clearInterval(timer);
      await consumer.stop();
    },
  };
}

function config(dataDir: string, over: Partial<SequencerConfig> = {}): SequencerConfig {
  return {
    ...DEFAULT_SEQUENCER_CONFIG,
    dataDir,
    batchMaxJobs: 2,
    batchMaxAgeMs: 50,
    executorTimeoutMs: 300,
    ...over,
  };
}

async function node(chain: FakeChain, over: Partial<SequencerConfig> = {}, dataDir?: string) {
  const bus = createMemoryBus();
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'optinfer-exposure-'));
  const seq = await Sequencer.start({
    config: config(dir, over),
    bus,
    inspector: new FakeInspector(),
    settlement: chain,
  });
  const model = await seq.registerModel(new Uint8Array([1, 2, 3]), 'fake');
  let n = 0;
  return {
    bus,
    dir,
    seq,
    submit: async (): Promise<JobId> =>
      (await seq.submit({ modelId: model.modelId as ModelId, inputs: { x: int8([n++ % 100]) } })).jobId,
    close: async () => {
      await seq.close();
      await bus.close();
    },
  };
}

const view = (seq: Sequencer, e: ExecutorId) => seq.executors().find((v) => v.executor === e);

test('unbonding cheater: an executor that requested an unbond gets no new jobs', async () => {
  const chain = new FakeChain({ events: true });
  chain.bond(A, 10n * STAKE);
  chain.bond(B, 10n * STAKE);
  const n = await node(chain);
  const a = await executor(n.bus, A);
  const b = await executor(n.bus, B);
  try {
    await waitFor(() => n.seq.stats().executors === 2, 'both executors eligible');
    for (let i = 0; i < 4; i++) await n.submit();
    await waitFor(() => a.got.length + b.got.length === 4, 'the first four jobs answered');
    assert.ok(a.got.length > 0, 'A took jobs while bonded');

    // A cheats, then asks for its bond back (a quarter of it: its free bond alone would still cover a job).
    chain.requestUnbond(A, 2n * STAKE);
    await waitFor(() => view(n.seq, A)?.unbonding === (2n * STAKE).toString(), 'the unbond seen');
    const tookBefore = a.got.length;
    const later: JobId[] = [];
    for (let i = 0; i < 6; i++) later.push(await n.submit());
    await waitFor(() => a.got.length + b.got.length === 10, 'the later jobs answered');
    assert.equal(a.got.length, tookBefore, 'the unbonding executor got a job after its unbond request');
    for (const id of later) assert.ok(b.got.includes(id));
    const v = view(n.seq, A)!;
    assert.equal(v.eligible, false);
    assert.match(v.why!, /requested an unbond/);

    // With only the leaving executor left, a job waits, queued, and says why; it does not fail.
    await b.stop();
    await waitFor(() => n.seq.stats().executors === 0, 'B lapsed');
    const waiting = await n.submit();
    await new Promise((r) => setTimeout(r, 200));
    const j = (await n.seq.getJob(waiting))!;
    assert.equal(j.status, 'queued');
    assert.match(j.waiting!, /requested an unbond/);
    assert.equal(a.got.includes(waiting), false);
  } finally {
    await a.stop();
    await b.stop();
    await n.close();
  }
});

test('unbonding cheater: without bond events, the periodic bond read stops its jobs too', async () => {
  const chain = new FakeChain({ events: false });
  chain.bond(A, 10n * STAKE);
  chain.bond(B, 10n * STAKE);
  const n = await node(chain, { bondTtlMs: 100 });
  const a = await executor(n.bus, A);
  const b = await executor(n.bus, B);
  try {
    await waitFor(() => n.seq.stats().executors === 2, 'both executors eligible');
    chain.requestUnbond(A, STAKE);
    const reads = chain.reads;
    await waitFor(() => chain.reads >= reads + 4, 'two more reads of each bond');
    for (let i = 0; i < 6; i++) await n.submit();
    await waitFor(() => a.got.length + b.got.length === 6, 'the jobs answered');
    assert.equal(a.got.length, 0, 'the unbonding executor got a job');
  } finally {
    await a.stop();
    await b.stop();
    await n.close();
  }
});

test('exposure: an executor with a bond for N stakes is never assigned an N+1th job while its batches are unfinalized', async () => {
  const chain = new FakeChain({ events: true });
  // 4 stakes bonded, one locked in a dispute: free for 3 jobs.
  chain.bond(A, 4n * STAKE, STAKE);
  const n = await node(chain);
  const a = await executor(n.bus, A, 64);
  try {
    await waitFor(() => n.seq.stats().executors === 1, 'A eligible');
    const ids: JobId[] = [];
    for (let i = 0; i < 5; i++) ids.push(await n.submit());
    await waitFor(() => a.got.length >= 3, 'three jobs answered');
    await waitFor(async () => (await n.seq.getBatch(1)) !== undefined, 'their batches cut');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.got.length, 3, 'a fourth job went to an executor whose bond covers three');
    const v = view(n.seq, A)!;
    assert.equal(v.exposureJobs, 3);
    assert.equal(v.exposureLamports, (3n * STAKE).toString());
    assert.equal(v.capJobs, 3);
    assert.equal(v.freeBond, (3n * STAKE).toString());
    for (const id of ids.slice(3)) {
      const j = (await n.seq.getJob(id))!;
      assert.equal(j.status, 'queued');
      assert.match(j.waiting!, /at its exposure cap/);
    }
  } finally {
    await a.stop();
    await n.close();
  }
});

test('exposure frees as batches finalize, and survives a restart', async () => {
  const chain = new FakeChain({ events: true });
  chain.bond(A, 3n * STAKE);
  const n = await node(chain);
  let a = await executor(n.bus, A, 64);
  let seq = n.seq;
  let bus = n.bus;
  try {
    await waitFor(() => seq.stats().executors === 1, 'A eligible');
    const ids: JobId[] = [];
    for (let i = 0; i < 6; i++) ids.push(await n.submit());
    await waitFor(() => a.got.length >= 3, 'three jobs answered');
    await waitFor(async () => (await seq.getBatch(1)) !== undefined, 'two batches cut');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.got.length, 3, 'a fourth job went to an executor whose bond covers three');
    assert.equal((await seq.getBatch(0))!.jobCount, 2);

    // A restart rebuilds the exposure from the store: still no fourth job.
    await a.stop();
    await seq.close();
    await bus.close();
    bus = createMemoryBus();
    seq = await Sequencer.start({
      config: config(n.dir),
      bus,
      inspector: new FakeInspector(),
      settlement: chain,
    });
    assert.equal(view(seq, A)?.exposureJobs, 3, 'exposure lost across the restart');
    a = await executor(bus, A, 64);
    await waitFor(() => seq.stats().executors === 1, 'A eligible again');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.got.length, 0, 'a job went out past the cap after the restart');

    // Batch 0 finalizes: its two jobs free two stakes, and two more jobs go out.
    chain.finalizable.add(0);
    await waitFor(() => a.got.length === 2, 'two jobs after batch 0 finalized', 5_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.got.length, 2);
    assert.equal(view(seq, A)?.exposureJobs, 3);

    // Everything finalizes: the last job goes out, and the exposure ends at zero.
    for (let i = 1; i < 10; i++) chain.finalizable.add(i);
    await waitFor(
      async () => (await seq.getJob(ids[5]))?.status === 'finalized',
      'the last job final',
      5_000,
    );
    await waitFor(() => (view(seq, A)?.exposureJobs ?? 0) === 0, 'exposure back to zero', 5_000);
  } finally {
    await a.stop();
    await seq.close();
    await bus.close();
  }
});

test('exposure: a job re-run after a lost dispute stays charged to its new executor when the old batch finalizes', async () => {
  const chain = new FakeChain({ events: true });
  chain.bond(A, 10n * STAKE);
  chain.bond(B, 10n * STAKE);
  const n = await node(chain);
  const a = await executor(n.bus, A);
  let b: Awaited<ReturnType<typeof executor>> | undefined;
  try {
    await waitFor(() => n.seq.stats().executors === 1, 'A eligible');
    const id = await n.submit();
    await waitFor(async () => (await n.seq.getBatch(0)) !== undefined, 'batch 0 with A');
    b = await executor(n.bus, B);
    await waitFor(() => n.seq.stats().executors === 2, 'B eligible');
    // A lost the dispute over position 0: the job is re-run on B and batched again.
    chain.lost.set(0, [0]);
    await waitFor(async () => (await n.seq.getBatch(1)) !== undefined, 'batch 1 with the re-run', 5_000);
    assert.deepEqual(b.got, [id]);
    assert.equal(view(n.seq, A)?.exposureJobs ?? 0, 0, 'the lost game still charged to A');
    assert.equal(view(n.seq, B)?.exposureJobs, 1);
    chain.finalizable.add(0);
    await waitFor(async () => (await n.seq.getBatch(0))?.status === 'finalized', 'batch 0 final', 5_000);
    assert.equal(view(n.seq, B)?.exposureJobs, 1, "the old batch's finality released the re-run's charge");
    chain.finalizable.add(1);
    await waitFor(() => (view(n.seq, B)?.exposureJobs ?? 0) === 0, 'the re-run released', 5_000);
  } finally {
    await a.stop();
    await b?.stop();
    await n.close();
  }
});
