// Metrics seam: a tiny interface with a no-op default and a prom-client implementation for /metrics.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  inc(name: string, labels?: Record<string, string>, by?: number): void;
  set(name: string, value: number, labels?: Record<string, string>): void;
  observe(name: string, seconds: number, labels?: Record<string, string>): void;
}

export const noopMetrics: Metrics = { inc() {}, set() {}, observe() {} };

/** Declared metrics; names are prefixed with optinfer_. */
const COUNTERS: Record<string, string> = {
  jobs_accepted_total: 'jobs acknowledged with 202',
  jobs_rejected_total: 'job submissions refused as invalid',
  jobs_executed_total: 'results received from executors',
  jobs_reassigned_total: 'jobs re-queued after an executor timed out or failed',
  results_bad_signature_total: "results refused: the executor's signature over the record did not verify",
  batches_committed_total: 'batches built and committed',
  batches_finalized_total: 'batches past their challenge window',
  audits_total: 'jobs re-executed by a challenger',
  findings_total: 'mismatches found by a challenger',
  record_faults_proven_total: "committed records no one could dispute, proven the sequencer's fault",
  fees_claimed_lamports_total: 'record fees an executor claimed from finalized batches (claim_fees)',
};
const GAUGES: Record<string, string> = {
  jobs_pending: 'jobs waiting for an executor',
  jobs_inflight: 'jobs assigned to an executor and not yet returned',
  executors_live: 'executors seen within the heartbeat timeout',
  executor_exposure_jobs: 'jobs an executor answers for that are not yet in a finalized batch',
  executor_exposure_lamports: 'exposure_jobs x the stake one lost dispute takes (min_executor_bond)',
};
/** Gauges labelled by executor rather than role. */
const EXECUTOR_GAUGES = new Set(['executor_exposure_jobs', 'executor_exposure_lamports']);
const HISTOGRAMS: Record<string, string> = {
  job_execution_seconds: 'model run time on an executor',
  batch_build_seconds: 'time to build and persist one batch',
};

export class PromMetrics implements Metrics {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();
  private readonly histograms = new Map<string, Histogram>();

  constructor() {
    for (const [n, help] of Object.entries(COUNTERS))
      this.counters.set(
        n,
        new Counter({ name: `optinfer_${n}`, help, registers: [this.registry], labelNames: ['role'] }),
      );
    for (const [n, help] of Object.entries(GAUGES))
      this.gauges.set(
        n,
        new Gauge({
          name: `optinfer_${n}`,
          help,
          registers: [this.registry],
          labelNames: EXECUTOR_GAUGES.has(n) ? ['executor'] : ['role'],
        }),
      );
    for (const [n, help] of Object.entries(HISTOGRAMS))
      this.histograms.set(
        n,
        new Histogram({ name: `optinfer_${n}`, help, registers: [this.registry], labelNames: ['role'] }),
      );
  }

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    this.counters.get(name)?.inc(labels, by);
  }
  set(name: string, value: number, labels: Record<string, string> = {}): void {
    this.gauges.get(name)?.set(labels, value);
  }
  observe(name: string, seconds: number, labels: Record<string, string> = {}): void {
    this.histograms.get(name)?.observe(labels, seconds);
  }
}
