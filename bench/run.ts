// `npm run bench`: every figure measured side by side in one run, printed as a table.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { MerkleTree as RefTree } from 'merkletreejs';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Keypair } from '@solana/web3.js';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import { silentLogger } from '../common/log.ts';
import { createProgress } from '../common/progress.ts';
import { ModelRegistry } from '../executor/model.ts';
import { runModel } from '../executor/run.ts';
import { ExecutorWorker, DEFAULT_EXECUTOR_CONFIG } from '../executor/worker.ts';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { Sequencer, DEFAULT_SEQUENCER_CONFIG } from '../sequencer/sequencer.ts';
import { OrtInspector } from '../executor/sequencer-adapters.ts';
import { LocalSettlement } from '../sequencer/ports.ts';
import { buildHttp } from '../sequencer/http.ts';
import { MerkleTree } from '../state/merkle.ts';
import { jobLeaf, type JobRecord } from '../state/job.ts';
import { hashHex, sha256 } from '../state/hash.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import type { Tensor } from '../state/tensor.ts';
import { benchExecutor, type Row } from './executor.ts';
import { clusterRows } from './cluster.ts';
import { onchainRows, printOnchain } from './onchain.ts';
import { ezklRows } from './ezkl.ts';
import { benchVerify } from './verify.ts';
import { attackRows, printAttack } from './attack-surface.ts';

const AUTOCANNON = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));
const rows: Row[] = [];
/** The in-process pipeline's jobs/s, measured by the e2e phase; the cluster phase compares against it. */
let inProcessJobsPerSec: number | undefined;
const only = process.argv[2];
/** The run's phases, counted as they end: a bar on a terminal, lines otherwise; the figures go to stdout. */
const phases = createProgress({ prefix: 'bench: ' }).start('phases', only ? 1 : 9);
const say = (m: string) => phases.log(`… ${m}`);
let current = '';
/** Starts phase `name` (the one before it has ended). */
function phase(name: string): void {
  if (current) phases.tick(1, current);
  current = name;
  say(name);
}

function demoInput(i: number): Record<string, Tensor> {
  const data = new Uint8Array(16);
  for (let k = 0; k < 16; k++) data[k] = (i * 31 + k * 7) & 0xff;
  return { x: { dtype: 'int8', dims: [1, 16], data } };
}

async function waitUntil(fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('bench step timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Sequencer alone: LevelDB persistence, ordering, assignment and batching, with an instant executor stub.
 * `durable`: every LevelDB write fsync'ed (`--durable`); `http`: also the POST /v1/jobs figure.
 */
async function benchSequencer(jobs: number, opts: { durable: boolean; http: boolean }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-bench-'));
  const bus = createMemoryBus();
  const registry = new ModelRegistry();
  const seq = await Sequencer.start({
    config: {
      ...DEFAULT_SEQUENCER_CONFIG,
      dataDir: dir,
      batchMaxJobs: 4096,
      batchMaxAgeMs: 50,
      durable: opts.durable,
    },
    bus,
    inspector: new OrtInspector(registry),
    settlement: new LocalSettlement(60_000),
    logger: silentLogger,
  });
  const model = await seq.registerModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), 'demo');
  // The stub answers with the real output of one run, so the sequencer does all of its own work
  // (digest check, persistence, batching) while the model's run time is left out on purpose.
  const loaded = registry.get(model.modelId)!;
  const { outputs, outputDigest } = await runModel(loaded, demoInput(0));
  const stubId = Keypair.generate().publicKey.toBase58() as ExecutorId;
  await messages.consume(
    bus,
    messages.ASSIGN,
    { of: stubId },
    'stub',
    async (m) => {
      await messages.send(bus, messages.RESULT, stubId, {
        jobId: m.jobId,
        executor: stubId,
        outputs,
        outputDigest,
      });
    },
    { maxInFlight: 256 },
  );
  const beat = () =>
    messages.publish(bus, messages.HEARTBEAT, stubId, { executorId: stubId, capacity: 1024 });
  beat();
  const beating = setInterval(beat, 1_000);
  await new Promise((r) => setTimeout(r, 20));

  const inputs = Array.from({ length: jobs }, (_, i) => demoInput(i));
  const t0 = performance.now();
  const ids: JobId[] = [];
  const CONCURRENCY = 512;
  for (let i = 0; i < jobs; i += CONCURRENCY) {
    const slice = inputs.slice(i, i + CONCURRENCY);
    ids.push(
      ...(await Promise.all(slice.map((x) => seq.submit({ modelId: model.modelId, inputs: x })))).map(
        (r) => r.jobId,
      ),
    );
  }
  const tAccepted = performance.now();
  await waitUntil(async () => {
    const s = seq.stats();
    return s.queued === 0 && s.inflight === 0 && s.executed === 0;
  }, 300_000);
  const tBatched = performance.now();
  const last = await seq.getJob(ids[ids.length - 1], { outputs: false, proof: false });
  if (last?.status !== 'batched') throw new Error(`last job is ${last?.status}, expected batched`);
  const mode = opts.durable ? ' (--durable: fsync)' : '';
  rows.push({
    name: `sequencer: jobs accepted (persisted, 202-equivalent)${mode}`,
    value: jobs / ((tAccepted - t0) / 1000),
    unit: 'jobs/s',
    note: `${jobs} jobs in-process, LevelDB group commit${opts.durable ? ", each group fsync'ed" : ''}`,
  });
  rows.push({
    name: `sequencer: jobs accepted → executed → batched${mode}`,
    value: jobs / ((tBatched - t0) / 1000),
    unit: 'jobs/s',
    note: `instant executor stub; ${seq.stats().nextBatch} batches${opts.durable ? '' : ' (goal ≥ 10,000/s)'}`,
  });
  // One client, one job at a time: no group to share a write (or an fsync) with.
  const one = 500;
  const t1 = performance.now();
  for (let i = 0; i < one; i++) await seq.submit({ modelId: model.modelId, inputs: inputs[i] });
  rows.push({
    name: `sequencer: jobs accepted one at a time${mode}`,
    value: one / ((performance.now() - t1) / 1000),
    unit: 'jobs/s',
    note: `${one} jobs, each awaited before the next (a write${opts.durable ? ' and an fsync' : ''} per job)`,
  });
  if (!opts.http) {
    clearInterval(beating);
    await seq.close();
    await bus.close();
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
    return;
  }

  // Over HTTP: the same sequencer behind fastify, loaded by autocannon in a separate process.
  const app = buildHttp({ sequencer: seq });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const httpJobs = 20_000;
  const body = JSON.stringify({
    modelId: model.modelId,
    inputs: {
      x: { dtype: 'int8', dims: [1, 16], data: Array.from(new Int8Array(demoInput(1).x.data.buffer)) },
    },
  });
  // Asynchronous spawn: the server under test runs on this process's event loop.
  const child = spawn(
    process.execPath,
    [
      AUTOCANNON,
      '-j',
      '-c',
      '64',
      '-a',
      String(httpJobs),
      '-m',
      'POST',
      '-H',
      'content-type=application/json',
      '-b',
      body,
      `${url}/v1/jobs`,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.on('exit', r));
  const report = JSON.parse(out) as {
    requests: { average: number };
    duration: number;
    non2xx: number;
    latency: { p50: number; p99: number };
  };
  if (report.non2xx > 0) throw new Error(`${report.non2xx} HTTP requests were refused`);
  rows.push({
    name: 'sequencer: POST /v1/jobs → 202 over HTTP',
    value: httpJobs / report.duration,
    unit: 'jobs/s',
    note: `autocannon, 64 connections, separate process; p50 ${report.latency.p50} ms, p99 ${report.latency.p99} ms`,
  });
  await waitUntil(
    () => seq.stats().executed === 0 && seq.stats().queued === 0 && seq.stats().inflight === 0,
    300_000,
  );
  await app.close();
  clearInterval(beating);
  await seq.close();
  await bus.close();
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
}

/** End to end in one process with real executors running the demo model on onnxruntime. */
async function benchEndToEnd(jobs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-bench-e2e-'));
  const bus = createMemoryBus();
  const registry = new ModelRegistry();
  const seq = await Sequencer.start({
    config: { ...DEFAULT_SEQUENCER_CONFIG, dataDir: dir, batchMaxJobs: 1024, batchMaxAgeMs: 50 },
    bus,
    inspector: new OrtInspector(registry),
    settlement: new LocalSettlement(60_000),
  });
  const model = await seq.registerModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), 'demo');
  const workers = [];
  for (let i = 0; i < 2; i++) {
    workers.push(
      await ExecutorWorker.start({
        config: { ...DEFAULT_EXECUTOR_CONFIG, dataDir: join(dir, `ex${i}`), capacity: 64 },
        bus,
        registry,
      }),
    );
  }
  await waitUntil(() => seq.stats().executors === 2, 10_000);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: jobs }, (_, i) =>
      seq.submit({ modelId: model.modelId as ModelId, inputs: demoInput(i) }),
    ),
  );
  await waitUntil(() => {
    const s = seq.stats();
    return s.queued === 0 && s.inflight === 0 && s.executed === 0;
  }, 300_000);
  const t1 = performance.now();
  inProcessJobsPerSec = jobs / ((t1 - t0) / 1000);
  rows.push({
    name: 'end to end in one process: submitted → batched',
    value: inProcessJobsPerSec,
    unit: 'jobs/s',
    note: `${jobs} demo-model jobs, 2 executors on onnxruntime, results persisted by executors too`,
  });
  for (const w of workers) await w.close();
  await seq.close();
  await bus.close();
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
}

/** Batch root over 65,536 job records: this project's tree vs merkletreejs, same construction. */
function benchBatchRoot(): void {
  const n = 65_536;
  const executor = Keypair.generate().publicKey.toBase58() as ExecutorId;
  const h = (s: string): Hash32 => hashHex(sha256(Buffer.from(s)));
  const records: JobRecord[] = Array.from({ length: n }, (_, i) => ({
    jobId: h(`j${i}`) as JobId,
    modelId: h('m') as ModelId,
    inputDigest: h(`i${i}`),
    outputDigest: h(`o${i}`),
    executor,
    fee: 1000n,
    // The root's cost does not depend on whose signature it is.
    signature: 'ab'.repeat(64),
  }));
  const time = (fn: () => void, reps = 5): number => {
    const ts: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      fn();
      ts.push(performance.now() - t);
    }
    return ts.sort((a, b) => a - b)[Math.floor(reps / 2)];
  };
  let ours = '';
  let ref = '';
  const tOurs = time(() => {
    ours = Buffer.from(MerkleTree.fromLeafHashes(records.map(jobLeaf)).root).toString('hex');
  });
  const tRef = time(() => {
    const leaves = records.map((r) => Buffer.from(jobLeaf(r)));
    const t = new RefTree(
      leaves,
      (x: Buffer) =>
        createHash('sha256')
          .update(Buffer.concat([Buffer.of(1), x]))
          .digest(),
      {
        fillDefaultHash: () => Buffer.alloc(32),
      },
    );
    ref = t.getRoot().toString('hex');
  }, 3);
  if (ours !== ref) throw new Error('batch roots differ between implementations');
  rows.push({
    name: 'batch root, 65,536 jobs (state/merkle.ts)',
    value: tOurs,
    unit: 'ms',
    note: 'median of 5; goal < 200 ms; includes record encoding and leaf hashing',
  });
  rows.push({
    name: 'batch root, 65,536 jobs (merkletreejs, same tree)',
    value: tRef,
    unit: 'ms',
    note: `median of 3; ${(tRef / tOurs).toFixed(1)}x ours; roots identical`,
  });
}

function print(): void {
  const w = Math.max(...rows.map((r) => r.name.length));
  const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(2));
  process.stdout.write(
    `\noptinfer bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} CPUs\n\n`,
  );
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(w)}  ${fmt(r.value).padStart(10)} ${r.unit.padEnd(6)}  ${r.note}\n`,
    );
  process.stdout.write('\n');
}

if (!only || only === 'merkle') {
  phase('batch root');
  benchBatchRoot();
}
if (!only || only === 'sequencer' || only === 'durable') {
  phase('sequencer throughput, then with --durable (fsync)');
  const jobs = Number(process.env.BENCH_JOBS ?? 20_000);
  await benchSequencer(jobs, { durable: false, http: only !== 'durable' });
  await benchSequencer(jobs, { durable: true, http: false });
}
if (!only || only === 'e2e') {
  phase('end to end');
  await benchEndToEnd(2_000);
}
if (!only || only === 'verify') {
  phase('result signatures: Ed25519 verify per result');
  rows.push(...benchVerify());
}
if (!only || only === 'executor') {
  phase('executor: canonical profile and trace cost');
  rows.push(...(await benchExecutor()));
}
print();

// Tables of their own, each measured in this same run.
if (!only || only === 'cluster') {
  phase('the deployment as separate processes: e2e throughput, latency, verification cost by sampling rate');
  // The ratio needs the in-process figure from this same run.
  if (inProcessJobsPerSec === undefined) {
    say('end to end in one process (for the cluster ratio)');
    await benchEndToEnd(2_000);
  }
  const t = await clusterRows({ log: say });
  process.stdout.write(
    'End to end as separate processes (nats-server, local validator with 100 ms slots, sequencer, 2 honest executors with capacity 64, 1 challenger); latency is POST to a batched receipt, saturated and paced at half the saturated rate; overhead = challenger CPU / executors CPU:\n',
  );
  console.table(t);
  const cluster = t.map((r) => r.jobsPerSec).sort((a, b) => a - b);
  const median = cluster[Math.floor(cluster.length / 2)];
  const ratio = (v: number) => (v / inProcessJobsPerSec!).toFixed(2);
  process.stdout.write(
    `cluster / in-process jobs/s: ${ratio(median)} median, ${ratio(cluster[0])} min ` +
      `(separate processes ${median} median, ${cluster[0]} min over ${cluster.length} runs; ` +
      `in process ${Math.round(inProcessJobsPerSec!)}; goal ≥ 0.5)\n`,
  );
}
if (!only || only === 'onchain') {
  phase('on-chain cost per job and per dispute');
  printOnchain(await onchainRows({ log: say }));
}
if (!only || only === 'ezkl') {
  phase('EZKL: proving the same small models (several minutes)');
  const e = await ezklRows();
  if ('skipped' in e) process.stdout.write(`\nEZKL comparison skipped: ${e.skipped}\n`);
  else {
    process.stdout.write('\nEZKL proof vs onnxruntime run and optinfer trace, same models:\n');
    console.table(e);
  }
}
if (!only || only === 'attack-surface') {
  phase('attack surface of tolerant mode: honest divergence vs an adversary inside every bound');
  const quick = process.argv.includes('--quick');
  printAttack(await attackRows({ quick, log: say }), quick);
}
if (current) phases.tick(1, current);
phases.done();
