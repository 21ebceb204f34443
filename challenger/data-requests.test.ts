// The challenger's use of data availability: inputs the sequencer withholds are requested on chain, and a request left unanswered has its timeout claimed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { createMemoryBus } from '../bus/memory.ts';
import { ModelRegistry } from '../executor/model.ts';
import { Batch, signResult, jobId as makeJobId } from '../state/job.ts';
import { OptinferError } from '../state/errors.ts';
import { tensorSetDigest, type Tensor } from '../state/tensor.ts';
import type { BatchIndex, ExecutorId, Hash32, ModelId } from '../state/types.ts';
import type { DataRequestAccount, SettlementClient } from '../settlement/index.ts';
import { label, toyBatch, toyConfig, toyModel, toyOperator } from '../dispute/testkit.ts';
import { Challenger } from './challenger.ts';
import type { JobSource } from './source.ts';

const hex = (s: string) => label(s).toString('hex') as Hash32;

/**
 * Batch 0 of two signed records (signed by `signer`, the executor by default, over `inputDigest` when given); the
 * sequencer serves their proofs but no inputs.
 */
function batch(signer?: Keypair, inputDigest?: Hash32) {
  const exec = Keypair.generate();
  const records = [0, 1].map((i) =>
    signResult(
      {
        jobId: makeJobId(i, hex('model') as ModelId, inputDigest ?? hex(`in ${i}`)),
        modelId: hex('model') as ModelId,
        inputDigest: inputDigest ?? hex(`in ${i}`),
        outputDigest: hex(`out ${i}`),
        executor: exec.publicKey.toBase58() as ExecutorId,
        fee: 1000n,
      },
      (signer ?? exec).secretKey,
    ),
  );
  return new Batch(0 as BatchIndex, records);
}

/** The chain as the challenger reads it: batch 0 open, one data request per job once made. */
class ToyChain {
  slot = 1050n;
  requests = new Map<number, DataRequestAccount>();
  requested: number[] = [];
  claimed: number[] = [];

  client(): SettlementClient {
    const c = {
      sender: { getSlot: async () => this.slot },
      // No batch committed yet as far as the chain scan is concerned: these tests drive audit() themselves.
      config: async () => toyConfig({ nextBatchIndex: 0n }),
      fetchBatch: async () => toyBatch(),
      listBatches: async () => [],
      fetchModel: async () => toyModel(),
      fetchJob: async () => null,
      fetchOperator: async (owner: PublicKey) => toyOperator({ owner, bonded: 10n }),
      bond: async () => {},
      listDisputes: async () => [],
      fetchDataRequest: async (_: unknown, j: number) => this.requests.get(j) ?? null,
      requestData: async (by: Keypair, _: bigint, j: number) => {
        this.requested.push(j);
        this.requests.set(j, {
          batch: Keypair.generate().publicKey,
          requester: by.publicKey,
          answerer: Keypair.generate().publicKey,
          deadline: 1206n,
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
      claimDataTimeout: async (_: unknown, __: bigint, j: number) => {
        this.claimed.push(j);
        this.requests.delete(j);
        return { events: [{ name: 'DataTimedOut', data: { bounty: 2_500_000_000n } }] };
      },
    };
    return c as unknown as SettlementClient;
  }
}

/** A challenger sampling every job, on `chain`, reading from `source`. */
function start(chain: ToyChain, source: JobSource): Promise<Challenger> {
  return Challenger.start({
    config: {
      dataDir: mkdtempSync(join(tmpdir(), 'optinfer-da-')),
      id: 'c1',
      sampleRate: 1,
      sandbox: false,
      retryMs: 20,
      chain: { client: chain.client(), bondLamports: 10n },
    },
    bus: createMemoryBus(),
    source,
    registry: new ModelRegistry(),
  });
}

async function until(cond: () => boolean, what: string, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('withheld inputs: the challenger requests them on chain once, and claims the timeout when the deadline passes unanswered', async () => {
  const b = batch();
  const chain = new ToyChain();
  const source: JobSource = {
    batch: async () => ({ index: 0, root: b.root, jobCount: 2, jobIds: b.records.map((r) => r.jobId) }),
    proof: async (id) => b.proof(b.records.findIndex((r) => r.jobId === id)),
    inputs: async () => undefined,
    modelBytes: async () => new Uint8Array(),
  };
  const c = await start(chain, source);
  try {
    const r = await c.audit(b.records[1].jobId, 0, b.root);
    assert.deepEqual(r, { outcome: 'skipped', reason: 'inputs not served: requested on chain' });
    assert.deepEqual(chain.requested, [1]);
    // Audited again (a redelivered batch): the open request is not sent twice.
    await c.audit(b.records[1].jobId, 0, b.root);
    assert.deepEqual(chain.requested, [1]);
    // Before the deadline nothing is claimed; from it (game time) the timeout is claimed once.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(chain.claimed, []);
    chain.slot = 1206n;
    await until(() => chain.claimed.length > 0, 'the timeout claimed');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(chain.claimed, [1]);
  } finally {
    await c.close();
  }
});

test('unsigned record: a record its executor never signed is requested on chain even with its inputs served (the sequencer cannot answer for it), and the timeout is claimed', async () => {
  const b = batch(Keypair.generate());
  const chain = new ToyChain();
  const source: JobSource = {
    batch: async () => ({ index: 0, root: b.root, jobCount: 2, jobIds: b.records.map((r) => r.jobId) }),
    proof: async (id) => b.proof(b.records.findIndex((r) => r.jobId === id)),
    inputs: async () => {
      throw new Error('an unsigned record is not re-executed');
    },
    modelBytes: async () => new Uint8Array(),
  };
  const c = await start(chain, source);
  try {
    const r = await c.audit(b.records[0].jobId, 0, b.root);
    assert.deepEqual(r, {
      outcome: 'skipped',
      reason: 'record signature does not verify: data requested on chain',
    });
    assert.deepEqual(chain.requested, [0]);
    chain.slot = 1206n;
    await until(() => chain.claimed.length > 0, 'the timeout claimed');
    assert.deepEqual(chain.claimed, [0]);
  } finally {
    await c.close();
  }
});

test('inputs served wrong: inputs that do not hash to the record, or that do not parse, are withheld ones: requested on chain', async () => {
  const b = batch();
  const chain = new ToyChain();
  const served = new Map<string, () => Promise<undefined | Record<string, Tensor>>>([
    // Another tensor than the record's inputDigest names (a sequencer shielding a sybil executor's job).
    [b.records[0].jobId, async () => ({ x: { dtype: 'float32', dims: [1], data: new Uint8Array(4) } })],
    // A body the challenger cannot decode.
    [
      b.records[1].jobId,
      async () => {
        throw new OptinferError('INVALID_INPUT', "input 'x': expected data.base64 to be valid base64");
      },
    ],
  ]);
  const source: JobSource = {
    batch: async () => ({ index: 0, root: b.root, jobCount: 2, jobIds: b.records.map((r) => r.jobId) }),
    proof: async (id) => b.proof(b.records.findIndex((r) => r.jobId === id)),
    inputs: async (id) => served.get(id)!(),
    modelBytes: async () => new Uint8Array(),
  };
  const c = await start(chain, source);
  try {
    for (const i of [0, 1]) {
      const r = await c.audit(b.records[i].jobId, 0, b.root);
      assert.deepEqual(
        r,
        { outcome: 'skipped', reason: 'inputs not served: requested on chain' },
        `job ${i}`,
      );
    }
    assert.deepEqual(chain.requested, [0, 1]);
  } finally {
    await c.close();
  }
});

test('seventeen inputs: a job whose served inputs are more tensors than answer_data takes (the one-step opens as many) is demanded on chain, not re-executed, and the timeout is claimed', async () => {
  const x: Tensor = { dtype: 'float32', dims: [1], data: new Uint8Array(4) };
  const inputs = Object.fromEntries(
    Array.from({ length: 17 }, (_, i) => [`x${String(i).padStart(2, '0')}`, x]),
  );
  const b = batch(undefined, tensorSetDigest(inputs));
  const chain = new ToyChain();
  const source: JobSource = {
    batch: async () => ({ index: 0, root: b.root, jobCount: 2, jobIds: b.records.map((r) => r.jobId) }),
    proof: async (id) => b.proof(b.records.findIndex((r) => r.jobId === id)),
    inputs: async () => inputs,
    modelBytes: async () => {
      throw new Error('a job of 17 inputs is not re-executed');
    },
  };
  const c = await start(chain, source);
  try {
    const r = await c.audit(b.records[1].jobId, 0, b.root);
    assert.deepEqual(r, {
      outcome: 'skipped',
      reason: '17 job inputs (at most 16 can be posted): data requested on chain',
    });
    assert.deepEqual(chain.requested, [1]);
    chain.slot = 1206n;
    await until(() => chain.claimed.length > 0, 'the timeout claimed');
    assert.deepEqual(chain.claimed, [1]);
  } finally {
    await c.close();
  }
});
