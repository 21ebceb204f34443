// POST /v1/models marks a model provable exactly when the program registers it, and a provable model takes only jobs of its registered shapes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, type DevNode } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { ModelRegistry } from '../../executor/model.ts';
import { buildModel, node as op, prng, tensorOf, type ValueDecl } from '../../executor/onnx/builder.ts';
import { programModelSource } from '../../executor/sequencer-adapters.ts';
import { fromHex } from '../../state/hash.ts';
import { asModelId } from '../../state/types.ts';
import { LocalWorld } from '../../settlement/testkit.ts';

let dev: DevNode;

before(async () => {
  dev = await startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'optinfer-provable-')),
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 64,
    batchMaxAgeMs: 100,
    challengeWindowMs: 300,
    cheat: { mode: 'none', rate: 0 },
    logger: silentLogger,
    // The real program in LiteSVM: a provable upload is registered on chain before it is answered.
    chain: 'litesvm',
    maxModelBytes: 2 * 1024 * 1024,
  });
});
after(() => dev.close());

/** y = MatMulInteger(x int8 [1,k] (or `xDims`), w int8 [k,n], a_zp scalar, b_zp of `bzpDims`): int32 [1,n]. */
function matmul(
  k: number,
  n: number,
  bzpDims: number[] = [],
  xDims: (number | string)[] = [1, k],
): Uint8Array {
  const r = prng(k * 31 + n);
  const x: ValueDecl = { name: 'x', dtype: 'int8', dims: xDims };
  const bzpCount = bzpDims.reduce((a, b) => a * b, 1);
  return buildModel({
    name: 'mm',
    inputs: [x],
    outputs: [{ name: 'y', dtype: 'int32', dims: [xDims[0], n] }],
    nodes: [op('MatMulInteger', ['x', 'w', 'azp', 'bzp'], ['y'])],
    initializers: {
      w: tensorOf(
        'int8',
        [k, n],
        Array.from({ length: k * n }, () => Math.floor(r() * 256) - 128),
      ),
      azp: tensorOf('int8', [], [3]),
      bzp: tensorOf(
        'int8',
        bzpDims,
        Array.from({ length: bzpCount }, (_, i) => (i % 5) - 2),
      ),
    },
  });
}

async function upload(bytes: Uint8Array, name: string) {
  const res = await fetch(`${dev.url}/v1/models?name=${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(bytes),
  });
  const json = (await res.json()) as { modelId: string; provable: boolean; unprovableOps: string[] };
  assert.equal(res.status, 201, JSON.stringify(json));
  return json;
}

/** What the program says when the same compiled model is registered on a fresh chain: null (accepted) or the error and its logs. */
async function programVerdict(bytes: Uint8Array): Promise<{ error: string; logs: string } | null> {
  const registry = new ModelRegistry();
  try {
    const m = await registry.register(bytes, { name: 'verdict' });
    const spec = await programModelSource(registry)(asModelId(m.modelId));
    const world = new LocalWorld();
    await world.client.initialize(world.authority, world.params());
    try {
      await world.client.registerModel(world.authority, {
        modelId: fromHex(m.modelId, 32),
        profileHash: fromHex(spec.profileHash, 32),
        weightRoot: fromHex(spec.weightRoot, 32),
        weightCount: spec.weightCount,
        opEntries: spec.opEntries,
        outputName: spec.outputName,
        shapes: spec.shapes,
      });
      return null;
    } catch (e) {
      const d = (e as { details?: { name?: string; logs?: string[] } }).details;
      return { error: d?.name ?? String(e), logs: (d?.logs ?? []).join('\n') };
    }
  } finally {
    await registry.close();
  }
}

test('POST /v1/models: a MatMulInteger with per-tensor zero points is provable, and the program registers it', async () => {
  const bytes = matmul(16, 8);
  const m = await upload(bytes, 'mm-ok');
  assert.equal(m.provable, true, JSON.stringify(m.unprovableOps));
  assert.deepEqual(m.unprovableOps, []);
  assert.equal(await programVerdict(bytes), null);
});

test('POST /v1/models: a MatMulInteger with a per-column b zero point is provable, and the program registers it', async () => {
  const bytes = matmul(16, 8, [8]);
  const m = await upload(bytes, 'mm-col');
  assert.equal(m.provable, true, JSON.stringify(m.unprovableOps));
  assert.equal(await programVerdict(bytes), null);
});

for (const [what, bytes, reason, program] of [
  [
    'a MatMulInteger over 768 KiB of weights (buffer limit)',
    () => matmul(12288, 64),
    /layer 0: one-step proof data passes the buffer limit/,
    /layer 0 op code \d+ unprovable: one-step proof data passes the buffer limit/,
  ],
  [
    'a MatMulInteger with K = 7680 (compute limit)',
    () => matmul(7680, 64),
    /layer 0: one-step does not fit the compute limit/,
    /layer 0 op code \d+ unprovable: one-step does not fit the compute limit/,
  ],
  [
    // 128 KiB of weights: ~150 buffer writes and 10 slices, 660 slots at 4 per transaction.
    "a MatMulInteger with K = 2048 (its game passes the node's 150-slot dispute clock)",
    () => matmul(2048, 64),
    /layer 0: one-step does not fit the dispute clock \(\d+ challenger transactions, \d+ slots at 4 each; the clock is 150 slots\)/,
    /layer 0 op code \d+ unprovable: one-step does not fit the dispute clock/,
  ],
] as const) {
  test(`POST /v1/models: ${what} is provable: false with the refusal, as the program refuses it`, async () => {
    const b = bytes();
    const m = await upload(b, 'mm-refused');
    assert.equal(m.provable, false);
    assert.match(m.unprovableOps.join('\n'), reason);
    const v = await programVerdict(b);
    assert.equal(v?.error, 'UnprovableLayer');
    assert.match(v.logs, program);
  });
}

// Symbolic dims: the op table and the shape record hold one static shape per tensor, so a model
// whose input has a symbolic dim is not provable (pinning would need the uploader to choose one).
test('POST /v1/models: a model with a symbolic input dim is provable: false, naming the input', async () => {
  const m = await upload(matmul(16, 8, [], ['n', 16]), 'mm-symbolic');
  assert.equal(m.provable, false);
  assert.match(m.unprovableOps.join('\n'), /input 'x' needs static dims/);
});

test("jobs off a provable model's registered shapes are refused with a 400 naming the input, its dims and the registered ones", async () => {
  const m = await upload(matmul(16, 8), 'mm-jobs');
  assert.equal(m.provable, true);
  const post = (dims: number[]) =>
    fetch(`${dev.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        modelId: m.modelId,
        inputs: { x: { dtype: 'int8', dims, data: new Array(dims.reduce((a, b) => a * b, 1)).fill(1) } },
      }),
    });
  for (const dims of [
    [2, 8],
    [16, 1],
    [1, 1, 16],
    [2, 16],
  ]) {
    const res = await post(dims);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.code, 'INVALID_INPUT');
    assert.match(body.error.message, /input 'x'/);
    assert.match(body.error.message, new RegExp(`\\[${dims.join(',')}\\]`));
    assert.match(body.error.message, /\[1,16\]/);
  }
  const ok = await post([1, 16]);
  assert.equal(ok.status, 202, await ok.text());
});
