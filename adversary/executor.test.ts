// The dishonest executor policies: which jobs they alter, how, what trace they serve, and that they remember.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../common/log.ts';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { ModelRegistry, type LoadedModel } from '../executor/model.ts';
import { HONEST_EXECUTOR, type ExecutedJob } from '../executor/policy.ts';
import { runModel } from '../executor/run.ts';
import { traceModel, type TraceResult } from '../executor/trace.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { tensorSetDigest, type Tensor } from '../state/tensor.ts';
import type { ExecutorId, JobId } from '../state/types.ts';
import { CheatingExecutor, executorPolicy, flipFrom, type CheatConfig } from './executor.ts';

let registry: ModelRegistry;
let model: LoadedModel;
let honest: TraceResult;
let outputs: TensorMap;

const inputs = {
  x: { dtype: 'int8' as const, dims: [1, 16], data: new Uint8Array(16).map((_, k) => k * 3) },
};
const job = (n: number): ExecutedJob => ({ jobId: n.toString(16).padStart(64, '0') as JobId, model, inputs });

before(async () => {
  registry = new ModelRegistry();
  model = await registry.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
  honest = await traceModel(model, inputs, { keepTensors: true });
  outputs = (await runModel(model, inputs)).outputs;
});
after(() => registry.close());

async function opened(cheat: CheatConfig, dataDir = mkdtempSync(join(tmpdir(), 'optinfer-adv-'))) {
  const p = new CheatingExecutor(cheat);
  await p.open({ id: 'evil' as ExecutorId, dataDir, registry, log: silentLogger });
  return Object.assign(p, { dataDir });
}

const flippedAt = (a: Tensor[], b: Tensor[]) =>
  a.map((t, i) => i).filter((i) => Buffer.compare(Buffer.from(a[i].data), Buffer.from(b[i].data)) !== 0);

test("--cheat none is the honest policy; 'silent' alone does not play disputes", () => {
  assert.equal(executorPolicy({ mode: 'none', rate: 1 }), HONEST_EXECUTOR);
  assert.equal(executorPolicy({ mode: 'silent', rate: 0 }).playsDisputes, false);
  assert.equal(executorPolicy({ mode: 'wrong-layer', rate: 1 }).playsDisputes, true);
});

test('with rate r, every round(1/r)-th job is altered; rate 0 alters none', async () => {
  const half = await opened({ mode: 'wrong-output', rate: 0.5 });
  const never = await opened({ mode: 'wrong-output', rate: 0 });
  try {
    const altered: boolean[] = [];
    for (let n = 1; n <= 6; n++) {
      const sent = await half.answer(job(n), outputs, false);
      altered.push(tensorSetDigest(sent) !== tensorSetDigest(outputs));
      assert.equal(await never.answer(job(n), outputs, false), outputs);
    }
    assert.deepEqual(altered, [false, true, false, true, false, true]);
    assert.deepEqual([...(await half.alteredJobs()).keys()], [job(2).jobId, job(4).jobId, job(6).jobId]);
    assert.equal((await never.alteredJobs()).size, 0);
  } finally {
    await half.close();
    await never.close();
  }
});

test('wrong-output flips one bit of the first output and defends the honest trace; other jobs get null', async () => {
  const p = await opened({ mode: 'wrong-output', rate: 1 });
  try {
    const sent = await p.answer(job(1), outputs, false);
    const [name] = Object.keys(outputs).sort();
    assert.deepEqual(flippedAt([sent[name]], [outputs[name]]), [0]);
    assert.equal(sent[name].data[0], outputs[name].data[0] ^ 1);
    const served = await p.serve(job(1), 'chain');
    assert.equal(served!.ran, model);
    assert.deepEqual(flippedAt(served!.tensors, honest.tensors!), []);
    assert.equal(await p.serve(job(99), 'chain'), null);
  } finally {
    await p.close();
  }
});

test('wrong-layer serves a trace wrong from the configured layer on, clamped to the last layer', async () => {
  const last = honest.layerCount - 1;
  const all = Array.from({ length: honest.layerCount }, (_, i) => i);
  for (const [layer, from] of [
    [1, 1],
    [1 << 20, last],
  ]) {
    const p = await opened({ mode: 'wrong-layer', rate: 1, layer });
    try {
      await p.answer(job(1), outputs, false);
      for (const audience of ['chain', 'peer'] as const) {
        const served = await p.serve(job(1), audience);
        assert.deepEqual(flippedAt(served!.tensors, honest.tensors!), all.slice(from), `layer ${layer}`);
      }
    } finally {
      await p.close();
    }
  }
});

test('equivocate: wrong from the layer on chain, wrong only at the output for peers', async () => {
  const p = await opened({ mode: 'equivocate', rate: 1, layer: 2 });
  try {
    await p.answer(job(1), outputs, false);
    const all = Array.from({ length: honest.layerCount }, (_, i) => i);
    const chain = await p.serve(job(1), 'chain');
    const peer = await p.serve(job(1), 'peer');
    assert.deepEqual(flippedAt(chain!.tensors, honest.tensors!), all.slice(2));
    assert.deepEqual(flippedAt(peer!.tensors, honest.tensors!), [honest.layerCount - 1]);
  } finally {
    await p.close();
  }
});

test("other-model answers and defends another model's run under the requested model", async () => {
  const p = await opened({ mode: 'other-model', rate: 1 });
  try {
    const sent = await p.answer(job(1), outputs, false);
    const served = await p.serve(job(1), 'chain');
    assert.notEqual(served!.ran.modelId, model.modelId);
    assert.deepEqual(sent, (await runModel(served!.ran, inputs)).outputs);
    assert.equal(tensorSetDigest(sent), tensorSetDigest(served!.trace.outputs));
  } finally {
    await p.close();
  }
});

test('after a restart it answers a redelivery and serves traces as it altered them; a fresh re-run forgets', async () => {
  const first = await opened({ mode: 'wrong-layer', rate: 1, layer: 1 });
  const sent = await first.answer(job(1), outputs, false);
  await first.close();
  const again = await opened({ mode: 'wrong-layer', rate: 1, layer: 1 }, first.dataDir);
  try {
    assert.deepEqual(await again.answer(job(1), outputs, true), sent);
    assert.ok(await again.serve(job(1), 'chain'));
    // An unaltered job redelivered stays honest.
    assert.equal(await again.answer(job(2), outputs, true), outputs);
  } finally {
    await again.close();
  }
  const lazy = await opened({ mode: 'wrong-layer', rate: 0.5, layer: 1 }, first.dataDir);
  try {
    // Job 1 again as a fresh assignment (its result was never stored): this time the counter spares it.
    assert.equal(await lazy.answer(job(1), outputs, false), outputs);
    assert.equal(await lazy.serve(job(1), 'chain'), null);
  } finally {
    await lazy.close();
  }
});

test('flipFrom flips the first byte of every tensor from k on and leaves empty tensors and the input alone', () => {
  const t = (b: number[]): Tensor => ({ dtype: 'uint8', dims: [b.length], data: Uint8Array.from(b) });
  const src = [t([4, 4]), t([]), t([8]), t([])];
  const out = flipFrom(src, 1);
  assert.deepEqual(
    out.map((x) => [...x.data]),
    [[4, 4], [], [9], []],
  );
  assert.equal(src[2].data[0], 8);
});
