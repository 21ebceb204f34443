// The sequencer's durable state: its LevelDB tables (names and keys are the on-disk layout), the counters, and unbatched jobs.
import type { JobRecord } from '../state/job.ts';
import type { ModelInfo } from '../state/model-info.ts';
import type { Store, Table, WriteOp } from '../state/store.ts';
import type { StoredTensorMap } from '../state/tensor-map.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { GroupWriter } from './group-writer.ts';
import type { BatchHeader } from './ports.ts';

export type JobStatus = 'queued' | 'executing' | 'executed' | 'batched' | 'finalized' | 'invalid' | 'failed';

export interface JobState {
  jobId: JobId;
  seq: number;
  modelId: ModelId;
  inputDigest: Hash32;
  fee: string;
  /** The user whose deposit pays the fee (base58), when the node took a voucher for it (sequencer/payments.ts). */
  payer?: string;
  status: Exclude<JobStatus, 'finalized'>;
  createdAt: number;
  updatedAt: number;
  /** Assignments so far; written before the executor sees each one, so an attempt in flight at a crash counts. */
  attempts: number;
  /** Executors that timed out or failed on this job: never assigned it again. */
  excluded: ExecutorId[];
  executor?: ExecutorId;
  outputDigest?: Hash32;
  /** The executor's signature over the job record (hex), verified when the result arrived. */
  signature?: string;
  batchIndex?: number;
  position?: number;
  /** Why the job ended `failed` (shown by the API). */
  error?: string;
  /** Why the last attempt did not count, while the job waits for another (its `error` if it ends failed). */
  lastError?: string;
  /** Earlier results of this job that lost a dispute: the batch they were in and the executor that lied. */
  invalidations?: {
    batchIndex: number;
    position: number;
    executor: ExecutorId;
    at: number;
    /** The lying result's output digest and signature: the batch root is rebuilt from them at start. */
    outputDigest?: Hash32;
    signature?: string;
  }[];
}

export interface BatchState {
  index: number;
  root: Hash32;
  jobCount: number;
  /** Sum of the records' fees (decimal lamports): what the sequencer escrows at commit (absent: batches cut before fees were escrowed, 0). */
  feeTotal?: string;
  jobIds: JobId[];
  createdAt: number;
  windowEndsAt: number;
  /** pending: persisted, root not yet accepted by settlement; committed: inside its window. */
  status: 'pending' | 'committed' | 'finalized';
  finalizedAt?: number;
  /** Positions whose job lost a dispute and was re-queued. */
  invalidated?: number[];
}

/** Shared by every part of the sequencer; each part writes only the records its step changes. */
export class Ledger {
  /** Group commit for the hot path: writes in the same tick share one LevelDB batch. */
  readonly writer: GroupWriter;
  readonly jobs: Table<JobState>;
  readonly inputs: Table<StoredTensorMap>;
  readonly outputs: Table<StoredTensorMap>;
  /** Jobs acknowledged and not yet batched (queued, executing or executed), by sequence number. */
  readonly open: Table<JobId>;
  readonly batches: Table<BatchState>;
  readonly models: Table<ModelInfo>;
  readonly meta: Table<number>;
  /** Per paying user (base58): the fees of its finalized jobs (decimal lamports), what the node may draw from its deposit. */
  readonly charges: Table<string>;
  /** Per paying user (base58): the vouchers the node took and has not drawn past (sequencer/payments.ts). */
  readonly vouchers: Table<{ cumulative: string; signature: string }[]>;
  /** States of jobs not yet batched (queued, executing, executed): the hot path never reads them back from disk. */
  readonly active = new Map<JobId, JobState>();
  /** The next job's sequence number; persisted with each batch and each failed job (see Batcher.cut). */
  nextSeq = 0;
  nextBatch = 0;

  constructor(readonly store: Store) {
    this.writer = new GroupWriter(store);
    this.jobs = store.table('jobs');
    this.inputs = store.table('inputs');
    this.outputs = store.table('outputs');
    this.open = store.table('open');
    this.batches = store.table('batches');
    this.models = store.table('models');
    this.meta = store.table('meta');
    this.charges = store.table('charges');
    this.vouchers = store.table('vouchers');
  }

  async loadCounters(): Promise<void> {
    this.nextSeq = (await this.meta.get('nextSeq')) ?? 0;
    this.nextBatch = (await this.meta.get('nextBatch')) ?? 0;
  }

  write(ops: WriteOp[]): Promise<void> {
    return this.writer.write(ops);
  }

  async stateOf(id: JobId): Promise<JobState | undefined> {
    return this.active.get(id) ?? (await this.jobs.get(id));
  }
}

/** A job as its batch commits it; only called on executed jobs, which have these fields. */
export function toRecord(j: JobState): JobRecord {
  return {
    jobId: j.jobId,
    modelId: j.modelId,
    inputDigest: j.inputDigest,
    outputDigest: j.outputDigest!,
    executor: j.executor!,
    fee: BigInt(j.fee),
    signature: j.signature!,
  };
}

export function header(b: BatchState): BatchHeader {
  const h: BatchHeader = { index: b.index as BatchIndex, root: b.root, jobCount: b.jobCount };
  if (b.feeTotal !== undefined) h.feeTotal = BigInt(b.feeTotal);
  return h;
}
