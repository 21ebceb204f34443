// An ONNX graph as the subject of a dispute game: compiled for the program, traced by onnxruntime, played both ways.
import assert from 'node:assert/strict';
import { loadModel, type LoadedModel } from '../../../executor/model.ts';
import { traceModel } from '../../../executor/trace.ts';
import { compileForProgram, type ProgramModel } from '../../../executor/program-model.ts';
import { buildModel } from '../../../executor/onnx/builder.ts';
import { DTYPE_CODES, type Tensor } from '../../../state/tensor.ts';
import { PARAMS, PHASE, SIDE, cheatLayers, playToOneStep, startGame } from './game.ts';
import { run, type ModelDef } from './model.ts';
import type * as P from './protocol.ts';

type ModelSpec = Parameters<typeof buildModel>[0];

/** A node tensor in the test harness's form. */
export const toP = (t: Tensor): P.Tensor => ({
  dtype: DTYPE_CODES[t.dtype],
  dims: t.dims,
  bytes: Buffer.from(t.data),
});

export interface OnnxSubject {
  model: LoadedModel;
  compiled: ProgramModel;
  /** The registered model with input x, in the harness's form. */
  def(x: Tensor): ModelDef;
  /** onnxruntime's canonical layer trace on input x. */
  ortLayers(x: Tensor): Promise<P.Tensor[]>;
}

/** Loads and compiles an ONNX graph whose one input is named `input` (x by default). Close `model` after. */
export async function onnxSubject(bytes: Uint8Array, name: string, input = 'x'): Promise<OnnxSubject> {
  const model = await loadModel(bytes, { name });
  const compiled = await compileForProgram(model);
  return {
    model,
    compiled,
    def: (x) => ({
      inputs: [[input, toP(x)]],
      weights: compiled.weights.map((w) => toP(w.tensor)),
      layers: compiled.layers.map((l) => ({ op: l.op, refs: l.refs, attrs: Buffer.from(l.attrs) })),
      outputName: compiled.outputName,
    }),
    ortLayers: async (x) =>
      (await traceModel(model, { [input]: x }, { keepTensors: true })).tensors!.map(toP),
  };
}

/** Asserts onnxruntime's trace on x equals the referee's semantics bit for bit, layer by layer; returns the trace. */
export async function assertTraceIsReferee(s: OnnxSubject, x: Tensor, label: string): Promise<P.Tensor[]> {
  const trace = await s.ortLayers(x);
  const ref = run(s.def(x));
  assert.equal(trace.length, ref.length, `${label}: layer count`);
  trace.forEach((t, i) => {
    assert.equal(t.dtype, ref[i].dtype, `${label} layer ${i} dtype`);
    assert.deepEqual(t.dims, ref[i].dims, `${label} layer ${i} dims`);
    assert.ok(t.bytes.equals(ref[i].bytes), `${label} layer ${i} (${s.compiled.layers[i].onnxOp}) bytes`);
  });
  return trace;
}

/** An executor cheating at layer `at` plays a challenger holding onnxruntime's trace: the challenger wins. */
export async function cheatingExecutorLoses(s: OnnxSubject, x: Tensor, at: number): Promise<void> {
  const honest = await s.ortLayers(x);
  const g = await startGame(
    (m) => cheatLayers(m, at, 0),
    () => honest,
    s.def(x),
  );
  await playToOneStep(g);
  assert.equal((await g.world.dispute(g.dispute)).disagree, at);
  await g.chal.submitOneStep(g.dispute);
  const d = await g.world.dispute(g.dispute);
  assert.equal(d.phase, PHASE.RESOLVED);
  assert.equal(d.winner, SIDE.CHALLENGER, 'the honest challenger wins');
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
}

/** An executor holding onnxruntime's trace plays a challenger lying at layer `at`: the executor wins. */
export async function lyingChallengerLoses(s: OnnxSubject, x: Tensor, at: number): Promise<void> {
  const honest = await s.ortLayers(x);
  const g = await startGame(
    () => honest,
    (m) => cheatLayers(m, at, 0),
    s.def(x),
  );
  await playToOneStep(g);
  await g.exec.submitOneStep(g.dispute);
  assert.equal((await g.world.dispute(g.dispute)).winner, SIDE.EXECUTOR);
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
}

/** Each one-node graph is refused by the compiler with a message matching `want` and naming layer 0. */
export async function assertCompileRefusals(cases: { spec: ModelSpec; want: RegExp }[]): Promise<void> {
  for (const { spec, want } of cases) {
    const m = await loadModel(buildModel(spec), { name: spec.name });
    try {
      await assert.rejects(
        compileForProgram(m),
        (e: Error) => want.test(e.message) && /layer 0/.test(e.message),
        spec.name,
      );
    } finally {
      await m.close();
    }
  }
}

/**
 * Plays a game where the executor holds `exec` and the challenger `chal` to the one-step, registered on `sample`
 * (what the node registers: a zero input) and played on the job input x. The challenger submits the one-step; if
 * the program refuses it, its clock runs out and the executor claims the timeout. Returns the winner.
 */
export async function playOut(s: OnnxSubject, x: Tensor, sample: Tensor, exec: P.Tensor[], chal: P.Tensor[]) {
  const def = s.def(x);
  const reg = s.def(sample);
  let registered = false;
  const m = {
    ...def,
    get inputs() {
      return registered ? def.inputs : reg.inputs;
    },
  };
  const g = await startGame(
    () => ((registered = true), exec),
    () => chal,
    m,
  );
  await playToOneStep(g);
  const disagree = (await g.world.dispute(g.dispute)).disagree;
  let stepError: string | null = null;
  try {
    await g.chal.submitOneStep(g.dispute);
  } catch (e) {
    stepError = (e as Error).message.slice(0, 200);
  }
  let d = await g.world.dispute(g.dispute);
  if (d.phase !== PHASE.RESOLVED) {
    g.world.warp(PARAMS.clockSlots + 1n);
    g.world.must(await g.world.claimTimeout(g.exec.key, g.dispute), 'claim_timeout');
    d = await g.world.dispute(g.dispute);
  }
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
  return { disagree, winner: d.winner, stepError, byTimeout: d.byTimeout };
}
