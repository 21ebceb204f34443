// Progress of long commands off a terminal: `optinfer trace` writes its steps as lines on stderr beside the JSON on
// stdout, and a model's registration on chain counts every transaction it sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineProgress } from '../common/progress.ts';
import { ModelRegistry } from '../executor/model.ts';
import { programModelSource } from '../executor/sequencer-adapters.ts';
import { LocalWorld } from '../settlement/testkit.ts';
import { fromHex } from '../state/hash.ts';
import { asModelId } from '../state/types.ts';
import { runCli } from '../test/helpers/node-process.ts';
import { DEMO_MODEL_PATH } from './roles.ts';

test('optinfer trace into a pipe: the JSON alone on stdout, its progress as lines on stderr', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-progress-'));
  try {
    const input = join(dir, 'in.json');
    writeFileSync(
      input,
      JSON.stringify({
        inputs: { x: { dtype: 'int8', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => i - 8) } },
      }),
    );
    const r = await runCli(['trace', '--model', DEMO_MODEL_PATH, '--input', input]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as { layerCount: number; modelName: string };
    const n = t.layerCount;
    const lines = r.stderr.trim().split('\n');
    const label = `optinfer trace: model '${t.modelName}'`;
    assert.deepEqual(lines.slice(0, 4), [
      `${label}: tracing run: 2 steps`,
      `${label}: tracing run 1/2: ${n} layers`,
      `${label}: tracing run 2/2: same outputs as the plain run`,
      lines[3],
    ]);
    assert.match(lines[3], new RegExp(`^${label}: tracing run: done, 2/2 in \\d+\\.\\d s$`));
    assert.equal(lines[4], `${label}: digesting layers: ${n} steps`);
    assert.match(lines.at(-2)!, new RegExp(`^${label}: digesting layers ${n}/${n}`));
    assert.match(lines.at(-1)!, new RegExp(`^${label}: digesting layers: done, ${n}/${n} in \\d+\\.\\d s$`));
    assert.doesNotMatch(r.stderr, /\r|\x1b\[/, 'no bar drawing into a pipe');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registering a model on chain counts each transaction; a registration already done sends and counts none', async () => {
  const registry = new ModelRegistry();
  try {
    const m = await registry.register(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), { name: 'demo' });
    const spec = await programModelSource(registry)(asModelId(m.modelId));
    const world = new LocalWorld();
    await world.client.initialize(world.authority, world.params());
    const reg = {
      modelId: fromHex(m.modelId, 32),
      profileHash: fromHex(spec.profileHash, 32),
      weightRoot: fromHex(spec.weightRoot, 32),
      weightCount: spec.weightCount,
      opEntries: spec.opEntries,
      outputName: spec.outputName,
      shapes: spec.shapes,
    };
    const lines: string[] = [];
    const progress = lineProgress((l) => lines.push(l));
    const txs = await world.client.registerModel(world.authority, reg, { progress });
    const k = txs.length;
    assert.ok(k >= 3, `register_model, init_model_shapes and an op page at least, got ${k}`);
    assert.match(lines[0], new RegExp(`^registering model ${m.modelId.slice(0, 12)}… on chain: ${k} steps$`));
    assert.equal(lines[1], `registering model ${m.modelId.slice(0, 12)}… on chain 1/${k}: register_model`);
    assert.match(lines[2], new RegExp(`on chain 2/${k}: init_model_shapes$`));
    assert.match(lines[k], new RegExp(`on chain ${k}/${k}: add_model_ops page \\d+$`));
    assert.match(lines[k + 1], new RegExp(`on chain: done, ${k}/${k} in`));
    assert.equal(lines.length, k + 2);

    lines.length = 0;
    assert.deepEqual(await world.client.registerModel(world.authority, reg, { progress }), []);
    assert.match(lines[0], /on chain: 0 steps$/);
    assert.match(lines[1], /on chain: done, 0\/0 in/);
  } finally {
    await registry.close();
  }
});
