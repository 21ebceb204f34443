// Dishonest executor policies for tests and demos (`--cheat`): five ways to lie about a job and defend the lie.
import { join } from 'node:path';
import type {
  ExecutedJob,
  ExecutorPolicy,
  PolicyContext,
  Audience,
  ServedTrace,
} from '../executor/policy.ts';
import { HONEST_EXECUTOR } from '../executor/policy.ts';
import type { LoadedModel } from '../executor/model.ts';
import { decodeModel, encodeModel, type TensorProto } from '../executor/onnx/schema.ts';
import { runModel } from '../executor/run.ts';
import { traceModel } from '../executor/trace.ts';
import { OptinferError } from '../state/errors.ts';
import { Store, type Table } from '../state/store.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import type { Tensor } from '../state/tensor.ts';
import type { ModelId } from '../state/types.ts';

/**
 * For a fraction `rate` of jobs:
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

/** The executor policy a `--cheat` setting asks for: honest for 'none'. */
export function executorPolicy(cheat: CheatConfig): ExecutorPolicy {
  return cheat.mode === 'none' ? HONEST_EXECUTOR : new CheatingExecutor(cheat);
}

/** What the cheater did to a job, kept across restarts so that it keeps defending the same lie. */
interface Altered {
  mode: CheatMode;
}

export class CheatingExecutor implements ExecutorPolicy {
  readonly playsDisputes: boolean;
  private counter = 0;
  private store: Store | null = null;
  private altered: Table<Altered> | null = null;
  private ctx: PolicyContext | null = null;
  private readonly otherModels = new Map<ModelId, Promise<LoadedModel>>();

  constructor(readonly cheat: CheatConfig) {
    this.playsDisputes = cheat.mode !== 'silent';
  }

  async open(ctx: PolicyContext): Promise<void> {
    this.ctx = ctx;
    // Its own database next to the executor's: the honest result store knows nothing of the lie.
    this.store = await Store.open(join(ctx.dataDir, `adversary-${ctx.id}.db`));
    this.altered = this.store.table('altered');
  }

  async close(): Promise<void> {
    await this.store?.close();
    this.store = null;
  }

  /** The jobs this cheater altered so far, by job id (for tests). */
  async alteredJobs(): Promise<Map<string, CheatMode>> {
    return new Map((await this.table().entries()).map(([k, v]) => [k, v.mode]));
  }

  async answer(job: ExecutedJob, outputs: TensorMap, again: boolean): Promise<TensorMap> {
    if (again) {
      const was = await this.table().get(job.jobId);
      return was ? this.alter(was.mode, job, outputs) : outputs;
    }
    if (!this.shouldCheat()) {
      // A job re-run after a crash before its result was stored: a record left from the first run is stale.
      await this.store!.write([this.table().del(job.jobId)]);
      return outputs;
    }
    const sent = await this.alter(this.cheat.mode, job, outputs);
    await this.store!.write([this.table().put(job.jobId, { mode: this.cheat.mode })]);
    return sent;
  }

  async serve(job: ExecutedJob, audience: Audience): Promise<ServedTrace | null> {
    const was = await this.table().get(job.jobId);
    if (!was) return null;
    const ran = was.mode === 'other-model' ? await this.otherModel(job.model) : job.model;
    const trace = await traceModel(ran, job.inputs, { keepTensors: true });
    let tensors = trace.tensors!;
    const k = Math.min(this.cheat.layer ?? 0, tensors.length - 1);
    if (was.mode === 'wrong-layer' || (was.mode === 'equivocate' && audience === 'chain')) {
      tensors = flipFrom(tensors, k);
    } else if (was.mode === 'equivocate') {
      tensors = flipFrom(tensors, tensors.length - 1);
    }
    return { ran, trace, tensors };
  }

  private shouldCheat(): boolean {
    const { mode, rate } = this.cheat;
    if (mode === 'none' || rate <= 0) return false;
    // Deterministic spacing: with rate r, every round(1/r)-th job is altered.
    this.counter++;
    return this.counter % Math.max(1, Math.round(1 / rate)) === 0;
  }

  /** The outputs a cheat returns; for the layer cheats, the flipped last layer (provable models' only output). */
  private async alter(mode: CheatMode, job: ExecutedJob, outputs: TensorMap): Promise<TensorMap> {
    if (mode === 'other-model') return (await runModel(await this.otherModel(job.model), job.inputs)).outputs;
    const [name] = Object.keys(outputs).sort();
    return { ...outputs, [name]: flipFrom([outputs[name]], 0)[0] };
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
      p = this.context().registry.register(encodeModel(proto));
      this.otherModels.set(model.modelId, p);
    }
    return p;
  }

  private table(): Table<Altered> {
    if (!this.altered) throw new OptinferError('INTERNAL', 'cheating executor used before open()');
    return this.altered;
  }

  private context(): PolicyContext {
    if (!this.ctx) throw new OptinferError('INTERNAL', 'cheating executor used before open()');
    return this.ctx;
  }
}

/** The tensors with one bit flipped in every one from index `k` on (an empty tensor stays as it is). */
export function flipFrom(tensors: Tensor[], k: number): Tensor[] {
  return tensors.map((t, i) => {
    if (i < k || t.data.length === 0) return t;
    const data = new Uint8Array(t.data);
    data[0] ^= 0x01;
    return { ...t, data };
  });
}
