// Executor benchmark: canonical profile vs onnxruntime defaults, trace capture vs a plain run, the sandbox's cost.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { createMemoryBus } from '../bus/memory.ts';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { ModelRegistry } from '../executor/model.ts';
import { SandboxPool } from '../executor/sandbox/pool.ts';
import { OrtInspector } from '../executor/sequencer-adapters.ts';
import { DEFAULT_EXECUTOR_CONFIG, ExecutorWorker } from '../executor/worker.ts';
import { LocalSettlement } from '../sequencer/ports.ts';
import { DEFAULT_SEQUENCER_CONFIG, Sequencer } from '../sequencer/sequencer.ts';
import type { ModelId } from '../state/types.ts';
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
  rows.push(...(await benchSandbox()));
  return rows;
}

function demoInput(i: number): Record<string, Tensor> {
  return {
    x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(16).map((_, k) => (i * 31 + k * 7) & 0xff) },
  };
}

/**
 * Demo-model jobs through a sequencer and one executor on the in-memory bus, after a warm-up long enough for
 * the children's JIT: jobs/s from submit to executed, and CPU per job in this process and in the children.
 */
async function executorThroughput(
  pool: SandboxPool | null,
  capacity: number,
  jobs: number,
): Promise<{ jobsPerSec: number; nodeCpuUs: number; childCpuUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-bench-sandbox-'));
  const bus = createMemoryBus();
  const registry = new ModelRegistry();
  const seq = await Sequencer.start({
    config: { ...DEFAULT_SEQUENCER_CONFIG, dataDir: dir, batchMaxJobs: 1024, batchMaxAgeMs: 50 },
    bus,
    inspector: new OrtInspector(registry),
    settlement: new LocalSettlement(60_000),
  });
  const worker = await ExecutorWorker.start({
    config: { ...DEFAULT_EXECUTOR_CONFIG, dataDir: join(dir, 'ex'), capacity, sandbox: false },
    bus,
    registry,
    ...(pool ? { runner: pool } : {}),
  });
  try {
    const model = await seq.registerModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), 'demo');
    const submitAll = async (n: number) => {
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          seq.submit({ modelId: model.modelId as ModelId, inputs: demoInput(i) }),
        ),
      );
      for (;;) {
        const s = seq.stats();
        if (s.queued === 0 && s.inflight === 0) return;
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await submitAll(2_000);
    const pids = pool?.pids() ?? [];
    const k0 = pids.map(cpuMsOf);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await submitAll(jobs);
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const childMs = pids.reduce((sum, p, i) => sum + cpuMsOf(p) - k0[i], 0);
    return {
      jobsPerSec: jobs / (dt / 1000),
      nodeCpuUs: (c.user + c.system) / jobs,
      childCpuUs: (childMs * 1000) / jobs,
    };
  } finally {
    await worker.close();
    await seq.close();
    await bus.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU time of a process so far, in ms (Linux /proc; 0 elsewhere). */
function cpuMsOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}

/** The sandbox against today's in-process run, on the demo model: per run, and per job through an executor. */
export async function benchSandbox(): Promise<Row[]> {
  const model = await loadModelFile(DEMO_MODEL_PATH);
  const pool = new SandboxPool({ size: 1 });
  const inputs = demoInput(1);
  const inProcess = () => runModel(model, inputs);
  const sandboxed = () => pool.run(model, inputs);
  const rows: Row[] = [];
  try {
    if ((await sandboxed()).outputDigest !== (await inProcess()).outputDigest)
      throw new Error('the sandbox and the in-process run disagree');
    // Long enough for the child's JIT to settle.
    for (const f of [inProcess, sandboxed]) await timeIt(5_000, f);
    const t = { here: [] as number[], there: [] as number[] };
    for (let r = 0; r < ROUNDS; r++) {
      t.here.push(await timeIt(500, inProcess));
      t.there.push(await timeIt(500, sandboxed));
    }
    const here = median(t.here);
    const there = median(t.there);
    rows.push({
      name: 'sandbox demo model: one run at a time, added',
      value: (there - here) * 1000,
      unit: 'µs/run',
      note: `latency: ${(here * 1000).toFixed(1)} µs in-process, ${(there * 1000).toFixed(1)} µs through a child (one IPC round trip, V8 serialization)`,
    });
  } finally {
    await pool.close();
    await model.close();
  }
  // One pool for every sandboxed measurement, warmed like a running executor's (the children's JIT settles
  // over a few thousand runs); the in-process side warms in this process the same way.
  const shared = new SandboxPool();
  try {
    const warmModel = await loadModelFile(DEMO_MODEL_PATH);
    let n = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (n < 10_000) {
          const i = n++;
          await shared.run(warmModel, demoInput(i));
          await runModel(warmModel, demoInput(i));
        }
      }),
    );
    await warmModel.close();
    const jobs = 4_000;
    for (const capacity of [DEFAULT_EXECUTOR_CONFIG.capacity, 16]) {
      const here: Awaited<ReturnType<typeof executorThroughput>>[] = [];
      const there: typeof here = [];
      for (let r = 0; r < 3; r++) {
        here.push(await executorThroughput(null, capacity, jobs));
        there.push(await executorThroughput(shared, capacity, jobs));
      }
      const mid = (xs: typeof here) => [...xs].sort((x, y) => x.jobsPerSec - y.jobsPerSec)[1];
      const a = mid(here);
      const b = mid(there);
      const perJob = 1e6 / b.jobsPerSec - 1e6 / a.jobsPerSec;
      rows.push({
        name: `sandbox demo model: per job through an executor, capacity ${capacity}`,
        value: (perJob / (1e6 / a.jobsPerSec)) * 100,
        unit: '%',
        note: `submitted → executed, ${jobs} jobs after 2,000 warm-up, median of 3: ${a.jobsPerSec.toFixed(0)} jobs/s in-process, ${b.jobsPerSec.toFixed(0)} sandboxed (${perJob >= 0 ? '+' : ''}${perJob.toFixed(0)} µs/job); CPU/job ${a.nodeCpuUs.toFixed(0)} µs in-process vs ${b.nodeCpuUs.toFixed(0)} µs node + ${b.childCpuUs.toFixed(0)} µs children; goal < 10%`,
      });
    }
  } finally {
    await shared.close();
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const r of await benchExecutor()) {
    process.stdout.write(
      `${r.name.padEnd(58)} ${r.value.toFixed(2).padStart(10)} ${r.unit.padEnd(7)} ${r.note}\n`,
    );
  }
}
