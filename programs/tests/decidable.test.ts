// Attack 4 (issue 13): every registered layer can be decided; registration refuses the rest, naming the layer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../executor/model.ts';
import { compileForProgram } from '../../executor/program-model.ts';
import { traceModel } from '../../executor/trace.ts';
import { checkModel } from '../../state/shapes.ts';
import { DTYPE_CODES, type Tensor } from '../../state/tensor.ts';
import { modelShapes } from '../../settlement/testkit.ts';
import { PHASE, World, cheatLayers, playToOneStep, startGame } from './lib/game.ts';
import {
  bigMatmulModel,
  chainModel,
  make,
  mlpModel,
  prng,
  run,
  wideModel,
  type ModelDef,
} from './lib/model.ts';
import * as P from './lib/protocol.ts';

/** mlpModel with its MatMulInteger's b_zero_point made per column ([32] instead of a scalar). */
function perColumnZp(): ModelDef {
  const m = mlpModel();
  m.weights[2] = make(P.DT.INT8, [32], (i) => (i % 5) - 2);
  return m;
}

/** Registers `m`; returns the add_model_ops refusal and its log, or null when every page landed. */
async function register(m: ModelDef): Promise<{ world: World; error: string | null; logs: string }> {
  const world = new World();
  await world.init();
  try {
    await world.registerModel(m);
    return { world, error: null, logs: '' };
  } catch (e) {
    const d = (e as { details?: { name?: string; logs?: string[] } }).details;
    return { world, error: d?.name ?? String(e), logs: (d?.logs ?? []).join('\n') };
  }
}

async function assertRefused(m: ModelDef, layer: number, reason: RegExp) {
  const before = await register(m);
  assert.equal(before.error, 'UnprovableLayer');
  assert.match(before.logs, new RegExp(`layer ${layer} op code \\d+ unprovable: ${reason.source}`));
  const model = await before.world.client.fetchModel(before.world.modelId);
  assert.equal(model?.opsLoaded, 0, 'no op page was added: no dispute can open on the model');
  // The TypeScript mirror refuses the same layer for the same reason, before any transaction.
  const ts = checkModel(m.layers, modelShapes(m));
  assert.equal(ts.provable, false);
  assert.match(ts.refusals.join('\n'), new RegExp(`layer ${layer}: ${reason.source}`));
  assert.equal(before.world.unaccountedLamports(), 0n, 'lamports conserved');
}

// Against the program before this change, this model registered, the honest challenger's one_step
// failed with BadOperands and it lost on time: executor 10 -> 11 SOL, challenger 5 -> 3 SOL.
test('unfinishable layer: a per-column zero point MatMulInteger is refused at registration, naming the layer', async () => {
  await assertRefused(perColumnZp(), 0, /zero point is not per-tensor/);
});

// Before: registered; every one_step slice ran out of compute (768 KiB of weights to verify) and
// the honest challenger lost on time, 10 -> 11 SOL for the executor and 5 -> 3 SOL for it.
test('oversized layer: MatMulInteger with 768 KiB of weights is refused at registration (buffer limit)', async () => {
  await assertRefused(bigMatmulModel(12288), 0, /one-step proof data passes the buffer limit/);
});

test('oversized layer: MatMulInteger with K = 7680 is refused at registration (compute limit)', async () => {
  await assertRefused(bigMatmulModel(7680), 0, /one-step does not fit the compute limit/);
});

test('a shape record that does not hash to the weight root is refused', async () => {
  const world = new World();
  await world.init();
  const m = mlpModel();
  const reg = world.registration(m);
  reg.shapes.weights[0] = { ...reg.shapes.weights[0], header: { dtype: P.DT.INT8, dims: [32, 16, 2] } };
  await assert.rejects(world.client.registerModel(world.authority, reg), /BadShapeRecord|Shape record/);
  assert.equal(world.unaccountedLamports(), 0n);
});

// ---- the sweep: the worst-case chunk of every layer of every fixture model, one-step to completion ----

const DEMO = fileURLToPath(new URL('../../models/demo-int8-mlp.onnx', import.meta.url));
const demo = await loadModel(new Uint8Array(readFileSync(DEMO)), { name: 'demo-int8-mlp' });
after(() => demo.close());
const toP = (t: Tensor): P.Tensor => ({
  dtype: DTYPE_CODES[t.dtype],
  dims: t.dims,
  bytes: Buffer.from(t.data),
});
const compiled = await compileForProgram(demo);
const r = prng(9);
const x: Tensor = { dtype: 'int8', dims: [1, 16], data: new Uint8Array(16).map(() => r() & 0xff) };
const demoDef: ModelDef = {
  inputs: [['x', toP(x)]],
  weights: compiled.weights.map((w) => toP(w.tensor)),
  layers: compiled.layers.map((l) => ({ op: l.op, refs: l.refs, attrs: Buffer.from(l.attrs) })),
  outputName: compiled.outputName,
};
const demoHonest = (await traceModel(demo, { x }, { keepTensors: true })).tensors!.map(toP);

const FIXTURES: [string, ModelDef, ((m: ModelDef) => P.Tensor[])?][] = [
  ['mlp', mlpModel(), undefined],
  ['chain(6)', chainModel(6), undefined],
  ['wide (16 KiB layers)', wideModel(), undefined],
  ['bigMatmul(2048)', bigMatmulModel(2048), undefined],
  ['demo-int8-mlp.onnx', demoDef, () => demoHonest],
];

test('sweep: the compiler marks demo-int8-mlp provable with the same shapes the program checks', () => {
  assert.deepEqual(compiled.refusals, []);
  assert.deepEqual(
    compiled.shapes.layers.map((h) => h.dims),
    demoHonest.map((t) => t.dims),
  );
});

for (const [name, m, honestOf] of FIXTURES) {
  test(`sweep: every layer of ${name} registers and its worst-case chunk's one-step completes within the plan`, async () => {
    const shapes = modelShapes(m);
    const { provable, plans, refusals } = checkModel(m.layers, shapes);
    assert.ok(provable, refusals.join('; '));
    const honest = honestOf ?? run;
    for (let at = 0; at < m.layers.length; at++) {
      const plan = plans[at]!;
      const out = shapes.layers[at];
      const bytes = out.dims.reduce((a, b) => a * b, 1) * P.dtypeSize(out.dtype);
      // Every full chunk costs the same in the model; the middle one straddles the most input chunks.
      const chunk = Math.floor(Math.max(0, Math.ceil(bytes / P.CHUNK_BYTES) - 1) / 2);
      const g = await startGame((mm) => cheatLayers(mm, at, chunk), honest, m);
      await playToOneStep(g);
      const d = await g.world.dispute(g.dispute);
      assert.equal(d.disagree, at, `${name} layer ${at}`);
      const { writes, steps } = await g.chal.submitOneStep(g.dispute, {
        openings: 'auto',
        maxElements: plan.slice,
        maxSlices: 256,
      });
      assert.equal((await g.world.dispute(g.dispute)).phase, PHASE.RESOLVED, `${name} layer ${at} resolved`);
      const buf = await g.world.client.fetchProofBuffer(g.dispute, g.chal.key.publicKey);
      for (const s of steps) {
        assert.ok(
          s.cu <= plan.fixedCu + plan.slice * plan.elementCu,
          `${name} layer ${at}: slice ${s.cu} CU over the plan ${plan.fixedCu} + ${plan.slice} x ${plan.elementCu}`,
        );
      }
      assert.ok(buf && buf.len <= plan.bytes, `${name} layer ${at}: ${buf?.len} > ${plan.bytes} bytes`);
      console.log(
        `${name} layer ${at} chunk ${chunk}: ${writes.length} writes, ${steps.length} slices of ${plan.slice}, ` +
          `max ${Math.max(...steps.map((s) => s.cu))} CU (plan ${plan.fixedCu + plan.slice * plan.elementCu})`,
      );
      assert.equal(g.world.unaccountedLamports(), 0n);
    }
  });
}

test('registration cost: transactions, compute units and the shape record rent of the fixture models', async () => {
  const rows: Record<string, unknown>[] = [];
  for (const [name, m] of [...FIXTURES, ['chain(512)', chainModel(512)] as const]) {
    const world = new World();
    await world.init();
    const from = world.txs.length;
    await world.registerModel(m);
    const txs = world.txs.slice(from);
    const model = world.client.pdas.model(world.modelId);
    const shapes = world.client.pdas.shapes(model);
    // register_model, init_model_shapes and the writes, then one add_model_ops per page.
    const pages = Math.ceil(m.layers.length / 32);
    const checks = txs.slice(txs.length - pages);
    for (const t of txs) {
      assert.ok(t.ok && t.cu < 1_400_000 && t.size <= 1232, `${name}: ${t.cu} CU, ${t.size} bytes`);
    }
    rows.push({
      model: name,
      layers: m.layers.length,
      weights: m.weights.length,
      txs: txs.length,
      'shape txs': txs.length - 1 - pages,
      'max add_model_ops CU': Math.max(...checks.map((t) => t.cu)),
      'shape record rent': world.balance(shapes),
      'ops pages rent': Array.from({ length: Math.ceil(m.layers.length / 32) }, (_, p) =>
        world.balance(world.client.pdas.ops(model, p)),
      ).reduce((a, b) => a + b, 0n),
    });
  }
  console.table(rows);
});
