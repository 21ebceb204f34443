// Dispatch: live executors, the queue of jobs waiting for one, assignments over the bus, results, retries, lapses and failure.
import type { Bus, Consumer, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import { HEARTBEAT_INTERVAL_MS } from '../bus/messages.ts';
import type { AssignMessage, HeartbeatMessage, ResultMessage } from '../bus/messages.ts';
import type { Logger } from '../common/log.ts';
import type { Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { verifyResult } from '../state/job.ts';
import { seqKey } from '../state/store.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromWire, toStored, fromStored, type TensorMap } from '../state/tensor-map.ts';
import { asExecutorId, type ExecutorId, type JobId } from '../state/types.ts';
import type { ExecutedJob } from './batcher.ts';
import { Exposure } from './exposure.ts';
import type { JobState, Ledger } from './ledger.ts';
import type { ExecutorBond, Settlement } from './ports.ts';

export interface DispatchConfig {
  /** Milliseconds: an executor that has not returned a result by then loses the job to another executor. */
  assignTimeoutMs: number;
  /** Heartbeat lapse in milliseconds: an executor silent for longer is gone, and its jobs are re-queued at once. */
  executorTimeoutMs: number;
  /**
   * Attempts before a job ends `failed`. An attempt is counted on disk when the job is assigned, so one in flight
   * when the node dies counts too: a job that hangs or crashes whoever runs it cannot wedge recovery.
   */
  maxAttempts: number;
  /** Milliseconds an executor's bond read from settlement is trusted (default BOND_TTL_MS); bond events refresh it at once. */
  bondTtlMs?: number;
}

export { HEARTBEAT_INTERVAL_MS };
/** Milliseconds of silence (five missed heartbeats) after which an executor is gone: the default executorTimeoutMs. */
export const HEARTBEAT_LAPSE_MS = 5 * HEARTBEAT_INTERVAL_MS;

/** Milliseconds between checks that this process's event loop is running (see Dispatcher.noteLoop). */
const LOOP_WATCH_MS = 100;

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
  /** Its bond as last read from settlement; undefined until read (or without a settlement check). */
  bond?: ExecutorBond;
  /** Whether its bond lets it take jobs at all: known, not unbonding, free for at least one stake. */
  eligible: boolean;
  /** Why not, when not eligible. */
  why?: string;
  /**
   * It requested an unbond (a bond event or a bond read said so): no job goes to it, and its results still in flight
   * are refused, since nothing bounds when their batch would commit against its withdrawal.
   */
  leaving: boolean;
  checkedAt: number;
  checking: boolean;
  /** A bond event arrived while a read was in flight: read again when it ends. */
  stale: boolean;
}

/** What the sequencer shows of an executor (GET /v1/executors): its bond, its exposure, and why it gets no job. */
export interface ExecutorView {
  executor: ExecutorId;
  /** Heart-beating within the timeout. */
  live: boolean;
  capacity: number;
  inflight: number;
  /** Jobs it answers for that are not yet in a finalized batch (assigned, answered, or batched). */
  exposureJobs: number;
  /** exposureJobs x stake, in lamports (decimal string). */
  exposureLamports: string;
  /** Lamports one lost dispute takes (the program's min_executor_bond); absent without a bond check. */
  stake?: string;
  /** bonded - locked - unbonding, as last read. */
  freeBond?: string;
  unbonding?: string;
  /** How many unfinalized jobs its free bond covers. */
  capJobs?: number;
  /** Whether it would get a job now (live, eligible, under its capacity and its cap). */
  eligible: boolean;
  why?: string;
}

/** How long settlement's answer on an executor's bond is trusted (bond events refresh it sooner). */
export const BOND_TTL_MS = 10_000;
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
  /** "Every live executor failed it" is only judged once every live executor has had time to announce itself. */
  private readonly startedAt = Date.now();
  /** When the event loop was last seen running, and the timer that notes it. */
  private loopAt = Date.now();
  private readonly loopWatch: NodeJS.Timeout;
  /** Why queued jobs last stayed queued with executors live, as logged (logged again only when it changes). */
  private waitingWhy: string | undefined;

  constructor(
    private readonly config: DispatchConfig,
    private readonly ledger: Ledger,
    private readonly bus: Bus,
    private readonly settlement: Pick<Settlement, 'executorBond' | 'watchBonds'>,
    /** Where executed jobs go next (the batcher). */
    private readonly executed: { add(job: ExecutedJob): void },
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** Jobs each executor answers for until their batch finalizes; rebuilt by the sequencer at start-up. */
    readonly exposure = new Exposure(),
  ) {
    this.loopWatch = setInterval(() => this.noteLoop(Date.now()), LOOP_WATCH_MS).unref();
  }

  /**
   * Follows settlement's bond events, when it has them: an unbond request stops the executor's jobs at once, and
   * any other bond change is read again at once. Returns the unsubscribe function (a no-op without events).
   */
  watchBonds(): () => Promise<void> {
    const watch = this.settlement.watchBonds;
    if (!watch) return async () => {};
    try {
      return watch.call(this.settlement, (id, unbonding) => {
        const e = this.executors.get(id);
        if (!e) return;
        if (unbonding) e.leaving = true;
        if (unbonding && e.eligible) {
          e.eligible = false;
          e.why = 'it requested an unbond (read back from settlement shortly)';
          this.log.warn({ executor: id }, 'executor requested an unbond: it gets no new jobs');
        }
        e.checkedAt = 0;
        if (e.checking) e.stale = true;
        else this.checkEligible(e);
      });
    } catch (err) {
      this.log.warn(
        { err: (err as Error).message },
        'settlement bond events unavailable; bonds are read every few seconds only',
      );
      return async () => {};
    }
  }

  /** A job whose batch finalized: its executor no longer answers for it. */
  settled(jobIds: readonly JobId[]): void {
    const touched = new Set<ExecutorId>();
    for (const id of jobIds) {
      const e = this.exposure.release(id);
      if (e) touched.add(e);
    }
    for (const e of touched) this.noteExposure(e);
    if (touched.size > 0) this.dispatch();
  }

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

  /**
   * A job acknowledged before a restart, put back without dispatching (no executor is known yet). One that was
   * executing when the node stopped had that attempt counted on disk; at the attempt limit it ends `failed`
   * instead of being run again, so a job that hangs or kills the node cannot keep it from starting.
   */
  async restore(job: QueuedJob, state: JobState): Promise<void> {
    let j = state;
    if (j.status === 'executing') {
      const why = `the node stopped while it ran on executor ${j.executor}`;
      if (j.attempts >= this.config.maxAttempts) {
        await this.fail(j, `${why}; gave up after ${attempts(j.attempts)}`);
        return;
      }
      j = { ...j, status: 'queued', executor: undefined, lastError: why };
      this.ledger.active.set(j.jobId, j);
    }
    this.queue.push(job);
    if (j.excluded.length > 0) this.excludedOf.set(job.jobId, new Set(j.excluded));
  }

  /**
   * A job whose result lost a dispute: never again to `excluded`; queued at the back when its inputs were found.
   * Its game is over, so the executor that lost it no longer answers for it.
   */
  requeueLost(jobId: JobId, excluded: ExecutorId[], job: QueuedJob | undefined): void {
    const was = this.exposure.release(jobId);
    if (was) this.noteExposure(was);
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
    clearInterval(this.loopWatch);
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
      const check = Boolean(this.settlement.executorBond);
      e = {
        id,
        capacity,
        lastSeen: Date.now(),
        inflight,
        eligible: !check,
        why: check ? 'its bond has not been read yet' : undefined,
        leaving: false,
        checkedAt: 0,
        checking: false,
        stale: false,
      };
      this.executors.set(id, e);
      this.log.info({ executor: id, capacity }, 'executor joined');
    }
    this.checkEligible(e);
    this.dispatch();
  }

  /**
   * Reads the executor's bond from settlement (in the background, at most every bondTtlMs unless a bond event asked
   * sooner): an executor that is unbonding, or whose free bond is below one stake, gets no job.
   */
  private checkEligible(e: LiveExecutor): void {
    const read = this.settlement.executorBond;
    const ttl = this.config.bondTtlMs ?? BOND_TTL_MS;
    if (!read || e.checking || Date.now() - e.checkedAt < ttl) return;
    e.checking = true;
    read.call(this.settlement, e.id).then(
      (bond) => {
        const { ok, why } = bondVerdict(bond);
        if (ok !== e.eligible || why !== e.why) {
          if (ok) this.log.info({ executor: e.id, ...bondLog(bond) }, 'executor eligible for jobs');
          else this.log.warn({ executor: e.id, why, ...bondLog(bond) }, 'executor not eligible for jobs');
        }
        // A read that raced an unbond event keeps the event's word until the read it triggers ends.
        e.leaving = bond.unbonding > 0n || (e.stale && e.leaving);
        e.bond = bond;
        e.eligible = ok;
        e.why = why;
        e.checkedAt = Date.now();
        e.checking = false;
        this.noteExposure(e.id);
        if (e.stale) {
          e.stale = false;
          e.checkedAt = 0;
          this.checkEligible(e);
        }
        if (ok) this.dispatch();
      },
      (err: Error) => {
        // Settlement unreachable: keep the last answer and ask again on a later heartbeat.
        e.checking = false;
        this.log.warn({ executor: e.id, err: err.message }, 'executor bond read failed');
      },
    );
  }

  /** How many unfinalized jobs the executor's free bond covers; unlimited without a bond check. */
  private capOf(e: LiveExecutor): number {
    if (!this.settlement.executorBond) return Number.POSITIVE_INFINITY;
    if (!e.bond) return 0;
    return capJobs(e.bond);
  }

  /** Whether one more job keeps the executor's exposure within its free bond. */
  private underCap(e: LiveExecutor): boolean {
    return this.exposure.jobsOf(e.id) < this.capOf(e);
  }

  /** Publishes the executor's exposure as metrics (jobs, and lamports when its stake is known). */
  private noteExposure(id: ExecutorId): void {
    const jobs = this.exposure.jobsOf(id);
    this.metrics.set('executor_exposure_jobs', jobs, { executor: id });
    const stake = this.executors.get(id)?.bond?.stake;
    if (stake !== undefined) {
      this.metrics.set('executor_exposure_lamports', Number(BigInt(jobs) * stake), { executor: id });
    }
  }

  /** Every executor seen or answering for jobs: bond, exposure, and why it would get no job now. */
  executorViews(now = Date.now()): ExecutorView[] {
    const ids = new Set<ExecutorId>([...this.executors.keys(), ...this.exposure.entries().map(([id]) => id)]);
    return [...ids].sort().map((id) => {
      const e = this.executors.get(id);
      const jobs = this.exposure.jobsOf(id);
      const live = e !== undefined && e.lastSeen >= now - this.config.executorTimeoutMs;
      const v: ExecutorView = {
        executor: id,
        live,
        capacity: e?.capacity ?? 0,
        inflight: e?.inflight.size ?? 0,
        exposureJobs: jobs,
        exposureLamports: e?.bond ? (BigInt(jobs) * e.bond.stake).toString() : '0',
        eligible: false,
      };
      if (e?.bond) {
        v.stake = e.bond.stake.toString();
        v.freeBond = e.bond.free.toString();
        v.unbonding = e.bond.unbonding.toString();
        v.capJobs = capJobs(e.bond);
      }
      const why = !e ? 'not heart-beating' : this.whyNot(e, now);
      v.eligible = why === undefined;
      if (why !== undefined) v.why = why;
      return v;
    });
  }

  /** Why the executor would get no job now; undefined when it would. */
  private whyNot(e: LiveExecutor, now = Date.now()): string | undefined {
    if (e.lastSeen < now - this.config.executorTimeoutMs) return 'not heart-beating';
    if (!e.eligible) return e.why ?? 'not eligible';
    if (!this.underCap(e)) {
      const jobs = this.exposure.jobsOf(e.id);
      return `at its exposure cap: ${jobs} unfinalized job${jobs === 1 ? '' : 's'} x ${e.bond!.stake} lamports, and its free bond ${e.bond!.free} covers no more until a batch finalizes`;
    }
    if (e.inflight.size >= e.capacity)
      return `busy: ${e.inflight.size} of its capacity ${e.capacity} running`;
    return undefined;
  }

  /** Why queued jobs are not going out now: undefined when an executor could take one. */
  whyWaiting(now = Date.now()): string | undefined {
    const seen = [...this.executors.values()].filter(
      (e) => e.lastSeen >= now - this.config.executorTimeoutMs,
    );
    if (seen.length === 0) return 'no executor is connected';
    const reasons = seen.map((e) => [e.id, this.whyNot(e, now)] as const);
    if (reasons.some(([, why]) => why === undefined)) return undefined;
    return `no executor may take it now: ${reasons.map(([id, why]) => `${id} ${why}`).join('; ')}`;
  }

  private liveExecutors(now = Date.now()): LiveExecutor[] {
    const cutoff = now - this.config.executorTimeoutMs;
    return [...this.executors.values()].filter((e) => e.lastSeen >= cutoff && e.eligible);
  }

  /** Whether no live executor is left to try a job on: it has been failed by (or excluded from) every one. */
  private everyLiveFailed(excluded: Set<ExecutorId>, now = Date.now()): boolean {
    if (excluded.size === 0 || now - this.startedAt < this.config.executorTimeoutMs) return false;
    const live = this.liveExecutors(now);
    return live.length > 0 && live.every((e) => excluded.has(e.id));
  }

  /** Hands queued jobs to live executors with free capacity, round robin, never to an excluded one. */
  dispatch(): void {
    if (this.closed || this.queue.length === 0) return;
    const live = this.liveExecutors().filter((e) => e.inflight.size < e.capacity && this.underCap(e));
    if (live.length === 0) {
      this.noteWaiting();
      return;
    }
    const deferred: QueuedJob[] = [];
    const unrunnable: QueuedJob[] = [];
    while (this.queue.length > 0) {
      const free = live.filter((e) => e.inflight.size < e.capacity && this.underCap(e));
      if (free.length === 0) break;
      const job = this.queue.shift()!;
      const excluded = this.excludedOf.get(job.jobId);
      const candidates = excluded ? free.filter((e) => !excluded.has(e.id)) : free;
      if (candidates.length === 0) {
        if (this.everyLiveFailed(excluded!)) unrunnable.push(job);
        else deferred.push(job);
        continue;
      }
      const ex = candidates[this.rrCursor++ % candidates.length];
      ex.inflight.add(job.jobId);
      // Charged before the executor can answer: its exposure counts the job until the job's batch is final.
      this.exposure.charge(job.jobId, ex.id);
      this.noteExposure(ex.id);
      this.inflight.set(job.jobId, {
        executor: ex.id,
        deadline: Date.now() + this.config.assignTimeoutMs,
        seq: job.seq,
      });
      void this.assign(job, ex.id);
    }
    this.queue.unshift(...deferred);
    for (const job of unrunnable) void this.endUnrunnable(job);
    this.metrics.set('jobs_pending', this.queue.length);
    this.metrics.set('jobs_inflight', this.inflight.size);
    if (this.queue.length > 0) this.noteWaiting();
    else this.waitingWhy = undefined;
  }

  /** Logs why queued jobs wait while executors are connected (unbonding, at their cap), once per change of reason. */
  private noteWaiting(): void {
    const why = this.whyWaiting();
    if (why === this.waitingWhy) return;
    this.waitingWhy = why;
    if (why !== undefined && this.executors.size > 0)
      this.log.warn({ queued: this.queue.length, why }, 'jobs wait for an executor');
  }

  /** A queued job no live executor may take any more: it ends `failed` with its last error. */
  private async endUnrunnable(job: QueuedJob): Promise<void> {
    try {
      const j = await this.ledger.stateOf(job.jobId);
      if (!j || j.status !== 'queued') return;
      const last = j.lastError ?? 'it lost a dispute';
      await this.fail(j, `${last}; every live executor has failed it`);
    } catch (e) {
      this.log.error(
        { err: (e as Error).message, jobId: job.jobId },
        'could not mark the job failed; kept queued',
      );
      this.queue.push(job);
    }
  }

  private async assign(job: QueuedJob, executor: ExecutorId): Promise<void> {
    let before: JobState | undefined;
    let attempt = -1;
    try {
      const j = (before = await this.ledger.stateOf(job.jobId));
      if (!j) throw new OptinferError('STORE_CORRUPT', `job ${job.jobId} vanished`);
      attempt = j.attempts + 1;
      const updated: JobState = {
        ...j,
        status: 'executing',
        executor,
        attempts: j.attempts + 1,
        updatedAt: Date.now(),
      };
      this.ledger.active.set(job.jobId, updated);
      // On disk before the executor can start it: an attempt in flight when the node dies counts after the restart.
      await this.ledger.write([this.ledger.jobs.put(job.jobId, updated)]);
      // Re-queued meanwhile (lapse, shutdown): that path has the job now.
      if (this.closed || this.inflight.get(job.jobId)?.executor !== executor) return;
      const msg: AssignMessage = { jobId: job.jobId, modelId: j.modelId, inputs: job.inputs, fee: j.fee };
      await messages.send(this.bus, messages.ASSIGN, executor, msg, {
        msgId: `${job.jobId}:${executor}:${updated.attempts}:${updated.invalidations?.length ?? 0}`,
      });
    } catch (e) {
      if (this.closed) return;
      // Re-queued meanwhile (the executor lapsed while the send hung) and maybe run elsewhere already: that path
      // owns the job now, and rolling its record back would run it, and batch it, a second time.
      // Also when it went back to the same executor as a newer attempt (a lone executor that lapsed and returned).
      const now = this.ledger.active.get(job.jobId);
      if (
        this.inflight.get(job.jobId)?.executor !== executor ||
        (attempt >= 0 && now !== undefined && now.attempts !== attempt)
      ) {
        this.log.warn(
          { err: (e as Error).message, jobId: job.jobId, executor },
          'assignment failed after the job had moved on; left to its new path',
        );
        return;
      }
      this.log.error(
        { err: (e as Error).message, jobId: job.jobId, executor },
        'assignment failed; job re-queued',
      );
      this.release(job.jobId, executor);
      this.unexpose(job.jobId);
      // The executor never got it: the attempt is not counted (a bus outage must not use up a job's attempts).
      if (before) {
        this.ledger.active.set(job.jobId, before);
        await this.ledger.write([this.ledger.jobs.put(job.jobId, before)]).catch(() => {});
      }
      this.queue.unshift(job);
    }
  }

  private release(id: JobId, executor: ExecutorId): void {
    this.inflight.delete(id);
    this.executors.get(executor)?.inflight.delete(id);
  }

  /** The attempt ended without a result that counts: its executor no longer answers for the job. */
  private unexpose(id: JobId): void {
    const was = this.exposure.release(id);
    if (was) this.noteExposure(was);
  }

  private async onResult(m: ResultMessage): Promise<void> {
    const id = m.jobId;
    const f = this.inflight.get(id);
    if (!f || f.executor !== m.executor) {
      // Also a late answer from an executor whose job was re-queued (lapse, timeout): the re-run's result counts.
      this.log.debug(
        { jobId: id, executor: m.executor },
        'ignoring a result for a job not assigned to that executor',
      );
      return;
    }
    // Released before any await: a lapse or timeout noticed meanwhile cannot hand the job out a second time.
    this.release(id, m.executor);
    const j = await this.ledger.stateOf(id);
    if (!j || j.status !== 'executing') return;
    // An executor leaving could withdraw before a dispute over this result opens if its batch committed late (the
    // unbonding period covers the window only from the request): the job runs again on a bonded executor instead.
    if (this.executors.get(m.executor)?.leaving) {
      this.metrics.inc('results_refused_unbonding_total');
      const why = `executor ${m.executor} requested an unbond: its result in flight is refused and the job runs elsewhere`;
      await this.retry(j, m.executor, why, true);
      return;
    }
    if (m.error !== undefined || !m.outputs || !m.outputDigest) {
      await this.retry(j, m.executor, `executor ${m.executor} failed: ${m.error ?? 'no outputs'}`, true);
      return;
    }
    let outputs: TensorMap;
    try {
      outputs = fromWire(m.outputs, `result ${id} outputs`);
      if (tensorSetDigest(outputs) !== m.outputDigest)
        throw new OptinferError('INVALID_INPUT', 'outputDigest does not match the outputs sent');
    } catch (e) {
      const why = `executor ${m.executor} sent a malformed result: ${(e as Error).message}`;
      await this.retry(j, m.executor, why, true);
      return;
    }
    // The record the batch will commit must carry the executor's own signature: no executor can be
    // named by a record it did not sign (open_dispute checks the same signature on chain).
    const record = {
      jobId: id,
      modelId: j.modelId,
      inputDigest: j.inputDigest,
      outputDigest: m.outputDigest,
      executor: m.executor,
      fee: BigInt(j.fee),
    };
    if (typeof m.signature !== 'string' || !verifyResult(record, m.signature)) {
      this.metrics.inc('results_bad_signature_total');
      const why =
        m.signature === undefined
          ? `executor ${m.executor} sent a result without a signature`
          : `executor ${m.executor} sent a result whose signature does not verify for its key over job ${id}`;
      await this.retry(j, m.executor, why, true);
      return;
    }
    const updated: JobState = {
      ...j,
      status: 'executed',
      outputDigest: m.outputDigest,
      signature: m.signature,
      updatedAt: Date.now(),
    };
    await this.ledger.write([
      this.ledger.jobs.put(id, updated),
      this.ledger.outputs.put(id, toStored(outputs)),
    ]);
    this.ledger.active.set(id, updated);
    const at = Date.now();
    this.metrics.inc('jobs_executed_total');
    this.dispatch();
    this.executed.add({ seq: j.seq, jobId: id, at });
  }

  /**
   * Called on every tick: re-queues the jobs of executors whose heartbeat lapsed (at once, not at the assignment
   * deadline) and of executors that have not answered by the deadline.
   */
  async expire(now: number): Promise<void> {
    this.noteLoop(now);
    const due: [JobId, ExecutorId, string, boolean][] = [];
    for (const e of this.executors.values()) {
      if (e.inflight.size === 0 || now - e.lastSeen <= this.config.executorTimeoutMs) continue;
      // Gone, not wrong: the executor may run the job again if it comes back; the attempt counts.
      const why = `executor ${e.id} stopped heart-beating (silent for ${now - e.lastSeen} ms)`;
      for (const id of e.inflight) due.push([id, e.id, why, false]);
    }
    for (const [id, f] of this.inflight)
      if (f.deadline <= now) due.push([id, f.executor, `executor ${f.executor} timed out`, true]);
    for (const [id, executor, why, exclude] of due) {
      if (this.inflight.get(id)?.executor !== executor) continue;
      this.release(id, executor);
      const j = await this.ledger.stateOf(id);
      if (j && j.status === 'executing') await this.retry(j, executor, why, exclude);
    }
  }

  /**
   * A gap in the loop watch means this process's event loop was stalled (a long synchronous run in the same
   * process, a GC pause) and could not hear heartbeats meanwhile: executors live before the stall are not judged
   * on that silence. Called by the watch timer and by `expire`, whichever runs first after the stall.
   */
  private noteLoop(now: number): void {
    const last = this.loopAt;
    this.loopAt = now;
    if (now - last <= this.config.executorTimeoutMs / 2) return;
    for (const e of this.executors.values())
      if (last - e.lastSeen <= this.config.executorTimeoutMs) e.lastSeen = Math.max(e.lastSeen, now);
    this.log.warn({ stalledMs: now - last }, 'the sequencer was stalled; missed heartbeats excused');
  }

  /**
   * A failed or abandoned attempt (already released): the job goes back to the queue, away from `executor` when
   * `exclude` (it failed the job, or timed out on it), or ends `failed` with `why` once it has used its attempts
   * or every live executor has failed it.
   */
  private async retry(j: JobState, executor: ExecutorId, why: string, exclude: boolean): Promise<void> {
    this.unexpose(j.jobId);
    const excluded = new Set(exclude ? [...j.excluded, executor] : j.excluded);
    if (excluded.size > 0) this.excludedOf.set(j.jobId, excluded);
    const end =
      j.attempts >= this.config.maxAttempts
        ? `${why}; gave up after ${attempts(j.attempts)}`
        : this.everyLiveFailed(excluded)
          ? `${why}; every live executor has failed it`
          : undefined;
    if (end !== undefined) {
      await this.fail({ ...j, excluded: [...excluded] }, end);
      return;
    }
    const updated: JobState = {
      ...j,
      status: 'queued',
      excluded: [...excluded],
      executor: undefined,
      lastError: why,
      updatedAt: Date.now(),
    };
    await this.ledger.write([this.ledger.jobs.put(j.jobId, updated)]);
    this.ledger.active.set(j.jobId, updated);
    this.metrics.inc('jobs_reassigned_total');
    this.log.warn({ jobId: j.jobId, why }, 'job re-queued');
    const stored = await this.ledger.inputs.get(j.jobId);
    if (stored) this.queue.unshift({ seq: j.seq, jobId: j.jobId, inputs: fromStored(stored) });
    this.dispatch();
  }

  /** The job ends `failed` with `error` (shown by GET /v1/jobs/:id) and leaves the open table. */
  private async fail(j: JobState, error: string): Promise<void> {
    this.unexpose(j.jobId);
    const failed: JobState = { ...j, status: 'failed', executor: undefined, error, updatedAt: Date.now() };
    const { jobs, open, meta } = this.ledger;
    // nextSeq is persisted whenever a job leaves `open` (see Batcher.cut).
    await this.ledger.write([
      jobs.put(j.jobId, failed),
      open.del(seqKey(j.seq)),
      meta.put('nextSeq', this.ledger.nextSeq),
    ]);
    this.ledger.active.delete(j.jobId);
    this.excludedOf.delete(j.jobId);
    this.log.warn({ jobId: j.jobId, error }, 'job failed');
  }
}

/** How many unfinalized jobs a bond covers: its free lamports over one stake. */
export function capJobs(b: ExecutorBond): number {
  if (b.stake <= 0n) return Number.MAX_SAFE_INTEGER;
  const n = b.free > 0n ? b.free / b.stake : 0n;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** Whether a bond lets its executor take jobs at all (its cap is judged against its exposure at dispatch). */
export function bondVerdict(b: ExecutorBond): { ok: boolean; why?: string } {
  if (b.unbonding > 0n) {
    return {
      ok: false,
      why: `it requested an unbond of ${b.unbonding} lamports: a leaving executor gets no new jobs`,
    };
  }
  if (b.free < b.stake) {
    return { ok: false, why: `its free bond ${b.free} lamports is below one stake (${b.stake})` };
  }
  return { ok: true };
}

function bondLog(b: ExecutorBond): Record<string, string | number> {
  return {
    freeBond: b.free.toString(),
    unbonding: b.unbonding.toString(),
    stake: b.stake.toString(),
    capJobs: capJobs(b),
  };
}

function attempts(n: number): string {
  return `${n} attempt${n === 1 ? '' : 's'}`;
}
