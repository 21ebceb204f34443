// Dispatch: live executors, the queue of jobs waiting for one, assignments over the bus, results, retries and timeouts.
import type { Bus, Consumer, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { AssignMessage, HeartbeatMessage, ResultMessage } from '../bus/messages.ts';
import type { Logger } from '../common/log.ts';
import type { Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { seqKey, type WriteOp } from '../state/store.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromWire, toStored, fromStored, type TensorMap } from '../state/tensor-map.ts';
import { asExecutorId, type ExecutorId, type JobId } from '../state/types.ts';
import type { ExecutedJob } from './batcher.ts';
import type { JobState, Ledger } from './ledger.ts';
import type { Settlement } from './ports.ts';

export interface DispatchConfig {
  /** An executor that has not returned a result by then loses the job to another executor. */
  assignTimeoutMs: number;
  /** Executors silent for longer are considered gone. */
  executorTimeoutMs: number;
  /** Attempts before a job is marked failed. */
  maxAttempts: number;
}

/** A job waiting for an executor, with its inputs. */
export interface QueuedJob {
  seq: number;
  jobId: JobId;
  inputs: TensorMap;
}

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
export const ELIGIBILITY_TTL_MS = 10_000;
/** A heartbeat's capacity is clamped to this; a missing or malformed one counts as 1. */
const MAX_CAPACITY = 1024;

export class Dispatcher {
  private readonly executors = new Map<ExecutorId, LiveExecutor>();
  /** Jobs waiting for an executor, in sequence order (re-queued ones at the front). */
  private readonly queue: QueuedJob[] = [];
  /** Jobs assigned and not yet returned: jobId → deadline. */
  private readonly inflight = new Map<JobId, { executor: ExecutorId; deadline: number; seq: number }>();
  /** Executors each job must never go to again (they failed it, timed out, or lost a dispute over it). */
  private readonly excludedOf = new Map<JobId, Set<ExecutorId>>();
  private rrCursor = 0;
  private closed = false;

  constructor(
    private readonly config: DispatchConfig,
    private readonly ledger: Ledger,
    private readonly bus: Bus,
    private readonly settlement: Pick<Settlement, 'executorEligible'>,
    /** Where executed jobs go next (the batcher). */
    private readonly executed: { add(job: ExecutedJob): void },
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  listenHeartbeats(): Promise<Subscription> {
    return messages.subscribe(this.bus, messages.HEARTBEAT, (m) => this.onHeartbeat(m));
  }

  consumeResults(): Promise<Consumer> {
    return messages.consume(this.bus, messages.RESULT, 'all', 'sequencer-results', (m) => this.onResult(m), {
      maxInFlight: 64,
    });
  }

  /** A new job: to the back of the queue, then out to an executor if one is free. */
  enqueue(job: QueuedJob): void {
    this.queue.push(job);
    this.dispatch();
  }

  /** A job acknowledged before a restart, put back without dispatching (no executor is known yet). */
  restore(job: QueuedJob, excluded: ExecutorId[]): void {
    this.queue.push(job);
    if (excluded.length > 0) this.excludedOf.set(job.jobId, new Set(excluded));
  }

  /** A job whose result lost a dispute: never again to `excluded`; queued at the back when its inputs were found. */
  requeueLost(jobId: JobId, excluded: ExecutorId[], job: QueuedJob | undefined): void {
    this.excludedOf.set(jobId, new Set(excluded));
    if (job) this.queue.push(job);
  }

  get queued(): number {
    return this.queue.length;
  }

  get assigned(): number {
    return this.inflight.size;
  }

  liveCount(): number {
    return this.liveExecutors().length;
  }

  close(): void {
    this.closed = true;
  }

  private onHeartbeat(m: HeartbeatMessage): void {
    let id: ExecutorId;
    try {
      id = asExecutorId(m.executorId, 'heartbeat executorId');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'ignoring malformed heartbeat');
      return;
    }
    const capacity = Number.isInteger(m.capacity) && m.capacity > 0 ? Math.min(m.capacity, MAX_CAPACITY) : 1;
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
  dispatch(): void {
    if (this.closed || this.queue.length === 0) return;
    const live = this.liveExecutors().filter((e) => e.inflight.size < e.capacity);
    if (live.length === 0) return;
    const deferred: QueuedJob[] = [];
    while (this.queue.length > 0) {
      const free = live.filter((e) => e.inflight.size < e.capacity);
      if (free.length === 0) break;
      const job = this.queue.shift()!;
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
    this.queue.unshift(...deferred);
    this.metrics.set('jobs_pending', this.queue.length);
    this.metrics.set('jobs_inflight', this.inflight.size);
  }

  private async assign(job: QueuedJob, executor: ExecutorId): Promise<void> {
    try {
      const j = await this.ledger.stateOf(job.jobId);
      if (!j) throw new OptinferError('STORE_CORRUPT', `job ${job.jobId} vanished`);
      const updated: JobState = {
        ...j,
        status: 'executing',
        executor,
        attempts: j.attempts + 1,
        updatedAt: Date.now(),
      };
      this.ledger.active.set(job.jobId, updated);
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
      this.queue.unshift(job);
    }
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
    const j = await this.ledger.stateOf(id);
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
    await this.ledger.write([
      this.ledger.jobs.put(id, updated),
      this.ledger.outputs.put(id, toStored(outputs)),
    ]);
    this.ledger.active.set(id, updated);
    this.release(id, m.executor);
    const at = Date.now();
    this.metrics.inc('jobs_executed_total');
    this.dispatch();
    this.executed.add({ seq: j.seq, jobId: id, at });
  }

  /** Re-queues every job whose executor has not answered by its deadline. */
  async expire(now: number): Promise<void> {
    for (const [id, f] of this.inflight) {
      if (f.deadline <= now) {
        const j = await this.ledger.stateOf(id);
        if (j && j.status === 'executing') await this.retryElsewhere(j, `executor ${f.executor} timed out`);
        else this.release(id, f.executor);
      }
    }
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
    const { jobs, open, meta } = this.ledger;
    const ops: WriteOp[] = [jobs.put(j.jobId, updated)];
    // nextSeq is persisted whenever a job leaves `open` (see Batcher.cut).
    if (failed) ops.push(open.del(seqKey(j.seq)), meta.put('nextSeq', this.ledger.nextSeq));
    await this.ledger.write(ops);
    if (failed) this.ledger.active.delete(j.jobId);
    else this.ledger.active.set(j.jobId, updated);
    this.metrics.inc('jobs_reassigned_total');
    this.log.warn({ jobId: j.jobId, why, failed }, failed ? 'job failed' : 'job re-queued');
    if (!failed) {
      const stored = await this.ledger.inputs.get(j.jobId);
      if (stored) this.queue.unshift({ seq: j.seq, jobId: j.jobId, inputs: fromStored(stored) });
      this.dispatch();
    }
  }
}
