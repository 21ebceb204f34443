// The all-in-one node through its HTTP API: jobs to finalized with verified proofs, and every bad input refused clearly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, DEMO_MODEL_PATH, type DevNode } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { verifyInclusion, decodeJobRecord, type InclusionProof } from '../../state/job.ts';
import { fromHex } from '../../state/hash.ts';
import { waitFor } from '../helpers/node-process.ts';

let node: DevNode;
let base: string;
let modelId: string;

function x(values: number[]) {
  return { x: { dtype: 'int8', dims: [1, 16], data: values } };
}

async function post(
  path: string,
  body: unknown,
  contentType = 'application/json',
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: contentType === 'application/json' ? JSON.stringify(body) : Buffer.from(body as Uint8Array),
  });
  return { status: res.status, json: await res.json() };
}

before(async () => {
  node = await startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'optinfer-api-')),
    executors: 2,
    sampleRate: 1,
    batchMaxJobs: 4,
    batchMaxAgeMs: 100,
    challengeWindowMs: 300,
    cheat: { mode: 'none', rate: 0 },
    logger: silentLogger,
  });
  base = node.url;
  modelId = node.demoModel.modelId;
});

after(async () => {
  await node.close();
});

test('GET /v1/models lists the demo model with its signature and provable flag', async () => {
  const models = (await (await fetch(`${base}/v1/models`)).json()) as any[];
  assert.equal(models.length, 1);
  assert.equal(models[0].modelId, modelId);
  assert.deepEqual(models[0].inputs, [{ name: 'x', dtype: 'int8', dims: [1, 16] }]);
  assert.equal(models[0].provable, true);
});

test('jobs go queued → finalized; results match a direct run; proofs verify against the batch root', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 9; i++) {
    const r = await post('/v1/jobs', {
      modelId,
      inputs: x(Array.from({ length: 16 }, (_, k) => ((k * 5 + i) % 100) - 50)),
    });
    assert.equal(r.status, 202);
    assert.match(r.json.jobId, /^[0-9a-f]{64}$/);
    ids.push(r.json.jobId);
  }
  const direct = await import('../../executor/run.ts');
  const m = await import('../../executor/model.ts').then((mod) =>
    mod.loadModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH))),
  );
  for (const [i, id] of ids.entries()) {
    const job = await waitFor(`job ${id} finalized`, async () => {
      const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as any;
      return j.status === 'finalized' && j;
    });
    const proof = job.proof as InclusionProof;
    assert.ok(verifyInclusion(proof));
    assert.equal(proof.batchRoot, job.batch.root);
    const rec = decodeJobRecord(fromHex(proof.record));
    assert.equal(rec.jobId, id);
    assert.equal(rec.outputDigest, job.outputDigest);
    const values = Array.from({ length: 16 }, (_, k) => ((k * 5 + i) % 100) - 50);
    const want = await direct.runModel(m, {
      x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(Int8Array.from(values).buffer) },
    });
    assert.equal(job.outputDigest, want.outputDigest);
    assert.deepEqual(job.outputs.y.data, Array.from(new Int32Array(want.outputs.y.data.slice().buffer)));
  }
  await m.close();
  const batch = (await (await fetch(`${base}/v1/batches/0`)).json()) as any;
  assert.equal(batch.status, 'finalized');
  assert.ok(batch.jobCount >= 1 && batch.jobCount <= 4);
  // The honest executors were audited (sample rate 1) and nothing was found.
  assert.ok(node.challenger.stats.audited > 0);
  assert.equal(node.challenger.stats.mismatches, 0);
});

test('error: wrong dims, dtype, unknown or missing input name → 400 naming what was wrong', async () => {
  const cases: [unknown, RegExp][] = [
    [
      { x: { dtype: 'int8', dims: [1, 15], data: new Array(15).fill(0) } },
      /input 'x'.*\[1,15\].*\[1,16\]|input 'x'.*dims/,
    ],
    [
      { x: { dtype: 'float32', dims: [1, 16], data: new Array(16).fill(0) } },
      /input 'x'.*float32.*int8|input 'x'.*int8/,
    ],
    [
      {
        x: { dtype: 'int8', dims: [1, 16], data: new Array(16).fill(0) },
        z: { dtype: 'int8', dims: [1], data: [1] },
      },
      /input 'z'.*unknown/,
    ],
    [{}, /input 'x'.*missing/],
    [{ x: { dtype: 'int8', dims: [1, 16], data: new Array(15).fill(0) } }, /input 'x'.*expected 16 elements/],
    [{ x: { dtype: 'int8', dims: [1, 16], data: new Array(16).fill(300) } }, /input 'x'/],
  ];
  for (const [inputs, re] of cases) {
    const r = await post('/v1/jobs', { modelId, inputs });
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'INVALID_INPUT');
    assert.match(r.json.error.message, re);
  }
});

test('error: unknown model → 404; malformed model id → 400', async () => {
  const r = await post('/v1/jobs', { modelId: 'ab'.repeat(32), inputs: x(new Array(16).fill(0)) });
  assert.equal(r.status, 404);
  assert.match(r.json.error.message, /not registered/);
  const bad = await post('/v1/jobs', { modelId: 'nope', inputs: x(new Array(16).fill(0)) });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /modelId: expected 64 lowercase hex/);
});

test('error: non-ONNX and truncated model uploads → 400 INVALID_MODEL', async () => {
  const junk = await post(
    '/v1/models',
    new TextEncoder().encode('this is not a model'),
    'application/octet-stream',
  );
  assert.equal(junk.status, 400);
  assert.equal(junk.json.error.code, 'INVALID_MODEL');
  const bytes = new Uint8Array(readFileSync(DEMO_MODEL_PATH));
  const truncated = await post(
    '/v1/models',
    bytes.subarray(0, Math.floor(bytes.length / 2)),
    'application/octet-stream',
  );
  assert.equal(truncated.status, 400);
  assert.equal(truncated.json.error.code, 'INVALID_MODEL');
  // A refused upload did not register anything.
  assert.equal(((await (await fetch(`${base}/v1/models`)).json()) as unknown[]).length, 1);
});

test('error: an oversized job payload → 413 PAYLOAD_TOO_LARGE; bad JSON → 400', async () => {
  const huge =
    '{"modelId":"' +
    'a'.repeat(64) +
    '","inputs":{"x":{"dtype":"int8","dims":[1,16],"data":[' +
    '0,'.repeat(9_000_000) +
    '0]}}}';
  const res = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: huge,
  });
  assert.equal(res.status, 413);
  assert.equal(((await res.json()) as any).error.code, 'PAYLOAD_TOO_LARGE');
  const bad = await fetch(`${base}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"modelId":',
  });
  assert.equal(bad.status, 400);
  assert.ok(((await bad.json()) as any).error.message.length > 0);
});

test('error: unknown job and batch → 404 with a JSON error', async () => {
  const j = await fetch(`${base}/v1/jobs/${'cd'.repeat(32)}`);
  assert.equal(j.status, 404);
  assert.equal(((await j.json()) as any).error.code, 'NOT_FOUND');
  const b = await fetch(`${base}/v1/batches/99999`);
  assert.equal(b.status, 404);
  const neg = await fetch(`${base}/v1/batches/-1`);
  assert.equal(neg.status, 400);
});

test('the shipped demo model is the integer-only fixture built by scripts/build-models.ts', () => {
  const fixture = readFileSync(new URL('../fixtures/models/int8_mlp.onnx', import.meta.url));
  assert.ok(
    Buffer.compare(readFileSync(DEMO_MODEL_PATH), fixture) === 0,
    'copy test/fixtures/models/int8_mlp.onnx to models/demo-int8-mlp.onnx',
  );
});
