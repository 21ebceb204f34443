// Review 19: attacks on exact mode's rules around float special values (NaN, ±0, ±inf, subnormals), each named after
// its attack and asserting the property that holds since the fix: operand values no honest run agrees on convict the
// executor (OpError::Undecidable) and honest executors refuse such jobs (UNDECIDABLE_INPUT); Clip's int8 bounds are
// encoded as i32; a tensor whose NaNs are not canonical travels as base64.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, node, tensorOf } from '../../executor/onnx/builder.ts';
import { tensorSetDigest, type Tensor } from '../../state/tensor.ts';
import { decodeInputsJson, encodeTensorsJson } from '../../state/tensor-json.ts';
import { loadModel } from '../../executor/model.ts';
import { IN_PROCESS } from '../../executor/sandbox/pool.ts';
import { runDecidable } from '../../executor/decidable.ts';
import { isOptinferError } from '../../state/errors.ts';
import { reexecute } from '../../challenger/reexecute.ts';
import { SIDE } from './lib/game.ts';
import { evalOp, prng, run } from './lib/model.ts';
import { onnxSubject, playOut as playOutOn, type OnnxSubject } from './lib/onnx-game.ts';
import type * as P from './lib/protocol.ts';

const subjects: OnnxSubject[] = [];
after(async () => {
  for (const s of subjects) await s.model.close();
});

/** review20's playOut, registered on x's zero sample (the JS referee refuses some special inputs). */
const playOut = (s: OnnxSubject, x: Tensor, exec: P.Tensor[], chal: P.Tensor[]) =>
  playOutOn(s, x, { ...x, data: new Uint8Array(x.data.length) }, exec, chal);

// ---- Attack 1: DynamicQuantizeLinear of an x holding a NaN is undecidable, so any lie there wins ----

/** quant-onnx.test.ts's quantize_dynamic pattern: x^2 + x^3, DQL, MatMulInteger, rescaled. */
const r0 = prng(77);
const quantBytes = buildModel({
  name: 'quant19',
  opset: 17,
  inputs: [{ name: 'x', dtype: 'float32', dims: [1, 64] }],
  outputs: [{ name: 'y', dtype: 'float32', dims: [1, 16] }],
  initializers: {
    two: tensorOf('float32', [], [2]),
    three: tensorOf('int64', [1], [3]),
    w: tensorOf(
      'uint8',
      [64, 16],
      Array.from({ length: 1024 }, () => r0() % 256),
    ),
    wzp: tensorOf('uint8', [], [131]),
    wscale: tensorOf('float32', [], [0.0123]),
  },
  nodes: [
    node('Pow', ['x', 'two'], ['p2']),
    node('Pow', ['x', 'three'], ['p3']),
    node('Add', ['p2', 'p3'], ['s']),
    node('DynamicQuantizeLinear', ['s'], ['q', 'qs', 'qz']),
    node('MatMulInteger', ['q', 'w', 'qz', 'wzp'], ['mm']),
    node('Cast', ['mm'], ['mf'], { to: 1 }),
    node('Mul', ['qs', 'wscale'], ['sc']),
    node('Mul', ['mf', 'sc'], ['y']),
  ],
});

/** A job input as a user may send it: ordinary floats with one NaN (element 0). */
function nanInput(): Tensor {
  const r = prng(1900);
  const f = new Float32Array(64).map(() => ((r() % 4001) - 2000) / 997);
  const u = new Uint32Array(f.buffer);
  u[0] = 0x7fc00000;
  return { dtype: 'float32', dims: [1, 64], data: new Uint8Array(f.buffer) };
}

// The NaN need not be sent: x = -inf gives p2 = +inf, p3 = -inf and s = NaN inside the graph just the same.
test('dql-nan lie: an executor lying at DynamicQuantizeLinear (its scale) on a job input holding a NaN loses to the honest challenger', async () => {
  const s = await onnxSubject(quantBytes, 'quant19');
  subjects.push(s);
  const x = nanInput();
  // onnxruntime runs the job (no error): an honest executor commits its trace, and so may a liar.
  const honest = await s.ortLayers(x);
  assert.equal(s.compiled.layers[4].onnxOp, 'DynamicQuantizeLinear');
  // The liar commits scale = 1000 (and keeps computing from it, so its trace is consistent).
  const lie: P.Tensor[] = honest.map((t) => ({ ...t, bytes: Buffer.from(t.bytes) }));
  lie[4].bytes.writeFloatLE(1000, 0);
  for (let i = 5; i < lie.length; i++) lie[i] = i === 8 || i === 9 ? recompute(s, x, lie, i) : lie[i];
  assert.ok(!lie[9].bytes.equals(honest[9].bytes), 'the lie changes the job output');
  const r = await playOut(s, x, lie, honest);
  assert.equal(r.disagree, 4, 'the game lands on the DynamicQuantizeLinear scale layer');
  assert.equal(
    r.winner,
    SIDE.CHALLENGER,
    `the honest challenger must win; instead the one-step was refused (${r.stepError}) and the lying executor won${r.byTimeout ? ' on time' : ''}`,
  );
});

/** Layer i recomputed by the JS referee from the (lying) layers before it. */
function recompute(s: OnnxSubject, x: Tensor, layers: P.Tensor[], i: number): P.Tensor {
  const def = s.def(x);
  const l = def.layers[i];
  const ins = l.refs.map((ref: number) =>
    ref >> 14 === 0 ? layers[ref & 0x3fff] : ref >> 14 === 1 ? def.inputs[0][1] : def.weights[ref & 0x3fff],
  );
  return evalOp(l, ins);
}

// ---- Attack 2 (not a float value, found on the way): Clip of int8 with a negative constant bound ----

/**
 * Clip(x int8, min = -5, max = 100), then Concat with an int8 weight (registration wants a weight). The compiler
 * copies the int8 bound's one byte into the 4-byte attribute (program-model.ts `attrs.set(lo.data.subarray(0, 4), 1)`)
 * and the referee reads it as an i32 (`clip_bounds_i32`): min = 0x000000FB = 251, not -5.
 */
const clipBytes = buildModel({
  name: 'clip-int8',
  opset: 13,
  inputs: [{ name: 'x', dtype: 'int8', dims: [8] }],
  outputs: [{ name: 'y', dtype: 'int8', dims: [9] }],
  initializers: {
    lo: tensorOf('int8', [], [-5]),
    hi: tensorOf('int8', [], [100]),
    w: tensorOf('int8', [1], [7]),
  },
  nodes: [node('Clip', ['x', 'lo', 'hi'], ['c']), node('Concat', ['c', 'w'], ['y'], { axis: 0 })],
});

test('clip-int8 negative bound: the referee computes what onnxruntime computes for Clip(int8, min=-5, max=100), so the honest executor wins', async () => {
  const s = await onnxSubject(clipBytes, 'clip-int8');
  subjects.push(s);
  const x = tensorOf('int8', [8], [-128, -6, -5, -1, 0, 50, 100, 127]);
  const honest = await s.ortLayers(x);
  assert.deepEqual(
    [...new Int8Array(honest[0].bytes)],
    [-5, -5, -5, -1, 0, 50, 100, 100],
    "onnxruntime's Clip",
  );
  // The referee computes what onnxruntime computes (before the fix it read the int8 min -5 as 251: every element 100).
  const referee = run(s.def(x));
  assert.ok(
    referee[0].bytes.equals(honest[0].bytes),
    `the referee computed ${referee[0].bytes.toString('hex')}`,
  );
  // A challenger claiming the old reading disputes the honest executor, and loses.
  const old: P.Tensor[] = honest.map((t) => ({ ...t, bytes: Buffer.from(t.bytes) }));
  old[0].bytes.fill(100);
  old[1] = recompute(s, x, old, 1);
  const r = await playOut(s, x, honest, old);
  assert.equal(r.disagree, 0);
  assert.equal(
    r.winner,
    SIDE.EXECUTOR,
    `the honest executor (Clip = ${honest[0].bytes.toString('hex')}) must win (attrs ${Buffer.from(s.compiled.layers[0].attrs).toString('hex')})`,
  );
});

// ---- Attack 3: a job input's NaN payload does not survive the sequencer's HTTP inputs endpoint ----

/**
 * A user submits x with non-canonical NaNs as base64 (decodeInputsJson keeps the bytes; the record commits their
 * digest, "payloads included"). A challenger reading the job over HTTP gets `encodeTensorsJson` (sequencer/http.ts
 * GET /v1/jobs/:id/inputs), decoded by challenger/source.ts with decodeInputsJson: every NaN comes back as
 * "NaN" = 0x7FC00000, so its inputs hash to another digest and reexecute refuses them ("nothing about the executor
 * can be concluded"). No HTTP challenger can audit such a job: an executor colluding with the user lies for free.
 */
test('nan-payload inputs over HTTP: the inputs a challenger reads from /v1/jobs/:id/inputs hash to the committed input digest, so it can re-execute the job', async () => {
  const x = nanInput();
  const u = new Uint32Array(x.data.buffer, x.data.byteOffset, 64);
  u[0] = 0x7fc00001; // quiet NaN, payload 1
  u[1] = 0xffc00000; // negative quiet NaN (x86's default NaN)
  u[2] = 0x7f800001; // signalling NaN
  const body = {
    inputs: {
      x: { dtype: 'float32', dims: x.dims, data: { base64: Buffer.from(x.data).toString('base64') } },
    },
  };
  const submitted = decodeInputsJson(body); // sequencer/http.ts POST /v1/jobs
  assert.ok(
    Buffer.from(submitted.x.data).equals(Buffer.from(x.data)),
    'the sequencer keeps the bits the user sent',
  );
  const committed = tensorSetDigest(submitted);
  const served = decodeInputsJson(JSON.parse(JSON.stringify({ inputs: encodeTensorsJson(submitted) })));
  const model = await loadModel(quantBytes, { name: 'quant19-http' });
  let refusal = '';
  try {
    await reexecute(model, served, committed, IN_PROCESS);
  } catch (e) {
    refusal = (e as Error).message;
  } finally {
    await model.close();
  }
  const got = new Uint32Array(served.x.data.buffer, served.x.data.byteOffset, 3);
  assert.equal(
    tensorSetDigest(served),
    committed,
    `served NaNs ${[...got].map((v) => '0x' + v.toString(16)).join(', ')} (sent 0x7fc00001, 0xffc00000, 0x7f800001): reexecute refuses: ${refusal}`,
  );
});

// ---- The honest executor's side of attack 1: it never signs a job whose trace holds an undecidable layer ----

test('dql-nan honest executor: a job sending a NaN into DynamicQuantizeLinear (sent, or made from -inf inside the graph) is refused UNDECIDABLE_INPUT before it is signed; ordinary inputs run', async () => {
  const model = await loadModel(quantBytes, { name: 'quant19-exec' });
  try {
    assert.equal(model.provable, true);
    const fromInf = nanInput();
    new Float32Array(fromInf.data.buffer, fromInf.data.byteOffset, 64)[5] = -Infinity;
    new Uint32Array(fromInf.data.buffer, fromInf.data.byteOffset, 64)[0] = 0x3f800000;
    for (const [what, x] of [
      ['a NaN sent', nanInput()],
      ['-inf sent (x^2 + x^3 = inf - inf)', fromInf],
    ] as const) {
      await assert.rejects(
        runDecidable(IN_PROCESS, model, { x }),
        (e) =>
          isOptinferError(e, 'UNDECIDABLE_INPUT') &&
          /DynamicQuantizeLinear '.*' reads a NaN in 's'/.test(e.message),
        what,
      );
    }
    const ok = nanInput();
    new Uint32Array(ok.data.buffer, ok.data.byteOffset, 64)[0] = 0x3f800000;
    const r = await runDecidable(IN_PROCESS, model, { x: ok });
    assert.equal(
      r.outputDigest,
      (await IN_PROCESS.run(model, { x: ok })).outputDigest,
      'the same outputs as a plain run',
    );
  } finally {
    await model.close();
  }
});
