// `--profile` parsing: every key and value checked, errors naming the bad one and what is expected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptinferError } from '../state/errors.ts';
import { CANONICAL_PROFILE } from '../state/profile.ts';
import {
  CANONICAL_RUN,
  formatRunConfig,
  isCanonicalRun,
  parseRunConfig,
  runOfProfile,
} from './run-config.ts';
import { assertRunnable, cudaProviderPath } from './model.ts';

test('parseRunConfig: keys left out are canonical; canonical is the profile the model commits to', () => {
  assert.deepEqual(parseRunConfig('canonical'), CANONICAL_RUN);
  assert.deepEqual(runOfProfile(CANONICAL_PROFILE), CANONICAL_RUN);
  assert.deepEqual(parseRunConfig('threads=4,opt=all,backend=cpu'), {
    backend: 'cpu',
    threads: 4,
    opt: 'all',
  });
  assert.deepEqual(parseRunConfig(' backend=wasm '), { backend: 'wasm', threads: 1, opt: 'disabled' });
  assert.deepEqual(parseRunConfig('opt=basic'), { backend: 'cpu', threads: 1, opt: 'basic' });
  assert.deepEqual(parseRunConfig('backend=cuda'), {
    backend: 'cuda',
    threads: 1,
    opt: 'disabled',
    device: 0,
  });
  assert.equal(isCanonicalRun(parseRunConfig('threads=1')), true);
  assert.equal(isCanonicalRun(parseRunConfig('threads=2')), false);
  for (const s of ['threads=2,opt=extended', 'backend=wasm,threads=3,opt=all', 'backend=cuda,device=1']) {
    assert.equal(
      formatRunConfig(parseRunConfig(s)),
      formatRunConfig(parseRunConfig(formatRunConfig(parseRunConfig(s)))),
    );
  }
  assert.equal(formatRunConfig(CANONICAL_RUN), 'backend=cpu,threads=1,opt=disabled');
});

test('parseRunConfig: a bad key or value is INVALID_CONFIG naming it and what is expected', () => {
  const cases: [string, RegExp][] = [
    ['', /--profile: expected key=value pairs .* got an empty string/],
    ['threads', /--profile: expected key=value \(keys: backend, threads, opt, device\), got 'threads'/],
    ['threads=', /expected key=value .* got 'threads='/],
    ['speed=9', /--profile: unknown key 'speed': expected one of backend, threads, opt, device/],
    ['threads=0', /--profile: threads=0: expected a whole number from 1 to 256/],
    ['threads=1.5', /threads=1\.5: expected a whole number from 1 to 256/],
    ['threads=999', /threads=999: expected a whole number from 1 to 256/],
    ['threads=-2', /threads=-2: expected a whole number/],
    ['opt=max', /--profile: opt=max: expected one of disabled, basic, extended, all/],
    ['backend=gpu', /--profile: backend=gpu: expected one of cpu, wasm, cuda/],
    ['threads=2,threads=4', /--profile: key 'threads' given twice/],
    ['device=1', /device=1: only with backend=cuda, got backend=cpu/],
    ['backend=cuda,device=x', /device=x: expected a whole number ≥ 0/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(
      () => parseRunConfig(spec),
      (e: unknown) => e instanceof OptinferError && e.code === 'INVALID_CONFIG' && re.test(e.message),
      spec,
    );
  }
  assert.throws(() => parseRunConfig('opt=max', '--executor-profile'), /^.*--executor-profile: opt=max/);
});

test(
  'backend=cuda is refused where onnxruntime-node has no CUDA provider, naming the missing library',
  { skip: cudaProviderPath() ? 'this machine has the CUDA provider' : false },
  async () => {
    await assert.rejects(
      assertRunnable(parseRunConfig('backend=cuda'), 'executor --profile'),
      (e: unknown) =>
        e instanceof OptinferError &&
        e.code === 'INVALID_CONFIG' &&
        /executor --profile: backend=cuda needs onnxruntime-node's CUDA execution provider \(libonnxruntime_providers_cuda\.so\), which is not installed here/.test(
          e.message,
        ),
    );
    // The wasm backend is installed: it passes the start-up check.
    await assertRunnable(parseRunConfig('backend=wasm'), 'executor --profile');
  },
);
