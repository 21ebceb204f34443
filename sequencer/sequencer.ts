// The sequencer: wires intake, models, dispatch, batcher and settlement loop over one store, one bus and one timer.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Bus, Consumer, Subscription } from '../bus/bus.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { DEFAULT_JOB_FEE_LAMPORTS, type JobRecord } from '../state/job.ts';
import { Store } from '../state/store.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import type { JobId, ModelId } from '../state/types.ts';
import { Batcher, type BatcherConfig } from './batcher.ts';
import { Dispatcher, HEARTBEAT_LAPSE_MS, type DispatchConfig, type ExecutorView } from './dispatch.ts';
import { checkIntegrity } from './integrity.ts';
import { Intake, type IntakeConfig } from './intake.ts';
import { Ledger, type BatchState } from './ledger.ts';
import type { VoucherStore } from './payments.ts';
import { ModelCatalog, type ModelSource, type ModelsConfig } from './models.ts';
import type { ModelInfo, ModelInspector, Settlement } from './ports.ts';
import { SettlementLoop } from './settlement-loop.ts';
import { Views, type JobView } from './views.ts';

export type { BatchState, JobState, JobStatus } from './ledger.ts';
export type { JobView } from './views.ts';
export type { ExecutorView } from './dispatch.ts';

/** Every part's settings; each part declares (and documents) its own. */
export interface SequencerConfig extends ModelsConfig, IntakeConfig, DispatchConfig, BatcherConfig {
  dataDir: string;
  /** fsync every LevelDB write before acknowledging it (`--durable`): survives a power loss, costs throughput. */
  durable?: boolean;
}

export const DEFAULT_SEQUENCER_CONFIG: Omit<SequencerConfig, 'dataDir'> = {
  batchMaxJobs: 1024,
  batchMaxAgeMs: 2_000,
  assignTimeoutMs: 60_000,
  executorTimeoutMs: HEARTBEAT_LAPSE_MS,
  maxAttempts: 3,
  defaultFeeLamports: DEFAULT_JOB_FEE_LAMPORTS,
  maxModelBytes: 256 * 1024 * 1024,
};

/** Timeouts, batch age, pending commits and the settlement poll are all driven by this one timer. */
const TICK_MS = 100;

export class Sequencer {
  readonly config: SequencerConfig;
  private readonly ledger: Ledger;
  private readonly models: ModelCatalog;
  private readonly intake: Intake;
  private readonly dispatcher: Dispatcher;
  private readonly batcher: Batcher;
  private readonly settlementLoop: SettlementLoop;
  private readonly views: Views;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private closed = false;
  private readonly subs: (Subscription | Consumer)[] = [];
  private unwatchBonds: (() => Promise<void>) | null = null;
  /** Set when the node finds its state contradicts settlement or itself while running: it stops taking jobs. */
  private damage: string | null = null;

  private constructor(
    config: SequencerConfig,
    store: Store,
    bus: Bus,
    inspector: ModelInspector,
    private readonly settlement: Settlement,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.config = config;
    const ledger = (this.ledger = new Ledger(store));
    this.views = new Views(ledger);
    this.models = new ModelCatalog(config, ledger, inspector, settlement, bus, log);
    this.settlementLoop = new SettlementLoop(
      ledger,
      settlement,
      bus,
      {
        requeueLost: (...a) => this.dispatcher.requeueLost(...a),
        dispatch: () => this.dispatcher.dispatch(),
        settled: (ids) => this.dispatcher.settled(ids),
      },
      log,
      metrics,
      (why) => this.damaged(why),
    );
    this.settlementLoop.serveData = (index, position) => this.views.dataAt(index, position);
    this.batcher = new Batcher(config, ledger, this.settlementLoop, this.views, metrics);
    this.dispatcher = new Dispatcher(config, ledger, bus, settlement, this.batcher, log, metrics);
    this.intake = new Intake(config, ledger, this.models, this.dispatcher, this.batcher, metrics);
  }

  static async start(opts: {
    config: SequencerConfig;
    bus: Bus;
    inspector: ModelInspector;
    settlement: Settlement;
    logger?: Logger;
    metrics?: Metrics;
  }): Promise<Sequencer> {
    const store = await Store.open(join(opts.config.dataDir, 'sequencer.db'), {
      durable: opts.config.durable,
    });
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
    await this.ledger.loadCounters();
    // Before anything is re-queued or re-committed: a damaged store must not serve, nor cut a batch again.
    await checkIntegrity(this.ledger, this.settlement);
    await this.models.recover();
    await this.intake.recover();
    await this.settlementLoop.recover();
    // Jobs answered or batched before the stop still count against their executors' bonds.
    await this.dispatcher.exposure.rebuild(this.ledger, this.settlementLoop.unfinalized());
    this.log.info(
      {
        queued: this.dispatcher.queued,
        inflight: this.dispatcher.assigned,
        executed: this.batcher.waiting,
        openBatches: this.settlementLoop.open,
        nextSeq: this.ledger.nextSeq,
        nextBatch: this.ledger.nextBatch,
      },
      'sequencer state recovered',
    );
  }

  private async listen(): Promise<void> {
    this.subs.push(
      await this.dispatcher.listenHeartbeats(),
      await this.dispatcher.consumeResults(),
      await this.models.serve(),
    );
    this.unwatchBonds = this.dispatcher.watchBonds();
  }

  /** Bytes, or an upload's stream of chunks (stored under the size cap as it arrives, never buffered whole). */
  registerModel(source: ModelSource, name: string): Promise<ModelInfo> {
    return this.models.register(source, name);
  }

  listModels(): ModelInfo[] {
    return this.models.list();
  }

  getModel(modelId: ModelId): ModelInfo | undefined {
    return this.models.get(modelId);
  }

  modelBytes(modelId: ModelId): Uint8Array {
    return this.models.bytes(modelId);
  }

  /** Validates and persists a job; resolves with its id once it can no longer be lost. */
  submit(req: {
    modelId: ModelId;
    inputs: TensorMap;
    fee?: bigint;
    /** The user whose deposit pays the fee (base58): its finalized fees are what the node may draw. */
    payer?: string;
  }): Promise<{ jobId: JobId }> {
    if (this.damage) {
      return Promise.reject(
        new OptinferError('UNAVAILABLE', `the node stopped taking jobs: ${this.damage} (see /healthz)`),
      );
    }
    return this.intake.submit(req);
  }

  /**
   * Turns on deposit draws: the settlement loop calls `fn` after batches finalize, with each user's cap (the fees
   * of its finalized jobs), and logs each draw (sequencer/payments.ts drawVouchers).
   */
  set drawDeposits(fn: SettlementLoop['drawDeposits']) {
    this.settlementLoop.drawDeposits = fn;
  }

  /** Where a PaymentGate keeps the vouchers it took, so a restart can still draw them (sequencer/payments.ts). */
  voucherStore(): VoucherStore {
    const t = this.ledger.vouchers;
    return {
      load: () => t.entries(),
      save: (user, list) => this.ledger.write([list.length ? t.put(user, list) : t.del(user)]),
    };
  }

  /** Whether the node may serve: not ok once it found its state damaged or contradicting settlement. */
  health(): { ok: boolean; reason?: string } {
    return this.damage ? { ok: false, reason: this.damage } : { ok: true };
  }

  private damaged(why: string): void {
    if (this.damage) return;
    this.damage = why;
    this.log.error(
      { reason: why },
      'node state is damaged; it stops taking jobs until an operator recovers it',
    );
  }

  /** A job as the API shows it; a queued job also says why it waits, when no executor may take it now. */
  async getJob(id: JobId, opts: { outputs?: boolean; proof?: boolean } = {}): Promise<JobView | undefined> {
    const view = await this.views.getJob(id, opts);
    if (view?.status === 'queued') {
      const why = this.dispatcher.whyWaiting();
      if (why !== undefined) view.waiting = why;
    }
    return view;
  }

  /** Every executor seen: its bond, its exposure (jobs not yet final x stake), and why it gets no job, if so. */
  executors(): ExecutorView[] {
    return this.dispatcher.executorViews();
  }

  getInputs(id: JobId): Promise<TensorMap | undefined> {
    return this.views.getInputs(id);
  }

  getBatch(index: number): Promise<BatchState | undefined> {
    return this.views.getBatch(index);
  }

  listBatches(limit = 50): Promise<BatchState[]> {
    return this.views.listBatches(limit);
  }

  /** The job records of a batch, in batch order, as committed. */
  batchRecords(b: BatchState): Promise<JobRecord[]> {
    return this.views.batchRecords(b);
  }

  stats(): { queued: number; inflight: number; executed: number; executors: number; nextBatch: number } {
    return {
      queued: this.dispatcher.queued,
      inflight: this.dispatcher.assigned,
      executed: this.batcher.waiting,
      executors: this.dispatcher.liveCount(),
      nextBatch: this.ledger.nextBatch,
    };
  }

  /** Builds the next batch from the oldest executed jobs, persists it, then commits its root. */
  cutBatch(): Promise<BatchState | undefined> {
    return this.batcher.cut();
  }

  private async tick(): Promise<void> {
    if (this.closed || this.ticking) return;
    this.ticking = true;
    try {
      await this.tickOnce();
    } catch (e) {
      if ((e as OptinferError).code === 'STORE_CORRUPT') this.damaged((e as Error).message);
      this.log.error({ err: (e as Error).message }, 'sequencer tick failed; retrying next tick');
    } finally {
      this.ticking = false;
    }
  }

  private async tickOnce(): Promise<void> {
    // A damaged node commits nothing more and takes no jobs; an operator must recover it (see health()).
    if (this.damage) return;
    const now = Date.now();
    await this.dispatcher.expire(now);
    await this.settlementLoop.retryCommits();
    if (this.batcher.due(now)) await this.batcher.cut();
    await this.settlementLoop.poll(now);
    this.dispatcher.dispatch();
    this.metrics.set('executors_live', this.dispatcher.liveCount());
  }

  /** Stops timers and consumers; everything acknowledged is already on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.intake.close();
    this.dispatcher.close();
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs) {
      if ('stop' in s) await s.stop();
      else await s.unsubscribe();
    }
    await this.unwatchBonds?.().catch(() => {});
    await this.ledger.writer.drain();
    await this.ledger.store.close();
  }
}
