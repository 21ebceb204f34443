// The in-process world of the challenger's audit-pipeline attack tests (review24.test.ts, review25.test.ts): batches
// of the demo model, a toy chain that lags, pauses and answers as told, and a challenger started on it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { createMemoryBus } from '../bus/memory.ts';
import type { Bus } from '../bus/bus.ts';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { ModelRegistry, type LoadedModel } from '../executor/model.ts';
import { runModel } from '../executor/run.ts';
import { OptinferError } from '../state/errors.ts';
import { Tag, fromHex, taggedHash, toHex } from '../state/hash.ts';
import { u16, u32 } from '../state/le.ts';
import { encodeInputSet } from '../state/input-set.ts';
import { Batch, jobId, signResult, type JobRecord } from '../state/job.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { tensorDigest, tensorSetDigest, type Tensor } from '../state/tensor.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import type {
  BatchAccount,
  DataRequestAccount,
  DisputeAccount,
  SettlementClient,
} from '../settlement/index.ts';
import { DATA_REQUEST_DEPOSIT, answerPay } from '../settlement/instructions.ts';
import { toyBatch, toyConfig, toyDispute, toyModel, toyOperator } from '../dispute/testkit.ts';
import { Challenger } from './challenger.ts';
import type { BatchListing, JobSource } from './source.ts';

export const sha = (s: string) => createHash('sha256').update(s).digest();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type Made = Awaited<ReturnType<typeof makeBatch>>;

/**
 * Batch `index` of `n` jobs (default 2) signed by `exec`: job `lieAt` (default 1) claims a made-up output digest unless
 * `honest`. Jobs run the demo model unless `modelId` names another (its output is then made up: never re-executed).
 */
export async function makeBatch(
  model: LoadedModel,
  index: number,
  exec: Keypair,
  o: { honest?: boolean; n?: number; modelId?: ModelId; lieAt?: number } = {},
) {
  const n = o.n ?? 2;
  const modelId = o.modelId ?? model.modelId;
  const inputs: TensorMap[] = Array.from({ length: n }, (_, m) => ({
    x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(16).map((_, k) => (k * (m + 3) + index) & 0xff) },
  }));
  const outputs = await Promise.all(
    inputs.map(async (x, i) =>
      (i === (o.lieAt ?? 1) && !o.honest) || o.modelId
        ? ('ee'.repeat(32) as Hash32)
        : (await runModel(model, x)).outputDigest,
    ),
  );
  const records: JobRecord[] = inputs.map((x, i) =>
    signResult(
      {
        jobId: jobId(index * 1000 + i, modelId, tensorSetDigest(x)),
        modelId,
        inputDigest: tensorSetDigest(x),
        outputDigest: outputs[i],
        executor: exec.publicKey.toBase58() as ExecutorId,
        fee: 1000n,
      },
      exec.secretKey,
    ),
  );
  const batch = new Batch(index as BatchIndex, records);
  const listing: BatchListing = { index, root: batch.root, jobCount: n, jobIds: records.map((r) => r.jobId) };
  return { index, batch, records, inputs, listing };
}

/** A JobSource serving `made` batches faithfully (listing, proofs, inputs, the demo model's bytes). */
export function faithful(model: LoadedModel, made: Made[]): JobSource {
  const find = (id: JobId) => {
    for (const b of made) {
      const i = b.records.findIndex((r) => r.jobId === id);
      if (i >= 0) return { b, i };
    }
    return undefined;
  };
  return {
    batch: async (i) => made.find((b) => b.index === i)?.listing,
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
}

/** Nothing served at all (the sequencer withholds every listing, proof and input). */
export const withholding = (model: LoadedModel): JobSource => ({
  batch: async () => undefined,
  proof: async () => undefined,
  inputs: async () => undefined,
  modelBytes: async () => model.bytes,
});

interface OnChain {
  root: Buffer;
  jobCount: number;
  commitSlot: bigint;
  window: bigint;
  finalized?: boolean;
  /** Game slot open_dispute stays open to after a data request answered late (answer_data sets it). */
  disputableUntil?: bigint;
}

export type Answer = {
  record: Buffer;
  signature: Buffer;
  siblings: Buffer[];
  siblingFees: bigint[];
  inputs: Buffer;
};

/**
 * The chain as the challenger reads it. Batches as committed (root, job count, commit slot, window); the slot is
 * `slot` or `slotFn()`; `latencyMs` makes every read a round trip; `lag` holds, per batch index, how many more
 * fetchBatch reads still miss a freshly committed account (an RPC node behind the one that served the config).
 */
export class Chain {
  slot = 1010n;
  slotFn?: () => bigint;
  latencyMs = 0;
  next = 0n;
  paused = 0;
  pauseStart = 0n;
  pausedSlots = 0n;
  batches = new Map<number, OnChain>();
  lag = new Map<number, number>();
  /** How many more listBatches (getProgramAccounts) reads come from a node that has none of the batches yet. */
  listLag = 0;
  /** When set, what listBatches returns (the program's Batch accounts). */
  listed?: { address: PublicKey; batch: BatchAccount }[];
  reads = 0;
  /** Batch indices fetchBatch was asked for. */
  fetched = new Set<number>();
  fetchedAbove(n: number): number {
    let k = 0;
    for (const i of this.fetched) if (i >= n) k++;
    return k;
  }
  requests = new Map<string, DataRequestAccount>();
  answers = new Map<string, Answer>();
  requested: string[] = [];
  /** Lamports of data-request deposits the challenger paid, and of those the answerer took (answerPay). */
  deposits = 0n;
  depositsToAnswerer = 0n;
  opens = 0;
  /** close_data_request calls (anyone may send it once the batch is final). */
  closedRequests: string[] = [];
  /** The sequencer answers every request at once with the committed data, when it returns one. */
  answerer?: (batch: number, job: number) => Answer | undefined;

  commit(b: Made, over: Partial<OnChain> = {}): void {
    this.batches.set(b.index, {
      root: Buffer.from(fromHex(b.batch.root, 32)),
      jobCount: b.records.length,
      commitSlot: 1000n,
      window: 100n,
      ...over,
    });
    if (BigInt(b.index) >= this.next) this.next = BigInt(b.index) + 1n;
  }

  now(): bigint {
    return this.slotFn ? this.slotFn() : this.slot;
  }

  client(): SettlementClient {
    const rt = async <T>(f: () => T): Promise<T> => {
      this.reads++;
      if (this.latencyMs) await sleep(this.latencyMs);
      return f();
    };
    const c = {
      sender: { getSlot: () => rt(() => this.now()), getBalance: async () => 6_100_000n },
      config: () =>
        rt(() =>
          toyConfig({
            nextBatchIndex: this.next,
            paused: this.paused,
            pauseStart: this.pauseStart,
            pausedSlots: this.pausedSlots,
          }),
        ),
      fetchBatch: (i: bigint) =>
        rt(() => {
          this.fetched.add(Number(i));
          const b = this.batches.get(Number(i));
          if (!b) return null;
          const lag = this.lag.get(Number(i)) ?? 0;
          if (lag > 0) {
            this.lag.set(Number(i), lag - 1);
            return null;
          }
          return toyBatch({
            index: i,
            root: b.root,
            jobCount: b.jobCount,
            commitSlot: b.commitSlot,
            challengeWindow: b.window,
            finalized: b.finalized ? 1 : 0,
            disputableUntil: b.disputableUntil ?? 0n,
          });
        }),
      fetchModel: () => rt(() => toyModel()),
      fetchJob: () => rt(() => null),
      fetchOperator: (owner: PublicKey) => rt(() => toyOperator({ owner, bonded: 10n })),
      fetchDispute: () => rt(() => null),
      bond: async () => {},
      listDisputes: async () => [],
      listJobs: async () => [],
      listBatches: async () => {
        if (this.listed) return this.listed;
        if (this.listLag > 0) {
          this.listLag--;
          return [];
        }
        return [...this.batches.entries()].map(([i, b]) => ({
          address: Keypair.generate().publicKey,
          batch: toyBatch({
            index: BigInt(i),
            root: b.root,
            jobCount: b.jobCount,
            finalized: b.finalized ? 1 : 0,
          }),
        }));
      },
      listDataRequests: async () =>
        [...this.requests.entries()].map(([key, request]) => ({
          address: Keypair.generate().publicKey,
          request,
          batchIndex: BigInt(key.split(':')[0]),
          sequencer: Keypair.generate().publicKey,
          batchFinal: this.batches.get(Number(key.split(':')[0]))?.finalized === true,
        })),
      closeDataRequest: async (_by: Keypair, b: bigint, j: number) => {
        this.closedRequests.push(`${b}:${j}`);
        this.requests.delete(`${b}:${j}`);
        this.answers.delete(`${b}:${j}`);
        return { events: [] };
      },
      openDispute: async () => {
        this.opens++;
        throw new OptinferError('UNAVAILABLE', 'no games in this test');
      },
      fetchDataRequest: (b: bigint, j: number) => rt(() => this.requests.get(`${b}:${j}`) ?? null),
      fetchDataAnswer: (b: bigint, j: number) => rt(() => this.answers.get(`${b}:${j}`) ?? null),
      requestData: async (by: Keypair, b: bigint, j: number) => {
        const key = `${b}:${j}`;
        this.requested.push(key);
        this.deposits += DATA_REQUEST_DEPOSIT;
        const answer = this.answerer?.(Number(b), j);
        if (answer) {
          this.answers.set(key, answer);
          this.depositsToAnswerer += answerPay(answer.inputs.length);
        }
        this.requests.set(key, {
          batch: Keypair.generate().publicKey,
          requester: by.publicKey,
          answerer: Keypair.generate().publicKey,
          deadline: this.now() + 156n,
          jobIndex: j,
          answered: answer ? 1 : 0,
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

/** answer_data as the program takes it: the record, its signature and opening, and the inputs. */
export function answerOf(b: Made, j: number): Answer {
  const p = b.batch.proof(j);
  return {
    record: Buffer.from(fromHex(p.record)),
    signature: Buffer.from(fromHex(p.signature)),
    siblings: p.siblings.map((s) => Buffer.from(fromHex(s, 32))),
    siblingFees: p.siblingFees.map(BigInt),
    inputs: encodeInputSet(b.inputs[j]),
  };
}

export async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/** A test's world: a data dir, the demo model, a toy chain and a memory bus; `run` starts the challenger. */
export async function world() {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-audit-'));
  const registry = new ModelRegistry();
  const model = await registry.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
  const chain = new Chain();
  const bus: Bus = createMemoryBus();
  let c: Challenger | undefined;
  return {
    dir,
    registry,
    model,
    chain,
    bus,
    start: async (
      source: JobSource,
      over: {
        sampleRate?: number;
        retryMs?: number;
        absentGraceMs?: number;
        /** The challenger's own registry (default the world's, which holds the demo model). */
        registry?: ModelRegistry;
      } = {},
    ) => {
      c = await Challenger.start({
        config: {
          dataDir: dir,
          id: 'c1',
          sampleRate: over.sampleRate ?? 1,
          sandbox: false,
          retryMs: over.retryMs ?? 20,
          absentGraceMs: over.absentGraceMs,
          chain: { client: chain.client(), bondLamports: 10n },
        },
        bus,
        source,
        registry: over.registry ?? registry,
      });
      return c;
    },
    /** The lie in batch `index` was found, or its position demanded on chain. */
    caught: async (index: number, job = 1) =>
      chain.requested.includes(`${index}:${job}`) ||
      (c !== undefined && (await c.findings.all()).some((f) => f.batchIndex === index && f.position === job)),
    close: async () => {
      await c?.close();
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const msg = (b: Made) => ({
  index: b.index,
  root: b.batch.root,
  jobCount: b.records.length,
  windowEndsAt: Date.now() + 600_000,
});

/** One tensor posted under raw name bytes `name`: its tensor-set digest (over those bytes) and posted form. */
export function postedUnder(name: Buffer, t: Tensor): { digest: Hash32; bytes: Buffer } {
  const digest = toHex(
    taggedHash(Tag.TENSOR_SET, u32(1), u16(name.length), name, fromHex(tensorDigest(t), 32)),
  ) as Hash32;
  const tail = encodeInputSet({ a: t }).subarray(4 + 2 + 1); // header and bytes after the one-byte name 'a'
  return { digest, bytes: Buffer.concat([u32(1), u16(name.length), name, tail]) };
}

/** Batch 0 of the demo model with job 1 (the lie, output made up) committed to `inputDigest`. */
export async function lieBatch(model: LoadedModel, exec: Keypair, inputDigest: Hash32): Promise<Made> {
  const b0 = await makeBatch(model, 0, exec);
  const lieRecord = signResult(
    {
      jobId: jobId(1, model.modelId, inputDigest),
      modelId: model.modelId,
      inputDigest,
      outputDigest: 'ee'.repeat(32) as Hash32,
      executor: exec.publicKey.toBase58() as ExecutorId,
      fee: 1000n,
    },
    exec.secretKey,
  );
  const records: JobRecord[] = [b0.records[0], lieRecord];
  const batch = new Batch(0 as BatchIndex, records);
  return {
    index: 0,
    batch,
    records,
    inputs: b0.inputs,
    listing: { index: 0, root: batch.root, jobCount: 2, jobIds: records.map((r) => r.jobId) },
  };
}

/**
 * The views challenger `c` gives the driver for a game on job 1's record `r` (what a restarted challenger plays
 * from), or why it has none.
 */
export async function gameViews(c: Challenger, modelId: string, r: JobRecord): Promise<unknown> {
  const game: DisputeAccount = toyDispute({
    modelId: Buffer.from(modelId, 'hex'),
    inputDigest: Buffer.from(r.inputDigest, 'hex'),
    outputDigest: Buffer.from(r.outputDigest, 'hex'),
    jobIndex: 1,
  });
  return (c as unknown as { disputeViews(d: DisputeAccount): Promise<unknown> })
    .disputeViews(game)
    .catch((e: Error) => `threw: ${e.message}`);
}
