// Where a challenger reads batches, job records and inputs: the in-process sequencer or its HTTP API.
import { OptinferError } from '../state/errors.ts';
import type { InclusionProof } from '../state/job.ts';
import type { Hash32, JobId, ModelId } from '../state/types.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { decodeInputsJson } from '../state/tensor-json.ts';

export interface BatchListing {
  index: number;
  root: Hash32;
  jobCount: number;
  jobIds: JobId[];
}

export interface JobSource {
  batch(index: number): Promise<BatchListing | undefined>;
  /** The job's inclusion proof (it carries the committed record). */
  proof(jobId: JobId): Promise<InclusionProof | undefined>;
  inputs(jobId: JobId): Promise<TensorMap | undefined>;
  modelBytes(modelId: ModelId): Promise<Uint8Array>;
}

/** What an in-process sequencer offers a challenger in the same process (the all-in-one node, tests). */
export interface LocalJobs {
  getBatch(
    index: number,
  ): Promise<{ index: number; root: Hash32; jobCount: number; jobIds: JobId[] } | undefined>;
  getJob(id: JobId, opts: { outputs?: boolean }): Promise<{ proof?: InclusionProof } | undefined>;
  getInputs(id: JobId): Promise<TensorMap | undefined>;
  modelBytes(modelId: ModelId): Uint8Array;
}

export class SequencerSource implements JobSource {
  constructor(private readonly seq: LocalJobs) {}
  async batch(index: number): Promise<BatchListing | undefined> {
    const b = await this.seq.getBatch(index);
    return b && { index: b.index, root: b.root, jobCount: b.jobCount, jobIds: b.jobIds };
  }
  async proof(jobId: JobId): Promise<InclusionProof | undefined> {
    return (await this.seq.getJob(jobId, { outputs: false }))?.proof;
  }
  async inputs(jobId: JobId): Promise<TensorMap | undefined> {
    return this.seq.getInputs(jobId);
  }
  async modelBytes(modelId: ModelId): Promise<Uint8Array> {
    return this.seq.modelBytes(modelId);
  }
}

export class HttpSource implements JobSource {
  constructor(private readonly baseUrl: string) {}

  private async get(path: string): Promise<Response | undefined> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`);
    } catch (cause) {
      throw new OptinferError('UNAVAILABLE', `sequencer at ${this.baseUrl} is unreachable`, undefined, {
        cause,
      });
    }
    if (res.status === 404) return undefined;
    if (!res.ok) throw new OptinferError('UNAVAILABLE', `sequencer answered HTTP ${res.status} for ${path}`);
    return res;
  }

  async batch(index: number): Promise<BatchListing | undefined> {
    const res = await this.get(`/v1/batches/${index}?jobs=true`);
    return res && ((await res.json()) as BatchListing);
  }
  async proof(jobId: JobId): Promise<InclusionProof | undefined> {
    const res = await this.get(`/v1/jobs/${jobId}?outputs=false`);
    return res && ((await res.json()) as { proof?: InclusionProof }).proof;
  }
  async inputs(jobId: JobId): Promise<TensorMap | undefined> {
    const res = await this.get(`/v1/jobs/${jobId}/inputs`);
    return res && decodeInputsJson(await res.json());
  }
  async modelBytes(modelId: ModelId): Promise<Uint8Array> {
    const res = await this.get(`/v1/models/${modelId}/file`);
    if (!res) throw new OptinferError('NOT_FOUND', `model ${modelId} is unknown to the sequencer`);
    return new Uint8Array(await res.arrayBuffer());
  }
}
