// A job onnxruntime refuses to run, signed anyway: the challenger's partial trace that steers the dispute game to the
// first layer no honest run computes, where the referee convicts the executor (docs/PROTOCOL.md, "Unrunnable jobs").
import type { UnrunnableCause } from '../bus/messages.ts';
import type { LoadedModel } from '../executor/model.ts';
import type { ModelRunner } from '../executor/sandbox/pool.ts';
import { compileForProgram, type ProgramModel } from '../executor/program-model.ts';
import { isOptinferError, OptinferError } from '../state/errors.ts';
import { hashHex, sha256 } from '../state/hash.ts';
import { u32 } from '../state/le.ts';
import { MAX_RANK, REF_KIND, refIndex, refKind, type TensorHeader } from '../state/optable.ts';
import {
  CHUNK_BYTES,
  DTYPE_CODES,
  dtypeFromCode,
  elementCount,
  elementSize,
  tensorSetDigest,
  tensorSetDigestFromDigests,
  type Tensor,
  tensorNameOrder,
} from '../state/tensor.ts';
import { putNamed, type TensorMap } from '../state/tensor-map.ts';
import type { Hash32 } from '../state/types.ts';
import type { OpeningsOf } from '../dispute/driver.ts';
import { firstUndecidable, refereeElements } from '../dispute/undecidable.ts';
import { modelViewOf, traceViewOf, type ModelView, type TraceView } from '../dispute/views.ts';

export type { UnrunnableCause };

export type UnrunnablePlan =
  | {
      ok: true;
      cause: UnrunnableCause;
      trace: TraceView;
      model: ModelView;
      /** The one-step's openings when not the default: headers only at the layer of an input-header conviction. */
      openings?: OpeningsOf;
      /** Prefixes p_0 .. p_{n-1} of the partial trace, its root, and the output digest it ends in. */
      prefixes: Hash32[];
      traceRoot: Hash32;
      outputDigest: Hash32;
      /** The tensors the trace holds: layers 0 .. layer (the last one partly placeholder). */
      tensors: Tensor[];
      /** Every layer's name and op (the op table's). */
      layers: { name: string; op: string }[];
    }
  | { ok: false; reason: string };

const byteOrder = tensorNameOrder;

/** The most job inputs the one-step opens (one_step.rs open_inputs): a job with more cannot be read on chain. */
const MAX_JOB_INPUTS = 16;

/**
 * The job's inputs as the referee reads them: the i-th in byte order of names is the model's i-th input (in the same
 * order), whatever its name; inputs past the model's count are never read. The inputs themselves when their names
 * are the model's; undefined when the job has fewer inputs than the model (a ref past the end: the referee cannot
 * read it, and does not convict).
 */
export function refereeFeed(modelInputNames: readonly string[], inputs: TensorMap): TensorMap | undefined {
  const want = [...modelInputNames].sort(byteOrder);
  const names = Object.keys(inputs).sort(byteOrder);
  if (names.length === want.length && names.every((n, i) => n === want[i])) return inputs;
  if (names.length < want.length) return undefined;
  return Object.fromEntries(want.map((w, i) => [w, inputs[names[i]]]));
}
const sameHeader = (t: Tensor, h: TensorHeader) =>
  DTYPE_CODES[t.dtype] === h.dtype &&
  t.dims.length === h.dims.length &&
  t.dims.every((d, i) => d === h.dims[i]);
const headerText = (dtype: number, dims: readonly number[]) =>
  `${dtypeFromCode(dtype) ?? `dtype ${dtype}`} [${dims.join(',')}]`;

/** Whether `e` is onnxruntime (or input validation before it) refusing a job's inputs, as opposed to a limit or an outage. */
export function inputsRefused(e: unknown): boolean {
  return isOptinferError(e) && (e.code === 'EXECUTION_FAILED' || e.code === 'INVALID_INPUT');
}

/**
 * Bytes no other party can predict: SHA-256 in counter mode over the challenger's secret and the job. They fill
 * the partial trace from the refused layer on, so no executor can commit a prefix equal to the challenger's there.
 */
function placeholder(secret: Uint8Array, job: Uint8Array[], layer: number, length: number): Uint8Array {
  const seed = sha256(Buffer.from('optinfer partial trace'), secret, ...job, u32(layer));
  const out = new Uint8Array(Math.ceil(length / 32) * 32);
  for (let i = 0; i * 32 < length; i++) out.set(sha256(seed, u32(i)), i * 32);
  return out.subarray(0, length);
}

/**
 * The largest number of leading layers (at most `upTo`) onnxruntime computes on `feed`, with their tensors: a binary
 * search over graphs cut after a prefix of layers (a prefix runs whenever a longer one does). A cut run refused by
 * onnxruntime (or killed by it: INT_MIN / -1 raises SIGFPE in a scalar loop) counts as refused; any other failure (a
 * time or memory limit, the sandbox down) is no evidence about the inputs and is thrown.
 */
async function runnablePrefix(
  runner: ModelRunner,
  model: LoadedModel,
  feed: TensorMap,
  upTo: number,
): Promise<{ count: number; tensors: Tensor[] }> {
  const probe = async (count: number): Promise<Tensor[] | null> => {
    try {
      const t = await runner.trace(model, feed, {
        prefixLayers: count,
        keepTensors: true,
        checkPlain: false,
      });
      return t.tensors ?? [];
    } catch (e) {
      if (isOptinferError(e) && e.code === 'EXECUTION_FAILED') return null;
      throw e;
    }
  };
  const all = await probe(upTo);
  if (all) return { count: upTo, tensors: all };
  let lo = 0;
  let tensors: Tensor[] = [];
  let hi = upTo;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const got = await probe(mid);
    if (got) {
      lo = mid;
      tensors = got;
    } else hi = mid;
  }
  return { count: lo, tensors };
}

/**
 * Plans the challenger's game on a job of a provable model whose re-execution onnxruntime refused: finds the first
 * layer no honest run computes and checks, by the referee's own rules, that a one-step there convicts the executor:
 * - a value the referee calls Undecidable (a Gather index out of range, an int32 Div by 0 or INT_MIN / -1): the
 *   layer's trace holds the referee's elements before the chunk of the first such element, so the chunk descent
 *   lands on that chunk, or earlier where the executor lied;
 * - a job input whose header is not the registered one, read by the layer: the one-step opens operand headers only.
 * Layers before it are onnxruntime's (a cut run), layers from it on are placeholders only this challenger knows, so
 * bisection lands at or before it. Otherwise (inputs named other than the model's, a refusal the referee would not
 * share) it says why no game is opened: the referee would not convict, and the honest challenger would lose.
 */
export async function planUnrunnable(opts: {
  model: LoadedModel;
  inputs: TensorMap;
  /** The record's digests: its input digest, and the output the executor signed. */
  inputDigest: Hash32;
  claimedOutputDigest: Hash32;
  runner: ModelRunner;
  /** The challenger's secret: its placeholders are derived from it. */
  secret: Uint8Array;
  compiled?: ProgramModel;
}): Promise<UnrunnablePlan> {
  const { model, inputs, runner } = opts;
  const no = (reason: string): UnrunnablePlan => ({ ok: false, reason });
  if (!model.provable) return no('the model is not provable: no referee rules on it');
  if (tensorSetDigest(inputs) !== opts.inputDigest)
    throw new OptinferError('INVALID_INPUT', "the inputs are not the ones the record's input digest names");
  const compiled = opts.compiled ?? (await compileForProgram(model));
  const n = compiled.layers.length;
  const names = Object.keys(inputs).sort(byteOrder);
  if (names.length > MAX_JOB_INPUTS)
    return no(
      `the job has ${names.length} inputs: the referee opens at most ${MAX_JOB_INPUTS}, so it cannot read them`,
    );
  // The referee reads the i-th input in name order as the model's i-th (refereeFeed). Inputs off their registered
  // header, or missing (fewer than the model's: the referee convicts on the proven input set), have zeros of the
  // registered header stand in for them in the cut runs.
  const bad = new Set<number>();
  const feed: TensorMap = {};
  compiled.inputNames.forEach((modelName, i) => {
    const h = compiled.shapes.inputs[i];
    putNamed(feed, modelName, inputs[names[i]]);
    if (i < names.length && sameHeader(inputs[names[i]], h)) return;
    bad.add(i);
    const dtype = dtypeFromCode(h.dtype)!;
    putNamed(feed, modelName, {
      dtype,
      dims: [...h.dims],
      data: new Uint8Array(elementCount(h.dims) * elementSize(dtype)),
    });
  });
  const readsBad = (l: ProgramModel['layers'][number]) =>
    l.refs.some((r) => refKind(r) === REF_KIND.INPUT && bad.has(refIndex(r)));
  const f = bad.size > 0 ? compiled.layers.findIndex(readsBad) : -1;
  const upTo = f < 0 ? n : f;
  const { count: k, tensors } = await runnablePrefix(runner, model, feed, upTo);
  if (k === n)
    return no(
      bad.size > 0
        ? 'the inputs off their registered header are read by no layer, so the referee never opens them'
        : 'every layer computes in a cut run: the refusal was not the inputs',
    );
  const entry = compiled.layers[k];
  const out = compiled.shapes.layers[k];
  const dtype = dtypeFromCode(out.dtype)!;
  const es = elementSize(dtype);
  const bytes = elementCount(out.dims) * es;
  let cause: UnrunnableCause;
  let known: Uint8Array;
  let openings: OpeningsOf | undefined;
  if (k === f) {
    const i = entry.refs
      .map(refIndex)
      .find((x, p) => refKind(entry.refs[p]) === REF_KIND.INPUT && bad.has(x))!;
    const want = compiled.shapes.inputs[i];
    if (i >= names.length) {
      // The job has no input at place i: the one-step proves the job's input set and convicts (one_step.rs).
      cause = {
        layer: k,
        op: entry.onnxOp,
        kind: 'input-missing',
        why: `layer ${k} (${entry.onnxOp}) reads the model's input '${compiled.inputNames[i]}' (place ${i} in name order); the job has ${names.length} inputs`,
      };
    } else {
      const t = inputs[names[i]];
      // The program must parse the input's header to compare it (pure/tensor.rs Header::parse, byte_len).
      if (t.dims.length > MAX_RANK || elementCount(t.dims) > 0xffffffff)
        return no(`input '${names[i]}' has a header the referee cannot parse (rank ${t.dims.length})`);
      cause = {
        layer: k,
        op: entry.onnxOp,
        kind: 'input-header',
        why: `layer ${k} (${entry.onnxOp}) reads input '${names[i]}' as ${t.dtype} [${t.dims.join(',')}], registered as ${headerText(want.dtype, want.dims)}`,
      };
    }
    known = new Uint8Array(0);
    // The conviction comes before any recomputation: headers (and chunk roots) are all the one-step at layer k
    // needs. A game landing on an earlier layer (the executor lied there) recomputes it: default openings.
    openings = (d) => (d.disagree === k ? () => [] : 'auto');
  } else {
    const operands = entry.refs.map((r): Tensor => {
      const i = refIndex(r);
      if (refKind(r) === REF_KIND.LAYER) return tensors[i];
      if (refKind(r) === REF_KIND.INPUT) return feed[compiled.inputNames[i]];
      return compiled.weights[i].tensor;
    });
    const shape = { dtype, dims: out.dims };
    const u = firstUndecidable(entry, operands, shape);
    if (!u)
      return no(
        `onnxruntime refuses layer ${k} (${entry.onnxOp}), but the referee finds no undecidable value in it and would compute it`,
      );
    cause = {
      layer: k,
      op: entry.onnxOp,
      kind: 'undecidable',
      element: u.element,
      why: `layer ${k} (${entry.onnxOp}) element ${u.element}: ${u.why}`,
    };
    // The referee's elements up to the chunk holding the first undecidable one; unpredictable bytes from there.
    const before = (Math.floor((u.element * es) / CHUNK_BYTES) * CHUNK_BYTES) / es;
    known = refereeElements(entry, operands, shape, before);
  }
  const job = [
    Buffer.from(model.modelId, 'hex'),
    Buffer.from(opts.inputDigest, 'hex'),
    Buffer.from(opts.claimedOutputDigest, 'hex'),
  ];
  const layerK = new Uint8Array(bytes);
  layerK.set(known);
  layerK.set(placeholder(opts.secret, job, k, bytes - known.length), known.length);
  const ownTensors = [...tensors, { dtype, dims: [...out.dims], data: layerK }];
  const tail: Hash32[] = [];
  for (let i = k + 1; i < n; i++) tail.push(hashHex(placeholder(opts.secret, job, i, 32)));
  const trace = traceViewOf({
    modelId: model.modelId,
    inputDigest: opts.inputDigest,
    profileHash: model.profileHash,
    layers: ownTensors,
    tail,
  });
  const prefixes = Array.from({ length: n }, (_, i) => hashHex(trace.prefix(i)));
  return {
    ok: true,
    cause,
    trace,
    model: modelViewOf({ inputs, weights: compiled.weights.map((w) => w.tensor) }),
    ...(openings ? { openings } : {}),
    prefixes,
    traceRoot: hashHex(trace.root),
    outputDigest: tensorSetDigestFromDigests({ [compiled.outputName]: hashHex(trace.digest(n - 1)) }),
    tensors: ownTensors,
    layers: compiled.layers.map((l) => ({ name: l.name, op: l.onnxOp })),
  };
}
