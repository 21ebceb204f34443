// Executor benchmark: canonical profile vs onnxruntime defaults, and trace capture vs a plain canonical run.
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { loadModel, loadModelFile, type LoadedModel } from '../executor/model.ts';
import { runModel } from '../executor/run.ts';
import { releaseTraceCache, traceModel, tracingSessionOf } from '../executor/trace.ts';
import { toFeeds } from '../executor/run.ts';
import { buildModel, node, prng, tensorOf } from '../executor/onnx/builder.ts';
import type { Tensor } from '../state/tensor.ts';

export interface Row {
  name: string;
  value: number;
  unit: string;
  note: string;
}

const path = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));

function floats(seed: number, n: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => r() * 2 - 1);
}

interface Case {
  label: string;
  /** A file path, or model bytes built here. */
  file: string | (() => Uint8Array);
  inputs: Record<string, Tensor>;
  real: boolean;
}

const CASES: Case[] = [
  {
    label: 'hello_deepa',
    file: path('node_modules/openwakeword-js/models/hello_deepa.onnx'),
    inputs: { 'onnx::Flatten_0': tensorOf('float32', [1, 25, 96], floats(1, 2400)) },
    real: true,
  },
  {
    label: 'namaste_deepa',
    file: path('node_modules/openwakeword-js/models/namaste_deepa.onnx'),
    inputs: { 'onnx::Flatten_0': tensorOf('float32', [1, 24, 96], floats(2, 2304)) },
    real: true,
  },
  {
    label: 'silero_vad (If, 16 kHz)',
    file: path('test/fixtures/models/silero_vad.onnx'),
    inputs: {
      input: tensorOf('float32', [1, 512], floats(6, 512)),
      sr: tensorOf('int64', [], [16000]),
      h: tensorOf('float32', [2, 1, 64], floats(7, 128)),
      c: tensorOf('float32', [2, 1, 64], floats(8, 128)),
    },
    real: true,
  },
  {
    label: 'float_cnn (batch 64)',
    file: path('test/fixtures/models/float_cnn.onnx'),
    inputs: { image: tensorOf('float32', [64, 3, 8, 8], floats(3, 64 * 192)) },
    real: false,
  },
  {
    label: 'int8_mlp',
    file: path('test/fixtures/models/int8_mlp.onnx'),
    inputs: {
      x: tensorOf(
        'int8',
        [1, 16],
        Array.from({ length: 16 }, (_, i) => i * 15 - 120),
      ),
    },
    real: false,
  },
  {
    label: 'wide_mlp (built here, compute-bound)',
    file: wideMlp,
    inputs: { x: tensorOf('float32', [1, 1024], floats(5, 1024)) },
    real: false,
  },
];

/** Four 1024x1024 float MatMul+Relu layers: much compute per byte of activation, like larger real models. */
function wideMlp(): Uint8Array {
  const init: Record<string, Tensor> = {};
  const nodes = [];
  let prev = 'x';
  for (let l = 0; l < 4; l++) {
    init[`w${l}`] = tensorOf(
      'float32',
      [1024, 1024],
      floats(100 + l, 1024 * 1024).map((v) => v / 32),
    );
    nodes.push(node('MatMul', [prev, `w${l}`], [`mm${l}`]), node('Relu', [`mm${l}`], [`h${l}`]));
    prev = `h${l}`;
  }
  return buildModel({
    name: 'wide_mlp',
    inputs: [{ name: 'x', dtype: 'float32', dims: [1, 1024] }],
    outputs: [{ name: 'h3', dtype: 'float32', dims: [1, 1024] }],
    initializers: init,
    nodes,
  });
}

/** Mean milliseconds per call over `n` calls. */
async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t0) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const ROUNDS = 7;

export async function benchExecutor(): Promise<Row[]> {
  const rows: Row[] = [];
  const ratios: { profile: number[]; trace: number[] } = { profile: [], trace: [] };
  for (const c of CASES) {
    const model: LoadedModel =
      typeof c.file === 'string' ? await loadModelFile(c.file) : await loadModel(c.file(), { name: c.label });
    // onnxruntime's defaults: no options at all (optimization 'all', threads chosen by onnxruntime).
    const defaults = await ort.InferenceSession.create(model.bytes);
    const feeds = toFeeds(c.inputs);
    const canonical = () => runModel(model, c.inputs);
    const withDefaults = () => defaults.run(feeds);
    const rawCanonical = () => model.session.run(feeds);
    const trace = () => traceModel(model, c.inputs, { checkPlain: false });
    const traceChecked = () => traceModel(model, c.inputs);
    await trace();
    // The tracing variant's session alone: what exposing every node output costs before any hashing.
    const variant = await tracingSessionOf(model);
    const rawTraced = () => variant.run(feeds);
    for (const f of [canonical, withDefaults, rawCanonical, trace, traceChecked, rawTraced])
      await timeIt(20, f);
    // Calibrate so each measured block lasts roughly 50 ms, then interleave blocks so drift hits all sides alike.
    const n = Math.max(5, Math.min(2000, Math.round(50 / Math.max(0.001, await timeIt(10, canonical)))));
    const t = {
      canonical: [] as number[],
      defaults: [] as number[],
      raw: [] as number[],
      trace: [] as number[],
      checked: [] as number[],
      rawTraced: [] as number[],
    };
    for (let r = 0; r < ROUNDS; r++) {
      t.canonical.push(await timeIt(n, canonical));
      t.raw.push(await timeIt(n, rawCanonical));
      t.defaults.push(await timeIt(n, withDefaults));
      t.trace.push(await timeIt(n, trace));
      t.checked.push(await timeIt(n, traceChecked));
      t.rawTraced.push(await timeIt(n, rawTraced));
    }
    const m = {
      canonical: median(t.canonical),
      raw: median(t.raw),
      defaults: median(t.defaults),
      trace: median(t.trace),
      checked: median(t.checked),
      rawTraced: median(t.rawTraced),
    };
    const layers = (await trace()).layerCount;
    const profileRatio = m.raw / m.defaults;
    const traceRatio = m.trace / m.canonical;
    if (c.real) {
      ratios.profile.push(profileRatio);
      ratios.trace.push(traceRatio);
    }
    rows.push(
      {
        name: `executor ${c.label}: canonical run`,
        value: m.canonical * 1000,
        unit: 'µs/run',
        note: 'runModel: validate, run, output digest',
      },
      {
        name: `executor ${c.label}: canonical / onnxruntime defaults`,
        value: profileRatio,
        unit: 'x',
        note: `session.run only: ${(m.raw * 1000).toFixed(1)} µs canonical vs ${(m.defaults * 1000).toFixed(1)} µs defaults`,
      },
      {
        name: `executor ${c.label}: trace capture / canonical run`,
        value: traceRatio,
        unit: 'x',
        note: `${layers} layers, ${(m.trace * 1000).toFixed(1)} µs per trace (warm tracing session); with the plain-run output check ${(m.checked / m.canonical).toFixed(2)}x`,
      },
      {
        name: `executor ${c.label}: traced session.run / plain session.run`,
        value: m.rawTraced / m.raw,
        unit: 'x',
        note: `execution with every node output exposed, before hashing: ${(m.rawTraced * 1000).toFixed(1)} µs vs ${(m.raw * 1000).toFixed(1)} µs`,
      },
    );
    await releaseTraceCache(model);
    await model.close();
    await defaults.release();
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  rows.push(
    {
      name: 'executor real models: canonical / defaults (mean)',
      value: mean(ratios.profile),
      unit: 'x',
      note: 'openWakeWord and Silero VAD models from npm',
    },
    {
      name: 'executor real models: trace / canonical (mean)',
      value: mean(ratios.trace),
      unit: 'x',
      note: 'goal < 2x',
    },
  );
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchExecutor()) {
    process.stdout.write(
      `${r.name.padEnd(58)} ${r.value.toFixed(2).padStart(10)} ${r.unit.padEnd(7)} ${r.note}\n`,
    );
  }
}
