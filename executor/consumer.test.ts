// The assignment consumer over the in-memory bus: run, store, answer; a redelivery answers what was committed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bus } from '../bus/bus.ts';
import { createMemoryBus } from '../bus/memory.ts';
import * as messages from '../bus/messages.ts';
import type { AssignMessage, ResultMessage } from '../bus/messages.ts';
import { silentLogger } from '../common/log.ts';
import { noopMetrics } from '../common/metrics.ts';
import { OptinferError } from '../state/errors.ts';
import { fromStored } from '../state/tensor-map.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { ExecutorId, JobId, ModelId } from '../state/types.ts';
import { AssignmentConsumer } from './consumer.ts';
import { ModelRegistry, type LoadedModel } from './model.ts';
import type { ModelSource } from './model-source.ts';
import { HONEST_EXECUTOR, type ExecutorPolicy } from './policy.ts';
import { ResultStore } from './results.ts';
import { runModel } from './run.ts';

const DEMO = fileURLToPath(new URL('../models/demo-int8-mlp.onnx', import.meta.url));
const EXEC = 'exec-under-test' as ExecutorId;
const inputs = {
  x: { dtype: 'int8' as const, dims: [1, 16], data: new Uint8Array(16).map((_, k) => k * 5) },
};

let registry: ModelRegistry;
let model: LoadedModel;
let honestDigest: string;

before(async () => {
  registry = new ModelRegistry();
  model = await registry.register(new Uint8Array(readFileSync(DEMO)));
  honestDigest = (await runModel(model, inputs)).outputDigest;
});
after(() => registry.close());

const models: ModelSource = async (id) => {
  if (id === model.modelId) return model;
  throw new OptinferError('NOT_FOUND', `model ${id}: unknown here`);
};

function assignment(jobId: string, modelId: string): AssignMessage {
  return { jobId: jobId as JobId, modelId: modelId as ModelId, inputs, fee: '0' };
}

/** Runs one assignment through a consumer on a fresh bus and returns the result it sent. */
async function assignOnce(
  results: ResultStore,
  policy: ExecutorPolicy,
  msg: AssignMessage,
): Promise<ResultMessage> {
  const bus: Bus = createMemoryBus();
  try {
    const got = new Promise<ResultMessage>((resolve) => {
      void messages.consume(bus, messages.RESULT, 'all', 'test', async (m) => resolve(m));
    });
    const c = new AssignmentConsumer(EXEC, bus, results, models, policy, silentLogger, noopMetrics);
    const consumer = await c.start(1);
    await messages.send(bus, messages.ASSIGN, EXEC, msg);
    const r = await got;
    await consumer.stop();
    return r;
  } finally {
    await bus.close();
  }
}

test('an assigned job is run, stored with its digests, and answered with its outputs', async () => {
  const results = await ResultStore.open(mkdtempSync(join(tmpdir(), 'optinfer-consumer-')));
  try {
    const jobId = '01'.repeat(32) as JobId;
    const r = await assignOnce(results, HONEST_EXECUTOR, assignment(jobId, model.modelId));
    assert.equal(r.executor, EXEC);
    assert.equal(r.outputDigest, honestDigest);
    assert.equal(tensorSetDigest(r.outputs!), honestDigest);
    const stored = await results.get(jobId);
    assert.equal(stored?.outputDigest, honestDigest);
    assert.deepEqual(fromStored(stored!.inputs), inputs);
    const byDigests = await results.byDigests({
      modelId: model.modelId,
      inputDigest: tensorSetDigest(inputs),
      outputDigest: honestDigest,
    });
    assert.equal(byDigests?.jobId, jobId);
  } finally {
    await results.close();
  }
});

test("the policy's answer is what is stored and sent; a redelivery answers from the store without asking again", async () => {
  const results = await ResultStore.open(mkdtempSync(join(tmpdir(), 'optinfer-consumer-')));
  const calls: boolean[] = [];
  const flipping: ExecutorPolicy = {
    ...HONEST_EXECUTOR,
    answer: async (_job, outputs, again) => {
      calls.push(again);
      const [name] = Object.keys(outputs);
      const data = new Uint8Array(outputs[name].data);
      data[0] ^= 1;
      return { ...outputs, [name]: { ...outputs[name], data } };
    },
  };
  try {
    const msg = assignment('02'.repeat(32), model.modelId);
    const first = await assignOnce(results, flipping, msg);
    assert.notEqual(first.outputDigest, honestDigest);
    assert.equal(first.outputDigest, tensorSetDigest(first.outputs!));
    assert.equal((await results.get(msg.jobId))?.outputDigest, first.outputDigest);
    const again = await assignOnce(results, flipping, msg);
    assert.equal(again.outputDigest, first.outputDigest);
    assert.deepEqual(again.outputs, first.outputs);
    // Answered from the stored outputs: neither run nor altered a second time.
    assert.deepEqual(calls, [false]);
  } finally {
    await results.close();
  }
});

test('a job that cannot run is answered with its error and nothing is stored', async () => {
  const results = await ResultStore.open(mkdtempSync(join(tmpdir(), 'optinfer-consumer-')));
  try {
    const jobId = '03'.repeat(32) as JobId;
    const r = await assignOnce(results, HONEST_EXECUTOR, assignment(jobId, 'ff'.repeat(32)));
    assert.equal(r.outputs, undefined);
    assert.match(r.error!, /unknown here/);
    assert.equal(await results.get(jobId), undefined);
  } finally {
    await results.close();
  }
});
