// The sequencer: accepts jobs durably, orders them, assigns them to executors over the bus, and commits batches.
import { mkdirSync, readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { OptinferError } from '../state/errors.ts';
import { sha256, hashHex } from '../state/hash.ts';
import { Batch, jobId as makeJobId, type InclusionProof, type JobRecord } from '../state/job.ts';
import { Store, seqKey, type Table, type WriteOp } from '../state/store.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { asExecutorId, asHash32 } from '../state/types.ts';
import type { Bus, Consumer, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type {
  AssignMessage,
  BatchCommittedMessage,
  HeartbeatMessage,
  ResultMessage,
} from '../bus/messages.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import { GroupWriter } from './group-writer.ts';
import { fromStored, fromWire, toStored, type StoredTensorMap, type TensorMap } from '../state/tensor-map.ts';
import type { BatchHeader, ModelInfo, ModelInspector, Settlement } from './ports.ts';

export type JobStatus = 'queued' | 'executing' | 'executed' | 'batched' | 'finalized' | 'invalid' | 'failed';

export interface JobState {
  jobId: JobId;
  seq: number;
  modelId: ModelId;
  inputDigest: Hash32;
  fee: string;
  status: Exclude<JobStatus, 'finalized'>;
  createdAt: number;
  updatedAt: number;
  attempts: number;
  /** Executors that timed out or failed on this job: never assigned it again. */
  excluded: ExecutorId[];
  executor?: ExecutorId;
  outputDigest?: Hash32;
  batchIndex?: number;
  position?: number;
  error?: string;
  /** Earlier results of this job that lost a dispute: the batch they were in and the executor that lied. */
  invalidations?: { batchIndex: number; position: number; executor: ExecutorId; at: number }[];
}

export interface BatchState {
  index: number;
  root: Hash32;
  jobCount: number;
  jobIds: JobId[];
  createdAt: number;
  windowEndsAt: number;
  /** pending: persisted, root not yet accepted by settlement; committed: inside its window. */
  status: 'pending' | 'committed' | 'finalized';
  finalizedAt?: number;
  /** Positions whose job lost a dispute and was re-queued. */
  invalidated?: number[];
}

export interface SequencerConfig {
  dataDir: string;
  /** A batch is cut when this many executed jobs wait. */
  batchMaxJobs: number;
  /** ... or when the oldest executed job has waited this long. */
  batchMaxAgeMs: number;
  /** An executor that has not returned a result by then loses the job to another executor. */
  assignTimeoutMs: number;
  /** Executors silent for longer are considered gone. */
  executorTimeoutMs: number;
  /** Attempts before a job is marked failed. */
  maxAttempts: number;
  defaultFeeLamports: bigint;
  /** Maximum model file size accepted. */
  maxModelBytes: number;
}

export const DEFAULT_SEQUENCER_CONFIG: Omit<SequencerConfig, 'dataDir'> = {
  batchMaxJobs: 1024,
  batchMaxAgeMs: 2_000,
  assignTimeoutMs: 60_000,
  executorTimeoutMs: 10_000,
  maxAttempts: 3,
  defaultFeeLamports: 1_000n,
  maxModelBytes: 256 * 1024 * 1024,
};

interface LiveExecutor {
  id: ExecutorId;
  capacity: number;
  lastSeen: number;
  inflight: Set<JobId>;
  /** Settlement's last word on whether it may take jobs (true without a settlement check). */
  eligible: boolean;
  checkedAt: number;
  checking: boolean;
}

/** How long settlement's answer on an executor's eligibility is trusted. */
const ELIGIBILITY_TTL_MS = 10_000;

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
}

const TICK_MS = 100;
/** How often open batches are checked against settlement (invalidations, finality). */
const SETTLEMENT_POLL_MS = 1_000;

export class Sequencer {
  readonly config: SequencerConfig;
  private readonly store: Store;
  private readonly writer: GroupWriter;
  private readonly jobs: Table<JobState>;
  private readonly inputs: Table<StoredTensorMap>;
  private readonly outputs: Table<StoredTensorMap>;
  /** Jobs acknowledged and not yet batched (queued, executing or executed), by sequence number. */
  private readonly open: Table<JobId>;
  private readonly batches: Table<BatchState>;
  private readonly modelsTable: Table<ModelInfo>;
  private readonly meta: Table<number>;

  private readonly models = new Map<ModelId, ModelInfo>();
  private readonly executors = new Map<ExecutorId, LiveExecutor>();
  /** Jobs waiting for an executor, in sequence order, with their inputs. */
  private readonly pendingQueue: { seq: number; jobId: JobId; inputs: TensorMap }[] = [];
  /** Jobs assigned and not yet returned: jobId → deadline. */
  private readonly inflight = new Map<JobId, { executor: ExecutorId; deadline: number; seq: number }>();
  /** Executed jobs waiting for a batch, in the order they will be batched. */
  private readonly executedQueue: { seq: number; jobId: JobId; at: number }[] = [];
  private readonly openBatches = new Map<number, BatchState>();
  /** States of jobs not yet batched (queued, executing, executed): the hot path never reads them back from disk. */
  private readonly active = new Map<JobId, JobState>();
  /** Batches persisted but not yet committed to settlement (after a crash between the two). */
  private readonly toCommit: BatchState[] = [];
  private readonly batchTrees = new Map<number, Batch>();
  private nextSeq = 0;
  private nextBatch = 0;
  private rrCursor = 0;
  private timer: NodeJS.Timeout | null = null;
  private batching = false;
  private closed = false;
  private readonly subs: (Subscription | Consumer)[] = [];

  private constructor(
    config: SequencerConfig,
    store: Store,
    private readonly bus: Bus,
    private readonly inspector: ModelInspector,
    private readonly settlement: Settlement,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.config = config;
    this.store = store;
    this.writer = new GroupWriter(store);
    this.jobs = store.table('jobs');
    this.inputs = store.table('inputs');
    this.outputs = store.table('outputs');
    this.open = store.table('open');
    this.batches = store.table('batches');
    this.modelsTable = store.table('models');
    this.meta = store.table('meta');
  }

  static async start(opts: {
    config: SequencerConfig;
    bus: Bus;
    inspector: ModelInspector;
    settlement: Settlement;
    logger?: Logger;
    metrics?: Metrics;
  }): Promise<Sequencer> {
    const store = await Store.open(join(opts.config.dataDir, 'sequencer.db'));
    mkdirSync(join(opts.config.dataDir, 'models'), { recursive: true });
    const s = new Sequencer(
      opts.config,
      store,
      opts.bus,
      opts.inspector,
      opts.settlement,
      opts.logger ?? silentLogger,
      opts.metrics ?? noopMetrics,
    );
    try {
      await s.recover();
      await s.listen();
    } catch (e) {
      await store.close();
      throw e;
    }
    s.timer = setInterval(() => void s.tick(), TICK_MS);
    return s;
  }

  /** Rebuilds in-memory queues from LevelDB: everything acknowledged before a crash is picked up again. */
  private async recover(): Promise<void> {
    this.nextSeq = (await this.meta.get('nextSeq')) ?? 0;
    this.nextBatch = (await this.meta.get('nextBatch')) ?? 0;
    for (const [, m] of await this.modelsTable.entries()) {
      // Loads the session again, so inputs can be validated against the model after a restart.
      await this.inspector.inspect(this.readModelFile(m.modelId), m.name);
      // Finishes an on-chain registration a crash interrupted (a no-op when it is complete).
      if (m.provable && this.settlement.registerModel) await this.settlement.registerModel(m.modelId);
      this.models.set(m.modelId, m);
    }
    const now = Date.now();
    // A job stays in `open` from its acknowledgement until its batch is written. Assignments are not persisted:
    // a job in flight at a crash is handed out again. A duplicate run is harmless (an executor answers a
    // redelivered job from its results table) and a late answer from the previous assignee is ignored.
    for (const [key, id] of await this.open.entries()) {
      const j = await this.jobs.get(id);
      if (!j) throw new OptinferError('STORE_CORRUPT', `job ${id} is open but its record is missing`);
      this.active.set(id, j);
      if (j.status === 'executed') {
        this.executedQueue.push({ seq: Number(key), jobId: id, at: now });
        continue;
      }
      const stored = await this.inputs.get(id);
      if (!stored) throw new OptinferError('STORE_CORRUPT', `job ${id} is queued but its inputs are missing`);
      this.pendingQueue.push({ seq: Number(key), jobId: id, inputs: fromStored(stored) });
      if (j.excluded.length > 0) this.excludedOf.set(id, new Set(j.excluded));
    }
    for (const [, b] of await this.batches.entries()) {
      if (b.status === 'pending') this.toCommit.push(b);
      else if (b.status === 'committed') this.openBatches.set(b.index, b);
    }
    for (const q of [...this.pendingQueue, ...this.executedQueue])
      this.nextSeq = Math.max(this.nextSeq, q.seq + 1);
    this.log.info(
      {
        queued: this.pendingQueue.length,
        inflight: this.inflight.size,
        executed: this.executedQueue.length,
        openBatches: this.openBatches.size,
        nextSeq: this.nextSeq,
        nextBatch: this.nextBatch,
      },
      'sequencer state recovered',
    );
  }

  private async listen(): Promise<void> {
    this.subs.push(
      await messages.subscribe(this.bus, messages.HEARTBEAT, (m) => this.onHeartbeat(m)),
      await messages.consume(this.bus, messages.RESULT, 'all', 'sequencer-results', (m) => this.onResult(m), {
        maxInFlight: 64,
      }),
      await messages.reply(this.bus, messages.MODEL_FETCH, undefined, (m) => {
        const id = asHash32(m.modelId, 'modelId');
        return { modelId: id, bytes: this.modelBytes(id) };
      }),
    );
  }

  // ---- models ------------------------------------------------------------------------------------

  async registerModel(bytes: Uint8Array, name: string): Promise<ModelInfo> {
    if (bytes.length > this.config.maxModelBytes) {
      throw new OptinferError(
        'PAYLOAD_TOO_LARGE',
        `model: expected at most ${this.config.maxModelBytes} bytes, got ${bytes.length}`,
      );
    }
    const modelId = hashHex(sha256(bytes)) as ModelId;
    const existing = this.models.get(modelId);
    if (existing) return existing;
    const inspected = await this.inspector.inspect(bytes, name);
    const info: ModelInfo = { ...inspected, modelId, registeredAt: Date.now() };
    // File first, then the record: a crash in between leaves an unreferenced file, never a dangling record.
    const path = this.modelPath(modelId);
    writeFileSync(path + '.tmp', bytes);
    renameSync(path + '.tmp', path);
    if (info.provable && this.settlement.registerModel) await this.settlement.registerModel(modelId);
    await this.writer.write([this.modelsTable.put(modelId, info)]);
    this.models.set(modelId, info);
    messages.publish(this.bus, messages.MODEL_REGISTERED, undefined, { modelId, name: info.name });
    this.log.info({ modelId, model: info.name, provable: info.provable }, 'model registered');
    return info;
  }

  listModels(): ModelInfo[] {
    return [...this.models.values()].sort((a, b) => a.registeredAt - b.registeredAt);
  }

  getModel(modelId: ModelId): ModelInfo | undefined {
    return this.models.get(modelId);
  }

  private modelPath(modelId: ModelId): string {
    return join(this.config.dataDir, 'models', `${modelId}.onnx`);
  }

  modelBytes(modelId: ModelId): Uint8Array {
    if (!this.models.has(modelId)) throw new OptinferError('NOT_FOUND', `model ${modelId} is not registered`);
    return this.readModelFile(modelId);
  }

  private readModelFile(modelId: ModelId): Uint8Array {
    if (!existsSync(this.modelPath(modelId))) {
      throw new OptinferError(
        'STORE_CORRUPT',
        `model ${modelId} is registered but ${this.modelPath(modelId)} is missing`,
      );
    }
    return new Uint8Array(readFileSync(this.modelPath(modelId)));
  }

  // ---- jobs ----------------------------------------------------------------------------------------

  /** Validates and persists a job; resolves with its id once it can no longer be lost. */
  async submit(req: { modelId: ModelId; inputs: TensorMap; fee?: bigint }): Promise<{ jobId: JobId }> {
    if (this.closed) throw new OptinferError('UNAVAILABLE', 'sequencer is shutting down');
    const model = this.models.get(req.modelId);
    if (!model) {
      this.metrics.inc('jobs_rejected_total');
      throw new OptinferError('NOT_FOUND', `model ${req.modelId} is not registered (POST /v1/models first)`);
    }
    try {
      this.inspector.validateInputs(model, req.inputs);
    } catch (e) {
      this.metrics.inc('jobs_rejected_total');
      throw e;
    }
    const fee = req.fee ?? this.config.defaultFeeLamports;
    if (fee < 0n || fee >= 1n << 64n)
      throw new OptinferError('INVALID_INPUT', `fee: expected 0..2^64-1 lamports, got ${fee}`);
    const inputDigest = tensorSetDigest(req.inputs);
    const seq = this.nextSeq++;
    const id = makeJobId(seq, req.modelId, inputDigest);
    const now = Date.now();
    const state: JobState = {
      jobId: id,
      seq,
      modelId: req.modelId,
      inputDigest,
      fee: fee.toString(),
      status: 'queued',
      createdAt: now,
      updatedAt: now,
      attempts: 0,
      excluded: [],
    };
    await this.writer.write([
      this.jobs.put(id, state),
      this.inputs.put(id, toStored(req.inputs)),
      this.open.put(seqKey(seq), id),
    ]);
    this.active.set(id, state);
    this.metrics.inc('jobs_accepted_total');
    this.pendingQueue.push({ seq, jobId: id, inputs: req.inputs });
    this.dispatch();
    return { jobId: id };
  }

  async getJob(id: JobId, opts: { outputs?: boolean; proof?: boolean } = {}): Promise<JobView | undefined> {
    const j = await this.stateOf(id);
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
        const o = await this.outputs.get(id);
        if (o) view.outputs = fromStored(o);
      }
    }
    if (j.batchIndex !== undefined && j.position !== undefined) {
      const b = await this.batches.get(seqKey(j.batchIndex));
      if (b) {
        view.batch = { index: b.index, root: b.root };
        if (j.status === 'batched' && b.status === 'finalized') view.status = 'finalized';
        if (opts.proof !== false) view.proof = (await this.batchTree(b)).proof(j.position);
      }
    }
    return view;
  }

  async getInputs(id: JobId): Promise<TensorMap | undefined> {
    const s = await this.inputs.get(id);
    return s && fromStored(s);
  }

  async getBatch(index: number): Promise<BatchState | undefined> {
    return this.batches.get(seqKey(index));
  }

  async listBatches(limit = 50): Promise<BatchState[]> {
    return (await this.batches.entries({ reverse: true, limit })).map(([, b]) => ({ ...b, jobIds: [] }));
  }

  /** The job records of a batch, in batch order, as committed. */
  async batchRecords(b: BatchState): Promise<JobRecord[]> {
    const states = await this.jobs.getMany(b.jobIds);
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

  private async batchTree(b: BatchState): Promise<Batch> {
    let t = this.batchTrees.get(b.index);
    if (!t) {
      t = new Batch(b.index as BatchIndex, await this.batchRecords(b));
      if (this.batchTrees.size >= 8) this.batchTrees.delete(this.batchTrees.keys().next().value as number);
      this.batchTrees.set(b.index, t);
    }
    return t;
  }

  stats(): { queued: number; inflight: number; executed: number; executors: number; nextBatch: number } {
    return {
      queued: this.pendingQueue.length,
      inflight: this.inflight.size,
      executed: this.executedQueue.length,
      executors: this.liveExecutors().length,
      nextBatch: this.nextBatch,
    };
  }

  // ---- executors -------------------------------------------------------------------------------------

  private onHeartbeat(m: HeartbeatMessage): void {
    let id: ExecutorId;
    try {
      id = asExecutorId(m.executorId, 'heartbeat executorId');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'ignoring malformed heartbeat');
      return;
    }
    const capacity = Number.isInteger(m.capacity) && m.capacity > 0 ? Math.min(m.capacity, 1024) : 1;
    let e = this.executors.get(id);
    if (e) {
      e.lastSeen = Date.now();
      e.capacity = capacity;
    } else {
      const inflight = new Set<JobId>();
      for (const [jid, f] of this.inflight) if (f.executor === id) inflight.add(jid);
      const check = Boolean(this.settlement.executorEligible);
      e = { id, capacity, lastSeen: Date.now(), inflight, eligible: !check, checkedAt: 0, checking: false };
      this.executors.set(id, e);
      this.log.info({ executor: id, capacity }, 'executor joined');
    }
    this.checkEligible(e);
    this.dispatch();
  }

  /** Asks settlement (in the background, at most every ELIGIBILITY_TTL_MS) whether the executor may take jobs. */
  private checkEligible(e: LiveExecutor): void {
    const ask = this.settlement.executorEligible;
    if (!ask || e.checking || Date.now() - e.checkedAt < ELIGIBILITY_TTL_MS) return;
    e.checking = true;
    ask.call(this.settlement, e.id).then(
      ({ ok, why }) => {
        if (ok !== e.eligible) {
          if (ok) this.log.info({ executor: e.id }, 'executor eligible for jobs');
          else this.log.warn({ executor: e.id, why }, 'executor not eligible for jobs');
        }
        e.eligible = ok;
        e.checkedAt = Date.now();
        e.checking = false;
        if (ok) this.dispatch();
      },
      (err: Error) => {
        // Settlement unreachable: keep the last answer and ask again on a later heartbeat.
        e.checking = false;
        this.log.warn({ executor: e.id, err: err.message }, 'executor eligibility check failed');
      },
    );
  }

  private liveExecutors(): LiveExecutor[] {
    const cutoff = Date.now() - this.config.executorTimeoutMs;
    return [...this.executors.values()].filter((e) => e.lastSeen >= cutoff && e.eligible);
  }

  /** Hands queued jobs to live executors with free capacity, round robin, never to an excluded one. */
  private dispatch(): void {
    if (this.closed || this.pendingQueue.length === 0) return;
    const live = this.liveExecutors().filter((e) => e.inflight.size < e.capacity);
    if (live.length === 0) return;
    const deferred: typeof this.pendingQueue = [];
    while (this.pendingQueue.length > 0) {
      const free = live.filter((e) => e.inflight.size < e.capacity);
      if (free.length === 0) break;
      const job = this.pendingQueue.shift()!;
      const excluded = this.excludedOf.get(job.jobId);
      const candidates = excluded ? free.filter((e) => !excluded.has(e.id)) : free;
      if (candidates.length === 0) {
        deferred.push(job);
        continue;
      }
      const ex = candidates[this.rrCursor++ % candidates.length];
      ex.inflight.add(job.jobId);
      this.inflight.set(job.jobId, {
        executor: ex.id,
        deadline: Date.now() + this.config.assignTimeoutMs,
        seq: job.seq,
      });
      void this.assign(job, ex.id);
    }
    this.pendingQueue.unshift(...deferred);
    this.metrics.set('jobs_pending', this.pendingQueue.length);
    this.metrics.set('jobs_inflight', this.inflight.size);
  }

  private readonly excludedOf = new Map<JobId, Set<ExecutorId>>();

  private async assign(
    job: { seq: number; jobId: JobId; inputs: TensorMap },
    executor: ExecutorId,
  ): Promise<void> {
    try {
      const j = await this.stateOf(job.jobId);
      if (!j) throw new OptinferError('STORE_CORRUPT', `job ${job.jobId} vanished`);
      const updated: JobState = {
        ...j,
        status: 'executing',
        executor,
        attempts: j.attempts + 1,
        updatedAt: Date.now(),
      };
      this.active.set(job.jobId, updated);
      const msg: AssignMessage = { jobId: job.jobId, modelId: j.modelId, inputs: job.inputs, fee: j.fee };
      await messages.send(this.bus, messages.ASSIGN, executor, msg, {
        msgId: `${job.jobId}:${executor}:${updated.attempts}:${updated.invalidations?.length ?? 0}`,
      });
    } catch (e) {
      this.log.error(
        { err: (e as Error).message, jobId: job.jobId, executor },
        'assignment failed; job re-queued',
      );
      this.release(job.jobId, executor);
      this.pendingQueue.unshift(job);
    }
  }

  private async stateOf(id: JobId): Promise<JobState | undefined> {
    return this.active.get(id) ?? (await this.jobs.get(id));
  }

  private release(id: JobId, executor: ExecutorId): void {
    this.inflight.delete(id);
    this.executors.get(executor)?.inflight.delete(id);
  }

  private async onResult(m: ResultMessage): Promise<void> {
    const id = m.jobId;
    const f = this.inflight.get(id);
    if (!f || f.executor !== m.executor) {
      this.log.debug(
        { jobId: id, executor: m.executor },
        'ignoring a result for a job not assigned to that executor',
      );
      return;
    }
    const j = await this.stateOf(id);
    if (!j || j.status !== 'executing') return;
    if (m.error !== undefined || !m.outputs || !m.outputDigest) {
      await this.retryElsewhere(j, `executor ${m.executor} failed: ${m.error ?? 'no outputs'}`);
      return;
    }
    let outputs: TensorMap;
    try {
      outputs = fromWire(m.outputs, `result ${id} outputs`);
      if (tensorSetDigest(outputs) !== m.outputDigest)
        throw new OptinferError('INVALID_INPUT', 'outputDigest does not match the outputs sent');
    } catch (e) {
      await this.retryElsewhere(j, `executor ${m.executor} sent a malformed result: ${(e as Error).message}`);
      return;
    }
    const updated: JobState = {
      ...j,
      status: 'executed',
      outputDigest: m.outputDigest,
      updatedAt: Date.now(),
    };
    await this.writer.write([this.jobs.put(id, updated), this.outputs.put(id, toStored(outputs))]);
    this.active.set(id, updated);
    this.release(id, m.executor);
    this.executedQueue.push({ seq: j.seq, jobId: id, at: Date.now() });
    this.metrics.inc('jobs_executed_total');
    this.dispatch();
    if (this.executedQueue.length >= this.config.batchMaxJobs) void this.cutBatch();
  }

  private async retryElsewhere(j: JobState, why: string): Promise<void> {
    const executor = j.executor!;
    this.release(j.jobId, executor);
    const excluded = new Set([...j.excluded, executor]);
    this.excludedOf.set(j.jobId, excluded);
    const failed = j.attempts >= this.config.maxAttempts;
    const updated: JobState = {
      ...j,
      status: failed ? 'failed' : 'queued',
      excluded: [...excluded],
      executor: undefined,
      error: failed ? why : undefined,
      updatedAt: Date.now(),
    };
    const ops: WriteOp[] = [this.jobs.put(j.jobId, updated)];
    if (failed) ops.push(this.open.del(seqKey(j.seq)), this.meta.put('nextSeq', this.nextSeq));
    await this.writer.write(ops);
    if (failed) this.active.delete(j.jobId);
    else this.active.set(j.jobId, updated);
    this.metrics.inc('jobs_reassigned_total');
    this.log.warn({ jobId: j.jobId, why, failed }, failed ? 'job failed' : 'job re-queued');
    if (!failed) {
      const stored = await this.inputs.get(j.jobId);
      if (stored) this.pendingQueue.unshift({ seq: j.seq, jobId: j.jobId, inputs: fromStored(stored) });
      this.dispatch();
    }
  }

  // ---- batches ----------------------------------------------------------------------------------------

  private ticking = false;
  private lastSettlementPoll = 0;

  private async tick(): Promise<void> {
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      await this.tickOnce();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'sequencer tick failed; retrying next tick');
    } finally {
      this.ticking = false;
    }
  }

  private async tickOnce(): Promise<void> {
    const now = Date.now();
    for (const [id, f] of this.inflight) {
      if (f.deadline <= now) {
        const j = await this.stateOf(id);
        if (j && j.status === 'executing') await this.retryElsewhere(j, `executor ${f.executor} timed out`);
        else this.release(id, f.executor);
      }
    }
    while (this.toCommit.length > 0) {
      try {
        await this.commit(this.toCommit[0]);
        this.toCommit.shift();
      } catch (e) {
        this.log.error(
          { err: (e as Error).message, index: this.toCommit[0].index },
          'batch commit failed; will retry',
        );
        break;
      }
    }
    const oldest = this.executedQueue[0];
    if (
      oldest &&
      (this.executedQueue.length >= this.config.batchMaxJobs || now - oldest.at >= this.config.batchMaxAgeMs)
    ) {
      await this.cutBatch();
    }
    // Settlement reads may be RPC calls (several per open batch): once a second, not every tick.
    const pollSettlement = now - this.lastSettlementPoll >= SETTLEMENT_POLL_MS;
    if (pollSettlement) this.lastSettlementPoll = now;
    for (const b of pollSettlement ? [...this.openBatches.values()] : []) {
      if (this.settlement.invalidatedJobs) {
        for (const position of await this.settlement.invalidatedJobs(header(b))) {
          if (!(this.openBatches.get(b.index)?.invalidated ?? []).includes(position)) {
            await this.requeueInvalidated(this.openBatches.get(b.index)!, position);
          }
        }
      }
      const current = this.openBatches.get(b.index)!;
      if (await this.settlement.canFinalize(header(current), current.windowEndsAt, now))
        await this.finalize(current);
    }
    this.dispatch();
    this.metrics.set('executors_live', this.liveExecutors().length);
  }

  /** Builds the next batch from the oldest executed jobs, persists it, then commits its root. */
  async cutBatch(): Promise<BatchState | undefined> {
    if (this.batching || this.executedQueue.length === 0) return undefined;
    this.batching = true;
    const t0 = performance.now();
    try {
      const take = this.executedQueue.slice(0, this.config.batchMaxJobs);
      const states = await Promise.all(take.map((t) => this.stateOf(t.jobId)));
      const records = states.map((j) => toRecord(j!));
      const index = this.nextBatch;
      const batch = new Batch(index as BatchIndex, records);
      const b: BatchState = {
        index,
        root: batch.root,
        jobCount: records.length,
        jobIds: take.map((t) => t.jobId),
        createdAt: Date.now(),
        windowEndsAt: 0,
        status: 'pending',
      };
      // Persist before committing anywhere, so a crash can only leave a batch to re-commit, never a root
      // committed on chain that the node no longer knows.
      // nextSeq is persisted here (and when a job fails), not per job: at recovery it is also raised past every
      // open job, so no sequence number, and so no job id, is ever handed out twice.
      const ops: WriteOp[] = [
        this.batches.put(seqKey(index), b),
        this.meta.put('nextBatch', index + 1),
        this.meta.put('nextSeq', this.nextSeq),
      ];
      states.forEach((j, i) => {
        ops.push(
          this.jobs.put(j!.jobId, {
            ...j!,
            status: 'batched',
            batchIndex: index,
            position: i,
            updatedAt: b.createdAt,
          }),
        );
        ops.push(this.open.del(seqKey(take[i].seq)));
      });
      await this.store.write(ops);
      this.executedQueue.splice(0, take.length);
      for (const t of take) this.active.delete(t.jobId);
      this.nextBatch = index + 1;
      this.batchTrees.set(index, batch);
      const committed = await this.commit(b);
      this.metrics.observe('batch_build_seconds', (performance.now() - t0) / 1000);
      return committed;
    } finally {
      this.batching = false;
    }
  }

  private async commit(b: BatchState): Promise<BatchState> {
    const { windowEndsAt } = await this.settlement.commitBatch(header(b));
    const committed: BatchState = { ...b, status: 'committed', windowEndsAt };
    await this.writer.write([this.batches.put(seqKey(b.index), committed)]);
    this.openBatches.set(b.index, committed);
    const msg: BatchCommittedMessage = { index: b.index, root: b.root, jobCount: b.jobCount, windowEndsAt };
    await messages.send(this.bus, messages.BATCH_COMMITTED, undefined, msg, {
      msgId: `batch:${b.index}:${b.root}`,
    });
    this.metrics.inc('batches_committed_total');
    this.log.info(
      { index: b.index, root: b.root, jobs: b.jobCount, settlement: this.settlement.kind },
      'batch committed',
    );
    return committed;
  }

  /** A job that lost a dispute goes back to the queue, never again to the executor that lied about it. */
  private async requeueInvalidated(b: BatchState, position: number): Promise<void> {
    const id = b.jobIds[position];
    const j = await this.stateOf(id);
    const batch: BatchState = { ...b, invalidated: [...(b.invalidated ?? []), position] };
    const ops: WriteOp[] = [this.batches.put(seqKey(b.index), batch)];
    let requeued: JobState | undefined;
    if (j && j.batchIndex === b.index && j.executor) {
      requeued = {
        ...j,
        status: 'queued',
        excluded: [...new Set([...j.excluded, j.executor])],
        invalidations: [
          ...(j.invalidations ?? []),
          { batchIndex: b.index, position, executor: j.executor, at: Date.now() },
        ],
        executor: undefined,
        outputDigest: undefined,
        batchIndex: undefined,
        position: undefined,
        attempts: 0,
        updatedAt: Date.now(),
      };
      ops.push(this.jobs.put(id, requeued), this.open.put(seqKey(j.seq), id));
    }
    await this.writer.write(ops);
    this.openBatches.set(b.index, batch);
    if (!requeued) return;
    this.active.set(id, requeued);
    this.excludedOf.set(id, new Set(requeued.excluded));
    const stored = await this.inputs.get(id);
    if (stored) this.pendingQueue.push({ seq: j!.seq, jobId: id, inputs: fromStored(stored) });
    this.metrics.inc('jobs_reassigned_total');
    this.log.warn(
      { jobId: id, batch: b.index, position, executor: j!.executor },
      'job lost a dispute; re-queued',
    );
    this.dispatch();
  }

  private async finalize(b: BatchState): Promise<void> {
    const done: BatchState = { ...b, status: 'finalized', finalizedAt: Date.now() };
    await this.writer.write([this.batches.put(seqKey(b.index), done)]);
    this.openBatches.delete(b.index);
    this.metrics.inc('batches_finalized_total');
    this.log.info({ index: b.index, root: b.root }, 'batch finalized');
  }

  /** Stops timers and consumers; everything acknowledged is already on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs) {
      if ('stop' in s) await s.stop();
      else await s.unsubscribe();
    }
    await this.writer.drain();
    await this.store.close();
  }
}

function toRecord(j: JobState): JobRecord {
  return {
    jobId: j.jobId,
    modelId: j.modelId,
    inputDigest: j.inputDigest,
    outputDigest: j.outputDigest!,
    executor: j.executor!,
    fee: BigInt(j.fee),
  };
}

function header(b: BatchState): BatchHeader {
  return { index: b.index as BatchIndex, root: b.root, jobCount: b.jobCount };
}
