// The trace and verify commands in separate processes: identical traces, exact refutation, exit 2 on bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prng } from '../../executor/onnx/builder.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const harness = fileURLToPath(new URL('./cli-harness.ts', import.meta.url));
const fixture = (f: string) => join(root, 'test/fixtures/models', f);
const hello = join(root, 'node_modules/openwakeword-js/models/hello_deepa.onnx');
let dir = '';

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', harness, ...args], {
    cwd: root,
    encoding: 'utf8',
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
function file(name: string, content: unknown): string {
  const p = join(dir, name);
  writeFileSync(
    p,
    typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content),
  );
  return p;
}
function floats(seed: number, n: number): number[] {
  const r = prng(seed);
  return Array.from({ length: n }, () => Math.fround(r() * 2 - 1));
}

let helloIn = '';
let int8In = '';
let ifIn = '';
let sileroIn = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'optinfer-cli-'));
  helloIn = file('hello.json', {
    inputs: { 'onnx::Flatten_0': { dtype: 'float32', dims: [1, 25, 96], data: floats(1, 2400) } },
  });
  int8In = file('int8.json', {
    inputs: { x: { dtype: 'int8', dims: [1, 16], data: Array.from({ length: 16 }, (_, i) => i * 15 - 120) } },
  });
  // sr is int64, given as a decimal string to exercise that form of the input JSON.
  sileroIn = file('silero.json', {
    inputs: {
      input: { dtype: 'float32', dims: [1, 512], data: floats(2, 512) },
      sr: { dtype: 'int64', dims: [], data: ['16000'] },
      h: { dtype: 'float32', dims: [2, 1, 64], data: new Array(128).fill(0) },
      c: { dtype: 'float32', dims: [2, 1, 64], data: new Array(128).fill(0) },
    },
  });
  ifIn = file('if.json', { inputs: { x: { dtype: 'float32', dims: [1, 4], data: [0.5, 2, -1, 0.3] } } });
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, model, input] of [
  ['hello_deepa', () => hello, () => helloIn],
  ['int8_mlp', () => fixture('int8_mlp.onnx'), () => int8In],
  ['if_model', () => fixture('if_model.onnx'), () => ifIn],
  ['silero_vad', () => fixture('silero_vad.onnx'), () => sileroIn],
] as const) {
  test(`${name}: the trace is identical across two separate processes and verifies`, () => {
    const a = run(['trace', '--model', model(), '--input', input()]);
    const b = run(['trace', '--model', model(), '--input', input()]);
    assert.equal(a.code, 0, a.err);
    assert.equal(b.code, 0, b.err);
    assert.equal(a.out, b.out);
    const t = JSON.parse(a.out);
    for (const k of ['modelId', 'inputDigest', 'outputDigest', 'traceRoot', 'profileHash'])
      assert.match(t[k], /^[0-9a-f]{64}$/, k);
    assert.equal(t.profile.graphOptimizationLevel, 'disabled');
    assert.ok(t.layers.length > 5);
    t.layers.forEach((l: { index: number; name: string; op: string; digest: string }, i: number) => {
      assert.equal(l.index, i);
      assert.match(l.digest, /^[0-9a-f]{64}$/);
    });
    const ok = run([
      'verify',
      '--model',
      model(),
      '--input',
      input(),
      '--claim',
      file(`${name}.claim.json`, a.out),
    ]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).valid, true);
  });
}

test('verify refutes a claim with one changed layer digest at exactly that layer', () => {
  const t = JSON.parse(run(['trace', '--model', hello, '--input', helloIn]).out);
  for (const k of [0, 7, t.layers.length - 1]) {
    const forged = structuredClone(t);
    forged.layers[k].digest = forged.layers[k].digest.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    const r = run([
      'verify',
      '--model',
      hello,
      '--input',
      helloIn,
      '--claim',
      file(`forged-${k}.json`, forged),
    ]);
    assert.equal(r.code, 1, r.err);
    const v = JSON.parse(r.out);
    assert.equal(v.valid, false);
    assert.equal(v.firstDivergentLayer, k);
  }
});

test('verify with only an output digest: holds, and refuted with firstDivergentLayer null', () => {
  const t = JSON.parse(run(['trace', '--model', fixture('int8_mlp.onnx'), '--input', int8In]).out);
  const good = run([
    'verify',
    '--model',
    fixture('int8_mlp.onnx'),
    '--input',
    int8In,
    '--claim',
    file('out.json', { outputDigest: t.outputDigest }),
  ]);
  assert.equal(good.code, 0, good.err);
  const wrong = t.outputDigest.replace(/^./, (c: string) => (c === 'a' ? 'b' : 'a'));
  const bad = run([
    'verify',
    '--model',
    fixture('int8_mlp.onnx'),
    '--input',
    int8In,
    '--claim',
    file('bad.json', { outputDigest: wrong }),
  ]);
  assert.equal(bad.code, 1);
  assert.deepEqual(
    (({ valid, firstDivergentLayer }) => ({ valid, firstDivergentLayer }))(JSON.parse(bad.out)),
    { valid: false, firstDivergentLayer: null },
  );
});

test('bad usage and input: exit 2 with one clear line on stderr, nothing on stdout', () => {
  const model = fixture('int8_mlp.onnx');
  const x = (dtype: string, dims: number[], n: number, name = 'x') =>
    file(`in-${name}-${dtype}-${dims.join('x')}.json`, {
      inputs: { [name]: { dtype, dims, data: new Array(n).fill(0) } },
    });
  const truncated = file('truncated.onnx', readFileSync(hello).subarray(0, 5000));
  const cases: [string[], RegExp][] = [
    [
      ['trace', '--model', model, '--input', x('int8', [1, 15], 15)],
      /input 'x': expected dims \[1,16\], got \[1,15\]/,
    ],
    [
      ['trace', '--model', model, '--input', x('float32', [1, 16], 16)],
      /input 'x': expected dtype int8, got float32/,
    ],
    [
      ['trace', '--model', model, '--input', x('int8', [1, 16], 16, 'y')],
      /input 'y': unknown input for model 'int8_mlp', expected 'x'/,
    ],
    [
      ['trace', '--model', model, '--input', x('int8', [1, 16], 15)],
      /input 'x': expected 16 elements for dims \[1,16\], got 15/,
    ],
    [
      ['trace', '--model', truncated, '--input', helloIn],
      /model 'truncated': expected an ONNX model .*truncated or not ONNX/,
    ],
    [['trace', '--model', helloIn, '--input', helloIn], /model 'hello.json': expected an ONNX model/],
    [
      ['trace', '--model', join(dir, 'missing.onnx'), '--input', int8In],
      /model file '.*missing.onnx': not found/,
    ],
    [['trace', '--model', model, '--input', file('broken.json', '{"inputs": {')], /expected valid JSON/],
    [['trace', '--model', model], /missing required option --input/],
    [
      ['verify', '--model', model, '--input', int8In, '--claim', file('noclaim.json', { layers: [] })],
      /missing outputDigest/,
    ],
    [
      [
        'verify',
        '--model',
        model,
        '--input',
        int8In,
        '--claim',
        file('badhash.json', { outputDigest: 'xyz' }),
      ],
      /outputDigest: expected 64 lowercase hex/,
    ],
    [
      [
        'verify',
        '--model',
        hello,
        '--input',
        helloIn,
        '--claim',
        file('other.json', { modelId: 'a'.repeat(64), outputDigest: 'b'.repeat(64) }),
      ],
      /claim: modelId is a{64}, but --model gives/,
    ],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.out, '');
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, `one line expected, got: ${r.err}`);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
});

test('verify: a missing last layer diverges at that index, a wrong traceRoot alone gives null', () => {
  const model = fixture('int8_mlp.onnx');
  const t = JSON.parse(run(['trace', '--model', model, '--input', int8In]).out);
  const short = { ...t, layers: t.layers.slice(0, -1) };
  const r1 = run(['verify', '--model', model, '--input', int8In, '--claim', file('short.json', short)]);
  assert.equal(r1.code, 1, r1.err);
  assert.equal(JSON.parse(r1.out).firstDivergentLayer, t.layers.length - 1);
  const root = { ...t, traceRoot: 'c'.repeat(64) };
  const r2 = run(['verify', '--model', model, '--input', int8In, '--claim', file('root.json', root)]);
  assert.equal(r2.code, 1, r2.err);
  assert.equal(JSON.parse(r2.out).firstDivergentLayer, null);
  assert.match(JSON.parse(r2.out).reason, /traceRoot/);
});
