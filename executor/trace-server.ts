// Serves the traces of stored jobs: trace and chunk replies over the bus, and the views the dispute driver plays.
import type { Bus, Subscription } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { ChunksReply, TraceReply } from '../bus/messages.ts';
import type { Logger } from '../common/log.ts';
import type { DisputeAccount } from '../settlement/index.ts';
import { modelViewOf, traceViewOf } from '../dispute/views.ts';
import { OptinferError } from '../state/errors.ts';
import { toHex } from '../state/hash.ts';
import { leafHash } from '../state/merkle.ts';
import { fromStored } from '../state/tensor-map.ts';
import { chunks, tensorDigest } from '../state/tensor.ts';
import { traceCommitment } from '../state/trace.ts';
import type { ExecutorId } from '../state/types.ts';
import { asJobId } from '../state/types.ts';
import type { ModelSource } from './model-source.ts';
import type { Audience, ExecutedJob, ExecutorPolicy, ServedTrace } from './policy.ts';
import { compileForProgram } from './program-model.ts';
import { digestKey, type ResultStore, type StoredResult } from './results.ts';
import { IN_PROCESS, type ModelRunner } from './sandbox/pool.ts';

export class TraceServer {
  constructor(
    private readonly results: ResultStore,
    private readonly models: ModelSource,
    private readonly policy: ExecutorPolicy,
    private readonly log: Logger,
    /** Where traces are computed: the worker passes its sandbox pool; in this process only when none is given. */
    private readonly runner: ModelRunner = IN_PROCESS,
  ) {}

  /** Answers trace and chunk requests addressed to `id`. */
  async listen(bus: Bus, id: ExecutorId): Promise<Subscription[]> {
    return [
      await messages.reply(bus, messages.TRACE, id, (m) => this.traceReply(m.jobId)),
      await messages.reply(bus, messages.CHUNKS, id, (m) => this.chunksReply(m.jobId, m.layer)),
    ];
  }

  /** The executor's trace commitment for a job it executed; produced on demand, never on the hot path. */
  async traceReply(jobIdRaw: string): Promise<TraceReply> {
    const r = await this.storedJob(jobIdRaw);
    const job = await this.jobOf(r);
    const served = await this.policy.serve(job, 'peer');
    if (!served) {
      const t = await this.runner.trace(job.model, job.inputs, { keepTensors: false });
      return {
        jobId: r.jobId,
        traceRoot: t.traceRoot,
        layerCount: t.layerCount,
        outputDigest: r.outputDigest,
        layers: t.layers.map((l) => ({ index: l.index, name: l.name, op: l.op, digest: l.digest })),
        prefixes: t.prefixes,
      };
    }
    const digests = served.tensors.map((t) => tensorDigest(t));
    const commitment = traceCommitment({
      modelId: job.model.modelId,
      inputDigest: served.trace.inputDigest,
      profileHash: job.model.profileHash,
      layerDigests: digests,
    });
    return {
      jobId: r.jobId,
      traceRoot: commitment.root,
      layerCount: commitment.layerCount,
      outputDigest: r.outputDigest,
      layers: served.trace.layers.map((l, i) => ({
        index: l.index,
        name: l.name,
        op: l.op,
        digest: digests[i],
      })),
      prefixes: commitment.prefixes,
    };
  }

  async chunksReply(jobIdRaw: string, layer: number): Promise<ChunksReply> {
    const r = await this.storedJob(jobIdRaw);
    const { tensors } = await this.claimed(await this.jobOf(r), 'peer');
    if (!Number.isInteger(layer) || layer < 0 || layer >= tensors.length) {
      throw new OptinferError(
        'INVALID_LAYER_INDEX',
        `layer: expected 0..${tensors.length - 1}, got ${layer}`,
      );
    }
    return { jobId: r.jobId, layer, chunkHashes: chunks(tensors[layer].data).map((c) => toHex(leafHash(c))) };
  }

  /** The trace this executor defends on chain for a disputed job, recomputed from its stored inputs. */
  async disputeViews(d: DisputeAccount) {
    const r = await this.results.byDigests(d);
    if (!r) {
      this.log.warn({ key: digestKey(d) }, "disputed job not found in this executor's results");
      return null;
    }
    const job = await this.jobOf(r);
    const c = await this.claimed(job, 'chain');
    const compiled = await compileForProgram(c.ran);
    return {
      trace: traceViewOf({
        modelId: job.model.modelId,
        inputDigest: c.trace.inputDigest,
        profileHash: job.model.profileHash,
        layers: c.tensors,
      }),
      model: modelViewOf({ inputs: job.inputs, weights: compiled.weights.map((w) => w.tensor) }),
    };
  }

  /** The layer tensors claimed for a job: the policy's, else the model's own trace. */
  private async claimed(job: ExecutedJob, audience: Audience): Promise<ServedTrace> {
    const served = await this.policy.serve(job, audience);
    if (served) return served;
    const trace = await this.runner.trace(job.model, job.inputs, { keepTensors: true });
    return { ran: job.model, trace, tensors: trace.tensors! };
  }

  private async jobOf(r: StoredResult): Promise<ExecutedJob> {
    return { jobId: r.jobId, model: await this.models(r.modelId), inputs: fromStored(r.inputs) };
  }

  private async storedJob(jobIdRaw: string): Promise<StoredResult> {
    const jobId = asJobId(jobIdRaw, 'jobId');
    const r = await this.results.get(jobId);
    if (!r) throw new OptinferError('NOT_FOUND', `job ${jobId}: this executor has no result for it`);
    return r;
  }
}
