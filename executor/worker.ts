// The executor role, wired: assignment consumer, result store, trace server, bonding and heartbeat under one key.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import type { Bus, Consumer, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { ChunksReply, HeartbeatMessage, TraceReply } from '../bus/messages.ts';
import { HEARTBEAT_INTERVAL_MS } from '../bus/messages.ts';
import type { DisputeDriver } from '../dispute/driver.ts';
import { loadOrCreateKeypair } from '../common/keys.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import type { ExecutorId, ModelId } from '../state/types.ts';
import { joinChain, type ChainJoin } from './bonding.ts';
import { claimTxCost, FEE_CLAIM_MS, FeeClaimer } from './fees.ts';
import { AssignmentConsumer } from './consumer.ts';
import type { LoadedModel, ModelRegistry } from './model.ts';
import { modelSource, type ModelSource } from './model-source.ts';
import { HONEST_EXECUTOR, type ExecutorPolicy } from './policy.ts';
import { ResultStore } from './results.ts';
import {
  IN_PROCESS,
  inProcessRunner,
  SandboxPool,
  type ModelRunner,
  type SandboxConfig,
} from './sandbox/pool.ts';
import { assertRunnable } from './model.ts';
import { CANONICAL_RUN, formatRunConfig, isCanonicalRun, type RunConfig } from './run-config.ts';
import { TraceServer } from './trace-server.ts';

export interface ExecutorConfig {
  dataDir: string;
  /** Jobs run at once; onnxruntime runs one op at a time per job on the canonical profile. */
  capacity: number;
  heartbeatMs: number;
  /** Keypair file (Solana CLI format); created when missing. */
  keypairPath?: string;
  /** Where to fetch model bytes over HTTP (separate processes); otherwise over the bus. */
  sequencerUrl?: string;
  /** Settlement on the program: bond on start-up, play disputes from stored results. */
  chain?: ChainJoin;
  /**
   * Where jobs run and traces are computed: a pool of child processes with a time and a memory limit per run
   * (the default; fields left out take the pool's defaults), or false to run in this process without limits.
   */
  sandbox?: Partial<SandboxConfig> | false;
  /**
   * How this executor runs models (`--profile`): backend, threads, optimization level. Its own choice: traces
   * still commit to each model's registered profile. Canonical when unset. Ignored when a runner is given.
   */
  run?: Readonly<RunConfig>;
}

export const DEFAULT_EXECUTOR_CONFIG: Omit<ExecutorConfig, 'dataDir'> = {
  capacity: 2,
  heartbeatMs: HEARTBEAT_INTERVAL_MS,
};

export class ExecutorWorker {
  readonly id: ExecutorId;
  private readonly models: ModelSource;
  private readonly traces: TraceServer;
  private driver: DisputeDriver | null = null;
  private readonly subs: (Subscription | Consumer)[] = [];
  private heartbeat: NodeJS.Timeout | null = null;
  /** Claims this executor's fees from finalized batches (when the chain config gives it proofs). */
  readonly fees: FeeClaimer | null = null;
  private feeTimer: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    readonly config: ExecutorConfig,
    readonly keypair: Keypair,
    private readonly results: ResultStore,
    private readonly bus: Bus,
    registry: ModelRegistry,
    private readonly policy: ExecutorPolicy,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** Where this executor's models run (its sandbox pool unless configured otherwise). */
    readonly runner: ModelRunner,
    private readonly ownsRunner: boolean,
  ) {
    this.id = keypair.publicKey.toBase58() as ExecutorId;
    this.models = modelSource({ registry, bus, sequencerUrl: config.sequencerUrl });
    this.traces = new TraceServer(results, this.models, policy, log, runner);
    const chain = config.chain;
    if (chain?.proofs) {
      this.fees = new FeeClaimer({
        client: chain.client,
        keypair,
        jobIds: () => results.jobIds(),
        proofs: chain.proofs,
        store: results.claimStore(),
        // A claim that would cost more than its fees pay is skipped, and logged with the figures.
        txCost: () => claimTxCost(chain.client),
        log: log.child({ part: 'fees' }),
        metrics,
      });
    }
  }

  /**
   * `policy`: what this executor answers (default honest; dishonest ones are in adversary/). `runner`: a sandbox
   * shared with other workers (the caller closes it); otherwise the worker opens its own from config.sandbox.
   */
  static async start(opts: {
    config: ExecutorConfig;
    bus: Bus;
    registry: ModelRegistry;
    policy?: ExecutorPolicy;
    logger?: Logger;
    metrics?: Metrics;
    runner?: ModelRunner;
  }): Promise<ExecutorWorker> {
    const { config } = opts;
    mkdirSync(config.dataDir, { recursive: true });
    const keypair = loadOrCreateKeypair(config.keypairPath ?? join(config.dataDir, 'executor-keypair.json'));
    const id = keypair.publicKey.toBase58();
    const results = await ResultStore.open(join(config.dataDir, `executor-${id}.db`));
    const log = (opts.logger ?? silentLogger).child({ executor: id });
    const policy = opts.policy ?? HONEST_EXECUTOR;
    const run = config.run && !isCanonicalRun(config.run) ? config.run : undefined;
    if (run && !opts.runner) await assertRunnable(run, 'executor --profile');
    const runner =
      opts.runner ??
      (config.sandbox === false
        ? run
          ? inProcessRunner(run)
          : IN_PROCESS
        : new SandboxPool({ ...config.sandbox, ...(run ? { run } : {}) }, log.child({ part: 'sandbox' })));
    const used = runner.config?.run ?? CANONICAL_RUN;
    log.info(
      { profile: formatRunConfig(used), canonical: isCanonicalRun(used) },
      'executor run configuration (reported, not hashed into records)',
    );
    const w = new ExecutorWorker(
      config,
      keypair,
      results,
      opts.bus,
      opts.registry,
      policy,
      log,
      opts.metrics ?? noopMetrics,
      runner,
      !opts.runner,
    );
    try {
      await policy.open?.({ id: w.id, dataDir: config.dataDir, registry: opts.registry, log });
      await w.listen();
    } catch (e) {
      await policy.close?.();
      await results.close();
      if (!opts.runner) await runner.close();
      throw e;
    }
    return w;
  }

  private async listen(): Promise<void> {
    const consumer = new AssignmentConsumer(
      this.id,
      this.bus,
      this.results,
      this.models,
      this.policy,
      this.log,
      this.metrics,
      this.runner,
      this.keypair.secretKey,
    );
    this.subs.push(
      await consumer.start(this.config.capacity),
      ...(await this.traces.listen(this.bus, this.id)),
    );
    if (this.config.chain) {
      this.driver = await joinChain({
        chain: this.config.chain,
        keypair: this.keypair,
        views: (d) => this.traces.disputeViews(d),
        plays: this.policy.playsDisputes,
        log: this.log,
      });
    }
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), this.config.heartbeatMs);
    if (this.fees) {
      const fees = this.fees;
      this.feeTimer = setInterval(
        () =>
          void fees.pass().catch((e: Error) => this.log.warn({ err: e.message }, 'fee claim pass failed')),
        FEE_CLAIM_MS,
      );
    }
  }

  private beat(): void {
    const msg: HeartbeatMessage = { executorId: this.id, capacity: this.config.capacity };
    try {
      messages.publish(this.bus, messages.HEARTBEAT, this.id, msg);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'heartbeat not sent');
    }
  }

  /** The model by id: from the shared registry, else fetched from the sequencer and checked against its id. */
  model(modelId: ModelId): Promise<LoadedModel> {
    return this.models(modelId);
  }

  /** The executor's trace commitment for a job it executed; produced on demand, never on the hot path. */
  traceReply(jobIdRaw: string): Promise<TraceReply> {
    return this.traces.traceReply(jobIdRaw);
  }

  chunksReply(jobIdRaw: string, layer: number): Promise<ChunksReply> {
    return this.traces.chunksReply(jobIdRaw, layer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.feeTimer) clearInterval(this.feeTimer);
    await this.fees?.pass().catch(() => 0n);
    await this.driver?.stop();
    for (const s of this.subs) {
      if ('stop' in s) await s.stop();
      else await s.unsubscribe();
    }
    await this.policy.close?.();
    await this.results.close();
    if (this.ownsRunner) await this.runner.close();
  }
}
