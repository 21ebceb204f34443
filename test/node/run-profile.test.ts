// Executors on non-canonical configurations (--executor-profile) against a canonical challenger on the real program: honest ones are never disputed, a cheater still loses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublicKey } from '@solana/web3.js';
import { startDev, type DevNode } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import type { CheatConfig } from '../../adversary/index.ts';
import { buildModel, node as op, prng, tensorOf } from '../../executor/onnx/builder.ts';
import { parseRunConfig } from '../../executor/run-config.ts';
import { traceModel } from '../../executor/trace.ts';
import type { DisputesView } from '../../client/index.ts';
import type { JobId, ModelId } from '../../state/types.ts';
import { waitFor } from '../helpers/node-process.ts';

function dev(spec: string, cheat: CheatConfig, executors: number): Promise<DevNode> {
  return startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'optinfer-profile-')),
    executors,
    sampleRate: 1,
    batchMaxJobs: 4,
    batchMaxAgeMs: 200,
    challengeWindowMs: 15_000,
    cheat,
    logger: silentLogger,
    chain: 'litesvm',
    executorRun: parseRunConfig(spec),
  });
}

/** An int8 layer the wasm backend runs bit-exactly (no float-to-integer conversion): MatMulInteger, bias, Relu, scale. */
function wasmSafeModel(): Uint8Array {
  const r = prng(5);
  return buildModel({
    name: 'mm-relu',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'int8', dims: [1, 16] }],
    outputs: [{ name: 'y', dtype: 'int32', dims: [1, 8] }],
    nodes: [
      op('MatMulInteger', ['x', 'w'], ['mm']),
      op('Add', ['mm', 'b'], ['a']),
      op('Relu', ['a'], ['h']),
      op('Mul', ['h', 'k'], ['y']),
    ],
    initializers: {
      w: tensorOf(
        'int8',
        [16, 8],
        Array.from({ length: 128 }, () => (r() % 256) - 128),
      ),
      b: tensorOf(
        'int32',
        [8],
        Array.from({ length: 8 }, (_, i) => i * 100 - 400),
      ),
      k: tensorOf('int32', [], [3]),
    },
  });
}

async function upload(n: DevNode, bytes: Uint8Array): Promise<ModelId> {
  const res = await fetch(`${n.url}/v1/models?name=mm-relu`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(bytes),
  });
  const m = (await res.json()) as { modelId: ModelId; provable: boolean };
  assert.equal(res.status, 201, JSON.stringify(m));
  assert.equal(m.provable, true);
  return m.modelId;
}

async function submit(n: DevNode, modelId: ModelId, count: number): Promise<JobId[]> {
  const ids: JobId[] = [];
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(Int8Array.from({ length: 16 }, (_, k) => ((k * 5 + i * 3) % 90) - 45).buffer);
    ids.push(
      (await n.sequencer.submit({ modelId, inputs: { x: { dtype: 'int8', dims: [1, 16], data } } })).jobId,
    );
  }
  return ids;
}

const disputes = async (n: DevNode) =>
  ((await (await fetch(`${n.url}/v1/disputes`)).json()) as DisputesView).disputes;
const slashed = async (n: DevNode, id: string) => (await n.chain!.fetchOperator(new PublicKey(id)))!.slashed;

test(
  'an honest executor on threads=2,opt=all is never disputed by a canonical challenger: every audited job finalizes',
  { timeout: 180_000 },
  async () => {
    const n = await dev('threads=2,opt=all', { mode: 'none', rate: 0 }, 1);
    try {
      const ids = await submit(n, n.demoModel.modelId, 4);
      await waitFor(
        'every job finalized',
        async () =>
          (await Promise.all(ids.map((id) => n.sequencer.getJob(id, { outputs: false })))).every(
            (j) => j?.status === 'finalized',
          ),
        120_000,
      );
      assert.deepEqual(
        await n.challenger.findings.all(),
        [],
        'the challenger audited every job and found nothing',
      );
      assert.deepEqual(await disputes(n), []);
      assert.equal(await slashed(n, n.executors[0].id), 0n);
    } finally {
      await n.close();
    }
  },
);

test(
  'on the wasm backend: the honest executor is never disputed, and a cheater (wrong layer 1) loses its games and is slashed',
  { timeout: 240_000 },
  async () => {
    const n = await dev('backend=wasm,opt=all', { mode: 'wrong-layer', rate: 1, layer: 1 }, 2);
    try {
      const cheater = n.executors[0].id;
      const honest = n.executors[1].id;
      const modelId = await upload(n, wasmSafeModel());
      // The executors really run on wasm, and their trace is the canonical one, root for root.
      const w = n.executors[1];
      assert.deepEqual(w.runner.config?.run, { backend: 'wasm', threads: 1, opt: 'all' });
      const model = await w.model(modelId);
      const x = {
        x: tensorOf(
          'int8',
          [1, 16],
          Array.from({ length: 16 }, (_, k) => k * 7 - 50),
        ),
      };
      const theirs = await w.runner.trace(model, x);
      assert.equal(theirs.run.backend, 'wasm');
      const ours = await traceModel(model, x);
      assert.deepEqual(ours.run, { backend: 'cpu', threads: 1, opt: 'disabled' });
      assert.equal(theirs.traceRoot, ours.traceRoot);
      assert.equal(theirs.profileHash, ours.profileHash);
      const ids = await submit(n, modelId, 8);
      const jobs = await waitFor(
        'all jobs batched',
        async () => {
          const js = await Promise.all(ids.map((id) => n.sequencer.getJob(id, { outputs: false })));
          return (
            js.every(
              (j) => j?.status === 'batched' || j?.status === 'finalized' || j?.status === 'invalid',
            ) && js
          );
        },
        60_000,
      );
      const byHonest = jobs.filter((j) => j!.executor === honest).map((j) => j!.jobId);
      const byCheater = jobs.filter((j) => j!.executor === cheater).map((j) => j!.jobId);
      assert.ok(byHonest.length > 0 && byCheater.length > 0, 'both executors got work');
      const lost = await waitFor(
        'a resolved game the cheater lost',
        async () => {
          const ds = (await disputes(n)).filter((d) => d.winner !== null);
          return ds.length > 0 && ds;
        },
        150_000,
      );
      for (const d of lost) {
        assert.equal(d.executor, cheater, 'only the cheater is disputed');
        assert.equal(d.winner, 'challenger');
      }
      await waitFor(
        "the honest executor's jobs finalized",
        async () =>
          (await Promise.all(byHonest.map((id) => n.sequencer.getJob(id, { outputs: false })))).every(
            (j) => j?.status === 'finalized',
          ),
        120_000,
      );
      assert.ok(
        !(await disputes(n)).some((d) => d.executor === honest),
        'no game against the honest executor',
      );
      const findings = await n.challenger.findings.all();
      assert.ok(findings.length > 0 && findings.every((f) => f.executor === cheater));
      assert.ok((await slashed(n, cheater)) > 0n, 'the program slashed the cheater');
      assert.equal(await slashed(n, honest), 0n);
    } finally {
      await n.close();
    }
  },
);
