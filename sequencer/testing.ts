// Fakes and fixtures for the sequencer's unit tests: a temp-dir ledger, a fake inspector, recording metrics and logs.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { Keypair } from '@solana/web3.js';
import { sha256 } from '../state/hash.ts';
import { jobId as makeJobId, signResult } from '../state/job.ts';
import { Store, seqKey } from '../state/store.ts';
import { tensorSetDigest, type Tensor } from '../state/tensor.ts';
import { toStored, type TensorMap } from '../state/tensor-map.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { Ledger, type JobState } from './ledger.ts';
import type { ModelInfo, ModelInspector } from './ports.ts';

export const MODEL_ID = 'ab'.repeat(32) as ModelId;

const testKeys = new Map<ExecutorId, Keypair>();
/** A test executor's id: the public key of a keypair seeded by the letter, so its results can be signed. */
export function executorId(letter: string): ExecutorId {
  const k = Keypair.fromSeed(sha256(new TextEncoder().encode(`test executor ${letter}`)));
  const id = k.publicKey.toBase58() as ExecutorId;
  testKeys.set(id, k);
  return id;
}

/** The signature `executor` (from executorId) puts on its result for a job (what executor/consumer.ts sends). */
export function signFor(
  executor: ExecutorId,
  j: { jobId: JobId; modelId: ModelId; inputDigest: Hash32; fee: string },
  outputDigest: Hash32,
): string {
  const k = testKeys.get(executor);
  if (!k) throw new Error(`${executor} is not a test executor from executorId()`);
  return signResult({ ...j, outputDigest, executor, fee: BigInt(j.fee) }, k.secretKey).signature;
}

export function int8(values: number[]): Tensor {
  return { dtype: 'int8', dims: [1, values.length], data: new Uint8Array(Int8Array.from(values).buffer) };
}

/** A ledger over a fresh LevelDB in a temp dir; `reopen` closes it and opens the same directory again. */
export async function tempLedger(): Promise<{
  dir: string;
  ledger: Ledger;
  reopen(): Promise<Ledger>;
  close(): Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-seq-unit-'));
  let ledger = new Ledger(await Store.open(join(dir, 'sequencer.db')));
  return {
    dir,
    get ledger() {
      return ledger;
    },
    async reopen() {
      await ledger.writer.drain();
      await ledger.store.close();
      ledger = new Ledger(await Store.open(join(dir, 'sequencer.db')));
      await ledger.loadCounters();
      return ledger;
    },
    async close() {
      await ledger.writer.drain();
      await ledger.store.close();
    },
  };
}

/**
 * Persists a job as intake would, in the given status (executed jobs get an executor and output digest), and
 * keeps it active as the sequencer does until it is batched.
 */
export async function seedJob(
  ledger: Ledger,
  seq: number,
  opts: { status?: JobState['status']; executor?: ExecutorId; inputs?: TensorMap; attempts?: number } = {},
): Promise<JobState> {
  const inputs = opts.inputs ?? { x: int8([seq, 1, 2, 3]) };
  const inputDigest = tensorSetDigest(inputs);
  const id = makeJobId(seq, MODEL_ID, inputDigest);
  const state: JobState = {
    jobId: id,
    seq,
    modelId: MODEL_ID,
    inputDigest,
    fee: '1000',
    status: opts.status ?? 'queued',
    createdAt: 1,
    updatedAt: 1,
    attempts: opts.attempts ?? 0,
    excluded: [],
  };
  if (state.status === 'executed') {
    state.executor = opts.executor ?? executorId('A');
    state.outputDigest = tensorSetDigest({ y: int8([seq]) });
    state.signature = signFor(state.executor, state, state.outputDigest);
    state.attempts = Math.max(state.attempts, 1);
  }
  await ledger.store.write([
    ledger.jobs.put(id, state),
    ledger.inputs.put(id, toStored(inputs)),
    ledger.open.put(seqKey(seq), id),
  ]);
  ledger.active.set(id, state);
  ledger.nextSeq = Math.max(ledger.nextSeq, seq + 1);
  return state;
}

/** Accepts any model as one int8 input `x`; refuses inputs without `x`. Counts the models it was shown. */
export class FakeInspector implements ModelInspector {
  inspected: string[] = [];
  constructor(private readonly provable = false) {}

  async inspect(bytes: Uint8Array, name: string): Promise<Omit<ModelInfo, 'registeredAt'>> {
    if (bytes.length === 0) throw new OptinferError('INVALID_MODEL', 'model: expected ONNX bytes, got none');
    this.inspected.push(name);
    return {
      modelId: '00'.repeat(32) as ModelId,
      name,
      inputs: [{ name: 'x', dtype: 'int8', dims: [1, null] }],
      outputs: [{ name: 'y', dtype: 'int8', dims: [1, null] }],
      provable: this.provable,
      unprovableOps: [],
      sizeBytes: bytes.length,
    };
  }

  validateInputs(_model: ModelInfo, inputs: TensorMap): void {
    if (!inputs.x) throw new OptinferError('INVALID_INPUT', "input 'x': expected int8 [1,n], got nothing");
  }
}

/** Metrics that remember counters and the last value of each gauge. */
export class RecordingMetrics implements Metrics {
  readonly counters = new Map<string, number>();
  readonly gauges = new Map<string, number>();
  readonly observed = new Map<string, number[]>();
  inc(name: string, _labels?: Record<string, string>, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }
  set(name: string, value: number): void {
    this.gauges.set(name, value);
  }
  observe(name: string, seconds: number): void {
    this.observed.set(name, [...(this.observed.get(name) ?? []), seconds]);
  }
  count(name: string): number {
    return this.counters.get(name) ?? 0;
  }
}

/** A pino logger whose lines are kept as objects, so tests can check the log messages operators rely on. */
export function recordingLogger(): { log: Logger; lines: { msg: string; [k: string]: unknown }[] } {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 2_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
