// Executor configurations on real onnxruntime and the real wasm backend: exact-mode traces equal canonical bit for bit, or the configuration is refused or adjusted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { compareProfiles, PROFILE_CASES, PROFILE_MATRIX } from '../../bench/profiles.ts';
import { loadModel } from '../../executor/model.ts';
import { formatRunConfig, parseRunConfig } from '../../executor/run-config.ts';
import { runModel } from '../../executor/run.ts';
import { releaseTraceCache, traceModel } from '../../executor/trace.ts';
import { createWasmSession } from '../../executor/wasm-session.ts';
import { OptinferError } from '../../state/errors.ts';
import { tensorOf } from '../../executor/onnx/builder.ts';
import { toFeeds } from '../../executor/run.ts';

const byLabel = (prefix: string) => PROFILE_CASES.find((c) => c.label.startsWith(prefix))!;

/** What each exact-mode model gets on the wasm backend: refused for the ops named, or run. */
const WASM_REFUSED: Record<string, RegExp | null> = {
  'demo-int8-mlp': /QuantizeLinear/,
  arith: /Cast\(unknown type to int32\)/,
  quant: /DynamicQuantizeLinear/,
  qconv: /DynamicQuantizeLinear/,
  movement: null,
  casts:
    /Cast\(float32 to int16\), Cast\(float32 to int32\), Cast\(float32 to int64\), Cast\(float32 to int8\), Cast\(float32 to uint8\), DynamicQuantizeLinear, QuantizeLinear/,
};

for (const [prefix, wasmRefusal] of Object.entries(WASM_REFUSED)) {
  test(`${prefix}: every configuration traces every layer bit-identical to canonical, or refuses the model naming the op`, async () => {
    const c = byLabel(prefix);
    assert.ok(c.exact, `${c.label} is an exact-mode model`);
    const { canonical, rows } = await compareProfiles(c, PROFILE_MATRIX, 1);
    assert.equal(rows.length, PROFILE_MATRIX.length);
    for (const r of rows) {
      const what = `${c.label} under ${formatRunConfig(r.run)}`;
      if (r.run.backend === 'wasm' && wasmRefusal) {
        assert.match(r.refused ?? '', /backend=wasm refused for this model/, what);
        assert.match(r.refused ?? '', wasmRefusal, what);
        continue;
      }
      assert.equal(r.refused, null, what);
      assert.equal(r.error, null, what);
      assert.deepEqual(r.differing, [], `${what}: differing layers`);
      assert.equal(r.sameOutputs, true, `${what}: traced outputs`);
      assert.equal(r.samePlain, true, `${what}: the plain run's outputs (what the executor commits to)`);
      assert.ok(canonical.layerCount > 0);
    }
  });
}

test('the wasm refusal is needed: bypassing it, Cast float32 to int32 gives other bits than the canonical CPU', async () => {
  const c = byLabel('casts');
  const bytes = c.bytes();
  const inputs = c.inputs();
  const m = await loadModel(bytes, { name: 'casts' });
  try {
    const canonical = await runModel(m, inputs);
    // The wasm session made directly, without openSession's guard.
    const s = await createWasmSession(bytes, parseRunConfig('backend=wasm'));
    const r = await s.run(toFeeds(inputs) as never);
    const wasm = (r.c32 as ort.Tensor).data as Int32Array;
    const cpu = new Int32Array(canonical.outputs.c32.data.slice().buffer);
    const x = new Float32Array(inputs.x.data.slice().buffer);
    const nan = x.findIndex((v) => Number.isNaN(v));
    assert.ok(nan >= 0);
    assert.equal(cpu[nan], -2147483648, 'x86: the integer indefinite');
    assert.equal(wasm[nan], 0, 'wasm: NaN saturates to 0');
    await s.release();
  } finally {
    await m.close();
  }
});

test('graph optimization that rewrites an exact graph is turned off for it: Where(Not) fusion flips a signed zero', async () => {
  const c = byLabel('movement');
  const bytes = c.bytes();
  const inputs = c.inputs();
  const canonical = await loadModel(bytes, { name: 'movement' });
  const m = await loadModel(bytes, { name: 'movement', run: parseRunConfig('threads=2,opt=all') });
  try {
    assert.deepEqual(m.runAsked, { backend: 'cpu', threads: 2, opt: 'all' });
    assert.deepEqual(m.run, { backend: 'cpu', threads: 2, opt: 'disabled' });
    assert.match(m.runAdjusted ?? '', /opt=all rewrites Pad, Where of this graph; run with opt=disabled/);
    const want = await runModel(canonical, inputs);
    assert.equal((await runModel(m, inputs)).outputDigest, want.outputDigest);
    // The trace reports the configuration it ran under; it still commits to the registered profile.
    const tr = await traceModel(m, inputs);
    assert.equal(tr.profileHash, canonical.profileHash);
    assert.equal(tr.run.threads, 2);
    // Without the guard: onnxruntime's own session at opt=basic gives +0 where canonical gives -0.
    const raw = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'basic',
      logSeverityLevel: 3,
    });
    const y = (await raw.run(toFeeds(inputs) as never)).y as ort.Tensor;
    const got = new Uint8Array((y.data as Float32Array).buffer.slice(0));
    assert.notEqual(Buffer.compare(Buffer.from(got), Buffer.from(want.outputs.y.data)), 0);
    await raw.release();
    await releaseTraceCache(m);
  } finally {
    await m.close();
    await canonical.close();
  }
});

test('a configuration that keeps the graph keeps its optimization level, and the trace reports it', async () => {
  const m = await loadModel(byLabel('demo-int8-mlp').bytes(), { run: parseRunConfig('threads=2,opt=all') });
  try {
    assert.deepEqual(m.run, { backend: 'cpu', threads: 2, opt: 'all' });
    assert.equal(m.runAdjusted, null);
    const tr = await traceModel(m, { x: tensorOf('int8', [1, 16], new Array(16).fill(7)) });
    assert.deepEqual(tr.run, { backend: 'cpu', threads: 2, opt: 'all' });
  } finally {
    await releaseTraceCache(m);
    await m.close();
  }
});

test('wasm refusal is INVALID_CONFIG with the ops in its details', async () => {
  await assert.rejects(
    loadModel(byLabel('demo-int8-mlp').bytes(), { name: 'demo', run: parseRunConfig('backend=wasm') }),
    (e: unknown) =>
      e instanceof OptinferError &&
      e.code === 'INVALID_CONFIG' &&
      /model 'demo': backend=wasm refused for this model: QuantizeLinear .* run it with backend=cpu/.test(
        e.message,
      ) &&
      JSON.stringify(e.details) === JSON.stringify({ ops: ['QuantizeLinear'] }),
  );
});

test('inProcessRunner (an executor without a sandbox) runs and traces under its configuration, committing to the same root', async () => {
  const { inProcessRunner } = await import('../../executor/sandbox/pool.ts');
  const m = await loadModel(byLabel('movement').bytes(), { name: 'movement' });
  const runner = inProcessRunner(parseRunConfig('backend=wasm'));
  try {
    const inputs = byLabel('movement').inputs();
    const theirs = await runner.trace(m, inputs);
    const ours = await traceModel(m, inputs);
    assert.deepEqual(theirs.run, { backend: 'wasm', threads: 1, opt: 'disabled' });
    assert.equal(theirs.traceRoot, ours.traceRoot);
    assert.equal((await runner.run(m, inputs)).outputDigest, ours.outputDigest);
  } finally {
    await runner.close();
    await releaseTraceCache(m);
    await m.close();
  }
});
