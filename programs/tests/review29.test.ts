// Review 29: attacks on tolerant mode (commit "Tolerant mode on chain", issue 15). Each test plays the
// attack against the SBF program and asserts the honest outcome, so it fails while the attack works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tolerantChunk } from '../../dispute/step-data.ts';
import { checkLayer, checkModel } from '../../state/shapes.ts';
import { modelShapes } from '../../settlement/testkit.ts';
import {
  PARAMS,
  PHASE,
  SIDE,
  Player,
  World,
  attempt,
  clockFor,
  executorCorrect,
  playToOneStep,
  type Game,
  type TxResult,
} from './lib/game.ts';
import { Trace } from './lib/trace.ts';
import { OP, REF, get, make, prng, run, type ModelDef } from './lib/model.ts';
import { bitsOf } from './lib/dot-bound.ts';
import * as P from './lib/protocol.ts';
import { claiming, tolerantModel } from './lib/tolerant.ts';

const fr = Math.fround;

/** Replaces leaf `chunk` of layer `layer`'s chunk tree in `t` by `leaf` and recomputes every commitment above it. */
function withLeaf(t: Trace, layer: number, chunk: number, leaf: Buffer): Trace {
  const row = t.chunkTrees[layer][0].slice();
  row[chunk] = leaf;
  t.chunkTrees[layer] = P.tree(row);
  t.digests[layer] = P.digestFromRoot(t.layers[layer], P.rootOf(t.chunkTrees[layer]));
  t.prefixes = P.prefixes(t.seed, t.digests);
  t.levels = P.tree(t.prefixes.map(P.leafHash));
  return t;
}

/** startGame with the executor's trace passed through `tamper` before it commits anything. */
async function startWith(
  m: ModelDef,
  execLayers: P.Tensor[],
  chalLayers: P.Tensor[],
  tamper: (t: Trace) => Trace = (t) => t,
  over: Partial<typeof PARAMS> = {},
): Promise<Game> {
  const world = new World();
  await world.init({ ...clockFor(m), ...over });
  await world.registerModel(m);
  const e = await world.operator(10_000_000_000n);
  const c = await world.operator(5_000_000_000n);
  const exec = new Player(world, e, tamper(world.trace(execLayers)));
  const chal = new Player(world, c, world.trace(chalLayers));
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute');
  return { world, exec, chal, dispute, batch };
}

/** `by` fills its buffer with its openings and the given chunk tail (the challenger's chunk by default) and submits. */
async function tolerantStep(g: Game, by: Player, tail?: Buffer): Promise<TxResult> {
  const d = await g.world.dispute(g.dispute);
  const t = tail ?? tolerantChunk(d, g.chal.view.layer(d.disagree));
  await by.fillBuffer(g.dispute, Buffer.concat([await by.stepData(g.dispute), t]));
  return by.oneStep(g.dispute);
}

/**
 * The honest challenger plays its one-step (the best it can: its openings and chunk, the executor's
 * served bytes); if that cannot land, its clock runs out and the executor claims the timeout. Returns the
 * winner and the challenger's one-step result.
 */
async function honestChallengerEnds(
  g: Game,
): Promise<{ winner: number; step: TxResult; byTimeout: boolean }> {
  const step = await tolerantStep(g, g.chal);
  if (!step.ok) {
    // Its clock runs out (every registered clock here is far below 100,000 slots).
    g.world.warp(100_000n);
    g.world.must(await g.world.claimTimeout(g.exec.key, g.dispute), 'claim_timeout');
  }
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.phase, PHASE.RESOLVED);
  return { winner: d.winner, step, byTimeout: !step.ok };
}

// ---- Threat 1: the executor's leaf at a tolerant layer has no chunk preimage ----

test('rev29 executor commits a tolerant-layer leaf with no chunk preimage: the honest challenger cannot one-step and loses on time', async () => {
  const m = tolerantModel();
  const honest = run(m);
  const [at, e] = [1, 77]; // Tanh [4,32]: 2 chunks, e in chunk 1
  const v = get(honest[at], e);
  // The executor lies at e (far outside 8 ulps) and commits for that chunk a leaf that hashes no bytes.
  const lie = claiming(m, honest, at, e, bitsOf(v * 1.5 + 0.25));
  const chunk = Math.floor((4 * e) / P.CHUNK_BYTES);
  const bogus = P.sha(Buffer.from('no preimage'));
  const g = await startWith(m, lie, honest, (t) => withLeaf(t, at, chunk, bogus));
  await playToOneStep(g, ['reveal_leaf']);
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.phase, PHASE.LEAF_REVEAL, 'the executor must open its leaf before the one-step');
  assert.equal(d.disagree, at);
  assert.equal(d.chunkIndex, chunk);
  // It cannot: no bytes hash to its leaf, and empty bytes stand only for the ZERO leaf.
  assert.equal((await g.exec.move(g.dispute)).error, 'NodeMismatch');
  const empty = await attempt(g.world.client.revealLeaf(g.exec.key, g.dispute, { bytes: new Uint8Array() }));
  assert.equal(empty.error, 'NodeMismatch');
  assert.equal((await g.world.claimTimeout(g.chal.key, g.dispute)).error, 'ClockNotExpired');
  g.world.warp(100_000n);
  g.world.must(await g.world.claimTimeout(g.chal.key, g.dispute), 'claim_timeout');
  assert.equal(
    (await g.world.dispute(g.dispute)).winner,
    SIDE.CHALLENGER,
    'the executor loses on its own clock',
  );
});

test('rev29 executor commits the empty (ZERO) leaf for a chunk inside a tolerant layer: the honest challenger loses on time', async () => {
  const m = tolerantModel();
  const honest = run(m);
  const [at, e] = [3, 30]; // Sigmoid output [4,8]: one 128-byte chunk
  // The executor's whole output chunk is "padding": it needs no bytes at all, and no one can judge it.
  const lie = claiming(m, honest, at, e, bitsOf(0.123));
  const g = await startWith(m, lie, honest, (t) => withLeaf(t, at, 0, P.ZERO));
  await playToOneStep(g, ['reveal_leaf']);
  assert.equal((await g.world.dispute(g.dispute)).disagree, at);
  // The ZERO leaf opens as no bytes; a chunk inside the registered tensor has 128.
  g.world.must(
    await attempt(g.world.client.revealLeaf(g.exec.key, g.dispute, { bytes: new Uint8Array() })),
    'reveal_leaf',
  );
  assert.equal((await g.world.dispute(g.dispute)).phase, PHASE.ONE_STEP);
  const r = await honestChallengerEnds(g);
  assert.equal(r.byTimeout, false, `the one-step decides: ${r.step.error ?? 'ok'}`);
  assert.equal(
    r.winner,
    SIDE.CHALLENGER,
    `executor with a ZERO leaf inside its output won (challenger's one-step: ${r.step.error ?? 'ok'})`,
  );
});

// ---- Threat 3: a registered tolerant MatMul whose one-step does not fit ----

/** x [M, K] -> MatMul W [K, N] = y, float32, tolerant; small values so the dot products stay tame. */
function bigMatMul(M: number, K: number, N: number, seed = 5): ModelDef {
  const r = prng(seed);
  const u = () => (r() / 2 ** 32) * 2 - 1;
  return {
    inputs: [['x', make(P.DT.FLOAT, [M, K], () => fr(u()))]],
    weights: [make(P.DT.FLOAT, [K, N], () => fr(u() / 8))],
    layers: [{ op: OP.MATMUL, refs: [REF.input(0), REF.weight(0)] }],
    outputName: 'y',
    mode: 'tolerant',
    arithBits: 0,
  };
}

/** The largest K the cost model registers for x [M, K] x W [K, N]. */
function largestK(M: number, N: number): number {
  let best = 0;
  for (let K = 1; K < 20_000; K++) {
    const r = {
      inputs: [{ dtype: P.DT.FLOAT, dims: [M, K] }],
      weights: [{ header: { dtype: P.DT.FLOAT, dims: [K, N] }, chunkRoot: P.ZERO }],
      layers: [{ dtype: P.DT.FLOAT, dims: [M, N] }],
    };
    if (checkLayer({ op: OP.MATMUL, refs: [REF.input(0), REF.weight(0)] }, r, 0).ok) best = K;
  }
  return best;
}

for (const [M, N] of [
  [1, 1],
  [1, 64],
] as const) {
  test(`rev29 ${N === 1 ? '(passes) ' : ''}largest registrable tolerant MatMul [${M},K]x[K,${N}]: the honest challenger's one-step fits one transaction`, async (t) => {
    const K = largestK(M, N);
    const m = bigMatMul(M, K, N);
    // Both cost models accept it.
    assert.equal(checkModel(m.layers, modelShapes(m), { mode: 'tolerant' }).provable, true);
    const honest = run(m);
    const e = 0;
    const v = get(honest[0], e);
    const lie = claiming(m, honest, 0, e, bitsOf(v + 1));
    const g = await startWith(m, lie, honest);
    await playToOneStep(g);
    const step = await tolerantStep(g, g.chal);
    t.diagnostic(`K = ${K}: one-step ${step.ok ? `${step.cu} CU` : `refused: ${step.error}`}`);
    assert.ok(
      step.ok,
      `the registered layer's one-step fails: ${step.error} ${step.logs.slice(-3).join(' | ')}`,
    );
    assert.equal(executorCorrect(step), false);
  });
}

// ---- Threat 2: a tolerant layer with no elements (past-the-end rule at chunk 0) ----

for (const [what, m] of [
  [
    'Exp of an empty [0, 4] input',
    {
      inputs: [['x', make(P.DT.FLOAT, [0, 4], () => 0)]],
      weights: [make(P.DT.INT8, [0], () => 0)],
      layers: [{ op: OP.EXP, refs: [REF.input(0)] }],
      outputName: 'y',
      mode: 'tolerant',
      arithBits: 0,
    },
  ],
  [
    'MatMul [0, 4] x [4, 3]',
    {
      inputs: [['x', make(P.DT.FLOAT, [0, 4], () => 0)]],
      weights: [make(P.DT.FLOAT, [4, 3], (i) => fr(i / 7))],
      layers: [{ op: OP.MATMUL, refs: [REF.input(0), REF.weight(0)] }],
      outputName: 'y',
      mode: 'tolerant',
      arithBits: 0,
    },
  ],
] as [string, ModelDef][]) {
  test(`rev29 a challenger wins against an honest executor on a tolerant layer with no elements (${what})`, async () => {
    assert.equal(checkModel(m.layers, modelShapes(m), { mode: 'tolerant' }).provable, true);
    const honest = run(m);
    assert.equal(honest[0].bytes.length, 0, 'the honest layer is empty');
    // The challenger's layer: the registered header, one element of bytes behind its chunk root.
    const fake = { ...honest[0], bytes: Buffer.from(new Float32Array([1]).buffer) };
    const g = await startWith(m, honest, [fake]);
    await playToOneStep(g);
    const d = await g.world.dispute(g.dispute);
    assert.equal(d.phase, PHASE.ONE_STEP);
    assert.equal(d.chunkIndex, 0);
    // The honest executor opened its empty chunk (leaf H(0x00)). No bytes of the one chunk's length
    // (none) hash to the challenger's leaf, so its one-step cannot land and it loses on time.
    const step = await tolerantStep(g, g.chal, Buffer.alloc(0));
    assert.equal(step.error, 'InvalidProof');
    assert.equal(executorCorrect(step), undefined);
    g.world.warp(100_000n);
    g.world.must(await g.world.claimTimeout(g.exec.key, g.dispute), 'claim_timeout');
    assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR, 'the honest executor wins');
  });
}

// ---- Attacks that do not work (kept as passing tests) ----

test('rev29 (passes) the executor cannot pass its own chunk off as the challenger’s: it is hashed against that side’s leaf', async () => {
  const m = tolerantModel();
  const honest = run(m);
  const [at, e] = [2, 13];
  const v = get(honest[at], e);
  const lie = claiming(m, honest, at, e, bitsOf(v * 1.01 + 0.01));
  const g = await startWith(m, lie, honest);
  await playToOneStep(g);
  const d = await g.world.dispute(g.dispute);
  // The executor's one-step passes its own chunk off as the challenger's (then nothing differs).
  const swapped = tolerantChunk(d, g.exec.view.layer(at));
  const bad = await tolerantStep(g, g.exec, swapped);
  assert.equal(bad.error, 'InvalidProof');
  g.world.must(await g.exec.closeBuffer(g.dispute), 'close_proof_buffer');
  const res = g.world.must(await tolerantStep(g, g.chal), 'one_step');
  assert.equal(executorCorrect(res), false);
});

test('rev29 (passes) non-finite and subnormal executor claims on finite operands are convicted (MatMul, Tanh, Sigmoid)', async () => {
  const m = tolerantModel();
  const honest = run(m);
  for (const [at, e] of [
    [2, 13],
    [1, 40],
    [3, 9],
  ] as const) {
    for (const bits of [0x7fc00000, 0x7f800000, 0xff800000, 0x00000001]) {
      const g = await startWith(m, claiming(m, honest, at, e, bits), honest);
      await playToOneStep(g);
      const res = g.world.must(await tolerantStep(g, g.exec), 'one_step');
      assert.equal(executorCorrect(res), false, `layer ${at} claim 0x${bits.toString(16)}`);
    }
  }
});
