// Layer-trace capture on demand: a tracing variant of the model exposes every node output, If nodes are inlined
// along the taken branch, and the layers are digested in canonical topological order (PROTOCOL.md, Layer traces).
import type ort from 'onnxruntime-node';
import { silentLogger, type Logger } from '../common/log.ts';
import { noProgress, type Progress } from '../common/progress.ts';
import { OptinferError } from '../state/errors.ts';
import type { ExecutionProfile } from '../state/profile.ts';
import { tensorDigest, tensorSetDigest, type DType, type Tensor } from '../state/tensor.ts';
import { traceCommitment, traceSeed } from '../state/trace.ts';
import type { Hash32, ModelId } from '../state/types.ts';
import { openSession, type LoadedModel } from './model.ts';
import type { RunConfig } from './run-config.ts';
import type { ModelSession } from './wasm-session.ts';
import { forEachNodeDeep, opLabel, outerReferences, subgraphsOf, tensorFromProto } from './onnx/graph.ts';
import {
  cloneModel,
  encodeModel,
  onnxTypes,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx/schema.ts';
import { fromOrtValue } from './ort-tensor.ts';
import { runSession, toFeeds } from './run.ts';
import { validateInputs } from './validate.ts';
import { userFacingOrtMessage } from './onnx/ort-message.ts';
import { firstUndecidable } from '../dispute/undecidable.ts';
import { OP, OP_ATTR_BYTES } from '../state/optable.ts';

export interface TraceLayer {
  index: number;
  /** The value name in the (inlined) graph. */
  name: string;
  /** The producing node's op; 'If' for the If node's own outputs. */
  op: string;
  digest: Hash32;
  dtype: DType;
  dims: number[];
}

export interface TraceResult {
  modelId: ModelId;
  /** The registered profile: the commitment, hashed into the trace root. */
  profile: Readonly<ExecutionProfile>;
  profileHash: Hash32;
  /** How this run was executed (the executor's configuration): reported, not hashed. */
  run: Readonly<RunConfig>;
  inputDigest: Hash32;
  outputDigest: Hash32;
  traceRoot: Hash32;
  layerCount: number;
  layers: TraceLayer[];
  /** p_0 .. p_{n-1} of the prefix chain, for bisection. */
  prefixes: Hash32[];
  outputs: Record<string, Tensor>;
  /** The If nodes followed, by path ("3" is node 3; "3/then/1" is node 1 of node 3's then branch). */
  branches: { path: string; taken: 'then' | 'else' }[];
  /** The layer tensors themselves, aligned with layers, when keepTensors was asked. */
  tensors?: Tensor[];
  /**
   * Layers whose result on these inputs depends on the hardware, so no one-step decides them: each
   * DynamicQuantizeLinear whose input holds a NaN (its range scan keeps or drops the NaN by vector lane), and each
   * int32 Div of INT_MIN by -1 (INT_MIN in a vector lane, SIGFPE in the scalar loop). An executor must not commit
   * such a job (`runDecidable`, executor/decidable.ts); a challenger may still trace it.
   */
  undecidable: string[];
}

export interface TraceOptions {
  /** Keep each layer's tensor (the challenger needs them to locate the divergent chunk). */
  keepTensors?: boolean;
  /**
   * Re-run the plain canonical session and require bit-identical outputs (default true). Only skip it when the
   * plain outputs were just produced and compared elsewhere.
   */
  checkPlain?: boolean;
  /**
   * The input digest when the caller already holds it for these very tensors (a job record's inputDigest);
   * saves hashing the inputs again. A wrong value yields a trace that commits to the wrong seed.
   */
  inputDigest?: Hash32;
  /** Where building a tracing variant is logged (debug); nothing by default. */
  log?: Logger;
  /** Reports the steps of a long trace (the tracing run, the plain check, each layer digested); nothing by default. */
  progress?: Progress;
  /**
   * Trace only the first `prefixLayers` layers, from a graph cut after the nodes that produce them (Constant nodes
   * kept): what onnxruntime computes of a job whose whole run it refuses (the challenger's partial trace,
   * challenger/unrunnable.ts). Models without If nodes only. No plain check; `outputs` is empty, and `traceRoot`
   * and `prefixes` cover these layers only, so the result is not a trace of the job.
   */
  prefixLayers?: number;
}

interface FlatNode {
  node: NodeProto;
  op: string;
}

interface Variant {
  key: string;
  session: ModelSession;
  /** The configuration the tracing session runs under. */
  run: Readonly<RunConfig>;
  flat: FlatNode[];
  /** If nodes still in the graph because their condition was not known when the variant was built. */
  pending: { path: string; cond: string }[];
  /** If nodes replaced by a branch, with the condition value that choice assumed. */
  inlined: { path: string; cond: string; taken: boolean }[];
  initializers: Map<string, TensorProto>;
  /** Layer specs in canonical order: flat node index and output name. */
  layers: { name: string; op: string }[];
}

interface ModelTraceCache {
  variants: Map<string, Promise<Variant>>;
  /** The branch choices of the last trace: the likeliest for the next input, verified after every run. */
  last: Map<string, boolean>;
}

const MAX_VARIANTS = 16;
const caches = new WeakMap<LoadedModel, ModelTraceCache>();

function decisionKey(d: Map<string, boolean>): string {
  return [...d.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v ? 1 : 0}`)
    .join(';');
}

function isIf(n: NodeProto): boolean {
  return n.op_type === 'If' && (!n.domain || n.domain === 'ai.onnx');
}

function branchOf(n: NodeProto, taken: boolean, path: string): GraphProto {
  const want = taken ? 'then_branch' : 'else_branch';
  const g = n.attribute.find((a) => a.name === want)?.g;
  if (!g)
    throw new OptinferError('INVALID_MODEL', `If node at ${path}: expected attribute ${want}, got none`);
  return g;
}

/** Renames values in a graph and all nested subgraphs (used only when an inlined branch would clash). */
function renameDeep(g: GraphProto, map: Map<string, string>): void {
  const r = (s: string) => map.get(s) ?? s;
  for (const n of g.node) {
    n.input = n.input.map(r);
    n.output = n.output.map(r);
    for (const sg of subgraphsOf(n)) renameDeep(sg, map);
  }
  for (const t of g.initializer) t.name = r(t.name);
  for (const v of g.output) v.name = r(v.name);
}

/**
 * Builds the flat node list: each If node whose branch is decided is replaced by that branch's nodes (inlined
 * in place, recursively), followed by one Identity per If output, labelled 'If'.
 */
function flatten(
  nodes: NodeProto[],
  prefix: string,
  decisions: Map<string, boolean>,
  names: Set<string>,
  v: Pick<Variant, 'flat' | 'pending' | 'inlined' | 'initializers'>,
): void {
  nodes.forEach((n, i) => {
    const path = `${prefix}${i}`;
    const taken = isIf(n) ? decisions.get(path) : undefined;
    if (taken === undefined) {
      if (isIf(n)) v.pending.push({ path, cond: n.input[0] });
      v.flat.push({ node: n, op: opLabel(n) });
      return;
    }
    const branch = branchOf(n, taken, path);
    // ONNX forbids a subgraph from shadowing outer names, but an inlined branch joins the outer scope; rename
    // defensively so two branches or a branch and the main graph can never collide.
    const local = [...branch.initializer.map((t) => t.name), ...branch.node.flatMap((b) => b.output)].filter(
      Boolean,
    );
    const map = new Map<string, string>();
    for (const name of local) {
      if (names.has(name)) {
        let fresh = `${name}@${path}`;
        for (let k = 1; names.has(fresh); k++) fresh = `${name}@${path}#${k}`;
        map.set(name, fresh);
      }
    }
    if (map.size > 0) renameDeep(branch, map);
    for (const name of local) names.add(map.get(name) ?? name);
    for (const t of branch.initializer) v.initializers.set(t.name, t);
    v.inlined.push({ path, cond: n.input[0], taken });
    flatten(branch.node, `${path}/${taken ? 'then' : 'else'}/`, decisions, names, v);
    branch.output.forEach((bo, k) => {
      const out = n.output[k];
      if (!out) return;
      const id = onnxTypes.NodeProto.create({
        input: [bo.name],
        output: [out],
        op_type: 'Identity',
        name: `${n.name || path}/output_${k}`,
      }) as unknown as NodeProto;
      v.flat.push({ node: id, op: 'If' });
    });
  });
}

/**
 * Canonical topological order (PROTOCOL.md): Kahn's algorithm over the flat node list, the ready node with the
 * smallest position first. Subgraph captures count as inputs so a remaining If or Loop waits for them.
 */
export function canonicalOrder(flat: readonly FlatNode[]): number[] {
  const producer = new Map<string, number>();
  flat.forEach((f, i) => f.node.output.forEach((o) => o && producer.set(o, i)));
  const indegree = new Array<number>(flat.length).fill(0);
  const users: number[][] = flat.map(() => []);
  flat.forEach((f, i) => {
    const deps = new Set<number>();
    const refs = [...f.node.input];
    for (const sg of subgraphsOf(f.node)) refs.push(...outerReferences(sg));
    for (const name of refs) {
      const p = name ? producer.get(name) : undefined;
      if (p !== undefined && p !== i) deps.add(p);
    }
    indegree[i] = deps.size;
    for (const p of deps) users[p].push(i);
  });
  // A binary heap keyed on position keeps this O(n log n) for graphs with many parallel branches.
  const heap: number[] = [];
  const push = (x: number) => {
    heap.push(x);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p] <= x) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = x;
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const c = l + 1 < heap.length && heap[l + 1] < heap[l] ? l + 1 : l;
        if (heap[c] >= last) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  };
  indegree.forEach((d, i) => d === 0 && push(i));
  const order: number[] = [];
  while (heap.length > 0) {
    const i = pop();
    order.push(i);
    for (const u of users[i]) if (--indegree[u] === 0) push(u);
  }
  if (order.length !== flat.length) {
    const stuck = flat.find((_, i) => indegree[i] > 0)!;
    throw new OptinferError(
      'INVALID_MODEL',
      `graph: expected an acyclic graph, but node '${stuck.node.name || stuck.op}' is on a cycle`,
    );
  }
  return order;
}

async function buildVariant(
  model: LoadedModel,
  decisions: Map<string, boolean>,
  log: Logger,
): Promise<Variant> {
  const proto: ModelProto = cloneModel(model.proto);
  const g = proto.graph!;
  const names = new Set<string>([
    ...g.input.map((x) => x.name),
    ...g.initializer.map((t) => t.name),
    ...g.node.flatMap((n) => n.output),
  ]);
  const partial = {
    flat: [] as FlatNode[],
    pending: [] as Variant['pending'],
    inlined: [] as Variant['inlined'],
    initializers: new Map(g.initializer.map((t) => [t.name, t] as const)),
  };
  flatten(g.node, '', decisions, names, partial);
  const mainInits = new Set(g.initializer.map((t) => t.name));
  g.node = partial.flat.map((f) => f.node);
  g.initializer.push(...[...partial.initializers.values()].filter((t) => !mainInits.has(t.name)));
  const declared = new Set(g.output.map((o) => o.name));
  for (const f of partial.flat) {
    for (const o of f.node.output) {
      if (!o || declared.has(o)) continue;
      declared.add(o);
      // onnxruntime infers the type of a graph output declared by name only.
      g.output.push(onnxTypes.ValueInfoProto.create({ name: o }) as unknown as GraphProto['output'][number]);
    }
  }
  const key = decisionKey(decisions);
  // The configuration asked for: the tracing graph gets its own guards (its fusions differ from the plain graph's).
  const { session, run } = await openSession(
    encodeModel(proto),
    model.profile,
    `model '${model.name}' (tracing variant)`,
    model.runAsked,
  );
  const layers: Variant['layers'] = [];
  for (const i of canonicalOrder(partial.flat)) {
    const f = partial.flat[i];
    if (f.op === 'Constant') continue;
    for (const o of f.node.output) if (o) layers.push({ name: o, op: f.op });
  }
  log.debug(
    { modelId: model.modelId, key, layers: layers.length, pending: partial.pending.length },
    'tracing variant',
  );
  return { key, session, run, ...partial, layers };
}

function cacheFor(model: LoadedModel): ModelTraceCache {
  let c = caches.get(model);
  if (!c) {
    c = { variants: new Map(), last: new Map() };
    caches.set(model, c);
  }
  return c;
}

function variantFor(
  model: LoadedModel,
  decisions: Map<string, boolean>,
  log: Logger = silentLogger,
): Promise<Variant> {
  const c = cacheFor(model);
  const key = decisionKey(decisions);
  let v = c.variants.get(key);
  if (!v) {
    if (c.variants.size >= MAX_VARIANTS) {
      // Inputs that take many different branch combinations would otherwise hold a session per combination.
      const [oldKey, old] = c.variants.entries().next().value!;
      c.variants.delete(oldKey);
      old.then((o) => o.session.release()).catch(() => undefined);
    }
    v = buildVariant(model, new Map(decisions), log);
    c.variants.set(key, v);
    v.catch(() => c.variants.delete(key));
  }
  return v;
}

function condValue(
  name: string,
  results: ort.InferenceSession.OnnxValueMapType,
  inputs: Record<string, Tensor>,
  inits: Map<string, TensorProto>,
  path: string,
): boolean {
  let t: Tensor | undefined;
  if (results[name] !== undefined) t = fromOrtValue(results[name], `If node at ${path} condition '${name}'`);
  else if (inputs[name] !== undefined) t = inputs[name];
  else if (inits.has(name)) t = tensorFromProto(inits.get(name)!);
  if (!t)
    throw new OptinferError(
      'INVALID_MODEL',
      `If node at ${path}: condition '${name}' is not produced by the graph`,
    );
  if (t.data.length < 1)
    throw new OptinferError('EXECUTION_FAILED', `If node at ${path}: condition '${name}' is empty`);
  return t.data[0] !== 0;
}

/** Runs the tracing variants until every If on the executed path is inlined with a verified condition. */
async function tracedRun(
  model: LoadedModel,
  inputs: Record<string, Tensor>,
  log: Logger,
): Promise<{ v: Variant; results: ort.InferenceSession.OnnxValueMapType }> {
  const c = cacheFor(model);
  let decisions = new Map(c.last);
  const feeds = toFeeds(inputs);
  // Each round fixes at least one condition on the executed path; nesting depth bounds the rounds.
  for (let round = 0; round < 64; round++) {
    const v = await variantFor(model, decisions, log);
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await v.session.run(feeds);
    } catch (e) {
      const msg = userFacingOrtMessage(e);
      throw new OptinferError(
        'EXECUTION_FAILED',
        `model '${model.name}': tracing run failed (${msg})`,
        undefined,
        {
          cause: e,
        },
      );
    }
    const next = new Map<string, boolean>();
    const wrong: string[] = [];
    for (const x of v.inlined) {
      const actual = condValue(x.cond, results, inputs, v.initializers, x.path);
      next.set(x.path, actual);
      if (actual !== x.taken) wrong.push(x.path);
    }
    // Choices nested under a wrong guess were made inside a branch that did not run: drop them.
    for (const p of wrong) for (const k of [...next.keys()]) if (k.startsWith(`${p}/`)) next.delete(k);
    for (const x of v.pending) next.set(x.path, condValue(x.cond, results, inputs, v.initializers, x.path));
    if (wrong.length === 0 && v.pending.length === 0) {
      c.last = decisions;
      return { v, results };
    }
    decisions = next;
  }
  throw new OptinferError(
    'INTERNAL',
    `model '${model.name}': If branches did not settle after 64 tracing rounds`,
  );
}

function sameTensor(a: Tensor, b: Tensor): boolean {
  return (
    a.dtype === b.dtype &&
    a.dims.length === b.dims.length &&
    a.dims.every((d, i) => d === b.dims[i]) &&
    Buffer.compare(a.data, b.data) === 0
  );
}

/** Captures the layer trace of one run. Not for the hot path: it runs a larger graph and digests every layer. */
export async function traceModel(
  model: LoadedModel,
  inputs: Record<string, Tensor>,
  opts: TraceOptions = {},
): Promise<TraceResult> {
  if (model.untraceableOps.length > 0) {
    throw new OptinferError(
      'UNPROVABLE_MODEL',
      `model '${model.name}': cannot trace ops ${model.untraceableOps.join(', ')} (their work is hidden in iterations or non-tensor values)`,
      { untraceableOps: model.untraceableOps },
    );
  }
  validateInputs(model.inputs, inputs, `model '${model.name}'`);
  const inputDigest = opts.inputDigest ?? tensorSetDigest(inputs);
  if (opts.prefixLayers !== undefined)
    return tracePrefix(model, inputs, inputDigest, opts.prefixLayers, opts);
  const progress = opts.progress ?? noProgress;
  const checkPlain = opts.checkPlain ?? true;
  // Building the tracing session and running it, and re-running the plain session: opaque steps of their own.
  const steps = progress.start(`model '${model.name}': tracing run`, checkPlain ? 2 : 1);
  const outputs: Record<string, Tensor> = {};
  let traced: Awaited<ReturnType<typeof tracedRun>>;
  try {
    traced = await tracedRun(model, inputs, opts.log ?? silentLogger);
    steps.tick(1, `${traced.v.layers.length} layers`);
    for (const o of model.outputs)
      outputs[o.name] = fromOrtValue(traced.results[o.name], `model '${model.name}' output '${o.name}'`);
    if (checkPlain) {
      const plain = await runSession(
        model.session,
        toFeeds(inputs),
        model.outputs.map((o) => o.name),
        `model '${model.name}'`,
      );
      for (const o of model.outputs) {
        if (!sameTensor(plain[o.name], outputs[o.name])) {
          throw new OptinferError(
            'NONDETERMINISTIC',
            `model '${model.name}': output '${o.name}' of the tracing run differs from the plain run; the trace would not describe the committed computation`,
          );
        }
      }
      steps.tick(1, 'same outputs as the plain run');
    }
  } finally {
    steps.done();
  }
  const { v, results } = traced;
  const undecidable: string[] = [];
  const valueOf = (x: string): Tensor | undefined =>
    results[x] !== undefined
      ? fromOrtValue(results[x], `model '${model.name}' tensor '${x}'`)
      : (inputs[x] ?? (v.initializers.has(x) ? tensorFromProto(v.initializers.get(x)!) : undefined));
  for (const f of v.flat) {
    const name = f.node.name || f.node.output[0];
    if (f.op === 'DynamicQuantizeLinear') {
      const x = f.node.input[0];
      const t = valueOf(x);
      if (t && hasNaN(t)) undecidable.push(`DynamicQuantizeLinear '${name}' reads a NaN in '${x}'`);
    } else if (f.op === 'Div') {
      // INT_MIN / -1: INT_MIN in onnxruntime's vector body, SIGFPE in its scalar loop; the referee refuses it.
      const [a, b] = f.node.input.map(valueOf);
      const y = valueOf(f.node.output[0]);
      const u =
        a?.dtype === 'int32' && b?.dtype === 'int32' && y
          ? firstUndecidable({ op: OP.Div, attrs: new Uint8Array(OP_ATTR_BYTES) }, [a, b], y)
          : null;
      if (u) undecidable.push(`Div '${name}' computes ${u.why} (element ${u.element})`);
    }
  }

  const layers: TraceLayer[] = [];
  const tensors: Tensor[] = [];
  const digesting = progress.start(`model '${model.name}': digesting layers`, v.layers.length);
  try {
    v.layers.forEach((l, index) => {
      const t = fromOrtValue(results[l.name], `model '${model.name}' layer ${index} ('${l.name}', ${l.op})`);
      layers.push({ index, name: l.name, op: l.op, digest: tensorDigest(t), dtype: t.dtype, dims: t.dims });
      if (opts.keepTensors) tensors.push(t);
      digesting.tick(1, l.op);
    });
  } finally {
    digesting.done();
  }
  const commitment = traceCommitment({
    modelId: model.modelId,
    inputDigest,
    profileHash: model.profileHash,
    layerDigests: layers.map((l) => l.digest),
  });
  return {
    modelId: model.modelId,
    profile: model.profile,
    profileHash: model.profileHash,
    run: v.run,
    inputDigest,
    outputDigest: tensorSetDigest(outputs),
    traceRoot: commitment.root,
    layerCount: commitment.layerCount,
    layers,
    prefixes: commitment.prefixes,
    outputs,
    branches: v.inlined.map((x) => ({ path: x.path, taken: x.taken ? 'then' : 'else' })),
    ...(opts.keepTensors ? { tensors } : {}),
    undecidable,
  };
}

/** traceModel's `prefixLayers`: the first `count` layers, from the graph cut after the nodes producing them. */
async function tracePrefix(
  model: LoadedModel,
  inputs: Record<string, Tensor>,
  inputDigest: Hash32,
  count: number,
  opts: TraceOptions,
): Promise<TraceResult> {
  const g = model.proto.graph!;
  if (g.node.some(isIf))
    throw new OptinferError(
      'UNPROVABLE_MODEL',
      `model '${model.name}': a cut trace needs a graph without If nodes (its layers depend on the branches taken)`,
    );
  const flat: FlatNode[] = g.node.map((node) => ({ node, op: opLabel(node) }));
  const all: { name: string; op: string; node: number }[] = [];
  for (const i of canonicalOrder(flat)) {
    if (flat[i].op === 'Constant') continue;
    for (const o of flat[i].node.output) if (o) all.push({ name: o, op: flat[i].op, node: i });
  }
  if (!Number.isInteger(count) || count < 0 || count > all.length)
    throw new OptinferError(
      'INVALID_LAYER_INDEX',
      `model '${model.name}': a cut trace of ${count} layers, but the model has ${all.length}`,
    );
  const wanted = all.slice(0, count);
  const tensors: Tensor[] = [];
  if (count > 0) {
    const keep = new Set(wanted.map((l) => l.node));
    const proto: ModelProto = cloneModel(model.proto);
    const cut = proto.graph!;
    // Kept in their file order, which is topological for a valid model; Constants feed whatever they feed.
    cut.node = cut.node.filter((_, i) => keep.has(i) || flat[i].op === 'Constant');
    cut.output = wanted.map(
      // onnxruntime infers the type of a graph output declared by name only.
      (l) => onnxTypes.ValueInfoProto.create({ name: l.name }) as unknown as GraphProto['output'][number],
    );
    const what = `model '${model.name}' (first ${count} layers)`;
    const { session } = await openSession(encodeModel(proto), model.profile, what, model.runAsked);
    try {
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = await session.run(toFeeds(inputs));
      } catch (e) {
        throw new OptinferError(
          'EXECUTION_FAILED',
          `${what}: onnxruntime failed to run (${userFacingOrtMessage(e)})`,
          undefined,
          { cause: e },
        );
      }
      wanted.forEach((l, i) =>
        tensors.push(fromOrtValue(results[l.name], `${what} layer ${i} ('${l.name}')`)),
      );
    } finally {
      await session.release();
    }
  }
  const layers: TraceLayer[] = tensors.map((t, index) => ({
    index,
    name: wanted[index].name,
    op: wanted[index].op,
    digest: tensorDigest(t),
    dtype: t.dtype,
    dims: t.dims,
  }));
  // No layers (the first one is refused): no prefix, and the seed stands in for the root.
  const commitment =
    layers.length > 0
      ? traceCommitment({
          modelId: model.modelId,
          inputDigest,
          profileHash: model.profileHash,
          layerDigests: layers.map((l) => l.digest),
        })
      : { root: traceSeed(model.modelId, inputDigest, model.profileHash), prefixes: [] };
  return {
    modelId: model.modelId,
    profile: model.profile,
    profileHash: model.profileHash,
    run: model.runAsked,
    inputDigest,
    outputDigest: tensorSetDigest({}),
    traceRoot: commitment.root,
    layerCount: layers.length,
    layers,
    prefixes: commitment.prefixes,
    outputs: {},
    branches: [],
    ...(opts.keepTensors ? { tensors } : {}),
    undecidable: [],
  };
}

function hasNaN(t: Tensor): boolean {
  if (t.dtype !== 'float32') return false;
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  for (let o = 0; o + 4 <= t.data.length; o += 4)
    if ((view.getUint32(o, true) & 0x7fffffff) > 0x7f800000) return true;
  return false;
}

const withUndecidable = new WeakMap<LoadedModel, boolean>();
/**
 * Whether the model (If branches included) holds an op whose result can depend on the hardware: a
 * DynamicQuantizeLinear (a NaN in its input) or a Div (int32 INT_MIN / -1).
 */
export function hasUndecidableOps(model: LoadedModel): boolean {
  let has = withUndecidable.get(model);
  if (has === undefined) {
    has = false;
    forEachNodeDeep(
      model.proto.graph!,
      (n) => (has ||= n.op_type === 'DynamicQuantizeLinear' || n.op_type === 'Div'),
    );
    withUndecidable.set(model, has);
  }
  return has;
}

/** Releases the cached tracing sessions of a model (call before dropping a model). */
export async function releaseTraceCache(model: LoadedModel): Promise<void> {
  const c = caches.get(model);
  if (!c) return;
  caches.delete(model);
  const all = await Promise.allSettled(c.variants.values());
  for (const r of all) if (r.status === 'fulfilled') await r.value.session.release();
}

/** The cached tracing session for the branch choices of the last trace (for benchmarks and diagnostics). */
export async function tracingSessionOf(model: LoadedModel): Promise<ModelSession> {
  return (await variantFor(model, cacheFor(model).last)).session;
}
