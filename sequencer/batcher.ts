// The batcher: executed jobs wait here until enough of them, or the oldest long enough, make a batch to persist and commit.
import type { Metrics } from '../common/metrics.ts';
import { Batch } from '../state/job.ts';
import { seqKey, type WriteOp } from '../state/store.ts';
import type { BatchIndex, JobId } from '../state/types.ts';
import { toRecord, type BatchState, type Ledger } from './ledger.ts';

export interface BatcherConfig {
  /** A batch is cut when this many executed jobs wait. */
  batchMaxJobs: number;
  /** ... or when the oldest executed job has waited this long. */
  batchMaxAgeMs: number;
}

/** An executed job waiting for a batch; `at` is when it was executed (or recovered), for the age rule. */
export interface ExecutedJob {
  seq: number;
  jobId: JobId;
  at: number;
}

export class Batcher {
  /** Executed jobs waiting for a batch, in the order they will be batched. */
  private readonly queue: ExecutedJob[] = [];
  private batching = false;

  constructor(
    private readonly config: BatcherConfig,
    private readonly ledger: Ledger,
    /** Commits a persisted batch to settlement (the settlement loop). */
    private readonly committer: { commit(b: BatchState): Promise<BatchState> },
    /** Keeps the new batch's tree, so proofs of its jobs need no rebuild. */
    private readonly trees: { remember(index: number, batch: Batch): void },
    private readonly metrics: Metrics,
  ) {}

  /** An executed job; a full queue is cut at once, without waiting for the next tick. */
  add(job: ExecutedJob): void {
    this.queue.push(job);
    // A failed cut is tried again by the next tick; a failed commit is logged and retried by the settlement loop.
    if (this.queue.length >= this.config.batchMaxJobs) this.cut().catch(() => {});
  }

  /** An executed job acknowledged before a restart; its age counts from the restart. */
  restore(job: ExecutedJob): void {
    this.queue.push(job);
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Whether a batch should be cut now: enough jobs wait, or the oldest has waited long enough. */
  due(now: number): boolean {
    const oldest = this.queue[0];
    return Boolean(
      oldest &&
      (this.queue.length >= this.config.batchMaxJobs || now - oldest.at >= this.config.batchMaxAgeMs),
    );
  }

  /** Builds the next batch from the oldest executed jobs, persists it, then commits its root. */
  async cut(): Promise<BatchState | undefined> {
    if (this.batching || this.queue.length === 0) return undefined;
    this.batching = true;
    const t0 = performance.now();
    try {
      const take = this.queue.slice(0, this.config.batchMaxJobs);
      const states = await Promise.all(take.map((t) => this.ledger.stateOf(t.jobId)));
      const records = states.map((j) => toRecord(j!));
      const index = this.ledger.nextBatch;
      const batch = new Batch(index as BatchIndex, records);
      const b: BatchState = {
        index,
        root: batch.root,
        jobCount: records.length,
        feeTotal: records.reduce((s, r) => s + r.fee, 0n).toString(),
        jobIds: take.map((t) => t.jobId),
        createdAt: Date.now(),
        windowEndsAt: 0,
        status: 'pending',
      };
      const { batches, meta, jobs, open } = this.ledger;
      // Persist before committing anywhere, so a crash can only leave a batch to re-commit, never a root
      // committed on chain that the node no longer knows.
      // nextSeq is persisted here (and when a job fails), not per job: at recovery it is also raised past every
      // open job, so no sequence number, and so no job id, is ever handed out twice.
      const ops: WriteOp[] = [
        batches.put(seqKey(index), b),
        meta.put('nextBatch', index + 1),
        meta.put('nextSeq', this.ledger.nextSeq),
      ];
      states.forEach((j, i) => {
        ops.push(
          jobs.put(j!.jobId, {
            ...j!,
            status: 'batched',
            batchIndex: index,
            position: i,
            updatedAt: b.createdAt,
          }),
        );
        ops.push(open.del(seqKey(take[i].seq)));
      });
      // Straight to the store, not the group writer: one batch is already one LevelDB write.
      await this.ledger.store.write(ops);
      this.queue.splice(0, take.length);
      for (const t of take) this.ledger.active.delete(t.jobId);
      this.ledger.nextBatch = index + 1;
      this.trees.remember(index, batch);
      const committed = await this.committer.commit(b);
      this.metrics.observe('batch_build_seconds', (performance.now() - t0) / 1000);
      return committed;
    } finally {
      this.batching = false;
    }
  }
}
