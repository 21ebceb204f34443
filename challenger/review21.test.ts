// Review 21: a hostile sequencer against the honest challenger's sampling and batch tracking.
// Each test states the property the protocol promises; a failing test is an attack that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { ModelRegistry, type LoadedModel } from '../executor/model.ts';
import { runModel } from '../executor/run.ts';
import { OptinferError } from '../state/errors.ts';
import { fromHex, toHex } from '../state/hash.ts';
import { Batch, jobId, signResult, type JobRecord } from '../state/job.ts';
import { isSampled, isSampledPosition } from '../state/sample.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId } from '../state/types.ts';
import type { DataRequestAccount, SettlementClient } from '../settlement/index.ts';
import { toyBatch, toyConfig, toyModel, toyOperator } from '../dispute/testkit.ts';
import { Challenger } from './challenger.ts';
import type { BatchListing, JobSource } from './source.ts';

const sha = (s: string) => createHash('sha256').update(s).digest();

/** Batch `index` of the demo model: job 0 honest, job 1 a lie (a made-up output digest), both signed. */
async function lieBatch(model: LoadedModel, index: number, exec: Keypair) {
  const inputs: TensorMap[] = [3, 7].map((m) => ({
    x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(16).map((_, k) => (k * m + index) & 0xff) },
  }));
  const honest = await runModel(model, inputs[0]);
  const outputs = [honest.outputDigest, 'ee'.repeat(32) as Hash32];
  const records: JobRecord[] = inputs.map((x, i) =>
    signResult(
      {
        jobId: jobId(index * 10 + i, model.modelId, tensorSetDigest(x)),
        modelId: model.modelId,
        inputDigest: tensorSetDigest(x),
        outputDigest: outputs[i],
        executor: exec.publicKey.toBase58() as ExecutorId,
        fee: 1000n,
      },
      exec.secretKey,
    ),
  );
  const batch = new Batch(index as BatchIndex, records);
  const listing: BatchListing = { index, root: batch.root, jobCount: 2, jobIds: records.map((r) => r.jobId) };
  return { batch, records, inputs, listing };
}

/** The chain as the challenger reads it: batches committed at game slot 1000 with a window of 100 slots. */
class Chain {
  slot = 1010n;
  nextBatchIndex = 1n;
  roots = new Map<number, Buffer>();
  requests = new Map<string, DataRequestAccount>();
  requested: string[] = [];
  opens = 0;

  client(): SettlementClient {
    const c = {
      sender: { getSlot: async () => this.slot },
      config: async () => toyConfig({ nextBatchIndex: this.nextBatchIndex }),
      fetchBatch: async (i: bigint) => {
        const root = this.roots.get(Number(i));
        return root ? toyBatch({ index: i, root, jobCount: 2 }) : null;
      },
      listBatches: async () =>
        [...this.roots.entries()].map(([i, root]) => ({
          address: Keypair.generate().publicKey,
          batch: toyBatch({ index: BigInt(i), root, jobCount: 2 }),
        })),
      fetchModel: async () => toyModel(),
      fetchJob: async () => null,
      fetchOperator: async (owner: PublicKey) => toyOperator({ owner, bonded: 10n }),
      fetchDispute: async () => null,
      bond: async () => {},
      listDisputes: async () => [],
      openDispute: async () => {
        this.opens++;
        throw new OptinferError('UNAVAILABLE', 'no games in this test');
      },
      fetchDataRequest: async (b: bigint, j: number) => this.requests.get(`${b}:${j}`) ?? null,
      fetchDataAnswer: async () => null,
      requestData: async (by: Keypair, b: bigint, j: number) => {
        this.requested.push(`${b}:${j}`);
        this.requests.set(`${b}:${j}`, {
          batch: Keypair.generate().publicKey,
          requester: by.publicKey,
          answerer: Keypair.generate().publicKey,
          deadline: 1_000_000n,
          jobIndex: j,
          answered: 0,
          bump: 255,
          record: Buffer.alloc(168),
          signature: Buffer.alloc(64),
          depth: 0,
          siblings: Buffer.alloc(400),
        });
        return { events: [] };
      },
      claimDataTimeout: async () => ({ events: [] }),
    };
    return c as unknown as SettlementClient;
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** A challenger secret (written where the challenger loads it) for which `pred` holds. */
function pickSecret(dir: string, pred: (s: Uint8Array) => boolean): Uint8Array {
  for (let i = 0; i < 10_000; i++) {
    const s = new Uint8Array(sha(`secret ${i}`));
    if (pred(s)) {
      writeFileSync(join(dir, 'challenger-c1.secret'), toHex(s) + '\n');
      return s;
    }
  }
  throw new Error('no secret found');
}

const RATE = 0.5;

test("listing re-roll: a sequencer that sees the challenger fetch the lie's proof withholds it and lists a fresh made-up id at the lie's position each pass, until one is not sampled; the lie must still be audited or demanded on chain", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-rev21-'));
  const registry = new ModelRegistry();
  const model = await registry.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
  const { batch, records, inputs, listing } = await lieBatch(model, 0, Keypair.generate());
  // A secret under which the lie's own id is sampled: without the attack it is audited for sure.
  pickSecret(dir, (s) => isSampled(s, batch.root, records[1].jobId, RATE));
  const chain = new Chain();
  chain.roots.set(0, Buffer.from(fromHex(batch.root, 32)));
  // What the sequencer lists at the lie's position: the real id first, then a fresh made-up id
  // every time the challenger asks for the proof of the one listed (the request leaks the draw).
  let atLie = records[1].jobId;
  let rerolls = 0;
  const source: JobSource = {
    batch: async () => ({ ...listing, jobIds: [listing.jobIds[0], atLie] }),
    proof: async (id: JobId) => {
      if (id === records[0].jobId) return batch.proof(0);
      if (id === atLie) {
        rerolls++;
        atLie = toHex(sha(`fake ${rerolls}`)) as JobId;
      }
      return undefined;
    },
    inputs: async (id) => inputs[records.findIndex((r) => r.jobId === id)],
    modelBytes: async () => model.bytes,
  };
  const c = await Challenger.start({
    config: {
      dataDir: dir,
      id: 'c1',
      sampleRate: RATE,
      sandbox: false,
      retryMs: 20,
      chain: { client: chain.client(), bondLamports: 10n },
    },
    bus: createMemoryBus(),
    source,
    registry,
  });
  try {
    await c.onBatch({ index: 0, root: batch.root, jobCount: 2, windowEndsAt: Date.now() + 600_000 });
    await new Promise((r) => setTimeout(r, 400));
    chain.slot = 1060n; // past half the window: anything still unserved is demanded on chain
    const caught = await until(
      async () => chain.requested.includes('0:1') || (await c.findings.all()).length > 0,
      1500,
    );
    assert.ok(rerolls >= 1, 'the lie was sampled and its proof asked for');
    assert.ok(
      caught,
      `the sampled lie was neither audited nor demanded on chain (the sequencer re-rolled the listing ${rerolls} time(s))`,
    );
  } finally {
    await c.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("listing switch: the lie's proof is withheld while the listing is good, then from half the window the listing is served under another root, so the draw moves to positions and the lie's position is not drawn; the lie must still be demanded on chain", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-rev21-'));
  const registry = new ModelRegistry();
  const model = await registry.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
  const { batch, records, inputs, listing } = await lieBatch(model, 0, Keypair.generate());
  // Sampled by its id, not by its position: a sequencer that learns the first (from the proof fetch)
  // escapes by switching the draw to the second, which it cannot predict but gets a second chance at.
  pickSecret(
    dir,
    (s) => isSampled(s, batch.root, records[1].jobId, RATE) && !isSampledPosition(s, batch.root, 1, RATE),
  );
  const chain = new Chain();
  chain.roots.set(0, Buffer.from(fromHex(batch.root, 32)));
  let lieAsked = false;
  const source: JobSource = {
    batch: async () => (chain.slot >= 1050n ? { ...listing, root: 'ab'.repeat(32) as Hash32 } : listing),
    proof: async (id: JobId) => {
      if (id === records[1].jobId) {
        lieAsked = true;
        return undefined;
      }
      return batch.proof(0);
    },
    inputs: async (id) => inputs[records.findIndex((r) => r.jobId === id)],
    modelBytes: async () => model.bytes,
  };
  const c = await Challenger.start({
    config: {
      dataDir: dir,
      id: 'c1',
      sampleRate: RATE,
      sandbox: false,
      retryMs: 20,
      chain: { client: chain.client(), bondLamports: 10n },
    },
    bus: createMemoryBus(),
    source,
    registry,
  });
  try {
    await c.onBatch({ index: 0, root: batch.root, jobCount: 2, windowEndsAt: Date.now() + 600_000 });
    await until(() => lieAsked, 2000);
    assert.ok(lieAsked, 'the lie was sampled by its id');
    await new Promise((r) => setTimeout(r, 150));
    chain.slot = 1060n;
    const caught = await until(() => chain.requested.includes('0:1'), 1500);
    assert.ok(caught, `the sampled lie was dropped: demanded on chain ${JSON.stringify(chain.requested)}`);
  } finally {
    await c.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [name, announce, early] of [
  ['never announced', (_b: { index: number; root: Hash32 }) => [], false],
  ['announced under another index', (b: { index: number; root: Hash32 }) => [{ ...b, index: 7 }], false],
  // Announced at its index before any commit, with a root of nothing: the challenger drops the announcement after
  // its grace; the sequencer then commits the lie at that index, silently.
  [
    'announced early under a made-up root',
    (b: { index: number; root: Hash32 }) => [{ ...b, root: '11'.repeat(32) as Hash32 }],
    true,
  ],
] as const) {
  test(`silent batch (${name}): the sequencer commits the lie's batch on chain but does not announce it on the bus; the challenger must still audit it`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-rev21-'));
    const registry = new ModelRegistry();
    const model = await registry.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
    const exec = Keypair.generate();
    const b0 = await lieBatch(model, 0, exec);
    const b1 = await lieBatch(model, 1, exec);
    // Batch 0: every job honest (its "lie" fixed to the honest output), announced as usual.
    const chain = new Chain();
    chain.nextBatchIndex = early ? 1n : 2n;
    chain.roots.set(0, Buffer.from(fromHex(b0.batch.root, 32)));
    if (!early) chain.roots.set(1, Buffer.from(fromHex(b1.batch.root, 32)));
    const all = [b0, b1];
    const find = (id: JobId) => {
      for (const b of all) {
        const i = b.records.findIndex((r) => r.jobId === id);
        if (i >= 0) return { b, i };
      }
      return undefined;
    };
    const source: JobSource = {
      batch: async (i) => all[i]?.listing,
      proof: async (id) => {
        const f = find(id);
        return f && f.b.batch.proof(f.i);
      },
      inputs: async (id) => {
        const f = find(id);
        return f && f.b.inputs[f.i];
      },
      modelBytes: async () => model.bytes,
    };
    const bus = createMemoryBus();
    const c = await Challenger.start({
      config: {
        dataDir: dir,
        id: 'c1',
        sampleRate: 1,
        sandbox: false,
        retryMs: 20,
        chain: { client: chain.client(), bondLamports: 10n },
      },
      bus,
      source,
      registry,
    });
    try {
      const msg = (b: typeof b0, index: number) => ({
        index,
        root: b.batch.root,
        jobCount: 2,
        windowEndsAt: Date.now() + 600_000,
      });
      // Batch 0 is announced; batch 1 (the lie to shield) is not, or under an index no batch has.
      await messages.send(bus, messages.BATCH_COMMITTED, undefined, msg(b0, 0));
      for (const m of announce({ index: 1, root: b1.batch.root }))
        await messages.send(bus, messages.BATCH_COMMITTED, undefined, { ...msg(b1, 1), ...m });
      await until(async () => (await c.findings.all()).some((f) => f.batchIndex === 0), 3000);
      if (early) {
        // Well past the grace (many 20 ms passes), the lie is committed at the announced index.
        await new Promise((r) => setTimeout(r, 500));
        chain.roots.set(1, Buffer.from(fromHex(b1.batch.root, 32)));
        chain.nextBatchIndex = 2n;
      }
      chain.slot = 1060n;
      const caught = await until(
        async () =>
          (await c.findings.all()).some((f) => f.batchIndex === 1) ||
          chain.requested.some((r) => r.startsWith('1:')),
        1500,
      );
      assert.ok(
        (await c.findings.all()).some((f) => f.batchIndex === 0),
        'the announced batch was audited (its lie found)',
      );
      assert.ok(caught, 'the lie in the committed but unannounced batch 1 was never audited');
    } finally {
      await c.close();
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("corrupted model bytes: the sequencer serves the lie's listing, proof and inputs but other bytes for its model (the challenger does not hold it yet); the audit must not be recorded as done, and the lie must be found once the real bytes are served", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-rev21-'));
  const ours = new ModelRegistry();
  const model = await ours.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
  const { batch, records, inputs, listing } = await lieBatch(model, 0, Keypair.generate());
  const chain = new Chain();
  chain.roots.set(0, Buffer.from(fromHex(batch.root, 32)));
  // The challenger's own registry: it has never seen the model.
  const registry = new ModelRegistry();
  let corrupt = true;
  const source: JobSource = {
    batch: async () => listing,
    proof: async (id) => batch.proof(records.findIndex((r) => r.jobId === id)),
    inputs: async (id) => inputs[records.findIndex((r) => r.jobId === id)],
    modelBytes: async () => (corrupt ? new Uint8Array([1, 2, 3, 4]) : model.bytes),
  };
  const c = await Challenger.start({
    config: {
      dataDir: dir,
      id: 'c1',
      sampleRate: 1,
      sandbox: false,
      retryMs: 20,
      chain: { client: chain.client(), bondLamports: 10n },
    },
    bus: createMemoryBus(),
    source,
    registry,
  });
  try {
    await c.onBatch({ index: 0, root: batch.root, jobCount: 2, windowEndsAt: Date.now() + 600_000 });
    await new Promise((r) => setTimeout(r, 300));
    corrupt = false; // the sequencer serves the real bytes again (or another challenger's copy would)
    chain.slot = 1060n;
    const caught = await until(
      async () => (await c.findings.all()).length > 0 || chain.requested.includes('0:1'),
      1500,
    );
    assert.ok(
      caught,
      'the lie was recorded as skipped while the model bytes were corrupted, and never audited again',
    );
  } finally {
    await c.close();
    await registry.close();
    await ours.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
