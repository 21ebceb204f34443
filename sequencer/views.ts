// What the HTTP API and a co-located challenger read: job views with outputs and inclusion proofs, batches, inputs.
import { OptinferError } from '../state/errors.ts';
import { Batch, type InclusionProof, type JobRecord } from '../state/job.ts';
import { seqKey } from '../state/store.ts';
import { fromStored, type TensorMap } from '../state/tensor-map.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { toRecord, type BatchState, type JobStatus, type Ledger } from './ledger.ts';

export interface JobView {
  jobId: JobId;
  status: JobStatus;
  modelId: ModelId;
  inputDigest: Hash32;
  fee: string;
  createdAt: number;
  executor?: ExecutorId;
  outputDigest?: Hash32;
  outputs?: TensorMap;
  batch?: { index: number; root: Hash32 };
  proof?: InclusionProof;
  error?: string;
  /** For a queued job: why no executor takes it now (none connected, unbonding, at its exposure cap). */
  waiting?: string;
}

/** Trees rebuilt from stored records for proofs: at most this many are cached when another is rebuilt. */
const REBUILT_TREES = 8;

export class Views {
  private readonly batchTrees = new Map<number, Batch>();

  constructor(private readonly ledger: Ledger) {}

  /** A freshly cut batch's tree, so proofs of its jobs need no rebuild. */
  remember(index: number, batch: Batch): void {
    this.batchTrees.set(index, batch);
  }

  async getJob(id: JobId, opts: { outputs?: boolean; proof?: boolean } = {}): Promise<JobView | undefined> {
    const j = await this.ledger.stateOf(id);
    if (!j) return undefined;
    const view: JobView = {
      jobId: j.jobId,
      status: j.status,
      modelId: j.modelId,
      inputDigest: j.inputDigest,
      fee: j.fee,
      createdAt: j.createdAt,
    };
    if (j.executor) view.executor = j.executor;
    if (j.error) view.error = j.error;
    if (j.outputDigest) {
      view.outputDigest = j.outputDigest;
      if (opts.outputs !== false) {
        const o = await this.ledger.outputs.get(id);
        if (o) view.outputs = fromStored(o);
      }
    }
    if (j.batchIndex !== undefined && j.position !== undefined) {
      const b = await this.ledger.batches.get(seqKey(j.batchIndex));
      if (b) {
        view.batch = { index: b.index, root: b.root };
        if (j.status === 'batched' && b.status === 'finalized') view.status = 'finalized';
        if (opts.proof !== false) view.proof = (await this.batchTree(b)).proof(j.position);
      }
    }
    return view;
  }

  async getInputs(id: JobId): Promise<TensorMap | undefined> {
    const s = await this.ledger.inputs.get(id);
    return s && fromStored(s);
  }

  async getBatch(index: number): Promise<BatchState | undefined> {
    return this.ledger.batches.get(seqKey(index));
  }

  async listBatches(limit = 50): Promise<BatchState[]> {
    return (await this.ledger.batches.entries({ reverse: true, limit })).map(([, b]) => ({
      ...b,
      jobIds: [],
    }));
  }

  /** The job records of a batch, in batch order, as committed. */
  async batchRecords(b: BatchState): Promise<JobRecord[]> {
    const states = await this.ledger.jobs.getMany(b.jobIds);
    return states.map((j, i) => {
      if (!j || !j.outputDigest || !j.executor) {
        throw new OptinferError(
          'STORE_CORRUPT',
          `batch ${b.index}: job ${b.jobIds[i]} is missing its result`,
        );
      }
      return toRecord(j);
    });
  }

  /**
   * What a data request on the job at `position` of batch `index` demands: its inclusion proof under the committed
   * root and its inputs (the job may have been re-queued into a later batch since; the record here is this batch's).
   */
  async dataAt(
    index: number,
    position: number,
  ): Promise<{ proof: InclusionProof; inputs: TensorMap } | undefined> {
    const b = await this.ledger.batches.get(seqKey(index));
    const id = b?.jobIds[position];
    if (!b || !id) return undefined;
    const inputs = await this.getInputs(id);
    return inputs && { proof: (await this.batchTree(b)).proof(position), inputs };
  }

  private async batchTree(b: BatchState): Promise<Batch> {
    let t = this.batchTrees.get(b.index);
    if (!t) {
      t = new Batch(b.index as BatchIndex, await this.batchRecords(b));
      if (this.batchTrees.size >= REBUILT_TREES)
        this.batchTrees.delete(this.batchTrees.keys().next().value as number);
      this.batchTrees.set(b.index, t);
    }
    return t;
  }
}
