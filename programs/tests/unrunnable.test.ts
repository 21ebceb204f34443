// The unrunnable lie: a user sends job inputs onnxruntime refuses to run (a Gather index out of range, an int32 Div by
// 0 or INT_MIN / -1) and a colluding executor signs an output anyway. The real challenger (challenger/challenger.ts)
// audits the job and plays its game against the executor on the real program in LiteSVM: its re-execution fails, it
// plays a partial trace (challenger/unrunnable.ts) and the one-step convicts the executor. Also what it must not do:
// open a game the referee would not decide for it, or take a limit or a crash for a refusal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, PublicKey } from '@solana/web3.js';
import { createMemoryBus } from '../../bus/memory.ts';
import { Challenger, type AuditOutcome } from '../../challenger/challenger.ts';
import type { JobSource } from '../../challenger/source.ts';
import { loadOrCreateKeypair } from '../../common/keys.ts';
import { DisputeDriver } from '../../dispute/driver.ts';
import { PHASE } from '../../dispute/phases.ts';
import { traceViewOf } from '../../dispute/views.ts';
import { runDecidable } from '../../executor/decidable.ts';
import { ModelRegistry, type LoadedModel } from '../../executor/model.ts';
import { tensorOf } from '../../executor/onnx/builder.ts';
import { compileForProgram, type ProgramModel } from '../../executor/program-model.ts';
import { IN_PROCESS, SandboxPool, type ModelRunner } from '../../executor/sandbox/pool.ts';
import { connectLocal, SIDE, type SettlementClient } from '../../settlement/index.ts';
import { PARAMS } from '../../settlement/testkit.ts';
import { onnxSubject, playOut } from './lib/onnx-game.ts';
import { OptinferError, isOptinferError } from '../../state/errors.ts';
import { fromHex } from '../../state/hash.ts';
import { Batch, jobId as makeJobId, signResult } from '../../state/job.ts';
import { encodeOpEntry } from '../../state/optable.ts';
import { CHUNK_BYTES, tensorNameFromBytes, tensorSetDigest, type Tensor } from '../../state/tensor.ts';
import type { TensorMap } from '../../state/tensor-map.ts';
import type { BatchIndex, ExecutorId, Hash32 } from '../../state/types.ts';
import { divModel, divX, gatherI, gatherModel, gatherX, smallDivModel } from './lib/unrunnable-models.ts';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

const registry = new ModelRegistry();
closers.push(() => registry.close());
const compiledOf = new Map<string, ProgramModel>();
async function load(
  bytes: Uint8Array,
  name: string,
): Promise<{ model: LoadedModel; compiled: ProgramModel }> {
  const model = await registry.register(bytes, { name });
  let compiled = compiledOf.get(model.modelId);
  if (!compiled) {
    compiled = await compileForProgram(model);
    compiledOf.set(model.modelId, compiled);
  }
  return { model, compiled };
}

/** onnxruntime's layers on `inputs` (a runnable job), or its first `count` layers (a cut run). */
async function ortLayers(model: LoadedModel, inputs: TensorMap, count?: number): Promise<Tensor[]> {
  const t = await IN_PROCESS.trace(model, inputs, {
    keepTensors: true,
    ...(count === undefined ? {} : { prefixLayers: count, checkPlain: false }),
  });
  return t.tensors!;
}

interface Played {
  outcome: { outcome: AuditOutcome; reason?: string };
  /** The challenger's game, once resolved; null when none was opened. */
  game: { winner: number; byTimeout: number; disagree: number; chunkIndex: number } | null;
  invalidated: boolean;
  finding: Awaited<ReturnType<Challenger['findings']['get']>>;
}

/**
 * A chain with the model registered, one batch holding the executor's signed record for `inputs` with the output
 * its trace `execLayers` ends in, the executor playing that trace (null: it never moves), and the real challenger
 * auditing the job. Returns the audit and the game as it ended.
 */
async function play(
  bytes: Uint8Array,
  name: string,
  inputs: TensorMap,
  execLayers: Tensor[] | null,
  o: { runner?: ModelRunner; claimed?: Hash32; warpOnStall?: boolean; restart?: boolean } = {},
): Promise<Played> {
  const { model, compiled } = await load(bytes, name);
  const { client, sender } = connectLocal();
  const fund = (k: Keypair) => (sender.airdrop(k.publicKey, 100_000_000_000n), k);
  const authority = fund(Keypair.generate());
  const sequencer = fund(Keypair.generate());
  await client.initialize(authority, {
    sequencer: sequencer.publicKey,
    treasury: Keypair.generate().publicKey,
    ...PARAMS,
  });
  await client.registerModel(authority, {
    modelId: fromHex(model.modelId, 32),
    profileHash: fromHex(model.profileHash, 32),
    weightRoot: fromHex(compiled.weightRoot, 32),
    weightCount: compiled.weights.length,
    opEntries: compiled.layers.map(encodeOpEntry),
    outputName: compiled.outputName,
    shapes: compiled.shapes,
  });
  const exec = fund(Keypair.generate());
  await client.bond(exec, 2n * PARAMS.minExecutorBond);
  const inputDigest = tensorSetDigest(inputs);
  const claimed =
    o.claimed ?? tensorSetDigest({ [compiled.outputName]: execLayers![execLayers!.length - 1] });
  const record = signResult(
    {
      jobId: makeJobId(0, model.modelId, inputDigest),
      modelId: model.modelId,
      inputDigest,
      outputDigest: claimed,
      executor: exec.publicKey.toBase58() as ExecutorId,
      fee: 10_000n,
    },
    exec.secretKey,
  );
  const batch = new Batch(0 as BatchIndex, [record]);
  await client.commitBatch(sequencer, {
    index: 0n,
    root: fromHex(batch.root, 32),
    jobCount: 1,
    feeTotal: batch.feeSum,
  });

  // The colluding executor makes every move of its trace but never submits a one-step (anyone may, and a
  // recomputation can only convict it): its model view opens nothing.
  const refuse = (): never => {
    throw new Error('the lying executor submits no one-step');
  };
  const views = execLayers && {
    trace: traceViewOf({
      modelId: model.modelId,
      inputDigest,
      profileHash: model.profileHash,
      layers: execLayers,
    }),
    model: {
      get inputs(): never {
        return refuse();
      },
      weight: refuse,
    },
  };
  const execDriver = new DisputeDriver(client, exec, async () => views, undefined, 50);
  execDriver.start();

  const dir = mkdtempSync(join(tmpdir(), 'optinfer-unrun-'));
  const keypairPath = join(dir, 'chal.json');
  fund(loadOrCreateKeypair(keypairPath));
  const source: JobSource = {
    batch: async () => ({ index: 0, root: batch.root, jobCount: 1, jobIds: [record.jobId] }),
    proof: async () => batch.proof(0),
    inputs: async () => inputs,
    modelBytes: async () => bytes,
  };
  const startChallenger = () =>
    Challenger.start({
      config: {
        dataDir: dir,
        id: 'c1',
        sampleRate: 1,
        sandbox: false,
        retryMs: 100,
        keypairPath,
        chain: { client, bondLamports: PARAMS.minChallengerBond },
      },
      bus: createMemoryBus(),
      source,
      registry,
      ...(o.runner ? { runner: o.runner } : {}),
    });
  let challenger = await startChallenger();
  try {
    const outcome = await challenger.audit(record.jobId, 0, batch.root);
    if (o.restart) {
      // Stopped once both traces are committed, and started again: it must find its own committed trace again.
      const me = challenger.keypair.publicKey;
      const end = Date.now() + 30_000;
      for (;;) {
        const [g] = await client.listDisputes({ party: me });
        if (g && g.dispute.phase > PHASE.CHAL_TRACE) break;
        if (Date.now() > end) assert.fail('the traces were not committed');
        await new Promise((r) => setTimeout(r, 50));
      }
      await challenger.close();
      challenger = await startChallenger();
    }
    const game = await resolved(client, challenger.keypair.publicKey, outcome.outcome === 'mismatch', () => {
      if (o.warpOnStall) sender.warp(PARAMS.clockSlots + 1n);
    });
    return {
      outcome,
      game,
      invalidated: await client.jobInvalidated(0n, 0),
      finding: await challenger.findings.get(record.jobId),
    };
  } finally {
    await challenger.close();
    await execDriver.stop();
  }
}

/** The challenger's game once resolved (waiting up to a minute), or null when it opened none. */
async function resolved(
  client: SettlementClient,
  challenger: PublicKey,
  expectGame: boolean,
  onStall: () => void,
): Promise<Played['game']> {
  const end = Date.now() + 60_000;
  let stallAt = Date.now() + 10_000;
  for (;;) {
    const [g] = await client.listDisputes({ party: challenger });
    if (g?.dispute.phase === PHASE.RESOLVED) {
      const d = g.dispute;
      return { winner: d.winner, byTimeout: d.byTimeout, disagree: d.disagree, chunkIndex: d.chunkIndex };
    }
    if (!g && !expectGame) return null;
    if (Date.now() > stallAt) {
      onStall();
      stallAt = Date.now() + 10_000;
    }
    if (Date.now() > end) assert.fail(`the game did not resolve (phase ${g?.dispute.phase ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The challenger convicted the executor at the one-step (not on time), at layer `layer`, chunk `chunk`. */
function assertConvicted(p: Played, layer: number, chunk: number, label: string) {
  assert.equal(
    p.outcome.outcome,
    'mismatch',
    `${label}: the challenger must dispute the signed output (audit said ${JSON.stringify(p.outcome)})`,
  );
  assert.ok(p.game, `${label}: a game was opened`);
  assert.equal(p.game.winner, SIDE.CHALLENGER, `${label}: the honest challenger wins`);
  assert.equal(p.game.byTimeout, 0, `${label}: decided by the one-step, not on time`);
  assert.equal(p.game.disagree, layer, `${label}: the game lands on layer ${layer}`);
  assert.equal(p.game.chunkIndex, chunk, `${label}: and on chunk ${chunk}`);
  assert.ok(p.invalidated, `${label}: the job is invalidated`);
}

// ---- The attacks ----

const gatherBad = { i: gatherI([0, 3, 7, 2]), x: gatherX };
/** The executor's best play on gatherBad: onnxruntime's trace with index 7 read as 0, every other element right. */
const gatherLie = async () =>
  ortLayers((await load(gatherModel, 'unrun-gather')).model, { i: gatherI([0, 3, 0, 2]), x: gatherX });

test('unrunnable lie: gather out of range, the executor right on every decidable element, is convicted at the undecidable chunk', async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  await assert.rejects(IN_PROCESS.run(model, gatherBad), (e) => isOptinferError(e, 'EXECUTION_FAILED'));
  const lie = await gatherLie();
  const p = await play(gatherModel, 'unrun-gather', gatherBad, lie);
  // Row 2 of the Gather (layer 3) reads index 7 of 4 rows: chunk 2. Rows 0, 1 and 3 are right in the lie.
  assertConvicted(p, 3, 2, 'gather out of range');
  assert.equal(p.finding?.unrunnable?.kind, 'undecidable');
  assert.equal(p.finding?.unrunnable?.element, 128);
});

test('unrunnable lie: gather out of range, the executor claiming its trace ends in zeros there, is convicted at the first wrong chunk', async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  // A real prefix (layers 0-2), then zeros: whatever the executor says of the layers no run computes.
  const real = await ortLayers(model, gatherBad, 3);
  const lie = [
    ...real,
    ...compiledOf
      .get(model.modelId)!
      .shapes.layers.slice(3)
      .map((h): Tensor =>
        tensorOf('int32', [...h.dims], new Array(h.dims.reduce((a, b) => a * b, 1)).fill(0)),
      ),
  ];
  const p = await play(gatherModel, 'unrun-gather', gatherBad, lie);
  assertConvicted(p, 3, 0, 'gather out of range, zeros');
});

test('unrunnable lie: gather out of range, the executor lying at an earlier layer, is convicted there', async () => {
  const lie = (await gatherLie()).map((t) => ({ ...t, data: new Uint8Array(t.data) }));
  lie[0].data[0] ^= 1;
  const p = await play(gatherModel, 'unrun-gather', gatherBad, lie);
  assertConvicted(p, 0, 0, 'gather out of range, earlier lie');
});

test('unrunnable lie: gather out of range, an executor that never plays loses on time', async () => {
  const claimed = tensorSetDigest({ y: (await gatherLie())[4] });
  const p = await play(gatherModel, 'unrun-gather', gatherBad, null, { claimed, warpOnStall: true });
  assert.equal(p.outcome.outcome, 'mismatch');
  assert.equal(p.game?.winner, SIDE.CHALLENGER);
  assert.equal(p.game?.byTimeout, 1);
  assert.ok(p.invalidated);
});

test('unrunnable lie: int32 div by 0, the executor right on every decidable element, is convicted at the undecidable chunk', async () => {
  const { model } = await load(divModel, 'unrun-div');
  const bad = { x: divX({ 70: -1 }) };
  await assert.rejects(IN_PROCESS.run(model, bad), (e) => isOptinferError(e, 'EXECUTION_FAILED'));
  // The real layer 0 (s = x + 1, so s[70] = 0), then onnxruntime's Div and Mul as if s[70] were 1.
  const [s] = await ortLayers(model, bad, 1);
  const sane = await ortLayers(model, { x: divX({ 70: 0 }) });
  const p = await play(divModel, 'unrun-div', bad, [s, sane[1], sane[2]]);
  // Element 70 of 128 int32: chunk 1.
  assertConvicted(p, 1, 1, 'int32 div by 0');
  assert.equal(p.finding?.unrunnable?.element, 70);
});

test('unrunnable lie: int32 div by 0, a challenger restarted mid-game plays its partial trace again and convicts', async () => {
  const { model } = await load(divModel, 'unrun-div');
  const bad = { x: divX({ 3: -1, 70: -1 }) };
  const [s] = await ortLayers(model, bad, 1);
  const sane = await ortLayers(model, { x: divX({ 3: 0, 70: 0 }) });
  const p = await play(divModel, 'unrun-div', bad, [s, sane[1], sane[2]], { restart: true });
  assertConvicted(p, 1, 0, 'restarted');
});

test('unrunnable lie: int32 INT_MIN / -1 in a scalar loop kills onnxruntime (SIGFPE); the challenger, sandboxed, still convicts', async () => {
  const pool = new SandboxPool({ size: 1 });
  closers.push(() => pool.close());
  const { model } = await load(smallDivModel, 'unrun-div3');
  const bad = { x: tensorOf('int32', [3], [4, 5, -2]) };
  await assert.rejects(
    pool.run(model, bad),
    (e) => isOptinferError(e, 'EXECUTION_FAILED') && /died/.test(e.message),
  );
  const [s] = await ortLayers(model, bad, 1);
  const sane = await ortLayers(model, { x: tensorOf('int32', [3], [4, 5, 0]) });
  const p = await play(smallDivModel, 'unrun-div3', bad, [s, sane[1], sane[2]], { runner: pool });
  assertConvicted(p, 1, 0, 'INT_MIN / -1');
  assert.match(p.finding?.unrunnable?.why ?? '', /-2147483648 \/ -1/);
});

test('unrunnable lie: a job input off its registered shape, read by a layer, convicts the executor on the operand header', async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  const bad = { i: tensorOf('int64', [5], [0, 1, 2, 3, 0]), x: gatherX };
  await assert.rejects(IN_PROCESS.run(model, bad), (e) => isOptinferError(e, 'INVALID_INPUT'));
  // Layers 0-2 do not read i and are right; the Gather and the output are those of a job with four indices.
  const lie = await ortLayers(model, { i: gatherI([0, 1, 2, 3]), x: gatherX });
  const p = await play(gatherModel, 'unrun-gather', bad, lie);
  assertConvicted(p, 3, 0, 'input off its registered shape');
  assert.equal(p.finding?.unrunnable?.kind, 'input-header');
});

test('unrunnable lie: a job input off its registered shape, the executor lying at an earlier layer, is convicted there by recomputation', async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  const bad = { i: tensorOf('int64', [5], [0, 1, 2, 3, 0]), x: gatherX };
  const lie = (await ortLayers(model, { i: gatherI([0, 1, 2, 3]), x: gatherX })).map((t) => ({
    ...t,
    data: new Uint8Array(t.data),
  }));
  lie[2].data[40] ^= 1;
  const p = await play(gatherModel, 'unrun-gather', bad, lie);
  // Layer 2 (Concat) is one the challenger computes: its one-step opens the chunks it reads, not headers only.
  assertConvicted(p, 2, 0, 'input off its registered shape, earlier lie');
});

// ---- What the challenger must not do ----

test("misnamed inputs (renamed): a lie on inputs a colluding sequencer committed under another name is played on the referee's reading (by place in name order) and convicted", async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  // The model's inputs are i and x; the job names them j and x: the referee reads j as i.
  const renamed = { j: gatherI([0, 1, 2, 3]), x: gatherX };
  await assert.rejects(IN_PROCESS.run(model, renamed), (e) => isOptinferError(e, 'INVALID_INPUT'));
  const read = await ortLayers(model, { i: gatherI([0, 1, 2, 3]), x: gatherX });
  const lie = await ortLayers(model, { i: gatherI([0, 1, 2, 1]), x: gatherX });
  const k = lie.findIndex((t, i) => !Buffer.from(t.data).equals(Buffer.from(read[i].data)));
  assert.ok(k >= 0, "the lie differs from the referee's reading");
  const off = lie[k].data.findIndex((b, i) => b !== read[k].data[i]);
  const p = await play(gatherModel, 'unrun-gather', renamed, lie);
  assertConvicted(p, k, Math.floor(off / CHUNK_BYTES), 'renamed inputs');
  // Signed on the referee's reading, the same job is agreed: nothing to dispute.
  const agreed = await play(gatherModel, 'unrun-gather', renamed, read);
  assert.deepEqual(agreed.outcome, { outcome: 'agree' });
  assert.equal(agreed.game, null);
});

test('misnamed inputs (not UTF-8): a lie on inputs committed under names whose bytes are not UTF-8 (0x68 and 0xff) is played with those bytes in its openings and convicted', async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  // 'h' sorts before the byte 0xff: the referee reads them as the model's i and x.
  const raw = { h: gatherI([0, 1, 2, 3]), [tensorNameFromBytes(Buffer.from([0xff]))]: gatherX };
  const read = await ortLayers(model, { i: gatherI([0, 1, 2, 3]), x: gatherX });
  const lie = await ortLayers(model, { i: gatherI([0, 1, 2, 1]), x: gatherX });
  const k = lie.findIndex((t, i) => !Buffer.from(t.data).equals(Buffer.from(read[i].data)));
  const off = lie[k].data.findIndex((b, i) => b !== read[k].data[i]);
  const p = await play(gatherModel, 'unrun-gather', raw, lie);
  assertConvicted(p, k, Math.floor(off / CHUNK_BYTES), 'inputs named in bytes that are not UTF-8');
});

test("misnamed inputs (missing): a lie on a job with fewer inputs than the model is convicted at the first layer reading the missing one (the one-step proves the job's input set)", async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  const missing = { x: gatherX };
  await assert.rejects(IN_PROCESS.run(model, missing), (e) => isOptinferError(e, 'INVALID_INPUT'));
  // The referee reads inputs by place in name order: the job's only input (x) is read as the model's first (i),
  // and the model's second (x) is the missing one. Layer 0 reads x: the game lands there.
  const lie = await ortLayers(model, { i: gatherI([0, 1, 2, 1]), x: gatherX });
  const p = await play(gatherModel, 'unrun-gather', missing, lie);
  assertConvicted(p, 0, 0, 'missing input');
  assert.equal(p.finding?.unrunnable?.kind, 'input-missing');
});

/** IN_PROCESS, except that whole runs fail with `code` (a sandbox child killed by the OS, a time limit). */
const failingRuns = (code: 'EXECUTION_FAILED' | 'TIME_LIMIT'): ModelRunner => ({
  ...IN_PROCESS,
  run: async () => {
    throw new OptinferError(code, `test: the run failed (${code})`);
  },
});

test('unrunnable, not convictable: a re-execution that fails on inputs every layer computes opens no game', async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  const good = { i: gatherI([0, 3, 1, 2]), x: gatherX };
  const lie = (await ortLayers(model, good)).map((t) => ({ ...t, data: new Uint8Array(t.data) }));
  lie[4].data[0] ^= 1;
  const p = await play(gatherModel, 'unrun-gather', good, lie, { runner: failingRuns('EXECUTION_FAILED') });
  assert.equal(p.outcome.outcome, 'skipped');
  assert.match(p.outcome.reason ?? '', /every layer computes in a cut run/);
  assert.equal(p.game, null);
});

test('unrunnable, not convictable: a time limit is no refusal of the inputs', async () => {
  const lie = await gatherLie();
  await assert.rejects(
    play(gatherModel, 'unrun-gather', gatherBad, lie, { runner: failingRuns('TIME_LIMIT') }),
    (e) => isOptinferError(e, 'TIME_LIMIT'),
  );
});

// ---- The honest path, unchanged ----

test('honest path: an honest executor refuses the unrunnable jobs before signing', async () => {
  const g = (await load(gatherModel, 'unrun-gather')).model;
  const d = (await load(divModel, 'unrun-div')).model;
  await assert.rejects(runDecidable(IN_PROCESS, g, gatherBad), (e) => isOptinferError(e, 'EXECUTION_FAILED'));
  await assert.rejects(runDecidable(IN_PROCESS, d, { x: divX({ 70: -1 }) }), (e) =>
    isOptinferError(e, 'EXECUTION_FAILED'),
  );
});

test('honest path: a runnable job is audited as before: agreed when right, and a lie on it loses a full-trace game', async () => {
  const { model } = await load(gatherModel, 'unrun-gather');
  const good = { i: gatherI([0, 3, 1, 2]), x: gatherX };
  const honest = await ortLayers(model, good);
  const agreed = await play(gatherModel, 'unrun-gather', good, honest);
  assert.deepEqual(agreed.outcome, { outcome: 'agree' });
  assert.equal(agreed.game, null);
  const lie: Tensor[] = honest.map((t) => ({ ...t, data: new Uint8Array(t.data) }));
  lie[3].data[300] ^= 1;
  lie[4] = (await ortLayers(model, good))[4];
  lie[4].data[300] ^= 1;
  const p = await play(gatherModel, 'unrun-gather', good, lie);
  assertConvicted(p, 3, 1, 'runnable lie');
  assert.equal(p.finding?.unrunnable, undefined, 'a full-trace finding');
});

// ---- Found on the way: INT_MIN / -1 in a vector lane ----

test('int-min lane: onnxruntime answers INT_MIN / -1 in a vector lane, the referee convicts any trace holding it, so an honest executor refuses the job', async () => {
  const s = await onnxSubject(divModel, 'unrun-div-lane');
  closers.push(() => s.model.close());
  // Element 70 of 128 lies in onnxruntime's vector body: the run succeeds with INT_MIN there (in a scalar loop it dies).
  const x = divX({ 70: -2 });
  const honest = await s.ortLayers(x);
  assert.equal(honest[1].bytes.readInt32LE(4 * 70), -2147483648);
  // A hostile challenger (the user's sybil) changes that element: the one-step lands on it and refuses it.
  const lie = honest.map((t) => ({ ...t, bytes: Buffer.from(t.bytes) }));
  lie[1].bytes.writeInt32LE(12345, 4 * 70);
  lie[2].bytes.writeInt32LE(24690, 4 * 70);
  const r = await playOut(s, x, divX(), honest, lie);
  assert.equal(r.disagree, 1);
  assert.equal(r.winner, SIDE.CHALLENGER, 'a trace holding INT_MIN / -1 loses, whoever committed it');
  await assert.rejects(
    runDecidable(IN_PROCESS, s.model, { x }),
    (e) => isOptinferError(e, 'UNDECIDABLE_INPUT') && /-2147483648 \/ -1/.test(e.message),
    'so the honest executor refuses it before signing',
  );
  // Other Div jobs of the model still run.
  assert.ok((await runDecidable(IN_PROCESS, s.model, { x: divX() })).outputDigest);
});
