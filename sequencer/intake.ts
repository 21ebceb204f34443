// Intake: a job is validated against its model and on disk before it is acknowledged; after a crash, open jobs resume.
import type { Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { checkInputSetSize } from '../state/input-set.ts';
import { jobId as makeJobId } from '../state/job.ts';
import { seqKey } from '../state/store.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromStored, toStored, type TensorMap } from '../state/tensor-map.ts';
import type { JobId, ModelId } from '../state/types.ts';
import type { ExecutedJob } from './batcher.ts';
import type { QueuedJob } from './dispatch.ts';
import type { JobState, Ledger } from './ledger.ts';
import type { ModelInfo } from './ports.ts';

export interface IntakeConfig {
  defaultFeeLamports: bigint;
}

/** The largest fee a job record can carry (a u64 on chain). */
const FEE_LIMIT = 1n << 64n;

export class Intake {
  private closed = false;

  constructor(
    private readonly config: IntakeConfig,
    private readonly ledger: Ledger,
    private readonly models: {
      get(modelId: ModelId): ModelInfo | undefined;
      validateInputs(model: ModelInfo, inputs: TensorMap): void;
    },
    /** Where jobs wait for an executor (the dispatcher). */
    private readonly queue: {
      enqueue(job: QueuedJob): void;
      restore(job: QueuedJob, state: JobState): void | Promise<void>;
    },
    /** Where executed jobs wait for a batch (the batcher). */
    private readonly executed: { restore(job: ExecutedJob): void },
    private readonly metrics: Metrics,
  ) {}

  /** Validates and persists a job; resolves with its id once it can no longer be lost. */
  async submit(req: {
    modelId: ModelId;
    inputs: TensorMap;
    fee?: bigint;
    payer?: string;
  }): Promise<{ jobId: JobId }> {
    if (this.closed) throw new OptinferError('UNAVAILABLE', 'sequencer is shutting down');
    const model = this.models.get(req.modelId);
    if (!model) {
      this.metrics.inc('jobs_rejected_total');
      throw new OptinferError('NOT_FOUND', `model ${req.modelId} is not registered (POST /v1/models first)`);
    }
    try {
      this.models.validateInputs(model, req.inputs);
      // Inputs too large to post on chain within a data request's answer time are refused (data availability).
      checkInputSetSize(req.inputs);
    } catch (e) {
      this.metrics.inc('jobs_rejected_total');
      throw e;
    }
    const fee = req.fee ?? this.config.defaultFeeLamports;
    if (fee < 0n || fee >= FEE_LIMIT)
      throw new OptinferError('INVALID_INPUT', `fee: expected 0..2^64-1 lamports, got ${fee}`);
    const inputDigest = tensorSetDigest(req.inputs);
    const seq = this.ledger.nextSeq++;
    const id = makeJobId(seq, req.modelId, inputDigest);
    const now = Date.now();
    const state: JobState = {
      jobId: id,
      seq,
      modelId: req.modelId,
      inputDigest,
      fee: fee.toString(),
      ...(req.payer ? { payer: req.payer } : {}),
      status: 'queued',
      createdAt: now,
      updatedAt: now,
      attempts: 0,
      excluded: [],
    };
    await this.ledger.write([
      this.ledger.jobs.put(id, state),
      this.ledger.inputs.put(id, toStored(req.inputs)),
      this.ledger.open.put(seqKey(seq), id),
    ]);
    this.ledger.active.set(id, state);
    this.metrics.inc('jobs_accepted_total');
    this.queue.enqueue({ seq, jobId: id, inputs: req.inputs });
    return { jobId: id };
  }

  /**
   * Picks up every job acknowledged and not yet batched. A job stays in `open` from its acknowledgement until its
   * batch is written. Each assignment is on disk (its attempt counted) before the executor sees it: a job in flight
   * at a crash is handed out again, or ends `failed` once it has used its attempts (see Dispatcher.restore). A
   * duplicate run is harmless (an executor answers a redelivered job from its results table) and a late answer
   * from the previous assignee is ignored.
   */
  async recover(): Promise<void> {
    const now = Date.now();
    for (const [key, id] of await this.ledger.open.entries()) {
      const seq = Number(key);
      const j = await this.ledger.jobs.get(id);
      if (!j) throw new OptinferError('STORE_CORRUPT', `job ${id} is open but its record is missing`);
      this.ledger.active.set(id, j);
      // No sequence number, and so no job id, is handed out twice (see Batcher.cut).
      this.ledger.nextSeq = Math.max(this.ledger.nextSeq, seq + 1);
      if (j.status === 'executed') {
        this.executed.restore({ seq, jobId: id, at: now });
        continue;
      }
      const stored = await this.ledger.inputs.get(id);
      if (!stored) throw new OptinferError('STORE_CORRUPT', `job ${id} is queued but its inputs are missing`);
      await this.queue.restore({ seq, jobId: id, inputs: fromStored(stored) }, j);
    }
  }

  /** Refuses new jobs from now on; those acknowledged are already on disk. */
  close(): void {
    this.closed = true;
  }
}
