// The executor role: takes assigned jobs off the bus, runs them on the canonical profile, keeps what a dispute needs.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import type { Bus, Consumer, Subscription } from '../bus/bus.ts';
import * as subjects from '../bus/subjects.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { toHex } from '../state/hash.ts';
import { leafHash } from '../state/merkle.ts';
import { Store, type Table } from '../state/store.ts';
import { chunks, tensorSetDigest, type Tensor } from '../state/tensor.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { asHash32 } from '../state/types.ts';
import { fromStored, fromWire, toStored, type StoredTensorMap, type TensorMap } from '../sequencer/codec.ts';
import type { AssignMessage, HeartbeatMessage, ResultMessage } from '../sequencer/sequencer.ts';
import type { LoadedModel, ModelRegistry } from './model.ts';
import { runModel } from './run.ts';
import { traceModel, type TraceResult } from './trace.ts';
import { compileForProgram } from './program-model.ts';
import {
  freeBond,
  loadKeypair,
  saveKeypair,
  modelViewOf,
  traceViewOf,
  type DisputeAccount,
  type SettlementClient,
} from '../settlement/index.ts';
import { DisputeDriver } from '../common/dispute-driver.ts';

/**
 * Dishonest behaviour for tests and demos, set by configuration (never a separate code path):
 * 'wrong-output' flips one bit of the first output it returns, for a fraction `rate` of jobs.
 */
export interface CheatConfig {
  mode: 'none' | 'wrong-output';
  rate: number;
}

export interface ExecutorConfig {
  dataDir: string;
  /** Jobs run at once; onnxruntime runs one op at a time per job on the canonical profile. */
  capacity: number;
  heartbeatMs: number;
  cheat: CheatConfig;
  /** Keypair file (Solana CLI format); created when missing. */
  keypairPath?: string;
  /** Where to fetch model bytes over HTTP (separate processes); otherwise over the bus. */
  sequencerUrl?: string;
  /** Settlement on the program: bond on start-up, play disputes from stored results. */
  chain?: { client: SettlementClient; bondLamports: bigint };
}

export const DEFAULT_EXECUTOR_CONFIG: Omit<ExecutorConfig, 'dataDir'> = {
  capacity: 2,
  heartbeatMs: 2_000,
  cheat: { mode: 'none', rate: 0 },
};

interface StoredResult {
  jobId: JobId;
  modelId: ModelId;
  inputs: StoredTensorMap;
  outputDigest: Hash32;
  /** True when a cheat knob altered the returned output. */
  cheated: boolean;
  at: number;
}

export interface TraceReply {
  jobId: JobId;
  traceRoot: Hash32;
  layerCount: number;
  outputDigest: Hash32;
  layers: { index: number; name: string; op: string; digest: Hash32 }[];
  prefixes: Hash32[];
}

export interface ChunksReply {
  jobId: JobId;
  layer: number;
  /** Leaf hashes H(0x00 || chunk) of the layer tensor, in order. */
  chunkHashes: string[];
}

/** Loads a Solana CLI keypair file, creating it (mode 0600) when missing. */
export function loadOrCreateKeypair(path: string): Keypair {
  if (existsSync(path)) return loadKeypair(path);
  const kp = Keypair.generate();
  saveKeypair(path, kp);
  return kp;
}

export class ExecutorWorker {
  readonly id: ExecutorId;
  readonly keypair: Keypair;
  private readonly results: Table<StoredResult>;
  /** modelId:inputDigest:outputDigest → jobId: how a dispute (which names digests, not ids) finds its job. */
  private readonly byDigest: Table<JobId>;
  private driver: DisputeDriver | null = null;
  private readonly subs: (Subscription | Consumer)[] = [];
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;
  private cheatCounter = 0;

  private constructor(
    readonly config: ExecutorConfig,
    keypair: Keypair,
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly registry: ModelRegistry,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.keypair = keypair;
    this.id = keypair.publicKey.toBase58() as ExecutorId;
    this.results = store.table('results');
    this.byDigest = store.table('byDigest');
  }

  static async start(opts: {
    config: ExecutorConfig;
    bus: Bus;
    registry: ModelRegistry;
    logger?: Logger;
    metrics?: Metrics;
  }): Promise<ExecutorWorker> {
    const { config } = opts;
    mkdirSync(config.dataDir, { recursive: true });
    const keypair = loadOrCreateKeypair(config.keypairPath ?? join(config.dataDir, 'executor-keypair.json'));
    const store = await Store.open(join(config.dataDir, `executor-${keypair.publicKey.toBase58()}.db`));
    const w = new ExecutorWorker(
      config,
      keypair,
      store,
      opts.bus,
      opts.registry,
      (opts.logger ?? silentLogger).child({ executor: keypair.publicKey.toBase58() }),
      opts.metrics ?? noopMetrics,
    );
    try {
      await w.listen();
    } catch (e) {
      await store.close();
      throw e;
    }
    return w;
  }

  private async listen(): Promise<void> {
    this.subs.push(
      await this.bus.consume<AssignMessage>(
        subjects.execAssign(this.id),
        `executor-${this.id}`,
        (m) => this.onAssign(m),
        {
          maxInFlight: this.config.capacity,
          // A big model may take long: the ack wait bounds how long a crashed executor holds a job.
          ackWaitMs: 120_000,
        },
      ),
      await this.bus.reply<{ jobId: string }, TraceReply>(subjects.execTrace(this.id), (m) =>
        this.traceReply(m.jobId),
      ),
      await this.bus.reply<{ jobId: string; layer: number }, ChunksReply>(subjects.execChunks(this.id), (m) =>
        this.chunksReply(m.jobId, m.layer),
      ),
    );
    if (this.config.chain) await this.joinChain(this.config.chain);
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), this.config.heartbeatMs);
  }

  /** Bonds up to the program's minimum and starts playing any dispute naming this executor (also after a restart). */
  private async joinChain(chain: { client: SettlementClient; bondLamports: bigint }): Promise<void> {
    const config = await chain.client.config();
    const op = await chain.client.fetchOperator(this.keypair.publicKey);
    const free = op ? freeBond(op) : 0n;
    const want = chain.bondLamports > config.minExecutorBond ? chain.bondLamports : config.minExecutorBond;
    if (free < want) {
      await chain.client.bond(this.keypair, want - free);
      this.log.info({ lamports: (want - free).toString() }, 'bonded');
    }
    this.driver = new DisputeDriver(chain.client, this.keypair, (d) => this.disputeViews(d), this.log);
    this.driver.start();
  }

  /** This executor's own trace of the disputed job, recomputed from its stored inputs. */
  private async disputeViews(d: DisputeAccount) {
    const key = `${toHex(d.modelId)}:${toHex(d.inputDigest)}:${toHex(d.outputDigest)}`;
    const jobId = await this.byDigest.get(key);
    const r = jobId && (await this.results.get(jobId));
    if (!r) {
      this.log.warn({ key }, "disputed job not found in this executor's results");
      return null;
    }
    const model = await this.model(r.modelId);
    const inputs = fromStored(r.inputs);
    const t = await traceModel(model, inputs, { keepTensors: true });
    const compiled = await compileForProgram(model);
    return {
      trace: traceViewOf({
        modelId: model.modelId,
        inputDigest: t.inputDigest,
        profileHash: model.profileHash,
        layers: t.tensors!,
      }),
      model: modelViewOf({ inputs, weights: compiled.weights.map((w) => w.tensor) }),
    };
  }

  private beat(): void {
    const msg: HeartbeatMessage = { executorId: this.id, capacity: this.config.capacity };
    try {
      this.bus.publish(subjects.executorHeartbeat(this.id), msg);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'heartbeat not sent');
    }
  }

  /** The model by id: from the shared registry, else fetched from the sequencer and checked against its id. */
  async model(modelId: ModelId): Promise<LoadedModel> {
    const have = this.registry.get(modelId);
    if (have) return have;
    let bytes: Uint8Array;
    if (this.config.sequencerUrl) {
      const res = await fetch(`${this.config.sequencerUrl}/v1/models/${modelId}/file`);
      if (!res.ok)
        throw new OptinferError('NOT_FOUND', `model ${modelId}: sequencer answered HTTP ${res.status}`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } else {
      const r = await this.bus.request<{ bytes: Uint8Array }>(
        subjects.MODEL_FETCH,
        { modelId },
        { timeoutMs: 30_000 },
      );
      bytes = r.bytes;
    }
    const m = await this.registry.register(bytes);
    if (m.modelId !== modelId) {
      throw new OptinferError('INVALID_MODEL', `model ${modelId}: the bytes received hash to ${m.modelId}`);
    }
    return m;
  }

  private async onAssign(raw: AssignMessage): Promise<void> {
    const jobId = asHash32(raw.jobId, 'jobId') as JobId;
    const done = await this.results.get(jobId);
    let result: ResultMessage;
    if (done) {
      // A redelivered assignment after a crash: answer with what was already committed to.
      const inputs = fromStored(done.inputs);
      const m = await this.model(done.modelId);
      const { outputs } = await runModel(m, inputs);
      const sent = done.cheated ? this.applyCheat(outputs) : outputs;
      result = { jobId, executor: this.id, outputs: sent, outputDigest: done.outputDigest };
    } else {
      try {
        const inputs = fromWire(raw.inputs, `job ${jobId} inputs`);
        const m = await this.model(asHash32(raw.modelId, 'modelId') as ModelId);
        const t0 = performance.now();
        const { outputs } = await runModel(m, inputs);
        this.metrics.observe('job_execution_seconds', (performance.now() - t0) / 1000);
        const cheated = this.shouldCheat();
        const sent = cheated ? this.applyCheat(outputs) : outputs;
        const outputDigest = tensorSetDigest(sent);
        await this.store.write([
          this.byDigest.put(`${m.modelId}:${tensorSetDigest(inputs)}:${outputDigest}`, jobId),
          this.results.put(jobId, {
            jobId,
            modelId: m.modelId,
            inputs: toStored(inputs),
            outputDigest,
            cheated,
            at: Date.now(),
          }),
        ]);
        result = { jobId, executor: this.id, outputs: sent, outputDigest };
      } catch (e) {
        const message = e instanceof OptinferError ? e.message : `internal error: ${(e as Error).message}`;
        this.log.warn({ jobId, err: message }, 'job failed');
        result = { jobId, executor: this.id, error: message };
      }
    }
    await this.bus.send(subjects.execResult(this.id), result, { msgId: `result:${jobId}:${this.id}` });
  }

  private shouldCheat(): boolean {
    const { mode, rate } = this.config.cheat;
    if (mode === 'none' || rate <= 0) return false;
    // Deterministic spacing: with rate r, every round(1/r)-th job is altered.
    this.cheatCounter++;
    return this.cheatCounter % Math.max(1, Math.round(1 / rate)) === 0;
  }

  private applyCheat(outputs: TensorMap): TensorMap {
    const [name] = Object.keys(outputs).sort();
    const t = outputs[name];
    const data = new Uint8Array(t.data);
    if (data.length > 0) data[0] ^= 0x01;
    return { ...outputs, [name]: { ...t, data } };
  }

  private async storedJob(jobIdRaw: string): Promise<StoredResult> {
    const jobId = asHash32(jobIdRaw, 'jobId') as JobId;
    const r = await this.results.get(jobId);
    if (!r) throw new OptinferError('NOT_FOUND', `job ${jobId}: this executor has no result for it`);
    return r;
  }

  private async trace(r: StoredResult, keepTensors: boolean): Promise<TraceResult> {
    const m = await this.model(r.modelId);
    return traceModel(m, fromStored(r.inputs), { keepTensors });
  }

  /** The executor's trace commitment for a job it executed; produced on demand, never on the hot path. */
  async traceReply(jobIdRaw: string): Promise<TraceReply> {
    const r = await this.storedJob(jobIdRaw);
    const t = await this.trace(r, false);
    return {
      jobId: r.jobId,
      traceRoot: t.traceRoot,
      layerCount: t.layerCount,
      outputDigest: r.outputDigest,
      layers: t.layers.map((l) => ({ index: l.index, name: l.name, op: l.op, digest: l.digest })),
      prefixes: t.prefixes,
    };
  }

  async chunksReply(jobIdRaw: string, layer: number): Promise<ChunksReply> {
    const r = await this.storedJob(jobIdRaw);
    const t = await this.trace(r, true);
    if (!Number.isInteger(layer) || layer < 0 || layer >= t.layerCount) {
      throw new OptinferError('INVALID_LAYER_INDEX', `layer: expected 0..${t.layerCount - 1}, got ${layer}`);
    }
    const tensor: Tensor = t.tensors![layer];
    return { jobId: r.jobId, layer, chunkHashes: chunks(tensor.data).map((c) => toHex(leafHash(c))) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.driver?.stop();
    for (const s of this.subs) {
      if ('stop' in s) await s.stop();
      else await s.unsubscribe();
    }
    await this.store.close();
  }
}
