// Tolerant mode (issue 15): float layers (MatMul, Exp, Log, Tanh, Sigmoid) are judged within a bound
// at the one-step instead of recomputed bit for bit, played through the whole game in the SBF program.
// The challenger's trace is the executor's with one element changed, the one it names; the referee
// judges the executor's claim there on the executor's own opened operands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tolerantChunk } from '../../dispute/step-data.ts';
import { firstBreak } from '../../dispute/tolerant.ts';
import { checkModel } from '../../state/shapes.ts';
import { modelShapes } from '../../settlement/testkit.ts';
import {
  PHASE,
  SIDE,
  World,
  assertPayout,
  attempt,
  executorCorrect,
  playToOneStep,
  snapshot,
  startGame,
  type Game,
  type Player,
  type TxResult,
} from './lib/game.ts';
import { get, make, run, type ModelDef } from './lib/model.ts';
import { bitsOf, bound, edgeClaims, fromBits, margin, type Terms } from './lib/dot-bound.ts';
import * as P from './lib/protocol.ts';
import { claiming, downstream, tolerantModel } from './lib/tolerant.ts';

const fr = Math.fround;

/** The challenger's judgement (dispute/tolerant.ts) of layer `at` of trace `layers` on its own operands. */
function breakOf(m: ModelDef, layers: P.Tensor[], at: number): number | undefined {
  const ins = m.layers[at].refs.map((ref) =>
    ref >> 14 === 0
      ? layers[ref & 0x3fff]
      : ref >> 14 === 1
        ? m.inputs[ref & 0x3fff][1]
        : m.weights[ref & 0x3fff],
  );
  return firstBreak(m.layers[at].op, ins, layers[at], m.arithBits ?? 0);
}

/** Terms of MatMul layer `at`'s element `e` on trace `layers` (row of its a, column of its b). */
function termsOf(m: ModelDef, layers: P.Tensor[], at: number, e: number): Terms {
  const [ra, rb] = m.layers[at].refs;
  const a = ra >> 14 === 1 ? m.inputs[0][1] : layers[ra & 0x3fff];
  const b = m.weights[rb & 0x3fff];
  const [k, n] = b.dims;
  const i = Math.floor(e / n),
    j = e % n;
  return {
    a: Array.from({ length: k }, (_, t) => get(a, i * k + t)),
    b: Array.from({ length: k }, (_, t) => get(b, t * n + j)),
  };
}

/**
 * A game on `m` where the executor's trace is `exec` and the challenger names element `e` of layer
 * `at`, claiming `chalBits` there (its trace: the executor's up to `at`, its own value at `e`).
 */
async function nameElement(
  m: ModelDef,
  exec: P.Tensor[],
  at: number,
  e: number,
  chalBits: number,
): Promise<Game> {
  const chal = claiming(m, exec, at, e, chalBits);
  const g = await startGame(
    () => exec,
    () => chal,
    m,
  );
  await playToOneStep(g);
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.phase, PHASE.ONE_STEP);
  assert.equal(d.disagree, at, 'layer bisection stops at the named layer');
  assert.equal(d.chunkIndex, Math.floor((4 * e) / P.CHUNK_BYTES), 'chunk descent stops at the named element');
  return g;
}

/** `by` fills its proof buffer with the openings and the challenger's disputed chunk, and submits the one-step. */
async function tolerantStep(g: Game, by: Player): Promise<TxResult> {
  const d = await g.world.dispute(g.dispute);
  const tail = tolerantChunk(d, g.chal.view.layer(d.disagree));
  await by.fillBuffer(g.dispute, Buffer.concat([await by.stepData(g.dispute), tail]));
  return by.oneStep(g.dispute);
}

/** Plays the one-step and checks the winner, the payout and the job's state. */
async function decide(g: Game, by: Player, winner: 'exec' | 'chal'): Promise<TxResult> {
  const before = await snapshot(g);
  const res = g.world.must(await tolerantStep(g, by), 'one_step');
  assert.equal(executorCorrect(res), winner === 'exec');
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.phase, PHASE.RESOLVED);
  assert.equal(d.winner, winner === 'exec' ? SIDE.EXECUTOR : SIDE.CHALLENGER);
  assert.equal((await g.world.batch(g.batch.index)).invalidated, winner === 'exec' ? 0 : 1);
  g.world.must(await by.closeBuffer(g.dispute), 'close_proof_buffer');
  await assertPayout(g, winner, before);
  return res;
}

// ---- Cheats the bound catches, in every tolerant op, at the first layer, a middle one and the last ----

for (const [at, e, what] of [
  [0, 100, 'the first layer (MatMul on the job input, chunk 1)'],
  [1, 77, 'a middle Tanh layer, earlier layers honest'],
  [2, 5, 'a middle MatMul layer, earlier layers honest'],
  [3, 30, 'the output (Sigmoid)'],
] as const) {
  test(`tolerant cheat in ${what}: the challenger names the element and the executor is slashed`, async (t) => {
    const m = tolerantModel();
    const honest = run(m);
    const v = get(honest[at], e);
    // A lie of one part in 10^4: far outside every bound here (MatMul ~K 2^-24, Tanh 8 ulp, Sigmoid 2^-21).
    const lie = claiming(m, honest, at, e, bitsOf(v + Math.max(Math.abs(v), 0.01) * 1e-4));
    // The challenger's audit finds it: every earlier layer passes, this one breaks at e.
    for (let i = 0; i < at; i++) assert.equal(breakOf(m, lie, i), undefined, `layer ${i} passes`);
    assert.equal(breakOf(m, lie, at), e);
    const g = await nameElement(m, lie, at, e, bitsOf(v));
    const writes = g.world.txs.length;
    const res = await decide(g, g.chal, 'chal');
    assert.ok(res.cu < 1_400_000, `one-step ${res.cu} CU`);
    t.diagnostic(
      `layer ${at} (op ${m.layers[at].op}): one-step ${res.cu} CU, ${g.world.txs.length - writes} transactions from the buffer to its close`,
    );
  });
}

test('the executor cannot pick the judged element: its own one-step on a named lie convicts it', async () => {
  const m = tolerantModel();
  const honest = run(m);
  const v = get(honest[0], 3);
  const g = await nameElement(m, claiming(m, honest, 0, 3, bitsOf(v * 1.001)), 0, 3, bitsOf(v));
  // Anyone may submit the one-step; the challenger's leaf fixes the element, whoever opens it.
  await decide(g, g.exec, 'chal');
});

// ---- Honest executors on other configurations win ----

test('honest executor summing in another order (f32 sequential): a challenger naming its element loses', async () => {
  const m = tolerantModel();
  const honest = run(m);
  // The executor's kernel accumulates in float32, element by element: another honest order.
  const seq = (t: Terms) => t.a.reduce((acc, a, i) => fr(acc + fr(a * t.b[i])), 0);
  const [k, n] = [16, 32];
  const mine = make(P.DT.FLOAT, [4, n], (o) => seq(termsOf(m, honest, 0, o)));
  const exec = downstream(m, [mine], 1);
  const differs = Array.from({ length: 4 * n }, (_, o) => o).filter(
    (o) => get(mine, o) !== get(honest[0], o),
  );
  assert.ok(differs.length > 0, `f32 sequential sums differ from the f64-rounded ones somewhere (K = ${k})`);
  const e = differs[differs.length - 1];
  assert.ok(margin(termsOf(m, exec, 0, e), get(mine, e)) > 1, 'the other order is inside the bound');
  for (let i = 0; i < m.layers.length; i++)
    assert.equal(breakOf(m, exec, i), undefined, `audit: layer ${i} passes`);
  // The challenger names the element where the two honest results differ, claiming its own.
  const g = await nameElement(m, exec, 0, e, bitsOf(get(honest[0], e)));
  await decide(g, g.chal, 'exec');
});

test('honest transcendental kernels within 3 ulps win against a challenger naming them', async () => {
  const m = tolerantModel();
  const honest = run(m);
  for (const [at, e] of [
    [1, 40],
    [3, 9],
  ] as const) {
    const bits = bitsOf(get(honest[at], e));
    const exec = claiming(m, honest, at, e, bits + 3);
    const g = await nameElement(m, exec, at, e, bits);
    await decide(g, g.exec, 'exec');
  }
});

// ---- At the edge of the dot-product bound ----

test('at the edge of the MatMul bound: the last f32 inside wins the game, the next one loses it', async () => {
  const m = tolerantModel();
  const honest = run(m);
  const [at, e] = [2, 13];
  const { inside, outside } = edgeClaims(termsOf(m, honest, at, e));
  const exactBits = bitsOf(Number(bound(termsOf(m, honest, at, e)).exact) * 2 ** -300);
  for (const [bits, winner] of [
    [inside[0], 'exec'],
    [inside[1], 'exec'],
    [outside[0], 'chal'],
    [outside[1], 'chal'],
  ] as const) {
    const exec = claiming(m, honest, at, e, bits);
    const g = await nameElement(m, exec, at, e, exactBits === bits ? exactBits + 1 : exactBits);
    await decide(g, g.chal, winner);
  }
});

// ---- The declared arithmetic is part of the model's commitment ----

/** f32 `x` rounded to `m` stored mantissa bits, to nearest (ties away; TF32 m = 10). */
function reduced(x: number, mbits: number): number {
  const u = bitsOf(x);
  const drop = 23 - mbits;
  return fromBits(((u + (1 << (drop - 1))) & ~((1 << drop) - 1)) >>> 0);
}

test('a TF32 executor result: convicted under a declared fp32 arithmetic, accepted under declared TF32', async () => {
  const results: boolean[] = [];
  for (const arith of [0, 10]) {
    const m = tolerantModel(arith);
    const honest = run(m);
    // TF32 tensor-core MatMul: inputs rounded to 10 bits, exact products, float32 accumulation.
    const tf32 = (t: Terms) => t.a.reduce((acc, a, i) => fr(acc + reduced(a, 10) * reduced(t.b[i], 10)), 0);
    const [at, n] = [0, 32];
    const pick = Array.from({ length: 4 * n }, (_, o) => o).find(
      (o) => margin(termsOf(m, honest, at, o), tf32(termsOf(m, honest, at, o))) < 0.5,
    );
    assert.ok(pick !== undefined, 'some TF32 result breaks the fp32 bound');
    const claim = tf32(termsOf(m, honest, at, pick));
    const g = await nameElement(
      m,
      claiming(m, honest, at, pick, bitsOf(claim)),
      at,
      pick,
      bitsOf(get(honest[at], pick)),
    );
    const res = await decide(g, g.chal, arith === 0 ? 'chal' : 'exec');
    results.push(executorCorrect(res) === true);
  }
  assert.deepEqual(results, [false, true]);
});

// ---- Registration ----

test('a tolerant op in an exact-mode model is refused at registration, naming the layer', async () => {
  const m = { ...tolerantModel(), mode: 'exact' as const };
  const world = new World();
  await world.init();
  const err = await world.registerModel(m).then(
    () => null,
    (e: unknown) => e as { details?: { name?: string; logs?: string[] } },
  );
  assert.equal(err?.details?.name, 'InexactOp');
  assert.match((err?.details?.logs ?? []).join('\n'), /layer 0 op code 40 is judged within a bound/);
  assert.equal((await world.client.fetchModel(world.modelId))?.opsLoaded, 0, 'no op page: no game can open');
  // The TypeScript mirror refuses it before any transaction.
  const ts = checkModel(m.layers, modelShapes(m), { mode: 'exact' });
  assert.equal(ts.provable, false);
  assert.match(ts.refusals[0], /^layer 0: op is judged within a bound/);
  assert.equal(checkModel(m.layers, modelShapes(m), { mode: 'tolerant' }).provable, true);
});

test('register_model stores the mode and arithmetic, and refuses ones it does not know', async () => {
  const world = new World();
  await world.init();
  await world.registerModel(tolerantModel(7));
  const model = await world.client.fetchModel(world.modelId);
  assert.equal(model?.mode, 1);
  assert.equal(model?.arithBits, 7);
  assert.equal(model?.opsLoaded, 4);
  for (const [mode, arithBits] of [
    ['exact', 10],
    ['tolerant', 17],
  ] as const) {
    const w = new World();
    await w.init();
    const reg = w.registration(tolerantModel(0, 99));
    const ix = w.client.ix.registerModel({
      ...reg,
      authority: w.authority.publicKey,
      layerCount: 4,
      mode,
      arithBits,
    });
    const res = await attempt(w.client.send(['register_model'], [ix], [w.authority]));
    assert.equal(res.error, 'InvalidConfig', `${mode} with ${arithBits} bits`);
  }
});
