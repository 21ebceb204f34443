// Attack 4 (issue 13): every registered layer can be decided; registration refuses the rest, naming the layer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../executor/model.ts';
import { compileForProgram } from '../../executor/program-model.ts';
import { traceModel } from '../../executor/trace.ts';
import { SHAPE_COST, checkModel } from '../../state/shapes.ts';
import { nextMove } from '../../dispute/moves.ts';
import { encodeStoredHeader } from '../../state/optable.ts';
import { stepData } from '../../dispute/step-data.ts';
import { DTYPE_CODES, type Tensor } from '../../state/tensor.ts';
import { isOptinferError } from '../../state/errors.ts';
import { modelShapes } from '../../settlement/testkit.ts';
import {
  PARAMS,
  PHASE,
  Player,
  SIDE,
  World,
  attempt,
  cheatLayers,
  clockFor,
  playToOneStep,
  startGame,
  type Game,
} from './lib/game.ts';
import type { ModelView, TraceView } from '../../dispute/views.ts';
import {
  OP,
  REF,
  bigMatmulModel,
  chainModel,
  make,
  mlpModel,
  movementModel,
  movementModel2,
  prng,
  run,
  wideModel,
  type ModelDef,
} from './lib/model.ts';
import * as P from './lib/protocol.ts';

/** mlpModel with its MatMulInteger's a_zero_point made per row ([8] instead of a scalar): onnxruntime refuses it. */
function perRowZp(): ModelDef {
  const m = mlpModel();
  m.weights[1] = make(P.DT.INT8, [8], (i) => (i % 5) - 2);
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
  const ts = checkModel(m.layers, modelShapes(m), { clockSlots: PARAMS.clockSlots });
  assert.equal(ts.provable, false);
  assert.match(ts.refusals.join('\n'), new RegExp(`layer ${layer}: ${reason.source}`));
  assert.equal(before.world.unaccountedLamports(), 0n, 'lamports conserved');
}

// Against the program before this change, this model registered, the honest challenger's one_step
// failed with BadOperands and it lost on time: executor 10 -> 11 SOL, challenger 5 -> 3 SOL.
// A per-column b zero point ([N]) is taken since issue 15's fourth round (pure/ops.rs, quant-onnx.test.ts).
test('unfinishable layer: a per-row a zero point MatMulInteger is refused at registration, naming the layer', async () => {
  await assertRefused(perRowZp(), 0, /zero point is not per-tensor/);
});

// Before: registered; every one_step slice ran out of compute (768 KiB of weights to verify) and
// the honest challenger lost on time, 10 -> 11 SOL for the executor and 5 -> 3 SOL for it.
test('oversized layer: MatMulInteger with 768 KiB of weights is refused at registration (buffer limit)', async () => {
  await assertRefused(bigMatmulModel(12288), 0, /one-step proof data passes the buffer limit/);
});

test('oversized layer: MatMulInteger with K = 7680 is refused at registration (compute limit)', async () => {
  await assertRefused(bigMatmulModel(7680), 0, /one-step does not fit the compute limit/);
});

// ---- the clock: a game the honest challenger cannot finish in time is unregistrable ----

/** A one_step or proof-buffer write by `key` (the challenger) in `res`'s transaction. */
const SLOTS_PER_TX = BigInt(SHAPE_COST.SLOTS_PER_TX);

// Before: bigMatmul(2048) registered under the 100-slot clock, though the challenger's game on its
// layer 0 is 150 buffer writes, 10 one-step slices and its moves, one after another: even at one
// slot per transaction its clock ran out and the executor won on time whatever it had claimed.
test('clock shorter than the game: a layer whose one-step needs more transactions than the dispute clock holds is refused at registration, naming the layer', async () => {
  const m = bigMatmulModel(2048);
  const plan = checkModel(m.layers, modelShapes(m)).plans[0]!;
  assert.ok(
    BigInt(plan.txs) > PARAMS.clockSlots,
    `${plan.txs} transactions cannot land in ${PARAMS.clockSlots} slots`,
  );
  await assertRefused(m, 0, /one-step does not fit the dispute clock/);
});

test('slow honest challenger: at the registered clock floor it wins the worst-case game though each of its transactions takes SLOTS_PER_TX slots', async () => {
  const m = bigMatmulModel(2048);
  const { clockFloor, plans } = checkModel(m.layers, modelShapes(m));
  assert.equal(BigInt(clockFloor), BigInt(plans[0]!.txs) * SLOTS_PER_TX);
  const g = await startGame((mm) => cheatLayers(mm, 0, 0), run, m);
  assert.equal(
    (await g.world.client.config()).clockSlots,
    BigInt(clockFloor),
    'the game runs on the floor clock',
  );
  // Every challenger transaction lands SLOTS_PER_TX slots after the one before it; the executor answers at once.
  let chalTxs = 0;
  for (;;) {
    const d = await g.world.dispute(g.dispute);
    const next = nextMove(d);
    if (next.kind === 'one_step' || next.kind === 'resolved') break;
    if (next.side === SIDE.CHALLENGER) {
      g.world.warp(SLOTS_PER_TX);
      chalTxs++;
    }
    g.world.must(await (next.side === SIDE.EXECUTOR ? g.exec : g.chal).move(g.dispute, d), next.kind);
  }
  g.world.sender.onCommit = () => {
    chalTxs++;
    g.world.warp(SLOTS_PER_TX);
  };
  const { writes, steps } = await g.chal.submitOneStep(g.dispute);
  g.world.sender.onCommit = null;
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.phase, PHASE.RESOLVED);
  assert.equal(d.winner, SIDE.CHALLENGER, 'the slow honest challenger still wins');
  assert.ok(chalTxs <= plans[0]!.txs, `${chalTxs} challenger transactions, planned ${plans[0]!.txs}`);
  console.log(
    `bigMatmul(2048): ${chalTxs} challenger transactions (${writes.length} writes, ${steps.length} slices) ` +
      `at ${SLOTS_PER_TX} slots each on a ${clockFloor}-slot clock; challenger clock left ${d.clock[SIDE.CHALLENGER]}`,
  );
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('shortening the clock under a registered model: update_config refuses a clock below Config.clock_floor', async () => {
  const m = bigMatmulModel(2048);
  const world = new World();
  await world.init(clockFor(m));
  await world.registerModel(m);
  const floor = BigInt(checkModel(m.layers, modelShapes(m)).clockFloor);
  const cfg = await world.client.config();
  assert.equal(cfg.clockFloor, floor, 'registration raised the floor to what the model needs');
  const r = await attempt(world.client.updateConfig(world.authority, { params: { clockSlots: floor - 1n } }));
  assert.equal(r.error, 'ClockBelowRegisteredModels');
  assert.equal((await world.client.config()).clockSlots, floor, 'the clock is unchanged');
  world.must(
    await attempt(world.client.updateConfig(world.authority, { params: { clockSlots: floor } })),
    'update_config at the floor',
  );
  assert.equal(world.unaccountedLamports(), 0n);
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

// ---- opened operands off their registered shapes ----
//
// one_step convicts the executor when an opened operand's header is not the registered one. The
// operands are bound before that check: an agreed layer by the prefix chain (the executor's own
// trace, which the challenger agreed with up to there), a model input by the input digest the
// executor signed, a weight by the weight root whose leaves are the registered weight records. So
// an honest executor (a registered-shape input, a correct trace) can never be convicted by it: a
// submitter that opens a weight or an agreed layer under another header fails the digest check
// (InvalidProof) and the honest executor wins on time. The rule only bites an executor that signed
// a job whose input is off the registered shapes, which the sequencer and the executor refuse.

const STAKE_E = PARAMS.minExecutorBond;
const STAKE_C = PARAMS.minChallengerBond;
const bounty = (stake: bigint) => (stake * BigInt(PARAMS.bountyBps)) / 10000n;
const E0 = 10_000_000_000n;
const C0 = 5_000_000_000n;

/** The same bytes under other dims: what a forger opens in place of a registered header. */
function reshaped(h: Uint8Array, dims: number[]): Buffer {
  const b = Buffer.alloc(2 + 8 * dims.length);
  b[0] = h[0];
  b[1] = dims.length;
  dims.forEach((d, i) => b.writeBigUInt64LE(BigInt(d), 2 + 8 * i));
  return b;
}

/** The challenger (a forger, or playing a wrong trace) fails its one-step; the executor wins on time. */
async function executorWinsOnTime(g: Game) {
  g.world.warp(PARAMS.clockSlots + 1n);
  g.world.must(await g.world.claimTimeout(g.exec.key, g.dispute), 'claim_timeout');
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.winner, SIDE.EXECUTOR, 'the honest executor wins');
  assert.equal((await g.world.operatorOf(g.exec.key.publicKey)).bonded, E0 + bounty(STAKE_C));
  assert.equal((await g.world.operatorOf(g.chal.key.publicKey)).bonded, C0 - STAKE_C);
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
}

test('operand off its registered shape: a weight opened under another header is refused (InvalidProof), the honest executor wins', async () => {
  // The executor is honest; the challenger holds a wrong layer 0 (MatMulInteger over weight 0).
  const g = await startGame(run, (m) => cheatLayers(m, 0, 1));
  await playToOneStep(g);
  assert.equal((await g.world.dispute(g.dispute)).disagree, 0);
  const honest = g.world.modelView();
  const forged: ModelView = {
    ...honest,
    weight: (i) => {
      const w = honest.weight(i);
      return i === 0 ? { ...w, tensor: { ...w.tensor, header: reshaped(w.tensor.header, [16, 64]) } } : w;
    },
  };
  const d = await g.world.dispute(g.dispute);
  const page = await g.world.client.fetchOpsPage(d.modelId, 0);
  await g.chal.fillBuffer(g.dispute, stepData(d, page!.entries[0], g.chal.view, forged));
  const r = await g.chal.oneStep(g.dispute);
  assert.equal(r.error, 'InvalidProof', 'the weight root binds the registered header');
  await executorWinsOnTime(g);
});

test('operand off its registered shape: an agreed layer opened under another header is refused (InvalidProof), the honest executor wins', async () => {
  // Disputed layer 1 (Add) reads agreed layer 0, int32 [8,32]; the forger opens it as [16,16].
  const g = await startGame(run, (m) => cheatLayers(m, 1, 1));
  await playToOneStep(g);
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.disagree, 1);
  const view = g.chal.view;
  const forged: TraceView = Object.assign(
    Object.create(Object.getPrototypeOf(view) as object) as TraceView,
    view,
    {
      layer: (i: number) => {
        const l = view.layer(i);
        return i === 0 ? { ...l, header: reshaped(l.header, [16, 16]) } : l;
      },
      prefix: (i: number) => view.prefix(i),
      digest: (i: number) => view.digest(i),
    },
  );
  const page = await g.world.client.fetchOpsPage(d.modelId, 0);
  await g.chal.fillBuffer(g.dispute, stepData(d, page!.entries[1], forged, g.world.modelView()));
  const r = await g.chal.oneStep(g.dispute);
  assert.equal(r.error, 'InvalidProof', 'the prefix chain binds the agreed header');
  await executorWinsOnTime(g);
});

/** x int8 [1,16] registered; layer 0 Reshape to [4,4] (same registered output from any 16-element x), layer 1 Relu. */
function reshapeModel(x: P.Tensor = make(P.DT.INT8, [1, 16], (i) => i - 8)): ModelDef {
  const attrs = Buffer.alloc(14);
  attrs[0] = 2;
  attrs.writeUInt32LE(4, 1);
  attrs.writeUInt32LE(4, 5);
  return {
    inputs: [['x', x]],
    weights: [make(P.DT.INT8, [1], () => 0)],
    layers: [
      { op: OP.RESHAPE, refs: [REF.input(0)], attrs },
      { op: OP.RELU, refs: [REF.layer(0)] },
    ],
    outputName: 'y',
  };
}

test('operand off its registered shape: an executor that signed an input off the registered shape loses, though its layer header is the registered one', async () => {
  const world = new World();
  await world.init();
  await world.registerModel(reshapeModel());
  // The job's input is [2,8]: same element count, so Reshape still yields the registered [4,4].
  const offShape = reshapeModel(make(P.DT.INT8, [2, 8], (i) => i - 8));
  world.model = offShape;
  const e = await world.operator(E0);
  const c = await world.operator(C0);
  // The executor computes correctly on the input it signed; the challenger steers to layer 0, the
  // first layer that reads the off-shape input.
  const exec = new Player(world, e, world.trace(run(offShape)));
  const chal = new Player(world, c, world.trace(cheatLayers(offShape, 0, 0)));
  assert.deepEqual(run(offShape)[0].dims, [4, 4]);
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute');
  const g = { world, exec, chal, dispute };
  await playToOneStep(g);
  const d = await world.dispute(dispute);
  assert.equal(d.disagree, 0);
  // The executor's revealed header is the registered [4,4]; only the opened input is off.
  assert.deepEqual(d.header[0], encodeStoredHeader({ dtype: P.DT.INT8, dims: [4, 4] }));
  await exec.submitOneStep(dispute);
  const after = await world.dispute(dispute);
  assert.equal(after.phase, PHASE.RESOLVED);
  assert.equal(after.winner, SIDE.CHALLENGER, 'the executor signed an input the model does not take');
  assert.equal((await world.operatorOf(e.publicKey)).bonded, E0 - STAKE_E);
  assert.equal((await world.operatorOf(c.publicKey)).bonded, C0 + bounty(STAKE_E));
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

// ---- the honest challenger's one-step on a big layer: max_elements defaults to the registered slice ----

test('big layer: a one-step of the whole chunk runs out of compute; the default one-step (the registered slice) wins', async () => {
  const m = bigMatmulModel(2048);
  const g = await startGame((mm) => cheatLayers(mm, 0, 0), run, m);
  await playToOneStep(g);
  assert.equal((await g.world.dispute(g.dispute)).disagree, 0);
  // Before: submitOneStep sent max_elements = 0, the whole 64-element chunk in one transaction.
  await g.chal.fillBuffer(g.dispute);
  const whole = await g.chal.oneStep(g.dispute, 0);
  assert.ok(!whole.ok, 'the whole chunk does not fit one transaction');
  assert.match(whole.logs.join('\n') + String(whole.error), /exceeded|ComputationalBudgetExceeded|compute/i);
  // Now: no max_elements given, the challenger slices as registration planned.
  const plan = checkModel(m.layers, modelShapes(m)).plans[0]!;
  const { steps } = await g.chal.submitOneStep(g.dispute);
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.phase, PHASE.RESOLVED);
  assert.equal(d.winner, SIDE.CHALLENGER);
  assert.equal(
    steps.length,
    Math.ceil(plan.elements / plan.slice),
    `${plan.elements} elements in slices of ${plan.slice}`,
  );
  const limit = plan.fixedCu + plan.slice * plan.elementCu;
  for (const s of steps) assert.ok(s.cu <= limit, `slice ${s.cu} CU over the plan ${limit}`);
  console.log(
    `bigMatmul(2048) layer 0: whole chunk refused (${whole.error}); ${steps.length} slices of ${plan.slice}: ` +
      `${steps.map((s) => s.cu).join(', ')} CU (plan ${limit} per slice, budget 1,200,000)`,
  );
  assert.equal((await g.world.operatorOf(g.exec.key.publicKey)).bonded, E0 - STAKE_E);
  assert.equal((await g.world.operatorOf(g.chal.key.publicKey)).bonded, C0 + bounty(STAKE_E));
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
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
  ['data movement (Unsqueeze, Concat, Slice, Squeeze, Shape, Gather, Equal, Not, Where)', movementModel()],
  ['data movement 2 (Pad reflect/constant/edge, two-axis Slice, ConstantOfShape)', movementModel2()],
];

test('sweep: the compiler marks demo-int8-mlp provable with the same shapes the program checks', () => {
  assert.deepEqual(compiled.refusals, []);
  assert.deepEqual(
    compiled.shapes.layers.map((h) => h.dims),
    demoHonest.map((t) => t.dims),
  );
});

/**
 * Plays the worst-case chunk of every layer of `m` to a resolved one-step with the challenger's
 * default slicing (dispute/moves.ts plannedSlice: the registered plan's slice); asserts every slice
 * and the proof buffer stay within the plan.
 */
async function sweep(name: string, m: ModelDef, honest: (m: ModelDef) => P.Tensor[] = run) {
  const shapes = modelShapes(m);
  const { provable, plans, refusals } = checkModel(m.layers, shapes);
  assert.ok(provable, refusals.join('; '));
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
    // No max_elements: submitOneStep slices as registration planned.
    const { writes, steps } = await g.chal.submitOneStep(g.dispute, { openings: 'auto' });
    const after = await g.world.dispute(g.dispute);
    assert.equal(after.phase, PHASE.RESOLVED, `${name} layer ${at} resolved`);
    assert.equal(after.winner, SIDE.CHALLENGER, `${name} layer ${at}: the honest challenger wins`);
    assert.ok(
      steps.length <= Math.ceil(plan.elements / plan.slice),
      `${name} layer ${at}: ${steps.length} slices`,
    );
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
        `max ${Math.max(...steps.map((s) => s.cu))} CU (plan ${plan.fixedCu + plan.slice * plan.elementCu}), ` +
        `buffer ${buf!.len} B (plan ${plan.bytes})`,
    );
    assert.equal(g.world.unaccountedLamports(), 0n);
  }
}

for (const [name, m, honestOf] of FIXTURES) {
  test(`sweep: every layer of ${name} registers and its worst-case chunk's one-step completes within the plan`, async () => {
    await sweep(name, m, honestOf);
  });
}

// ---- the sweep over the real pretrained models the repo ships or depends on ----

const REAL: [string, string][] = [
  ['openWakeWord hello_deepa', '../../node_modules/openwakeword-js/models/hello_deepa.onnx'],
  ['openWakeWord hello_deepa_old', '../../node_modules/openwakeword-js/models/hello_deepa_old.onnx'],
  ['openWakeWord namaste_deepa', '../../node_modules/openwakeword-js/models/namaste_deepa.onnx'],
  ['silero_vad', '../../test/fixtures/models/silero_vad.onnx'],
  ['int8_mlp (fixture)', '../../test/fixtures/models/int8_mlp.onnx'],
  ['float_cnn (fixture)', '../../test/fixtures/models/float_cnn.onnx'],
  ['if_model (fixture)', '../../test/fixtures/models/if_model.onnx'],
  ['demo-int8-mlp', '../../models/demo-int8-mlp.onnx'],
];

/** Deterministic inputs of the declared (static) shapes: small values, so float inputs stay finite. */
function sampleInputs(model: Awaited<ReturnType<typeof loadModel>>, seed: number): Record<string, Tensor> {
  const rnd = prng(seed);
  const out: Record<string, Tensor> = {};
  for (const i of model.inputs) {
    const dims = i.dims as number[];
    const t = make(
      DTYPE_CODES[i.dtype!],
      dims,
      () => ((rnd() % 200) - 100) / (i.dtype === 'float32' ? 16 : 1),
    );
    out[i.name] = { dtype: i.dtype!, dims, data: new Uint8Array(t.bytes) };
  }
  return out;
}

for (const [name, rel] of REAL) {
  test(`sweep (real model) ${name}: every layer's worst-case chunk completes within the plan, or the model is refused naming the layer and reason`, async () => {
    const model = await loadModel(
      new Uint8Array(readFileSync(fileURLToPath(new URL(rel, import.meta.url)))),
      {
        name,
      },
    );
    try {
      let c: Awaited<ReturnType<typeof compileForProgram>>;
      try {
        c = await compileForProgram(model);
      } catch (e) {
        // Not provable: an unsupported op, a branch, a symbolic dim. A clean refusal naming what, never a crash.
        assert.ok(isOptinferError(e) && e.code === 'UNPROVABLE_MODEL', `${name}: ${String(e)}`);
        assert.match(
          e.message,
          new RegExp(
            `^model '${name.replace(/[()]/g, '\\$&')}': (layer \\d+ \\(|node '|input '|expected|the graph)`,
          ),
        );
        console.log(`REFUSED ${name}: ${e.message}`);
        return;
      }
      const inputs = sampleInputs(model, 11);
      const sorted = Object.keys(inputs).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const def: ModelDef = {
        inputs: sorted.map((k) => [k, toP(inputs[k])]),
        weights: c.weights.map((w) => toP(w.tensor)),
        layers: c.layers.map((l) => ({ op: l.op, refs: l.refs, attrs: Buffer.from(l.attrs) })),
        outputName: c.outputName,
      };
      if (c.refusals.length > 0) {
        // The program refuses the same model at registration, naming the first refused layer.
        const reg = await register(def);
        assert.equal(reg.error, 'UnprovableLayer');
        const first = /^layer (\d+): (.*)$/.exec(c.refusals[0])!;
        assert.match(reg.logs, new RegExp(`layer ${first[1]} op code \\d+ unprovable`));
        console.log(`REFUSED ${name}: ${c.refusals.join('; ')}`);
        return;
      }
      const honest = (await traceModel(model, inputs, { keepTensors: true })).tensors!.map(toP);
      assert.deepEqual(
        c.shapes.layers.map((h) => h.dims),
        honest.map((t) => t.dims),
        'registered shapes are the trace shapes',
      );
      await sweep(name, def, () => honest);
      console.log(`PROVABLE ${name}: ${def.layers.length} layers swept`);
    } finally {
      await model.close();
    }
  });
}

test('registration cost: transactions, compute units and the shape record rent of the fixture models', async () => {
  const rows: Record<string, unknown>[] = [];
  for (const [name, m] of [...FIXTURES, ['chain(512)', chainModel(512)] as const]) {
    const world = new World();
    await world.init(clockFor(m));
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
