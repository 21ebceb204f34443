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

/** How long one request to the sequencer may take, body included, before it counts as not served (retried). */
export const HTTP_TIMEOUT_MS = 15_000;
/** The same for a model's bytes, which may be large. */
export const MODEL_HTTP_TIMEOUT_MS = 120_000;

export class HttpSource implements JobSource {
  constructor(
    private readonly baseUrl: string,
    private readonly timeouts = { json: HTTP_TIMEOUT_MS, bytes: MODEL_HTTP_TIMEOUT_MS },
  ) {}

  /**
   * GET `path` and read its body, all within a deadline: a sequencer that stalls the headers or trickles the body
   * gets UNAVAILABLE (retried next pass, demanded on chain from half the window) instead of holding the audit
   * queue forever (review 24 "hung listing"). A 404 reads as undefined.
   */
  private async get(path: string, kind: 'json' | 'bytes'): Promise<unknown> {
    const ms = this.timeouts[kind];
    const signal = AbortSignal.timeout(ms);
    const late = (cause: unknown, what: string) =>
      new OptinferError('UNAVAILABLE', `sequencer at ${this.baseUrl} ${what}`, undefined, { cause });
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { signal });
    } catch (cause) {
      throw late(cause, signal.aborted ? `did not answer ${path} within ${ms} ms` : 'is unreachable');
    }
    if (res.status === 404 || !res.ok) {
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 404) return undefined;
      throw new OptinferError('UNAVAILABLE', `sequencer answered HTTP ${res.status} for ${path}`);
    }
    try {
      return kind === 'bytes' ? new Uint8Array(await res.arrayBuffer()) : await res.json();
    } catch (cause) {
      throw late(
        cause,
        signal.aborted ? `did not finish ${path} within ${ms} ms` : `sent an unreadable body for ${path}`,
      );
    }
  }

  async batch(index: number): Promise<BatchListing | undefined> {
    return (await this.get(`/v1/batches/${index}?jobs=true`, 'json')) as BatchListing | undefined;
  }
  async proof(jobId: JobId): Promise<InclusionProof | undefined> {
    const body = (await this.get(`/v1/jobs/${jobId}?outputs=false`, 'json')) as
      { proof?: InclusionProof } | undefined;
    return body?.proof;
  }
  async inputs(jobId: JobId): Promise<TensorMap | undefined> {
    const body = await this.get(`/v1/jobs/${jobId}/inputs`, 'json');
    return body === undefined ? undefined : decodeInputsJson(body);
  }
  async modelBytes(modelId: ModelId): Promise<Uint8Array> {
    const bytes = (await this.get(`/v1/models/${modelId}/file`, 'bytes')) as Uint8Array | undefined;
    if (!bytes) throw new OptinferError('NOT_FOUND', `model ${modelId} is unknown to the sequencer`);
    return bytes;
  }
}
