// The trace server over the in-memory bus: trace and chunk replies for stored jobs, policies' traces, dispute views.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bus } from '../bus/bus.ts';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import { silentLogger } from '../common/log.ts';
import type { DisputeAccount } from '../settlement/index.ts';
import { fromHex, toHex } from '../state/hash.ts';
import { leafHash } from '../state/merkle.ts';
import { toStored } from '../state/tensor-map.ts';
import { chunks, tensorDigest, tensorSetDigest, type Tensor } from '../state/tensor.ts';
import { traceCommitment } from '../state/trace.ts';
import type { ExecutorId, Hash32, JobId } from '../state/types.ts';
import { ModelRegistry, type LoadedModel } from './model.ts';
import { HONEST_EXECUTOR, type Audience, type ExecutorPolicy } from './policy.ts';
import { ResultStore, type StoredResult } from './results.ts';
import { runModel } from './run.ts';
import { TraceServer } from './trace-server.ts';
import { traceModel, type TraceResult } from './trace.ts';

const DEMO = fileURLToPath(new URL('../models/demo-int8-mlp.onnx', import.meta.url));
const EXEC = 'exec-under-test' as ExecutorId;
const JOB = 'ab'.repeat(32) as JobId;
const inputs = {
  x: { dtype: 'int8' as const, dims: [1, 16], data: new Uint8Array(16).map((_, k) => k * 7) },
};

let registry: ModelRegistry;
let model: LoadedModel;
let honest: TraceResult;
let stored: StoredResult;

before(async () => {
  registry = new ModelRegistry();
  model = await registry.register(new Uint8Array(readFileSync(DEMO)));
  honest = await traceModel(model, inputs, { keepTensors: true });
  const { outputDigest } = await runModel(model, inputs);
  stored = { jobId: JOB, modelId: model.modelId, inputs: toStored(inputs), outputDigest, at: 1 };
});
after(() => registry.close());

/** A trace server on a fresh bus and result store holding the one stored job. */
async function serve(
  policy: ExecutorPolicy,
): Promise<{ bus: Bus; server: TraceServer; close(): Promise<void> }> {
  const bus = createMemoryBus();
  const results = await ResultStore.open(mkdtempSync(join(tmpdir(), 'optinfer-traces-')));
  await results.put(stored, tensorSetDigest(inputs));
  const server = new TraceServer(results, () => Promise.resolve(model), policy, silentLogger);
  const subs = await server.listen(bus, EXEC);
  return {
    bus,
    server,
    close: async () => {
      for (const s of subs) await s.unsubscribe();
      await bus.close();
      await results.close();
    },
  };
}

const leaves = (t: Tensor) => chunks(t.data).map((c) => toHex(leafHash(c)));

test("an honest executor answers a trace request with the model's own trace and its stored output", async () => {
  const s = await serve(HONEST_EXECUTOR);
  try {
    const r = await messages.request(s.bus, messages.TRACE, EXEC, { jobId: JOB });
    assert.equal(r.jobId, JOB);
    assert.equal(r.traceRoot, honest.traceRoot);
    assert.equal(r.layerCount, honest.layerCount);
    assert.equal(r.outputDigest, stored.outputDigest);
    assert.deepEqual(r.prefixes, honest.prefixes);
    assert.deepEqual(
      r.layers,
      honest.layers.map((l) => ({ index: l.index, name: l.name, op: l.op, digest: l.digest })),
    );
    const last = honest.layerCount - 1;
    const c = await messages.request(s.bus, messages.CHUNKS, EXEC, { jobId: JOB, layer: last });
    assert.deepEqual(c, { jobId: JOB, layer: last, chunkHashes: leaves(honest.tensors![last]) });
  } finally {
    await s.close();
  }
});

test('requests for a job it never ran, or a layer out of range, fail with the reason', async () => {
  const s = await serve(HONEST_EXECUTOR);
  try {
    await assert.rejects(
      messages.request(s.bus, messages.TRACE, EXEC, { jobId: 'cd'.repeat(32) }),
      /this executor has no result for it/,
    );
    await assert.rejects(messages.request(s.bus, messages.TRACE, EXEC, { jobId: 'not-a-hash' }), /jobId/);
    await assert.rejects(
      messages.request(s.bus, messages.CHUNKS, EXEC, { jobId: JOB, layer: honest.layerCount }),
      new RegExp(`layer: expected 0\\.\\.${honest.layerCount - 1}, got ${honest.layerCount}`),
    );
  } finally {
    await s.close();
  }
});

test("a policy's served trace is what peers get, and the chain audience is asked for dispute views", async () => {
  const asked: Audience[] = [];
  // Flips the first layer's first byte for peers only: what is served depends on who asks.
  const twoFaced: ExecutorPolicy = {
    ...HONEST_EXECUTOR,
    serve: async (job, audience) => {
      asked.push(audience);
      assert.equal(job.jobId, JOB);
      const trace = await traceModel(job.model, job.inputs, { keepTensors: true });
      if (audience === 'chain') return { ran: job.model, trace, tensors: trace.tensors! };
      const first = trace.tensors![0];
      const data = new Uint8Array(first.data);
      data[0] ^= 1;
      return { ran: job.model, trace, tensors: [{ ...first, data }, ...trace.tensors!.slice(1)] };
    },
  };
  const s = await serve(twoFaced);
  try {
    const r = await messages.request(s.bus, messages.TRACE, EXEC, { jobId: JOB });
    const flipped = new Uint8Array(honest.tensors![0].data);
    flipped[0] ^= 1;
    const firstServed = { ...honest.tensors![0], data: flipped };
    const want = traceCommitment({
      modelId: model.modelId,
      inputDigest: honest.inputDigest,
      profileHash: model.profileHash,
      layerDigests: [tensorDigest(firstServed), ...honest.layers.slice(1).map((l) => l.digest)],
    });
    assert.equal(r.traceRoot, want.root);
    assert.notEqual(r.traceRoot, honest.traceRoot);
    assert.equal(r.layers[0].digest, tensorDigest(firstServed));
    const c = await messages.request(s.bus, messages.CHUNKS, EXEC, { jobId: JOB, layer: 0 });
    assert.deepEqual(c.chunkHashes, leaves(firstServed));

    const views = await s.server.disputeViews(disputeOn(stored.outputDigest));
    assert.ok(views, 'the stored job is found by its digests');
    assert.equal(views.trace.layerCount, honest.layerCount);
    assert.equal(toHex(views.trace.digest(0)), honest.layers[0].digest);
    assert.deepEqual(asked, ['peer', 'peer', 'chain']);
  } finally {
    await s.close();
  }
});

test('dispute views: the stored job by its digests, null for an output this executor never claimed', async () => {
  const s = await serve(HONEST_EXECUTOR);
  try {
    const views = await s.server.disputeViews(disputeOn(stored.outputDigest));
    assert.ok(views);
    for (let i = 0; i < honest.layerCount; i++)
      assert.equal(toHex(views.trace.digest(i)), honest.layers[i].digest);
    assert.equal(views.model.inputs[0].name, 'x');
    assert.equal(await s.server.disputeViews(disputeOn('ee'.repeat(32) as Hash32)), null);
  } finally {
    await s.close();
  }
});

/** The fields of a dispute account the trace server reads. */
function disputeOn(outputDigest: Hash32): DisputeAccount {
  return {
    modelId: fromHex(model.modelId, 32),
    inputDigest: fromHex(tensorSetDigest(inputs), 32),
    outputDigest: fromHex(outputDigest, 32),
  } as unknown as DisputeAccount;
}
