// Model loading and registration: model id, signature, provability, and one canonical-profile session per model.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { OptinferError } from '../state/errors.ts';
import { CANONICAL_PROFILE, profileHash, type ExecutionProfile } from '../state/profile.ts';
import type { Hash32, ModelId } from '../state/types.ts';
import { decodeModel, type ModelProto } from './onnx/schema.ts';
import { assertClosed } from './onnx/closed.ts';
import { userFacingOrtMessage } from './onnx/ort-message.ts';
import {
  forEachNodeDeep,
  modelInfo,
  opLabel,
  valueSpec,
  type ModelInfo,
  type ValueSpec,
} from './onnx/graph.ts';
import { formatRunConfig, isCanonicalRun, runOfProfile, type RunConfig } from './run-config.ts';
import { createWasmSession, loadWasmBackend, type ModelSession } from './wasm-session.ts';
import { ortGraph, rewrittenNodes, wasmDivergentOps, wasmRefusal } from './run-guard.ts';

/** Ops the one-step referee recomputes exactly (integer arithmetic or pure data movement). */
export const PROVABLE_OPS: ReadonlySet<string> = new Set([
  'MatMulInteger',
  'Add',
  'Sub',
  'Mul',
  'Relu',
  'Clip',
  'QuantizeLinear',
  'DequantizeLinear',
  'Cast',
  'Reshape',
  'Flatten',
  'Transpose',
  'Identity',
  'Concat',
  'Gather',
  'Slice',
  'Squeeze',
  'Unsqueeze',
  'Shape',
  'Equal',
  'Not',
  'Where',
  'ConstantOfShape',
  'Pad',
  'Neg',
  'Abs',
  'Less',
  'Greater',
  'LessOrEqual',
  'GreaterOrEqual',
  'Div',
  'Sqrt',
  'Pow',
  'DynamicQuantizeLinear',
  'ConvInteger',
]);

/** Ops that only shape the graph: Constant is covered by the model id, If is followed into its taken branch. */
export const STRUCTURAL_OPS: ReadonlySet<string> = new Set(['Constant', 'If']);

/** Ops whose work happens in hidden iterations or non-tensor values, so no layer trace can expose it. */
export const UNTRACEABLE_OPS: ReadonlySet<string> = new Set([
  'Loop',
  'Scan',
  'SequenceConstruct',
  'SequenceEmpty',
  'SequenceInsert',
  'SequenceErase',
  'SequenceAt',
  'SequenceLength',
  'SplitToSequence',
  'ConcatFromSequence',
  'Optional',
  'OptionalGetElement',
  'OptionalHasElement',
]);

export interface ModelSummary {
  modelId: ModelId;
  name: string;
  inputs: { name: string; dtype: string | null; dims: (number | null)[] | null }[];
  outputs: { name: string; dtype: string | null; dims: (number | null)[] | null }[];
  provable: boolean;
  unprovableOps: string[];
  profileHash: Hash32;
}

export interface LoadedModel {
  readonly modelId: ModelId;
  readonly name: string;
  /** The original file bytes: what the model id commits to. */
  readonly bytes: Uint8Array;
  readonly proto: ModelProto;
  readonly info: ModelInfo;
  readonly inputs: ValueSpec[];
  readonly outputs: ValueSpec[];
  /** True when every op can be recomputed by the one-step referee in exact mode. */
  readonly provable: boolean;
  /** Ops (and op/dtype combinations) the referee cannot recompute exactly, sorted. */
  readonly unprovableOps: string[];
  /** Ops that prevent a layer trace; non-empty means traceModel refuses the model. */
  readonly untraceableOps: string[];
  /** The registered profile: the model's commitment, hashed into traces. */
  readonly profile: Readonly<ExecutionProfile>;
  readonly profileHash: Hash32;
  /**
   * How this copy's plain session runs (the executor's choice, run-config.ts, after openSession's guards); the
   * profile's own by default.
   */
  readonly run: Readonly<RunConfig>;
  /** The configuration asked for (tracing variants are guarded on their own graph, from this). */
  readonly runAsked: Readonly<RunConfig>;
  /** Why `run` differs from runAsked (graph optimization turned off), or null. */
  readonly runAdjusted: string | null;
  /** The one plain session for this model (hot path). */
  readonly session: ModelSession;
  summary(): ModelSummary;
  close(): Promise<void>;
}

export interface LoadOptions {
  name?: string;
  profile?: Readonly<ExecutionProfile>;
  /** Run the sessions under this configuration instead of the profile's (the commitment is unchanged). */
  run?: Readonly<RunConfig>;
}

const ORT_VERSION: string = (
  createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }
).version;

/**
 * Where onnxruntime resolves external data for a model loaded from bytes: otherwise the process's working
 * directory. The folder sits under a regular file (this source file), so nothing can ever exist in it: were a
 * reference to slip past assertClosed, onnxruntime would find no file (and it refuses absolute paths and ../).
 * onnxruntime-node 1.30 has no option that turns external data off; this and the refusal are the defence.
 */
export const NO_EXTERNAL_DATA_DIR = join(fileURLToPath(import.meta.url), 'no-external-data');

/**
 * onnxruntime-node session options that realise a profile, or a run configuration on the CPU or CUDA provider;
 * anything not named here is onnxruntime's default.
 */
export function sessionOptions(
  p: Readonly<ExecutionProfile>,
  run: Readonly<RunConfig> = runOfProfile(p),
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [
      run.backend === 'cuda' ? { name: 'cuda', deviceId: run.device ?? 0 } : p.executionProvider,
    ],
    graphOptimizationLevel: run.opt,
    intraOpNumThreads: run.threads,
    interOpNumThreads: p.interOpNumThreads,
    executionMode: p.executionMode,
    // Warnings about unused initializers and the like go to stderr otherwise and would pollute CLI output.
    logSeverityLevel: 3,
    // Not numerics: only where external data would be looked for (nowhere; see NO_EXTERNAL_DATA_DIR).
    extra: { session: { model_external_initializers_file_folder_path: NO_EXTERNAL_DATA_DIR } },
  };
}

const ORT_BIN = dirname(createRequire(import.meta.url).resolve('onnxruntime-node'));

/** The CUDA provider library onnxruntime-node would load, or null when it is not installed. */
export function cudaProviderPath(): string | null {
  const dir = join(ORT_BIN, '..', 'bin', 'napi-v6', process.platform, process.arch);
  const f = join(dir, 'libonnxruntime_providers_cuda.so');
  return existsSync(f) ? f : null;
}

/**
 * Refuses backend=cuda where onnxruntime-node has no CUDA provider. Where it has one, TF32 is turned off the
 * only way onnxruntime-node 1.30 allows (its binding passes deviceId alone, not use_tf32): NVIDIA's
 * NVIDIA_TF32_OVERRIDE=0, read by cuBLAS and cuDNN when they load. Untested here: no GPU on these machines.
 */
function assertCuda(what: string): void {
  if (!cudaProviderPath()) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `${what}: backend=cuda needs onnxruntime-node's CUDA execution provider (libonnxruntime_providers_cuda.so), which is not installed here; choose backend=cpu or backend=wasm`,
    );
  }
  process.env.NVIDIA_TF32_OVERRIDE = '0';
}

/**
 * Refuses, at start-up, a run configuration this machine cannot realise: backend=cuda without its provider,
 * backend=wasm without onnxruntime-web. `what` names the option in the error.
 */
export async function assertRunnable(run: Readonly<RunConfig>, what: string): Promise<void> {
  if (run.backend === 'cuda') assertCuda(what);
  if (run.backend === 'wasm') await loadWasmBackend();
}

/** A session and the configuration it really runs under, with why that differs from the one asked for. */
export interface OpenedSession {
  session: ModelSession;
  run: Readonly<RunConfig>;
  /** Set when graph optimization was turned off for this model: the rewritten ops, named. */
  adjusted: string | null;
}

/**
 * Creates a session under a profile, refusing to run when the installed runtime is not the profiled one. `run`
 * picks the backend, threads and optimization level (the profile's own by default); it never changes what the
 * profile commits to. Always from bytes in memory: onnxruntime is never given a path a model could point elsewhere from.
 */
export async function createSession(
  bytes: Uint8Array,
  profile: Readonly<ExecutionProfile>,
  what: string,
  run: Readonly<RunConfig> = runOfProfile(profile),
): Promise<ModelSession> {
  return (await openSession(bytes, profile, what, run)).session;
}

/**
 * createSession, with the guards that keep a non-canonical configuration on canonical bits (run-guard.ts): on
 * wasm, a model with an op wasm computes differently is refused (INVALID_CONFIG naming the ops); with graph
 * optimization on, a model whose graph the optimizer rewrites (fusions, not mere constant folding) runs with
 * optimization off instead, and `adjusted` says so.
 */
export async function openSession(
  bytes: Uint8Array,
  profile: Readonly<ExecutionProfile>,
  what: string,
  run: Readonly<RunConfig> = runOfProfile(profile),
): Promise<OpenedSession> {
  if (profile.runtime !== 'onnxruntime-node' || profile.runtimeVersion !== ORT_VERSION) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `${what}: the execution profile requires ${profile.runtime} ${profile.runtimeVersion}, but onnxruntime-node ${ORT_VERSION} is installed; results would not be bit-identical`,
    );
  }
  if (run.backend === 'cuda') assertCuda(what);
  try {
    let effective = run;
    let adjusted: string | null = null;
    if (run.backend === 'wasm' || run.opt !== 'disabled') {
      const original = decodeModel(bytes, what).graph!;
      const base = sessionOptions(profile, run);
      if (run.backend === 'wasm') {
        const { types } = await ortGraph(bytes, 'disabled', base);
        const ops = wasmDivergentOps(original, types);
        if (ops.length > 0) throw wasmRefusal(what, ops);
      }
      if (run.opt !== 'disabled') {
        const rewritten = rewrittenNodes(original, (await ortGraph(bytes, run.opt, base)).graph);
        if (rewritten.length > 0) {
          effective = { ...run, opt: 'disabled' };
          adjusted = `opt=${run.opt} rewrites ${rewritten.join(', ')} of this graph; run with opt=disabled`;
        }
      }
    }
    const session =
      effective.backend === 'wasm'
        ? await createWasmSession(bytes, effective)
        : await ort.InferenceSession.create(bytes, sessionOptions(profile, effective));
    return { session, run: Object.freeze({ ...effective }), adjusted };
  } catch (e) {
    if (e instanceof OptinferError) throw e;
    throw new OptinferError(
      'INVALID_MODEL',
      `${what}: onnxruntime${isCanonicalRun(run) ? '' : ` (${formatRunConfig(run)})`} cannot load the model (${userFacingOrtMessage(e)})`,
      undefined,
      { cause: e },
    );
  }
}

/** Declared element types of values, from graph inputs, initializers and value_info, for dtype-aware checks. */
function knownTypes(m: ModelProto): Map<string, string | null> {
  const g = m.graph!;
  const types = new Map<string, string | null>();
  for (const v of [...g.input, ...g.value_info, ...g.output])
    types.set(v.name, valueSpec(v.name, v.type).dtype);
  for (const t of g.initializer)
    types.set(t.name, valueSpec(t.name, { tensor_type: { elem_type: t.data_type } }).dtype);
  return types;
}

function classifyOps(m: ModelProto): { unprovable: string[]; untraceable: string[] } {
  const unprovable = new Set<string>();
  const untraceable = new Set<string>();
  const types = knownTypes(m);
  forEachNodeDeep(m.graph!, (n) => {
    const label = opLabel(n);
    if (UNTRACEABLE_OPS.has(label)) untraceable.add(label);
    if (!PROVABLE_OPS.has(label) && !STRUCTURAL_OPS.has(label)) unprovable.add(label);
    if (label === 'MatMulInteger') {
      // uint8 x int8 saturates pairwise sums in AVX2 kernels (DESIGN.md): only same-signedness products are exact.
      const a = types.get(n.input[0]);
      const b = types.get(n.input[1]);
      if (a && b && a !== b) unprovable.add(`MatMulInteger(${a} x ${b})`);
    }
  });
  return { unprovable: [...unprovable].sort(), untraceable: [...untraceable].sort() };
}

export function modelIdOf(bytes: Uint8Array): ModelId {
  return createHash('sha256').update(bytes).digest('hex') as ModelId;
}

/**
 * Loads ONNX bytes: decodes them, refuses a model that is not self-contained (onnx/closed.ts), computes the id
 * over the original bytes and creates the canonical session. The one load path of uploads and executors alike.
 */
export async function loadModel(bytes: Uint8Array, opts: LoadOptions = {}): Promise<LoadedModel> {
  const name = opts.name ?? 'model';
  const proto = decodeModel(bytes, `model '${name}'`);
  assertClosed(bytes, `model '${name}'`);
  const info = modelInfo(proto);
  const profile = Object.freeze({ ...(opts.profile ?? CANONICAL_PROFILE) });
  const { unprovable, untraceable } = classifyOps(proto);
  const runAsked = Object.freeze({ ...(opts.run ?? runOfProfile(profile)) });
  const { session, run, adjusted } = await openSession(bytes, profile, `model '${name}'`, runAsked);
  const modelId = modelIdOf(bytes);
  const pHash = profileHash(profile);
  const specs = (vs: ValueSpec[]) => vs.map((v) => ({ name: v.name, dtype: v.dtype, dims: v.dims }));
  return {
    modelId,
    name,
    bytes,
    proto,
    info,
    inputs: info.inputs,
    outputs: info.outputs,
    provable: unprovable.length === 0 && untraceable.length === 0,
    unprovableOps: unprovable,
    untraceableOps: untraceable,
    profile,
    profileHash: pHash,
    run,
    runAsked,
    runAdjusted: adjusted,
    session,
    summary: () => ({
      modelId,
      name,
      inputs: specs(info.inputs),
      outputs: specs(info.outputs),
      provable: unprovable.length === 0 && untraceable.length === 0,
      unprovableOps: unprovable,
      profileHash: pHash,
    }),
    close: () => session.release(),
  };
}

/** Reads a model file; a missing or unreadable file is INVALID_INPUT naming the path. */
export async function loadModelFile(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OptinferError(
      'INVALID_INPUT',
      `model file '${path}': ${code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? (e as Error).message})`}`,
    );
  }
  return loadModel(bytes, {
    name: opts.name ?? basename(path).replace(/\.onnx$/i, ''),
    profile: opts.profile,
    run: opts.run,
  });
}

/** Models known to one node, keyed by model id; registering the same bytes twice returns the first load. */
export class ModelRegistry {
  readonly #models = new Map<ModelId, Promise<LoadedModel>>();
  readonly #loaded = new Map<ModelId, LoadedModel>();

  /** With requireProvable, a model with ops the referee cannot recompute is refused with UNPROVABLE_MODEL. */
  async register(
    bytes: Uint8Array,
    opts: LoadOptions & { requireProvable?: boolean } = {},
  ): Promise<LoadedModel> {
    const id = modelIdOf(bytes);
    let p = this.#models.get(id);
    const fresh = !p;
    if (!p) {
      p = loadModel(bytes, opts);
      this.#models.set(id, p);
      p.then(
        (m) => this.#loaded.set(id, m),
        () => this.#models.delete(id),
      );
    }
    const m = await p;
    if (opts.requireProvable && !m.provable) {
      if (fresh) {
        // A refused model must not stay registered behind the caller's back.
        this.#models.delete(id);
        this.#loaded.delete(id);
        await m.close();
      }
      throw new OptinferError(
        'UNPROVABLE_MODEL',
        `model '${m.name}': expected only provable ops (${[...PROVABLE_OPS].join(', ')}, Constant, If), got ${[...m.unprovableOps, ...m.untraceableOps].join(', ')}`,
        { modelId: m.modelId, unprovableOps: m.unprovableOps, untraceableOps: m.untraceableOps },
      );
    }
    this.#loaded.set(id, m);
    return m;
  }

  get(id: string): LoadedModel | undefined {
    // Only settled successes are visible synchronously; a load in flight is reachable through require().
    return this.#loaded.get(id as ModelId);
  }

  async require(id: string): Promise<LoadedModel> {
    const p = this.#models.get(id as ModelId);
    if (!p) throw new OptinferError('NOT_FOUND', `model ${id}: not registered`);
    return p;
  }

  list(): ModelSummary[] {
    return [...this.#loaded.values()].map((m) => m.summary());
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled(this.#models.values());
    this.#models.clear();
    this.#loaded.clear();
    for (const r of all) if (r.status === 'fulfilled') await r.value.close();
  }
}
