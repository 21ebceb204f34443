// Executor configurations: every exact-mode model traced under each --profile, layer by layer against canonical, and timed.
// Run: node --import tsx bench/profiles.ts [--quick]   (prints a markdown table; docs/BENCHMARKS.md keeps one)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel, type LoadedModel } from '../executor/model.ts';
import { buildModel, node, prng, tensorOf } from '../executor/onnx/builder.ts';
import { CANONICAL_RUN, formatRunConfig, parseRunConfig, type RunConfig } from '../executor/run-config.ts';
import { runModel } from '../executor/run.ts';
import { releaseTraceCache, traceModel, type TraceResult } from '../executor/trace.ts';
import type { Tensor } from '../state/tensor.ts';

const path = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

/** The configurations measured: onnxruntime-node 1/2/4 threads x disabled/all, and the wasm backend both ways. */
export const PROFILE_MATRIX: readonly RunConfig[] = [
  'threads=1,opt=disabled',
  'threads=2,opt=disabled',
  'threads=4,opt=disabled',
  'threads=1,opt=all',
  'threads=2,opt=all',
  'threads=4,opt=all',
  'backend=wasm,opt=disabled',
  'backend=wasm,opt=all',
].map((s) => parseRunConfig(s));

export interface ProfileCase {
  label: string;
  bytes: () => Uint8Array;
  inputs: () => Record<string, Tensor>;
  /** Exact mode accepts it (every op provable); the others are measured for information (tolerant mode). */
  exact: boolean;
}

/** IEEE edge values mixed into float inputs: signed zeros, subnormals, huge, infinities, NaN, ties. */
const F32_EDGES = [
  0,
  -0,
  1,
  -1,
  0.5,
  -2.5,
  1e-45,
  -1e-45,
  1.1754942e-38,
  3.4e38,
  -3.4e38,
  Infinity,
  -Infinity,
  NaN,
];

/** A uniform integer in [0, n) from prng's [0, 1) draws. */
function below(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

function floats(seed: number, n: number, edges = true): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, (_, i) =>
    edges && i % 97 === 0 ? F32_EDGES[(i / 97) % F32_EDGES.length] : (below(r, 20001) - 10000) / 1000,
  );
}

function ints(seed: number, n: number, lo: number, hi: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => lo + below(r, hi - lo + 1));
}

/** Elementwise arithmetic and comparisons (arith-onnx.test.ts's graph), 64x4096 so onnxruntime splits it over threads. */
function arith(): Uint8Array {
  return buildModel({
    name: 'arith',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [64, 4096] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [64, 4096] }],
    initializers: {
      zero: tensorOf('float32', [], [0]),
      half: tensorOf('float32', [1], [0.5]),
      k: tensorOf('float32', [], [1000]),
      m7: tensorOf('int32', [], [-7]),
      lim: tensorOf('int32', [1, 1], [700]),
      two: tensorOf('float32', [], [2]),
    },
    nodes: [
      node('Abs', ['x'], ['a']),
      node('Sqrt', ['a'], ['s']),
      node('Neg', ['x'], ['n']),
      node('Div', ['x', 's'], ['d']),
      node('Pow', ['d', 'two'], ['p']),
      node('Sub', ['p', 'x'], ['ps']),
      node('Less', ['x', 'zero'], ['lt']),
      node('LessOrEqual', ['d', 'half'], ['le']),
      node('Greater', ['n', 'half'], ['gt']),
      node('Where', ['lt', 'n', 's'], ['w1']),
      node('Where', ['le', 'w1', 'ps'], ['w2']),
      node('Mul', ['x', 'k'], ['xk']),
      node('Cast', ['xk'], ['ci'], { to: 6 }),
      node('Div', ['ci', 'm7'], ['q']),
      node('Neg', ['q'], ['nq']),
      node('Abs', ['nq'], ['aq']),
      node('GreaterOrEqual', ['aq', 'lim'], ['big']),
      node('Cast', ['nq'], ['fq'], { to: 1 }),
      node('Where', ['gt', 'w2', 'fq'], ['w3']),
      node('Relu', ['w3'], ['r']),
      node('Clip', ['w3'], ['cl']),
      node('Add', ['r', 'cl'], ['rc']),
      node('Where', ['big', 'fq', 'rc'], ['y']),
    ],
  });
}

/**
 * onnxruntime quantize_dynamic's MatMul pattern at width: Pow, DynamicQuantizeLinear, MatMulInteger with zero
 * points, Cast, the scale product (the pattern graph optimization fuses into DynamicQuantizeMatMul).
 */
function quant(): Uint8Array {
  const r = prng(77);
  return buildModel({
    name: 'quant',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [64, 512] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [64, 256] }],
    initializers: {
      two: tensorOf('float32', [], [2]),
      three: tensorOf('int64', [1], [3]),
      w: tensorOf(
        'uint8',
        [512, 256],
        Array.from({ length: 512 * 256 }, () => below(r, 256)),
      ),
      wzp: tensorOf('uint8', [], [131]),
      wscale: tensorOf('float32', [], [0.0123]),
    },
    nodes: [
      node('Pow', ['x', 'two'], ['p2']),
      node('Pow', ['x', 'three'], ['p3']),
      node('Add', ['p2', 'p3'], ['s']),
      node('DynamicQuantizeLinear', ['s'], ['q', 'qs', 'qz']),
      node('MatMulInteger', ['q', 'w', 'qz', 'wzp'], ['mm']),
      node('Cast', ['mm'], ['mf'], { to: 1 }),
      node('Mul', ['qs', 'wscale'], ['sc']),
      node('Mul', ['mf', 'sc'], ['y']),
    ],
  });
}

/** DynamicQuantizeLinear into 2-D ConvInteger (uint8 x int8 weights), then Cast and rescale. */
function qconv(): Uint8Array {
  const r = prng(78);
  return buildModel({
    name: 'qconv',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, 8, 32, 32] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [1, 16, 16, 16] }],
    initializers: {
      w: tensorOf(
        'uint8',
        [16, 8, 3, 3],
        Array.from({ length: 16 * 8 * 9 }, () => below(r, 256)),
      ),
      wzp: tensorOf('uint8', [], [128]),
    },
    nodes: [
      node('DynamicQuantizeLinear', ['x'], ['q', 'qs', 'qz']),
      node('ConvInteger', ['q', 'w', 'qz', 'wzp'], ['c'], {
        pads: [1, 1, 1, 1],
        strides: [2, 2],
        kernel_shape: [3, 3],
      }),
      node('Cast', ['c'], ['cf'], { to: 1 }),
      node('Mul', ['cf', 'qs'], ['y']),
    ],
  });
}

/** Data movement (movement-onnx.test.ts's graph): Unsqueeze, Concat, Slice, Squeeze, Shape, Gather, Equal, Not, Where, Pad. */
function movement(): Uint8Array {
  return buildModel({
    name: 'movement',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, 512] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [1, 300] }],
    initializers: {
      axes1: tensorOf('int64', [1], [1]),
      axes0: tensorOf('int64', [1], [0]),
      pad: tensorOf(
        'float32',
        [1, 1, 96],
        Array.from({ length: 96 }, (_, i) => (i % 7) - 3),
      ),
      pads: tensorOf('int64', [6], [0, 0, 4, 0, 0, 4]),
      starts: tensorOf('int64', [1], [3]),
      ends: tensorOf('int64', [1], [700]),
      saxes: tensorOf('int64', [1], [-1]),
      steps: tensorOf('int64', [1], [2]),
      two: tensorOf('int64', [], [2]),
      n704: tensorOf('int64', [], [712]),
      gi: tensorOf(
        'int64',
        [300],
        Array.from({ length: 300 }, (_, i) => ((i * 7) % 349) - 100),
      ),
      zero: tensorOf('float32', [1, 1], [0]),
      negs: tensorOf(
        'float32',
        [300],
        Array.from({ length: 300 }, (_, i) => -i),
      ),
    },
    nodes: [
      node('Unsqueeze', ['x', 'axes1'], ['u']),
      node('Concat', ['pad', 'u', 'pad'], ['c0'], { axis: -1 }),
      node('Pad', ['c0', 'pads'], ['c']),
      node('Slice', ['c', 'starts', 'ends', 'saxes', 'steps'], ['s']),
      node('Squeeze', ['s', 'axes0'], ['sq']),
      node('Shape', ['c'], ['sh']),
      node('Gather', ['sh', 'two'], ['g'], { axis: 0 }),
      node('Equal', ['g', 'n704'], ['e']),
      node('Not', ['e'], ['ne']),
      node('Gather', ['sq', 'gi'], ['gx'], { axis: 1 }),
      node('Equal', ['gx', 'zero'], ['ez']),
      node('Where', ['ez', 'gx', 'negs'], ['w']),
      node('Where', ['ne', 'w', 'gx'], ['y']),
    ],
  });
}

/** A wide int8 MLP: two 1024x1024 MatMulInteger layers with bias, Relu and requantization (the demo's shape, at width). */
function wideInt8(): Uint8Array {
  const r = prng(91);
  const w = (n: number) => Array.from({ length: n }, () => below(r, 256) - 128);
  return buildModel({
    name: 'wide_int8',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'int8', dims: [32, 1024] }],
    outputs: [{ name: 'y', dtype: 'int32', dims: [32, 1024] }],
    initializers: {
      w1: tensorOf('int8', [1024, 1024], w(1024 * 1024)),
      b1: tensorOf('int32', [1024], w(1024)),
      w2: tensorOf('int8', [1024, 1024], w(1024 * 1024)),
      b2: tensorOf('int32', [1024], w(1024)),
      one: tensorOf('float32', [], [1]),
      s: tensorOf('float32', [], [4096]),
      zp: tensorOf('int8', [], [0]),
    },
    nodes: [
      node('MatMulInteger', ['x', 'w1'], ['m1']),
      node('Add', ['m1', 'b1'], ['a1']),
      node('Relu', ['a1'], ['r1']),
      node('DequantizeLinear', ['r1', 'one'], ['f1']),
      node('QuantizeLinear', ['f1', 's', 'zp'], ['q1']),
      node('MatMulInteger', ['q1', 'w2'], ['m2']),
      node('Add', ['m2', 'b2'], ['y']),
    ],
  });
}

/** Conversions at their edges: float to every integer type by Cast (NaN, ±Inf, out of range), QuantizeLinear, Sqrt of negatives. */
function casts(): Uint8Array {
  const outs = ['c32', 'c64', 'c8', 'cu8', 'c16', 'cb', 'q8', 'qu8', 'dq', 'sq', 'dd'];
  return buildModel({
    name: 'casts',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'float32', dims: [4096] }],
    outputs: outs.map((o) => ({
      name: o,
      dtype:
        (
          {
            c32: 'int32',
            c64: 'int64',
            c8: 'int8',
            cu8: 'uint8',
            c16: 'int16',
            cb: 'bool',
            q8: 'int8',
          } as const
        )[o as 'c32'] ?? (o === 'qu8' || o === 'dq' ? 'uint8' : 'float32'),
      dims: [4096],
    })),
    initializers: {
      s: tensorOf('float32', [], [0.37]),
      z8: tensorOf('int8', [], [-3]),
      zu8: tensorOf('uint8', [], [129]),
    },
    nodes: [
      node('Cast', ['x'], ['c32'], { to: 6 }),
      node('Cast', ['x'], ['c64'], { to: 7 }),
      node('Cast', ['x'], ['c8'], { to: 3 }),
      node('Cast', ['x'], ['cu8'], { to: 2 }),
      node('Cast', ['x'], ['c16'], { to: 5 }),
      node('Cast', ['x'], ['cb'], { to: 9 }),
      node('QuantizeLinear', ['x', 's', 'z8'], ['q8']),
      node('QuantizeLinear', ['x', 's', 'zu8'], ['qu8']),
      node('DynamicQuantizeLinear', ['sq'], ['dq', 'dqs', 'dqz']),
      node('Sqrt', ['x'], ['sq']),
      node('Div', ['x', 'x'], ['dd']),
    ],
  });
}

/** Finite values past every integer range, ties, and the IEEE edges. */
function castInputs(): number[] {
  const big = [
    3e9, -3e9, 1e20, -1e20, 2147483520, -2147483648, 40000, -40000, 300, -300, 255.5, -128.5, 2.5, 3.5, -0.5,
  ];
  const r = prng(12);
  return Array.from({ length: 4096 }, (_, i) =>
    i % 3 === 0
      ? big[(i / 3) % big.length]
      : i % 3 === 1
        ? F32_EDGES[i % F32_EDGES.length]
        : (below(r, 2001) - 1000) / 7,
  );
}

const file = (p: string) => () => new Uint8Array(readFileSync(path(p)));
const t = tensorOf;

export const PROFILE_CASES: readonly ProfileCase[] = [
  {
    label: 'demo-int8-mlp',
    bytes: file('models/demo-int8-mlp.onnx'),
    inputs: () => ({ x: t('int8', [1, 16], ints(1, 16, -128, 127)) }),
    exact: true,
  },
  {
    label: 'wide-int8-mlp (built)',
    bytes: wideInt8,
    inputs: () => ({ x: t('int8', [32, 1024], ints(2, 32 * 1024, -128, 127)) }),
    exact: true,
  },
  {
    label: 'arith (built)',
    bytes: arith,
    inputs: () => ({ x: t('float32', [64, 4096], floats(3, 64 * 4096)) }),
    exact: true,
  },
  {
    label: 'quant: DQL+MatMulInteger (built)',
    bytes: quant,
    inputs: () => ({ x: t('float32', [64, 512], floats(4, 64 * 512, false)) }),
    exact: true,
  },
  {
    label: 'qconv: DQL+ConvInteger (built)',
    bytes: qconv,
    inputs: () => ({ x: t('float32', [1, 8, 32, 32], floats(5, 8 * 1024, false)) }),
    exact: true,
  },
  {
    label: 'movement (built)',
    bytes: movement,
    inputs: () => ({ x: t('float32', [1, 512], floats(6, 512)) }),
    exact: true,
  },
  {
    label: 'casts: float to integer at the edges (built)',
    bytes: casts,
    inputs: () => ({ x: t('float32', [4096], castInputs()) }),
    exact: true,
  },
  {
    label: 'float_cnn (fixture)',
    bytes: file('test/fixtures/models/float_cnn.onnx'),
    inputs: () => ({ image: t('float32', [16, 3, 8, 8], floats(7, 16 * 192, false)) }),
    exact: false,
  },
  {
    label: 'silero_vad',
    bytes: file('test/fixtures/models/silero_vad.onnx'),
    inputs: () => ({
      input: t('float32', [1, 512], floats(8, 512, false)),
      sr: t('int64', [], [16000]),
      h: t('float32', [2, 1, 64], floats(9, 128, false)),
      c: t('float32', [2, 1, 64], floats(10, 128, false)),
    }),
    exact: false,
  },
  {
    label: 'hello_deepa (openWakeWord)',
    bytes: file('node_modules/openwakeword-js/models/hello_deepa.onnx'),
    inputs: () => ({ 'onnx::Flatten_0': t('float32', [1, 25, 96], floats(11, 2400, false)) }),
    exact: false,
  },
];

export interface ProfileComparison {
  run: RunConfig;
  /** What the plain session really ran under (graph optimization turned off where the optimizer rewrites). */
  effective: RunConfig | null;
  adjusted: string | null;
  /** The configuration refused the model (wasm's divergent ops), with the message. */
  refused: string | null;
  /** The plain run's outputs equal the canonical ones. */
  samePlain: boolean;
  /** Layers whose bytes differ from the canonical trace's, with their ops. */
  differing: { index: number; op: string; name: string }[];
  /** The first differing layer's op (the op whose kernel changed the bits; later ones may only inherit it). */
  firstOp: string | null;
  sameOutputs: boolean;
  /** An error the configuration raised (e.g. the tracing run's outputs differ from its plain run's). */
  error: string | null;
  /** Median ms of a plain run under the configuration. */
  runMs: number;
}

const EMPTY = {
  effective: null,
  adjusted: null,
  differing: [],
  firstOp: null,
  sameOutputs: false,
  samePlain: false,
  error: null,
  runMs: NaN,
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeRuns(m: LoadedModel, inputs: Record<string, Tensor>, rounds: number): Promise<number> {
  await runModel(m, inputs);
  const xs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await runModel(m, inputs);
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

/** Traces one model under each configuration and compares every layer with the canonical trace, bit for bit. */
export async function compareProfiles(
  c: ProfileCase,
  runs: readonly RunConfig[] = PROFILE_MATRIX,
  rounds = 5,
): Promise<{ canonical: TraceResult; canonicalMs: number; rows: ProfileComparison[] }> {
  const bytes = c.bytes();
  const inputs = c.inputs();
  const base = await loadModel(bytes, { name: c.label });
  let canonical: TraceResult;
  let canonicalMs: number;
  try {
    canonical = await traceModel(base, inputs);
    canonicalMs = await timeRuns(base, inputs, rounds);
  } finally {
    await releaseTraceCache(base);
    await base.close();
  }
  const rows: ProfileComparison[] = [];
  for (const run of runs) {
    let m: LoadedModel;
    try {
      m = await loadModel(bytes, { name: c.label, run });
    } catch (e) {
      rows.push({ ...EMPTY, run, refused: (e as Error).message });
      continue;
    }
    try {
      let tr: TraceResult | null = null;
      let error: string | null = null;
      try {
        tr = await traceModel(m, inputs);
      } catch (e) {
        error = (e as Error).message;
      }
      const differing = tr
        ? tr.layers
            .filter(
              (l, i) => canonical.layers[i]?.digest !== l.digest || canonical.layers[i]?.name !== l.name,
            )
            .map((l) => ({ index: l.index, op: l.op, name: l.name }))
        : [];
      if (tr && tr.layers.length !== canonical.layers.length)
        error = `layer count ${tr.layers.length}, canonical ${canonical.layers.length}`;
      // The plain (hot path) run must give the canonical outputs too: that is what the executor commits to.
      const plain = await runModel(m, inputs);
      rows.push({
        run,
        effective: m.run,
        adjusted: m.runAdjusted,
        refused: null,
        differing,
        firstOp: differing[0]?.op ?? null,
        sameOutputs: tr !== null && tr.outputDigest === canonical.outputDigest,
        samePlain: plain.outputDigest === canonical.outputDigest,
        error,
        runMs: await timeRuns(m, inputs, rounds),
      });
    } finally {
      await releaseTraceCache(m);
      await m.close();
    }
  }
  return { canonical, canonicalMs, rows };
}

const fmt = (ms: number) => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const cases = quick ? PROFILE_CASES.filter((c) => c.exact) : PROFILE_CASES;
  const head = ['model', 'mode', 'layers', `canonical (${formatRunConfig(CANONICAL_RUN)})`].concat(
    PROFILE_MATRIX.map((r) => formatRunConfig(r).replace('backend=', '').replace(/,/g, ' ')),
  );
  const out: string[] = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const notes: string[] = [];
  for (const c of cases) {
    const { canonical, canonicalMs, rows } = await compareProfiles(c);
    const cells = rows.map((r) => {
      if (r.refused) return 'refused';
      const same = r.error === null && r.differing.length === 0 && r.samePlain;
      const mark = same ? '=' : r.error ? '✗' : `≠${r.differing.length}`;
      return `${fmt(r.runMs)} ms ${mark}${r.adjusted ? ' (opt off)' : ''}`;
    });
    out.push(
      `| ${c.label} | ${c.exact ? 'exact' : 'tolerant only'} | ${canonical.layerCount} | ${fmt(canonicalMs)} ms | ${cells.join(' | ')} |`,
    );
    for (const r of rows) {
      if (r.refused) notes.push(`${c.label} under ${formatRunConfig(r.run)}: refused (${r.refused})`);
      else if (r.adjusted) notes.push(`${c.label} under ${formatRunConfig(r.run)}: ${r.adjusted}`);
      if (r.error) notes.push(`${c.label} under ${formatRunConfig(r.run)}: ${r.error}`);
      else if (r.differing.length > 0) {
        const ops = [...new Set(r.differing.map((d) => d.op))].join(', ');
        notes.push(
          `${c.label} under ${formatRunConfig(r.run)}: ${r.differing.length}/${canonical.layerCount} layers differ, first ${r.firstOp} (layer ${r.differing[0].index}); ops of differing layers: ${ops}; outputs ${r.sameOutputs ? 'equal' : 'differ'}`,
        );
      } else if (!r.refused && !r.samePlain)
        notes.push(`${c.label} under ${formatRunConfig(r.run)}: plain run outputs differ`);
    }
    process.stderr.write(`${c.label}: done\n`);
  }
  process.stdout.write(`${out.join('\n')}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
