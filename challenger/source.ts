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
/**
 * The most bytes read of one JSON body (a listing of 1,024 ids is about 70 kB, a job's inputs at most 32 KiB
 * posted) and of one model file (the sequencer's own default limit, 256 MiB): past them the body is dropped
 * unread (review 25 "huge listing").
 */
export const JSON_BODY_MAX = 4 << 20;
export const MODEL_BODY_MAX = 256 << 20;

export class HttpSource implements JobSource {
  /**
   * After a request runs out its deadline, the sequencer is not asked again until this time (ms since the epoch):
   * each call fails at once as UNAVAILABLE, so a sequencer holding many requests costs one deadline per pause, not
   * one per request in the single audit queue (review 25 "serialized deadlines"). What it did not serve is demanded
   * on chain from half the window, as for a sequencer that is down.
   */
  private downUntil = 0;

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
    if (Date.now() < this.downUntil)
      throw new OptinferError(
        'UNAVAILABLE',
        `sequencer at ${this.baseUrl} ran out a deadline recently: not asked for ${path} until ${new Date(this.downUntil).toISOString()}`,
      );
    const signal = AbortSignal.timeout(ms);
    const late = (cause: unknown, what: string) => {
      if (signal.aborted) this.downUntil = Date.now() + 2 * this.timeouts.json;
      return new OptinferError('UNAVAILABLE', `sequencer at ${this.baseUrl} ${what}`, undefined, { cause });
    };
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
      const body = await readCapped(res, kind === 'bytes' ? MODEL_BODY_MAX : JSON_BODY_MAX, path);
      return kind === 'bytes'
        ? body
        : JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
    } catch (cause) {
      if (cause instanceof OptinferError) throw cause;
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

/** The body of `res`, at most `max` bytes: a longer one is cancelled and refused (UNAVAILABLE). */
async function readCapped(res: Response, max: number, path: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  const tooLong = () =>
    new OptinferError(
      'UNAVAILABLE',
      `the sequencer's answer to ${path} is longer than ${max} bytes: not read`,
    );
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLong();
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLong();
    }
    parts.push(value);
  }
  return Buffer.concat(parts);
}
