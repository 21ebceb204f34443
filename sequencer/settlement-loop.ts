// The settlement loop: commits batch roots, then watches each open batch for lost disputes and for finality.
import type { Bus } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { BatchCommittedMessage } from '../bus/messages.ts';
import type { Logger } from '../common/log.ts';
import type { Metrics } from '../common/metrics.ts';
import { seqKey, type WriteOp } from '../state/store.ts';
import { fromStored } from '../state/tensor-map.ts';
import type { ExecutorId, JobId } from '../state/types.ts';
import type { QueuedJob } from './dispatch.ts';
import { header, type BatchState, type JobState, type Ledger } from './ledger.ts';
import type { DataServer, Settlement } from './ports.ts';

/** How often open batches are checked against settlement (invalidations, finality). */
export const SETTLEMENT_POLL_MS = 1_000;
/**
 * How often the loop looks for deposits with a withdrawal pending even when no batch finalized: well inside the
 * withdrawal delay (one dispute clock, 150 slots or about 60 s by default), so held vouchers are drawn first.
 */
export const WITHDRAWAL_WATCH_MS = 5_000;

export class SettlementLoop {
  /** Batches committed and inside their window, by index. */
  private readonly openBatches = new Map<number, BatchState>();
  /** Batches persisted but not yet committed to settlement (after a crash between the two). */
  private readonly toCommit: BatchState[] = [];
  private lastPoll = 0;
  /** Serves a committed job's proof and inputs for data requests on chain (the sequencer's views). */
  serveData?: DataServer;
  /**
   * Redeems the users' vouchers, each capped by `cap(user)` (the fees of that user's finalized jobs), and says
   * what each draw paid (sequencer/payments.ts drawVouchers). Unset: the node takes no payments.
   */
  drawDeposits?: (
    cap: (user: string, withdrawing: boolean) => bigint | undefined,
  ) => Promise<{ user: string; amount: bigint }[]>;
  /** Set when a batch finalized (or at start) and the deposits may owe more: the next poll draws. */
  private drawDue = true;
  /** When the last draw ran: a draw also runs every WITHDRAWAL_WATCH_MS, for withdrawals pending. */
  private lastDraw = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly settlement: Settlement,
    private readonly bus: Bus,
    /** Where a job that lost a dispute goes to be run again (the dispatcher). */
    private readonly rerun: {
      requeueLost(jobId: JobId, excluded: ExecutorId[], job: QueuedJob | undefined): void;
      dispatch(): void;
      /** Jobs of a batch that just finalized: their executors no longer answer for them (see Exposure). */
      settled?(jobIds: readonly JobId[]): void;
    },
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** Told when settlement refuses a batch because it holds a different root: the node's state is damaged. */
    private readonly onDamage: (why: string) => void = () => {},
  ) {}

  /** Picks up batches a crash left uncommitted or inside their window. */
  async recover(): Promise<void> {
    for (const [, b] of await this.ledger.batches.entries()) {
      if (b.status === 'pending') this.toCommit.push(b);
      else if (b.status === 'committed') this.openBatches.set(b.index, b);
    }
  }

  get open(): number {
    return this.openBatches.size;
  }

  /** Batches persisted and not yet final (committed or still to commit): their jobs' executors answer for them. */
  unfinalized(): BatchState[] {
    return [...this.toCommit, ...this.openBatches.values()];
  }

  /** Commits a persisted batch's root, records it as committed and announces it to challengers. */
  async commit(b: BatchState): Promise<BatchState> {
    let windowEndsAt: number;
    try {
      ({ windowEndsAt } = await this.settlement.commitBatch(header(b)));
    } catch (e) {
      if ((e as { code?: string }).code === 'SETTLEMENT_CONFLICT') this.onDamage((e as Error).message);
      // Persisted but not committed: retried by retryCommits, in order, like a batch a crash left pending.
      if (!this.toCommit.some((p) => p.index === b.index)) {
        this.toCommit.push(b);
        this.toCommit.sort((x, y) => x.index - y.index);
      }
      throw e;
    }
    const committed: BatchState = { ...b, status: 'committed', windowEndsAt };
    await this.ledger.write([this.ledger.batches.put(seqKey(b.index), committed)]);
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

  /** Commits the batches recovered as pending, in order; stops at the first failure to try again later. */
  async retryCommits(): Promise<void> {
    while (this.toCommit.length > 0) {
      try {
        const b = this.toCommit[0];
        await this.commit(b);
        this.toCommit.splice(this.toCommit.indexOf(b), 1);
      } catch (e) {
        this.log.error(
          { err: (e as Error).message, index: this.toCommit[0].index },
          'batch commit failed; will retry',
        );
        break;
      }
    }
  }

  /** Re-queues jobs that lost a dispute and finalizes batches whose window is over; at most every SETTLEMENT_POLL_MS. */
  async poll(now: number): Promise<void> {
    // Settlement reads may be RPC calls (several per open batch): once a second, not every tick.
    if (now - this.lastPoll < SETTLEMENT_POLL_MS) return;
    this.lastPoll = now;
    for (const b of [...this.openBatches.values()]) {
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
    if (this.drawDeposits && (this.drawDue || Date.now() - this.lastDraw >= WITHDRAWAL_WATCH_MS))
      await this.draw();
    if (this.settlement.answerDataRequests && this.serveData) {
      // A request left unanswered past its deadline slashes this sequencer: answered as soon as seen.
      try {
        const n = await this.settlement.answerDataRequests(now, this.serveData);
        if (n > 0) {
          this.metrics.inc('data_requests_answered_total', {}, n);
          this.log.info({ answered: n }, 'data requests answered on chain');
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'answering data requests failed; will retry');
      }
    }
    if (this.settlement.reclaimRent) {
      try {
        const lamports = await this.settlement.reclaimRent(now);
        if (lamports > 0n) {
          this.metrics.inc('rent_reclaimed_lamports_total', {}, Number(lamports));
          this.log.info({ lamports: lamports.toString() }, 'batch rent reclaimed');
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'batch rent reclaim failed; will retry');
      }
    }
  }

  /** Draws what the users' finalized jobs owe from their deposits; a failure is retried at the next poll. */
  private async draw(): Promise<void> {
    try {
      const caps = new Map((await this.ledger.charges.entries()).map(([u, v]) => [u, BigInt(v)]));
      this.drawDue = false;
      this.lastDraw = Date.now();
      // A user asking for its deposit back is charged, before the delay ends, for its jobs committed with results
      // too (served, not yet final: those in open batches, less the positions a game invalidated, which are re-run).
      const served = new Map<string, bigint>();
      for (const b of this.openBatches.values()) {
        const lost = new Set(b.invalidated ?? []);
        for (let i = 0; i < b.jobIds.length; i++) {
          if (lost.has(i)) continue;
          const j = await this.ledger.stateOf(b.jobIds[i]);
          if (j?.payer && j.batchIndex === b.index)
            served.set(j.payer, (served.get(j.payer) ?? 0n) + BigInt(j.fee));
        }
      }
      const cap = (u: string, withdrawing: boolean) =>
        (caps.get(u) ?? 0n) + (withdrawing ? (served.get(u) ?? 0n) : 0n);
      for (const { user, amount } of await this.drawDeposits!(cap)) {
        this.metrics.inc('deposit_drawn_lamports_total', {}, Number(amount));
        this.log.info({ user, lamports: amount.toString() }, 'deposit drawn');
      }
    } catch (e) {
      this.drawDue = true;
      this.log.warn({ err: (e as Error).message }, 'drawing deposits failed; will retry');
    }
  }

  /** A job that lost a dispute goes back to the queue, never again to the executor that lied about it. */
  private async requeueInvalidated(b: BatchState, position: number): Promise<void> {
    const id = b.jobIds[position];
    const j = await this.ledger.stateOf(id);
    const batch: BatchState = { ...b, invalidated: [...(b.invalidated ?? []), position] };
    const ops: WriteOp[] = [this.ledger.batches.put(seqKey(b.index), batch)];
    let requeued: JobState | undefined;
    if (j && j.batchIndex === b.index && j.executor) {
      requeued = {
        ...j,
        status: 'queued',
        excluded: [...new Set([...j.excluded, j.executor])],
        invalidations: [
          ...(j.invalidations ?? []),
          {
            batchIndex: b.index,
            position,
            executor: j.executor,
            at: Date.now(),
            outputDigest: j.outputDigest,
            signature: j.signature,
          },
        ],
        executor: undefined,
        outputDigest: undefined,
        signature: undefined,
        batchIndex: undefined,
        position: undefined,
        attempts: 0,
        updatedAt: Date.now(),
      };
      ops.push(this.ledger.jobs.put(id, requeued), this.ledger.open.put(seqKey(j.seq), id));
    }
    await this.ledger.write(ops);
    this.openBatches.set(b.index, batch);
    if (!requeued) return;
    this.ledger.active.set(id, requeued);
    const stored = await this.ledger.inputs.get(id);
    this.rerun.requeueLost(
      id,
      requeued.excluded,
      stored && { seq: j!.seq, jobId: id, inputs: fromStored(stored) },
    );
    this.metrics.inc('jobs_reassigned_total');
    this.log.warn(
      { jobId: id, batch: b.index, position, executor: j!.executor },
      'job lost a dispute; re-queued',
    );
    this.rerun.dispatch();
  }

  private async finalize(b: BatchState): Promise<void> {
    const done: BatchState = { ...b, status: 'finalized', finalizedAt: Date.now() };
    // Not the positions that lost a dispute: those jobs were re-queued, and their re-run is charged elsewhere.
    const lost = new Set(b.invalidated ?? []);
    // Each paying user's finalized fees grow by its jobs in this batch, in the same write as the batch's finality.
    const owed = new Map<string, bigint>();
    for (let i = 0; i < b.jobIds.length; i++) {
      if (lost.has(i)) continue;
      const j = await this.ledger.stateOf(b.jobIds[i]);
      if (j?.payer && j.batchIndex === b.index) owed.set(j.payer, (owed.get(j.payer) ?? 0n) + BigInt(j.fee));
    }
    const ops: WriteOp[] = [this.ledger.batches.put(seqKey(b.index), done)];
    for (const [user, fees] of owed) {
      const before = BigInt((await this.ledger.charges.get(user)) ?? '0');
      ops.push(this.ledger.charges.put(user, (before + fees).toString()));
    }
    await this.ledger.write(ops);
    if (owed.size > 0) this.drawDue = true;
    this.openBatches.delete(b.index);
    this.rerun.settled?.(b.jobIds.filter((_, i) => !lost.has(i)));
    this.metrics.inc('batches_finalized_total');
    this.log.info({ index: b.index, root: b.root }, 'batch finalized');
  }
}
