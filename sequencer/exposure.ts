// Exposure: which executor answers for each job not yet in a finalized batch, so no executor holds more jobs than its bond covers.
import type { ExecutorId, JobId } from '../state/types.ts';
import type { BatchState, Ledger } from './ledger.ts';

/**
 * A job is charged to its executor from its assignment until its batch finalizes (or its attempt is given up, or
 * it loses a dispute and is re-queued): while charged, a dispute over it can take one stake from that executor.
 * One executor per job at a time: a job moves to another executor only after its charge is released.
 */
export class Exposure {
  private readonly executorOf = new Map<JobId, ExecutorId>();
  private readonly counts = new Map<ExecutorId, number>();

  charge(job: JobId, executor: ExecutorId): void {
    const was = this.executorOf.get(job);
    if (was === executor) return;
    if (was !== undefined) this.release(job);
    this.executorOf.set(job, executor);
    this.counts.set(executor, (this.counts.get(executor) ?? 0) + 1);
  }

  /** The executor whose charge ended, if the job was charged. */
  release(job: JobId): ExecutorId | undefined {
    const executor = this.executorOf.get(job);
    if (executor === undefined) return undefined;
    this.executorOf.delete(job);
    const n = (this.counts.get(executor) ?? 1) - 1;
    if (n > 0) this.counts.set(executor, n);
    else this.counts.delete(executor);
    return executor;
  }

  /** Jobs charged to the executor: assigned, answered, or batched and not yet final. */
  jobsOf(executor: ExecutorId): number {
    return this.counts.get(executor) ?? 0;
  }

  /** Every executor with jobs charged, and how many. */
  entries(): [ExecutorId, number][] {
    return [...this.counts.entries()];
  }

  /**
   * Charges rebuilt from the store at start-up: answered jobs not yet batched, and the jobs of batches not yet final
   * that are still theirs (a job that lost a dispute was re-queued and left the batch's executor). Jobs executing
   * at the stop are re-queued by recovery and charged again when assigned.
   */
  async rebuild(ledger: Ledger, unfinalized: BatchState[]): Promise<void> {
    for (const j of ledger.active.values())
      if (j.status === 'executed' && j.executor) this.charge(j.jobId, j.executor);
    for (const b of unfinalized) {
      const states = await ledger.jobs.getMany(b.jobIds);
      for (const j of states)
        if (j && j.batchIndex === b.index && j.executor && j.status === 'batched')
          this.charge(j.jobId, j.executor);
    }
  }
}
