// The executor role: takes assigned jobs off the bus, runs them on the canonical profile, keeps what a dispute needs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import type { Bus, Consumer, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import { silentLogger, type Logger } from '../common/log.ts';
import { noopMetrics, type Metrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { toHex } from '../state/hash.ts';
import { leafHash } from '../state/merkle.ts';
import { Store, type Table } from '../state/store.ts';
import { chunks, tensorDigest, tensorSetDigest, type Tensor } from '../state/tensor.ts';
import { traceCommitment } from '../state/trace.ts';
import { decodeModel, encodeModel, type TensorProto } from './onnx/schema.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { asHash32 } from '../state/types.ts';
import { fromStored, fromWire, toStored, type StoredTensorMap, type TensorMap } from '../state/tensor-map.ts';
import type {
  AssignMessage,
  ChunksReply,
  HeartbeatMessage,
  ResultMessage,
  TraceReply,
} from '../bus/messages.ts';
import type { LoadedModel, ModelRegistry } from './model.ts';
import { runModel } from './run.ts';
import { traceModel } from './trace.ts';
import { compileForProgram } from './program-model.ts';
import type { DisputeAccount, SettlementClient } from '../settlement/index.ts';
import { modelViewOf, traceViewOf } from '../dispute/views.ts';
import { DisputeDriver } from '../dispute/driver.ts';
import { loadOrCreateKeypair } from '../common/keys.ts';

/**
 * Dishonest behaviour for tests and demos, set by configuration (never a separate code path). For a fraction
 * `rate` of jobs:
 * - 'wrong-output': flips one bit of the first output; defends the honest trace (which cannot match it).
 * - 'wrong-layer': the trace is honest before layer `layer` and has one bit flipped in every layer from there on,
 *   the output included; it defends that trace.
 * - 'other-model': runs a different model (the requested one with its largest weight changed) and defends that
 *   model's trace under the requested model's id.
 * - 'equivocate': as 'wrong-layer' on chain, but answers trace requests off chain with a second trace that is
 *   wrong only at the output layer: two traces for one job.
 * - 'silent': as 'wrong-output', and never moves in a dispute (not even to claim a timeout).
 */
export const CHEAT_MODES = [
  'none',
  'wrong-output',
  'wrong-layer',
  'other-model',
  'equivocate',
  'silent',
] as const;
export type CheatMode = (typeof CHEAT_MODES)[number];

export interface CheatConfig {
  mode: CheatMode;
  rate: number;
  /** First wrong layer for 'wrong-layer' and 'equivocate' (clamped to the model's last layer); default 0. */
  layer?: number;
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
  /** The knob that did (records written before it was stored: the configured one). */
  cheatMode?: CheatMode;
  at: number;
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
  private readonly otherModels = new Map<ModelId, Promise<LoadedModel>>();

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
      await messages.consume(
        this.bus,
        messages.ASSIGN,
        { of: this.id },
        `executor-${this.id}`,
        (m) => this.onAssign(m),
        {
          maxInFlight: this.config.capacity,
          // A big model may take long: the ack wait bounds how long a crashed executor holds a job.
          ackWaitMs: 120_000,
        },
      ),
      await messages.reply(this.bus, messages.TRACE, this.id, (m) => this.traceReply(m.jobId)),
      await messages.reply(this.bus, messages.CHUNKS, this.id, (m) => this.chunksReply(m.jobId, m.layer)),
    );
    if (this.config.chain) await this.joinChain(this.config.chain);
    this.beat();
    this.heartbeat = setInterval(() => this.beat(), this.config.heartbeatMs);
  }

  /** Bonds up to the program's minimum and starts playing any dispute naming this executor (also after a restart). */
  private async joinChain(chain: { client: SettlementClient; bondLamports: bigint }): Promise<void> {
    const config = await chain.client.config();
    const op = await chain.client.fetchOperator(this.keypair.publicKey);
    // Counted on the whole bond (stakes locked in open disputes included): a restart mid-dispute deposits nothing.
    const have = op ? op.bonded - op.unbonding : 0n;
    const want = chain.bondLamports > config.minExecutorBond ? chain.bondLamports : config.minExecutorBond;
    if (have < want) {
      await chain.client.bond(this.keypair, want - have);
      this.log.info({ lamports: (want - have).toString() }, 'bonded');
    }
    if (this.config.cheat.mode === 'silent') {
      this.log.warn('cheat knob silent: this executor will not move in its disputes');
      return;
    }
    this.driver = new DisputeDriver(chain.client, this.keypair, (d) => this.disputeViews(d), this.log);
    this.driver.start();
  }

  /** The trace this executor defends on chain for a disputed job, recomputed from its stored inputs. */
  private async disputeViews(d: DisputeAccount) {
    const key = `${toHex(d.modelId)}:${toHex(d.inputDigest)}:${toHex(d.outputDigest)}`;
    const jobId = await this.byDigest.get(key);
    const r = jobId && (await this.results.get(jobId));
    if (!r) {
      this.log.warn({ key }, "disputed job not found in this executor's results");
      return null;
    }
    const c = await this.claimedTrace(r, 'chain');
    const compiled = await compileForProgram(c.ran);
    return {
      trace: traceViewOf({
        modelId: c.model.modelId,
        inputDigest: c.trace.inputDigest,
        profileHash: c.model.profileHash,
        layers: c.tensors,
      }),
      model: modelViewOf({ inputs: c.inputs, weights: compiled.weights.map((w) => w.tensor) }),
    };
  }

  private cheatOf(r: StoredResult): CheatMode {
    return r.cheated ? (r.cheatMode ?? this.config.cheat.mode) : 'none';
  }

  /**
   * The layer tensors this executor claims for a stored job: its honest trace, or the one its cheat knob made.
   * `audience` is who asks: the chain (a dispute) or a peer over the bus; only an equivocator tells them apart.
   */
  private async claimedTrace(r: StoredResult, audience: 'chain' | 'peer') {
    const model = await this.model(r.modelId);
    const inputs = fromStored(r.inputs);
    const cheat = this.cheatOf(r);
    const ran = cheat === 'other-model' ? await this.otherModel(model) : model;
    const trace = await traceModel(ran, inputs, { keepTensors: true });
    let tensors = trace.tensors!;
    const k = Math.min(this.config.cheat.layer ?? 0, tensors.length - 1);
    if (cheat === 'wrong-layer' || (cheat === 'equivocate' && audience === 'chain')) {
      tensors = flipFrom(tensors, k);
    } else if (cheat === 'equivocate') {
      tensors = flipFrom(tensors, tensors.length - 1);
    }
    return { model, ran, inputs, trace, tensors };
  }

  /** For 'other-model': the requested model with its largest weight changed (a different model, same interface). */
  private otherModel(model: LoadedModel): Promise<LoadedModel> {
    let p = this.otherModels.get(model.modelId);
    if (!p) {
      const proto = decodeModel(model.bytes);
      // The largest weight tensor, every byte moved by one: a cheaper or stale model, not a one-bit accident.
      let w: TensorProto | undefined;
      for (const t of proto.graph!.initializer) {
        if ((t.raw_data?.length ?? 0) > (w?.raw_data?.length ?? 0)) w = t;
      }
      if (!w?.raw_data?.length) {
        throw new OptinferError(
          'INVALID_CONFIG',
          `cheat other-model: model ${model.modelId} has no raw weights`,
        );
      }
      w.raw_data = w.raw_data.map((b) => (b + 1) & 0xff);
      p = this.registry.register(encodeModel(proto));
      this.otherModels.set(model.modelId, p);
    }
    return p;
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
      const r = await messages.request(
        this.bus,
        messages.MODEL_FETCH,
        undefined,
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
      const sent = done.cheated ? await this.applyCheat(this.cheatOf(done), m, inputs, outputs) : outputs;
      result = { jobId, executor: this.id, outputs: sent, outputDigest: done.outputDigest };
    } else {
      try {
        const inputs = fromWire(raw.inputs, `job ${jobId} inputs`);
        const m = await this.model(asHash32(raw.modelId, 'modelId') as ModelId);
        const t0 = performance.now();
        const { outputs } = await runModel(m, inputs);
        this.metrics.observe('job_execution_seconds', (performance.now() - t0) / 1000);
        const cheated = this.shouldCheat();
        const sent = cheated ? await this.applyCheat(this.config.cheat.mode, m, inputs, outputs) : outputs;
        const outputDigest = tensorSetDigest(sent);
        await this.store.write([
          this.byDigest.put(`${m.modelId}:${tensorSetDigest(inputs)}:${outputDigest}`, jobId),
          this.results.put(jobId, {
            jobId,
            modelId: m.modelId,
            inputs: toStored(inputs),
            outputDigest,
            cheated,
            ...(cheated ? { cheatMode: this.config.cheat.mode } : {}),
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
    await messages.send(this.bus, messages.RESULT, this.id, result, { msgId: `result:${jobId}:${this.id}` });
  }

  private shouldCheat(): boolean {
    const { mode, rate } = this.config.cheat;
    if (mode === 'none' || rate <= 0) return false;
    // Deterministic spacing: with rate r, every round(1/r)-th job is altered.
    this.cheatCounter++;
    return this.cheatCounter % Math.max(1, Math.round(1 / rate)) === 0;
  }

  /** The outputs a cheat returns; for the layer cheats, the flipped last layer (provable models' only output). */
  private async applyCheat(
    mode: CheatMode,
    model: LoadedModel,
    inputs: TensorMap,
    outputs: TensorMap,
  ): Promise<TensorMap> {
    if (mode === 'other-model') return (await runModel(await this.otherModel(model), inputs)).outputs;
    const [name] = Object.keys(outputs).sort();
    return { ...outputs, [name]: flipFrom([outputs[name]], 0)[0] };
  }

  private async storedJob(jobIdRaw: string): Promise<StoredResult> {
    const jobId = asHash32(jobIdRaw, 'jobId') as JobId;
    const r = await this.results.get(jobId);
    if (!r) throw new OptinferError('NOT_FOUND', `job ${jobId}: this executor has no result for it`);
    return r;
  }

  /** The executor's trace commitment for a job it executed; produced on demand, never on the hot path. */
  async traceReply(jobIdRaw: string): Promise<TraceReply> {
    const r = await this.storedJob(jobIdRaw);
    if (this.cheatOf(r) === 'none') {
      const t = await traceModel(await this.model(r.modelId), fromStored(r.inputs), { keepTensors: false });
      return {
        jobId: r.jobId,
        traceRoot: t.traceRoot,
        layerCount: t.layerCount,
        outputDigest: r.outputDigest,
        layers: t.layers.map((l) => ({ index: l.index, name: l.name, op: l.op, digest: l.digest })),
        prefixes: t.prefixes,
      };
    }
    const c = await this.claimedTrace(r, 'peer');
    const digests = c.tensors.map((t) => tensorDigest(t));
    const commitment = traceCommitment({
      modelId: c.model.modelId,
      inputDigest: c.trace.inputDigest,
      profileHash: c.model.profileHash,
      layerDigests: digests,
    });
    return {
      jobId: r.jobId,
      traceRoot: commitment.root,
      layerCount: commitment.layerCount,
      outputDigest: r.outputDigest,
      layers: c.trace.layers.map((l, i) => ({ index: l.index, name: l.name, op: l.op, digest: digests[i] })),
      prefixes: commitment.prefixes,
    };
  }

  async chunksReply(jobIdRaw: string, layer: number): Promise<ChunksReply> {
    const r = await this.storedJob(jobIdRaw);
    const { tensors } = await this.claimedTrace(r, 'peer');
    if (!Number.isInteger(layer) || layer < 0 || layer >= tensors.length) {
      throw new OptinferError(
        'INVALID_LAYER_INDEX',
        `layer: expected 0..${tensors.length - 1}, got ${layer}`,
      );
    }
    const tensor: Tensor = tensors[layer];
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

/** The tensors with one bit flipped in every one from index `k` on (an empty tensor stays as it is). */
function flipFrom(tensors: Tensor[], k: number): Tensor[] {
  return tensors.map((t, i) => {
    if (i < k || t.data.length === 0) return t;
    const data = new Uint8Array(t.data);
    data[0] ^= 0x01;
    return { ...t, data };
  });
}
