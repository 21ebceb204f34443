// A sequencer that does not serve a sampled job (it is down, or withholds the job's proof or listing) cannot make a
// challenger skip it: the job is retried while the sequencer is away, and demanded on chain from half the window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { createMemoryBus } from '../bus/memory.ts';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { ModelRegistry, type LoadedModel } from '../executor/model.ts';
import { runModel } from '../executor/run.ts';
import { OptinferError } from '../state/errors.ts';
import { fromHex } from '../state/hash.ts';
import { encodeInputSet } from '../state/input-set.ts';
import { Batch, jobId, signResult, type JobRecord } from '../state/job.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId } from '../state/types.ts';
import type { DataRequestAccount, SettlementClient } from '../settlement/index.ts';
import { toyBatch, toyConfig, toyModel, toyOperator } from '../dispute/testkit.ts';
import { Challenger } from './challenger.ts';
import type { BatchListing, JobSource } from './source.ts';

const down = () => new OptinferError('UNAVAILABLE', 'sequencer at http://127.0.0.1:1 is unreachable');

/** Batch 0 of the demo model: job 0 honest, job 1 a lie (a made-up output digest), both signed by the executor. */
async function lieBatch(registry: ModelRegistry) {
  const model: LoadedModel = await registry.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
  const exec = Keypair.generate();
  const inputs: TensorMap[] = [3, 7].map((m) => ({
    x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(16).map((_, k) => (k * m) & 0xff) },
  }));
  const honest = await runModel(model, inputs[0]);
  const outputs = [honest.outputDigest, 'ee'.repeat(32) as Hash32];
  const records: JobRecord[] = inputs.map((x, i) =>
    signResult(
      {
        jobId: jobId(i, model.modelId, tensorSetDigest(x)),
        modelId: model.modelId,
        inputDigest: tensorSetDigest(x),
        outputDigest: outputs[i],
        executor: exec.publicKey.toBase58() as ExecutorId,
        fee: 1000n,
      },
      exec.secretKey,
    ),
  );
  const batch = new Batch(0 as BatchIndex, records);
  const listing: BatchListing = {
    index: 0,
    root: batch.root,
    jobCount: 2,
    jobIds: records.map((r) => r.jobId),
  };
  return { model, batch, records, inputs, listing };
}

/** The chain as the challenger reads it: batch 0 committed at game slot 1000 with a window of 1,000 slots. */
class ToyChain {
  slot = 1010n;
  requests = new Map<number, DataRequestAccount>();
  answers = new Map<
    number,
    { record: Buffer; signature: Buffer; siblings: Buffer[]; siblingFees: bigint[]; inputs: Buffer }
  >();
  requested: number[] = [];
  /** open_dispute calls (refused here): a finding's dispute was attempted. */
  opens = 0;
  constructor(private readonly root: Buffer) {}

  client(): SettlementClient {
    const c = {
      sender: { getSlot: async () => this.slot },
      config: async () => toyConfig(),
      fetchBatch: async () => toyBatch({ root: this.root, jobCount: 2, challengeWindow: 1000n }),
      listBatches: async () => [
        {
          address: Keypair.generate().publicKey,
          batch: toyBatch({ root: this.root, jobCount: 2, challengeWindow: 1000n }),
        },
      ],
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
      fetchDataRequest: async (_: unknown, j: number) => this.requests.get(j) ?? null,
      fetchDataAnswer: async (_: unknown, j: number) => this.answers.get(j) ?? null,
      requestData: async (by: Keypair, _: bigint, j: number) => {
        this.requested.push(j);
        this.requests.set(j, {
          batch: Keypair.generate().publicKey,
          requester: by.publicKey,
          answerer: Keypair.generate().publicKey,
          // The program's deadline: max(clock 100, DATA_ANSWER_SLOTS 156) after the request.
          deadline: this.slot + 156n,
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

  /** answer_data as the program would take it: the record, its signature and opening, and the inputs. */
  answer(j: number, b: Batch, inputs: TensorMap): void {
    const p = b.proof(j);
    this.answers.set(j, {
      record: Buffer.from(fromHex(p.record)),
      signature: Buffer.from(fromHex(p.signature)),
      siblings: p.siblings.map((s) => Buffer.from(fromHex(s, 32))),
      siblingFees: p.siblingFees.map(BigInt),
      inputs: encodeInputSet(inputs),
    });
    this.requests.set(j, { ...this.requests.get(j)!, answered: 1 });
  }
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const MSG = { index: 0, jobCount: 2, windowEndsAt: Date.now() + 600_000 };

test('sequencer down mid-audit: a lie whose listing and proof could not be fetched while the sequencer restarted is audited once it is back, not recorded as skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-unserved-'));
  const registry = new ModelRegistry();
  const { model, batch, records, inputs, listing } = await lieBatch(registry);
  let up = false;
  const source: JobSource = {
    batch: async () => {
      if (!up) throw down();
      return listing;
    },
    proof: async (id) => {
      if (!up) throw down();
      return batch.proof(records.findIndex((r) => r.jobId === id));
    },
    inputs: async (id) => inputs[records.findIndex((r) => r.jobId === id)],
    modelBytes: async () => model.bytes,
  };
  const c = await Challenger.start({
    config: { dataDir: dir, id: 'c1', sampleRate: 1, sandbox: false, retryMs: 20 },
    bus: createMemoryBus(),
    source,
    registry,
  });
  try {
    await c.onBatch({ ...MSG, root: batch.root });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.stats.audited, 0, 'nothing could be audited while the sequencer was down');
    // The listing comes back but the proofs do not yet: still nothing recorded.
    source.batch = async () => listing;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.stats.audited, 0);
    up = true;
    // The two sampled jobs are audited in draw order, so the lie can be found before
    // the honest job is re-executed: wait for both.
    await until(
      async () => (await c.findings.all()).length === 1 && c.stats.audited === 2,
      'the lie found and both sampled jobs re-executed once the sequencer serves again',
    );
    assert.equal(c.stats.audited, 2, 'both sampled jobs re-executed');
    assert.equal((await c.findings.all())[0].jobId, records[1].jobId);
  } finally {
    await c.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sequencer down across a challenger restart: the batch it could not audit is picked up again by the next run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-unserved-'));
  const registry = new ModelRegistry();
  const { model, batch, records, inputs, listing } = await lieBatch(registry);
  const source: JobSource = {
    batch: async () => {
      throw down();
    },
    proof: async (id) => batch.proof(records.findIndex((r) => r.jobId === id)),
    inputs: async (id) => inputs[records.findIndex((r) => r.jobId === id)],
    modelBytes: async () => model.bytes,
  };
  const start = () =>
    Challenger.start({
      config: { dataDir: dir, id: 'c1', sampleRate: 1, sandbox: false, retryMs: 20 },
      bus: createMemoryBus(),
      source,
      registry,
    });
  const first = await start();
  await first.onBatch({ ...MSG, root: batch.root });
  await first.close();
  source.batch = async () => listing;
  const second = await start();
  try {
    // No batch message reaches the second run: the batch left unaudited is in its LevelDB.
    await until(
      async () => (await second.findings.all()).length === 1,
      'the lie found by the restarted challenger',
    );
    assert.equal((await second.findings.all())[0].jobId, records[1].jobId);
  } finally {
    await second.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("withheld proof: a sequencer that never serves the lie's inclusion proof has its data demanded on chain from half the window; the lie is found in what answer_data posts and its dispute tried", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-unserved-'));
  const registry = new ModelRegistry();
  const { model, batch, records, inputs, listing } = await lieBatch(registry);
  const chain = new ToyChain(Buffer.from(fromHex(batch.root, 32)));
  const source: JobSource = {
    batch: async () => listing,
    // The honest job's proof is served; the lie's is withheld (shielding the executor).
    proof: async (id: JobId) => (id === records[1].jobId ? undefined : batch.proof(0)),
    inputs: async (id) => inputs[records.findIndex((r) => r.jobId === id)],
    modelBytes: async () => model.bytes,
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
    await c.onBatch({ ...MSG, root: batch.root });
    await until(() => c.stats.audited === 1, 'the honest job audited');
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(chain.requested, [], 'nothing demanded in the first half of the window');
    assert.equal(c.stats.mismatches, 0);
    chain.slot = 1500n; // half of the 1,000-slot window
    await until(() => chain.requested.length > 0, 'the withheld job demanded on chain');
    assert.deepEqual(chain.requested, [1]);
    chain.answer(1, batch, inputs[1]);
    await until(async () => (await c.findings.all()).length === 1, 'the lie found in the posted data');
    assert.equal((await c.findings.all())[0].jobId, records[1].jobId);
    // Its dispute is tried from the next pass (the pass auditing the answer once waited on itself forever).
    await until(() => chain.opens >= 2, 'the dispute on the lie tried, and tried again');
    assert.deepEqual(chain.requested, [1], 'demanded once');
  } finally {
    await c.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [name, forge] of [
  [
    'a listing under another root',
    (l: BatchListing): BatchListing => ({ ...l, root: 'ab'.repeat(32) as Hash32 }),
  ],
  [
    "the lie's id replaced by a second copy of the honest job's",
    (l: BatchListing): BatchListing => ({ ...l, jobIds: [l.jobIds[0], l.jobIds[0]] }),
  ],
  ['the lie left out', (l: BatchListing): BatchListing => ({ ...l, jobCount: 1, jobIds: [l.jobIds[0]] })],
] as const) {
  test(`forged listing (${name}): the challenger draws over the committed positions and, from half the window, demands them on chain; the lie is found`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-unserved-'));
    const registry = new ModelRegistry();
    const { model, batch, records, inputs, listing } = await lieBatch(registry);
    const chain = new ToyChain(Buffer.from(fromHex(batch.root, 32)));
    const source: JobSource = {
      batch: async () => forge(listing),
      proof: async (id) => batch.proof(records.findIndex((r) => r.jobId === id)),
      inputs: async () => undefined,
      modelBytes: async () => model.bytes,
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
      await c.onBatch({ ...MSG, root: batch.root });
      await new Promise((r) => setTimeout(r, 150));
      assert.deepEqual(chain.requested, []);
      chain.slot = 1500n;
      await until(() => chain.requested.length === 2, 'both positions demanded');
      assert.deepEqual([...chain.requested].sort(), [0, 1]);
      chain.answer(0, batch, inputs[0]);
      chain.answer(1, batch, inputs[1]);
      // The answers are audited one after the other, the lie perhaps first: wait for both.
      await until(
        async () => (await c.findings.all()).length === 1 && c.stats.audited === 2,
        'the lie found in the posted data and both answers audited',
      );
      assert.equal(c.stats.audited, 2, 'both answers audited');
      assert.equal(c.stats.mismatches, 1);
      assert.equal((await c.findings.all())[0].jobId, records[1].jobId);
    } finally {
      await c.close();
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
