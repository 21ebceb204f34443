// Role configs from flags and OPTINFER_* variables: each bad value refused in its option's own unit, pairs checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { isOptinferError } from '../state/errors.ts';
import {
  apiAccess,
  apiKey,
  challengerConfig,
  devConfig,
  executorConfig,
  int,
  ms,
  opt,
  rate,
  roleChain,
  sequencerConfig,
  u64,
  url,
  type DevFlags,
  type SequencerFlags,
} from './config.ts';
import { runCli } from '../test/helpers/node-process.ts';
import { cudaProviderPath } from '../executor/model.ts';

const refused = (f: () => unknown, message: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof InvalidArgumentError && message.test((e as Error).message));

test('parsers: errors name the option and its unit', () => {
  refused(
    () => u64('clock-slots', 'slots')('ten'),
    /^clock-slots: expected a whole number of slots, got "ten"$/,
  );
  refused(
    () => u64('min-executor-bond', 'lamports')('-1'),
    /min-executor-bond: expected a whole number of lamports/,
  );
  refused(() => u64('unbonding-slots', 'slots')('18446744073709551616'), /at most 2\^64 - 1 slots/);
  assert.equal(u64('clock-slots', 'slots')('18446744073709551615'), 2n ** 64n - 1n);
  refused(
    () => ms('batch-max-age-ms', 1, 10)('1.5'),
    /batch-max-age-ms: expected a whole number of milliseconds/,
  );
  refused(() => ms('batch-max-age-ms', 1, 10)('11'), /batch-max-age-ms: expected 1\.\.10, got 11/);
  refused(() => int('port', 0, 65535)('http'), /port: expected an integer/);
  refused(() => rate('sample-rate')('1.5'), /sample-rate: expected a number between 0 and 1, got "1.5"/);
  refused(() => rate('sample-rate')(' '), /sample-rate: expected a number between 0 and 1/);
  assert.equal(rate('sample-rate')('0.25'), 0.25);
  refused(() => url('rpc')('127.0.0.1 8899'), /rpc: expected a URL/);
  assert.equal(url('sequencer')('http://127.0.0.1:8787///'), 'http://127.0.0.1:8787');
});

test('options read OPTINFER_* variables, and a bad variable is refused like the flag', () => {
  const parse = (env: Record<string, string>, argv: string[] = []) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const c = new Command().exitOverride().configureOutput({ writeErr: () => {} });
      c.addOption(opt.sampleRate(0.1)).addOption(opt.slotMs()).addOption(opt.cheat());
      c.parse(argv, { from: 'user' });
      return c.opts();
    } finally {
      process.env = saved;
    }
  };
  assert.deepEqual(parse({}), { sampleRate: 0.1, slotMs: 400, cheat: 'none' });
  assert.equal(parse({ OPTINFER_SAMPLE_RATE: '0.75' }).sampleRate, 0.75);
  assert.equal(parse({ OPTINFER_SAMPLE_RATE: '0.75' }, ['--sample-rate', '0.5']).sampleRate, 0.5);
  assert.throws(() => parse({ OPTINFER_SAMPLE_RATE: '2' }), /sample-rate: expected a number between 0 and 1/);
  assert.throws(() => parse({ OPTINFER_CHEAT: 'lie' }), /cheat: expected one of none, wrong-output/);
});

test('--rpc needs --keypair, named for the role; paths are resolved', () => {
  assert.equal(roleChain({}, 'executor'), undefined);
  assert.throws(
    () => roleChain({ rpc: 'http://127.0.0.1:8899' }, 'challenger'),
    (e: unknown) =>
      isOptinferError(e, 'INVALID_CONFIG') && /challenger --rpc .* expected --keypair FILE/.test(`${e}`),
  );
  const chain = roleChain({ rpc: 'http://h:1', keypair: 'k.json', bondLamports: 5n }, 'executor');
  assert.deepEqual(chain, {
    rpc: 'http://h:1',
    ws: undefined,
    keypairPath: resolve('k.json'),
    bondLamports: 5n,
  });
});

test('role configs carry every flag, typed, with the cheat knobs gathered', () => {
  const flags: DevFlags = {
    port: 1,
    host: 'h',
    dataDir: 'd',
    executors: 3,
    sampleRate: 0.5,
    batchMaxJobs: 7,
    batchMaxAgeMs: 8,
    maxAttempts: 5,
    timeLimitMs: 3_000,
    memoryLimitMb: 1024,
    challengeWindowMs: 9,
    chain: 'none',
    slotMs: 400,
    cheat: 'wrong-layer',
    cheatRate: 0.5,
    cheatLayer: 2,
    apiKey: [],
  };
  const dev = devConfig(flags);
  assert.deepEqual(dev.apiKeys, [], 'the dev node is open by default');
  assert.equal(dev.rateLimit, 0);
  assert.equal(dev.dataDir, resolve('d'));
  assert.deepEqual(dev.cheat, { mode: 'wrong-layer', rate: 0.5, layer: 2 });
  assert.equal(dev.maxAttempts, 5);
  assert.deepEqual(dev.limits, { timeMs: 3_000, memoryBytes: 1024 * 1024 * 1024 });
  assert.equal(dev.rpc, undefined);
  const withRpc = devConfig({ ...flags, rpc: 'http://h:1', keypair: 'k', authorityKeypair: 'a', slotMs: 50 });
  assert.equal(withRpc.rpc?.slotMs, 50);
  assert.equal(withRpc.rpc?.authorityKeypairPath, resolve('a'));
  const ex = executorConfig({
    nats: 'nats://n',
    sequencer: 'http://s',
    dataDir: 'e',
    capacity: 4,
    keypair: 'k.json',
    cheat: 'none',
    cheatRate: 1,
    cheatLayer: 0,
    timeLimitMs: 5_000,
    memoryLimitMb: 512,
  });
  assert.deepEqual(ex.limits, { timeMs: 5_000, memoryBytes: 512 * 1024 * 1024 });
  assert.equal(ex.keypairPath, resolve('k.json'));
  assert.equal(ex.chain, undefined);
  const ch = challengerConfig({
    nats: 'nats://n',
    sequencer: 'http://s',
    dataDir: 'c',
    id: 'c1',
    sampleRate: 0.2,
    cheat: 'false-alarm',
    rpc: 'http://h:1',
    keypair: 'c.json',
    bondLamports: 9n,
    timeLimitMs: 60_000,
    memoryLimitMb: 2048,
  });
  assert.equal(ch.chain?.bondLamports, 9n);
  assert.equal(ch.cheat, 'false-alarm');
});

test('the command line: a bad slot count is reported in slots, exit 2, no stack trace', async () => {
  const r = await runCli([
    'chain',
    'init',
    '--authority-keypair',
    'a.json',
    '--sequencer',
    '11111111111111111111111111111111',
    '--clock-slots',
    '1e3',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /clock-slots: expected a whole number of slots, got "1e3"/);
  assert.doesNotMatch(r.stderr, /lamports|\n\s+at /);
});

test('API keys: --api-key repeats and reads OPTINFER_API_KEY; weak keys are refused by length', () => {
  const parse = (env: Record<string, string>, argv: string[] = []) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const c = new Command().exitOverride().configureOutput({ writeErr: () => {} });
      c.addOption(opt.apiKey()).addOption(opt.apiKeysFile()).addOption(opt.rateLimit());
      c.parse(argv, { from: 'user' });
      return c.opts();
    } finally {
      process.env = saved;
    }
  };
  const a = 'a'.repeat(16);
  const b = 'b'.repeat(20);
  assert.deepEqual(parse({}), { apiKey: [] });
  assert.deepEqual(parse({}, ['--api-key', a, '--api-key', b]).apiKey, [a, b]);
  assert.deepEqual(parse({ OPTINFER_API_KEY: a }).apiKey, [a]);
  assert.equal(parse({ OPTINFER_RATE_LIMIT: '7' }).rateLimit, 7);
  assert.throws(() => parse({}, ['--rate-limit', 'fast']), /rate-limit: expected an integer/);
  refused(
    () => apiKey('api-key')('hunter2'),
    /^api-key: expected 16 to 256 visible ASCII characters \(no spaces\), got 7 characters$/,
  );
  refused(() => apiKey('api-key')('a key with spaces in it'), /got 23 characters/);
});

test('API keys: a keys file with comments joins --api-key; keys turn on a rate limit unless it is set', () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-keys-'));
  const file = join(dir, 'keys');
  const a = 'a'.repeat(16);
  const b = 'b'.repeat(32);
  writeFileSync(file, `# clients\n${b}   # team b\n\n  ${a}\n`);
  assert.deepEqual(apiAccess({ apiKey: [a], apiKeysFile: file }), { apiKeys: [a, b], rateLimit: 50 });
  assert.deepEqual(apiAccess({ apiKey: [a], rateLimit: 0 }), { apiKeys: [a], rateLimit: 0 });
  assert.deepEqual(apiAccess({ apiKey: [] }), { apiKeys: [], rateLimit: 0 });
  assert.deepEqual(apiAccess({ apiKey: [], rateLimit: 3 }), { apiKeys: [], rateLimit: 3 });
  const config = (f: string, why: RegExp) =>
    assert.throws(
      () => apiAccess({ apiKey: [], apiKeysFile: f }),
      (e: unknown) => isOptinferError(e, 'INVALID_CONFIG') && why.test((e as Error).message),
    );
  config(join(dir, 'missing'), /--api-keys-file .*missing: cannot be read \(ENOENT\)/);
  writeFileSync(file, '# nothing but comments\n\n');
  config(file, /expected at least one key, got none/);
  writeFileSync(file, `${a}\nshort\n`);
  config(file, /--api-keys-file line 2: expected 16 to 256/);
});

test('the command line: a short --api-key is refused with exit 2 before the node starts', async () => {
  const r = await runCli(['dev', '--chain', 'none', '--api-key', 'hunter2']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /api-key: expected 16 to 256 visible ASCII characters/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('the sequencer takes payments by default on a cluster, never without one; --payments on without --rpc is refused', () => {
  const flags: SequencerFlags = {
    nats: 'nats://n',
    port: 1,
    host: 'h',
    dataDir: 's',
    batchMaxJobs: 4,
    batchMaxAgeMs: 100,
    maxAttempts: 3,
    challengeWindowMs: 1000,
    slotMs: 400,
    apiKey: [],
  };
  const onCluster = { ...flags, rpc: 'http://h:1', keypair: 'k.json' };
  assert.equal(sequencerConfig(onCluster).payments, true);
  assert.equal(sequencerConfig({ ...onCluster, payments: 'on' }).payments, true);
  assert.equal(sequencerConfig({ ...onCluster, payments: 'off' }).payments, false);
  assert.equal(sequencerConfig(flags).payments, false, 'no deposits on the local timer');
  assert.throws(
    () => sequencerConfig({ ...flags, payments: 'on' }),
    (e: unknown) => isOptinferError(e, 'INVALID_CONFIG') && /--payments on: expected --rpc/.test(`${e}`),
  );
  refused(() => opt.payments().parseArg!('maybe', undefined), /payments: expected one of on, off/);
});

test('dev takes payments like the sequencer with --rpc (on by default, --payments off opts out); the embedded chain keeps its default payer', () => {
  const flags: DevFlags = {
    port: 1,
    host: 'h',
    dataDir: 'd',
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 4,
    batchMaxAgeMs: 100,
    maxAttempts: 3,
    timeLimitMs: 3_000,
    memoryLimitMb: 1024,
    challengeWindowMs: 1000,
    chain: 'litesvm',
    slotMs: 400,
    cheat: 'none',
    cheatRate: 0,
    cheatLayer: 0,
    apiKey: [],
  };
  const onCluster = { ...flags, rpc: 'http://h:1', keypair: 'k.json' };
  assert.equal(devConfig(onCluster).payments, true);
  assert.equal(devConfig({ ...onCluster, payments: 'on' }).payments, true);
  assert.equal(devConfig({ ...onCluster, payments: 'off' }).payments, false);
  assert.equal(
    devConfig(flags).payments,
    true,
    'the in-process chain: jobs without a voucher go to the default payer',
  );
  assert.equal(devConfig({ ...flags, chain: 'none' }).payments, false, 'no deposits on the local timer');
  assert.throws(
    () => devConfig({ ...flags, payments: 'off' }),
    (e: unknown) => isOptinferError(e, 'INVALID_CONFIG') && /--payments off: applies with --rpc/.test(`${e}`),
  );
  assert.throws(
    () => devConfig({ ...flags, chain: 'none', payments: 'on' }),
    (e: unknown) => isOptinferError(e, 'INVALID_CONFIG') && /--payments on: expected --rpc/.test(`${e}`),
  );
});

test('--profile and --executor-profile: parsed into the role configs, canonical when unset, OPTINFER_PROFILE read', () => {
  const parse = (
    flag: '--profile' | '--executor-profile',
    argv: string[],
    env: Record<string, string> = {},
  ) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const c = new Command().exitOverride().configureOutput({ writeErr: () => {} });
      c.addOption(opt.profile(flag, ''));
      c.parse(argv, { from: 'user' });
      return c.opts();
    } finally {
      process.env = saved;
    }
  };
  assert.deepEqual(parse('--profile', ['--profile', 'threads=4,opt=all']).profile, {
    backend: 'cpu',
    threads: 4,
    opt: 'all',
  });
  assert.equal(parse('--profile', []).profile, undefined);
  assert.equal(parse('--profile', [], { OPTINFER_PROFILE: 'backend=wasm' }).profile.backend, 'wasm');
  assert.equal(parse('--executor-profile', ['--executor-profile', 'threads=2']).executorProfile.threads, 2);
  assert.throws(
    () => parse('--profile', ['--profile', 'opt=fast']),
    /profile: opt=fast: expected one of disabled, basic, extended, all/,
  );
  const base = {
    nats: 'nats://x',
    sequencer: 'http://s',
    dataDir: 'd',
    capacity: 1,
    cheat: 'none',
    cheatRate: 1,
    cheatLayer: 0,
    timeLimitMs: 1000,
    memoryLimitMb: 512,
  } as const;
  assert.equal(executorConfig({ ...base }).run, undefined);
  assert.deepEqual(executorConfig({ ...base, profile: { backend: 'wasm', threads: 1, opt: 'all' } }).run, {
    backend: 'wasm',
    threads: 1,
    opt: 'all',
  });
});

test('the command line: a bad --profile is refused with exit 2 naming the key, before the executor starts', async () => {
  const r = await runCli(['executor', '--profile', 'threads=2,turbo=1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /profile: unknown key 'turbo': expected one of backend, threads, opt, device/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  // Parsed, but without a CUDA provider (none here): refused at start, before the bus is dialled.
  if (!cudaProviderPath()) {
    const cuda = await runCli(['executor', '--profile', 'backend=cuda']);
    assert.equal(cuda.code, 2);
    assert.match(
      cuda.stderr,
      /executor --profile: backend=cuda needs onnxruntime-node's CUDA execution provider/,
    );
  }
  const d = await runCli(['dev', '--chain', 'none', '--executor-profile', 'backend=tpu']);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /executor-profile: backend=tpu: expected one of cpu, wasm, cuda/);
});
