// The optinfer client: submit jobs, follow them to their end, fetch outputs, verify inclusion against the chain (fetch only: Node and browsers).
import { OptinferApiError, apiErrorOf } from './errors.ts';
import { decodeJobRecord, inclusionProofError } from './proof.ts';
import type {
  ChainBatchView,
  DepositView,
  DisputesView,
  JobPayment,
  JobRecordFields,
  JobStatus,
  JobView,
  ModelInfo,
  OperatorStatusView,
  OperatorsView,
  TensorJson,
} from './types.ts';

export const DEFAULT_NODE_URL = 'http://127.0.0.1:8787';

export interface ClientOptions {
  /** The node's base URL; default the dev node's http://127.0.0.1:8787. */
  url?: string;
  /** Sent as `Authorization: Bearer KEY` (nodes started with --api-key). */
  apiKey?: string;
  /** How often `watch` and `wait` read a job; default 250 ms. */
  pollMs?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

/** Where a job is, in the words of the life cycle: queued → assigned → executed → committed → finalized, or not. */
export type JobPhase =
  'queued' | 'assigned' | 'executed' | 'committed' | 'finalized' | 'invalidated' | 'failed';

const PHASE_OF: Record<JobStatus, JobPhase> = {
  queued: 'queued',
  executing: 'assigned',
  executed: 'executed',
  batched: 'committed',
  finalized: 'finalized',
  invalid: 'invalidated',
  failed: 'failed',
};
const TERMINAL: ReadonlySet<JobStatus> = new Set(['finalized', 'invalid', 'failed']);

/** One step of a job: its new phase, and the job as read (without outputs or proof). */
export interface JobEvent {
  phase: JobPhase;
  status: JobStatus;
  job: JobView;
  /** For `invalidated`: the batch whose result lost a dispute (the job then runs again on another executor). */
  batch?: { index: number; root: string };
  at: number;
}

export interface WatchOptions {
  /** Give up (error TIMEOUT) after this long; default never. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WaitOptions extends WatchOptions {
  /** Called on every step, as `watch` yields them. */
  onEvent?: (e: JobEvent) => void;
}

/** What `verify` found about a job's place in its batch and the batch's place on chain. */
export interface Verification {
  jobId: string;
  /** The proof holds and its record is this job's result. */
  proofValid: boolean;
  /** Why not, when not. */
  problem?: string;
  record?: JobRecordFields;
  batchIndex?: number;
  batchRoot?: string;
  /** The batch as the program holds it; null when the node settles without a chain, or the batch is not on chain yet. */
  chain: ChainBatchView | null;
  /** Why `chain` is null. */
  chainProblem?: string;
  /** The chain's root and job count are the proof's. */
  rootOnChain?: boolean;
  /** The job's position lost a dispute on chain. */
  invalidated?: boolean;
  /** proofValid, the root is the chain's, and the job was not invalidated. */
  verified: boolean;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class OptinferClient {
  readonly url: string;
  private readonly apiKey?: string;
  private readonly pollMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(o: ClientOptions = {}) {
    this.url = (o.url ?? DEFAULT_NODE_URL).replace(/\/+$/, '');
    this.apiKey = o.apiKey;
    this.pollMs = o.pollMs ?? 250;
    this.fetchFn = o.fetch ?? ((...a) => globalThis.fetch(...a));
  }

  /** One API call: the parsed JSON body, or an OptinferApiError with the node's code. */
  async request<T>(
    method: string,
    path: string,
    body?: { json: unknown } | { bytes: Uint8Array },
  ): Promise<T> {
    const target = `${this.url}${path}`;
    const request = `${method} ${target}`;
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let payload: string | Uint8Array | undefined;
    if (body && 'json' in body) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers['content-type'] = 'application/octet-stream';
      payload = body.bytes;
    }
    let res: Response;
    try {
      res = await this.fetchFn(target, { method, headers, body: payload as BodyInit | undefined });
    } catch (cause) {
      const why =
        (cause as { cause?: { code?: string }; message?: string })?.cause?.code ?? (cause as Error)?.message;
      throw new OptinferApiError('UNAVAILABLE', `cannot reach the optinfer node at ${this.url} (${why})`, {
        request,
        cause,
      });
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: kept as text for the error.
    }
    if (!res.ok) throw apiErrorOf(res.status, parsed, request);
    return parsed as T;
  }

  // ---- models and jobs ----

  health(): Promise<{ ok: boolean; [k: string]: unknown }> {
    return this.request('GET', '/healthz');
  }

  models(): Promise<ModelInfo[]> {
    return this.request('GET', '/v1/models');
  }

  model(modelId: string): Promise<ModelInfo> {
    return this.request('GET', `/v1/models/${encodeURIComponent(modelId)}`);
  }

  /** Registers an ONNX model (its bytes); answers its info, `modelId` included. Registering it again is harmless. */
  uploadModel(bytes: Uint8Array, name = 'model'): Promise<ModelInfo> {
    return this.request('POST', `/v1/models?name=${encodeURIComponent(name)}`, { bytes });
  }

  /** Submits a job; `fee` in lamports (a decimal string or a safe integer). */
  submit(job: {
    modelId: string;
    inputs: Record<string, TensorJson>;
    fee?: string | number | bigint;
    /** On a node that takes payments: the user's voucher (a 402 PAYMENT_REQUIRED without one). */
    payment?: JobPayment;
  }): Promise<{ jobId: string }> {
    const body: Record<string, unknown> = { modelId: job.modelId, inputs: job.inputs };
    if (job.fee !== undefined) body.fee = typeof job.fee === 'bigint' ? job.fee.toString() : job.fee;
    if (job.payment) body.payment = job.payment;
    return this.request('POST', '/v1/jobs', { json: body });
  }

  /** `user`'s deposit as the node sees it (a node taking payments; NOT_FOUND otherwise). */
  deposit(user: string): Promise<DepositView> {
    return this.request('GET', `/v1/deposits/${encodeURIComponent(user)}`);
  }

  /** The job now; with its outputs and inclusion proof unless asked not to. */
  job(jobId: string, o: { outputs?: boolean; proof?: boolean } = {}): Promise<JobView> {
    const q = [o.outputs === false && 'outputs=false', o.proof === false && 'proof=false'].filter(Boolean);
    return this.request('GET', `/v1/jobs/${encodeURIComponent(jobId)}${q.length ? `?${q.join('&')}` : ''}`);
  }

  /** The job's outputs; NOT_FOUND until it has executed. */
  async outputs(jobId: string): Promise<Record<string, TensorJson>> {
    const j = await this.job(jobId, { proof: false });
    if (!j.outputs)
      throw new OptinferApiError('NOT_FOUND', `job ${jobId} has no outputs yet (status ${j.status})`, {
        request: `GET ${this.url}/v1/jobs/${jobId}`,
      });
    return j.outputs;
  }

  /**
   * The job's steps as they happen, read every `pollMs`: the phase it is in when first read, then each change,
   * ending with finalized, failed or invalidated. A result that lost a dispute shows as `invalidated` (with its
   * batch) followed by the job's new run.
   */
  async *watch(jobId: string, o: WatchOptions = {}): AsyncGenerator<JobEvent> {
    const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
    let last: JobView | undefined;
    for (;;) {
      const job = await this.job(jobId, { outputs: false, proof: false });
      const at = Date.now();
      if (last?.batch && !job.batch && !TERMINAL.has(job.status)) {
        yield { phase: 'invalidated', status: job.status, job, batch: last.batch, at };
      }
      if (!last || last.status !== job.status || last.batch?.index !== job.batch?.index) {
        yield {
          phase: PHASE_OF[job.status],
          status: job.status,
          job,
          ...(job.batch && { batch: job.batch }),
          at,
        };
      }
      last = job;
      if (TERMINAL.has(job.status)) return;
      if (Date.now() + this.pollMs > deadline) {
        throw new OptinferApiError('TIMEOUT', `job ${jobId}: still ${job.status} after ${o.timeoutMs} ms`, {
          request: `GET ${this.url}/v1/jobs/${jobId}`,
          details: { status: job.status },
        });
      }
      await sleep(this.pollMs, o.signal);
    }
  }

  /** Waits for the job's end (finalized, failed or invalid) and answers it with its outputs and proof. */
  async wait(jobId: string, o: WaitOptions = {}): Promise<JobView> {
    for await (const e of this.watch(jobId, o)) o.onEvent?.(e);
    return this.job(jobId);
  }

  // ---- batches and the chain ----

  /** The node's own record of a batch (its job ids, status, window). */
  batch(index: number): Promise<Record<string, unknown>> {
    return this.request('GET', `/v1/batches/${index}`);
  }

  /** The batch as the program holds it, read by the node from its chain. */
  chainBatch(index: number | string | bigint): Promise<ChainBatchView> {
    return this.request('GET', `/v1/chain/batches/${index}`);
  }

  disputes(o: { open?: boolean } = {}): Promise<DisputesView> {
    return this.request('GET', `/v1/disputes${o.open ? '?open=true' : ''}`);
  }

  /**
   * Every bond on the program, each with the role the node knows it by; with `outstanding`, also what comes back to
   * each when its accounts close (a few more chain reads, so not by default).
   */
  operators(o: { outstanding?: boolean } = {}): Promise<OperatorsView> {
    return this.request('GET', `/v1/operators${o.outstanding ? '?outstanding=true' : ''}`);
  }

  operator(owner: string, o: { outstanding?: boolean } = {}): Promise<OperatorStatusView> {
    return this.request(
      'GET',
      `/v1/operators/${encodeURIComponent(owner)}${o.outstanding ? '?outstanding=true' : ''}`,
    );
  }

  /**
   * Checks the job's inclusion proof here (SHA-256 in this process, nothing trusted from the node but the bytes),
   * that its record is the job's result, and that the program holds the proof's root for that batch.
   */
  async verify(job: string | JobView): Promise<Verification> {
    const j = typeof job === 'string' ? await this.job(job, { outputs: false }) : job;
    const fail = (problem: string): Verification => ({
      jobId: j.jobId,
      proofValid: false,
      problem,
      chain: null,
      verified: false,
    });
    const p = j.proof;
    if (!p) return fail(`job ${j.jobId} is not in a batch (status ${j.status})`);
    const bad = inclusionProofError(p);
    if (bad) return fail(bad);
    const record = decodeJobRecord(p.record);
    for (const k of ['jobId', 'modelId', 'inputDigest', 'outputDigest', 'executor'] as const) {
      const want = j[k];
      if (want !== undefined && record[k] !== want)
        return { ...fail(`the proof's record has ${k} ${record[k]}, the job ${want}`), record };
    }
    const v: Verification = {
      jobId: j.jobId,
      proofValid: true,
      record,
      batchIndex: p.batchIndex,
      batchRoot: p.batchRoot,
      chain: null,
      verified: false,
    };
    try {
      v.chain = await this.chainBatch(p.batchIndex);
    } catch (e) {
      if (!(e instanceof OptinferApiError) || e.code !== 'NOT_FOUND') throw e;
      v.chainProblem = e.message;
      return v;
    }
    v.rootOnChain = v.chain.root === p.batchRoot.toLowerCase() && v.chain.jobCount === p.jobCount;
    v.invalidated = v.chain.invalidatedPositions.includes(p.index);
    v.verified = v.rootOnChain && !v.invalidated;
    if (v.chain.closed)
      v.problem = `batch ${p.batchIndex} is finalized and its account closed: the root is no longer on chain to compare (the BatchCommitted event in the commit transaction still has it)`;
    else if (!v.rootOnChain)
      v.problem = `batch ${p.batchIndex} on chain has root ${v.chain.root} (${v.chain.jobCount} jobs), the proof ${p.batchRoot} (${p.jobCount})`;
    else if (v.invalidated) v.problem = `job ${p.index} of batch ${p.batchIndex} lost a dispute on chain`;
    return v;
  }
}
