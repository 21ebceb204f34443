// NATS bus against a real nats-server -js: the shared conformance suite plus durability across restarts and crashes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Keypair } from '@solana/web3.js';
import { after, before, describe, it } from 'node:test';
import type { Bus } from '../../bus/bus.ts';
import { busConformance, rejectsWith, TEST_STREAMS, waitFor } from '../../bus/conformance.ts';
import * as messages from '../../bus/messages.ts';
import type { ResultMessage } from '../../bus/messages.ts';
import { connectNatsBus } from '../../bus/nats.ts';
import { silentLogger } from '../../common/log.ts';
import { noopMetrics } from '../../common/metrics.ts';
import { AssignmentConsumer } from '../../executor/consumer.ts';
import { ModelRegistry } from '../../executor/model.ts';
import { HONEST_EXECUTOR } from '../../executor/policy.ts';
import { ResultStore } from '../../executor/results.ts';
import { IN_PROCESS, type ModelRunner } from '../../executor/sandbox/pool.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import type { ExecutorId, JobId, ModelId } from '../../state/types.ts';
import { natsSkipReason, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';

const skip = natsSkipReason();
const MAX_PAYLOAD = 8 * 1024 * 1024;
const FIXTURE = fileURLToPath(new URL('./fixtures/hang-consumer.ts', import.meta.url));
const BATCH_EXECUTOR = fileURLToPath(new URL('./fixtures/batch-executor.ts', import.meta.url));
const DEMO = fileURLToPath(new URL('../../models/demo-int8-mlp.onnx', import.meta.url));
const uniq = (): string => `u${randomBytes(6).toString('hex')}`;

let server: NatsServerHandle | undefined;
const buses: Bus[] = [];

async function connect(url = (server as NatsServerHandle).url): Promise<Bus> {
  const bus = await connectNatsBus({
    url,
    streams: TEST_STREAMS,
    pullExpiresMs: 1_000,
    reconnectWaitMs: 100,
  });
  buses.push(bus);
  return bus;
}

describe('NATS bus', { skip }, () => {
  before(async () => {
    server = await startNatsServer({ maxPayload: MAX_PAYLOAD });
  });
  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await server?.dispose();
  });

  busConformance('nats', () => connect());

  it('says how to fix an unreachable server', async () => {
    const err = await rejectsWith(
      connectNatsBus({ url: 'nats://127.0.0.1:1', connectTimeoutMs: 1_000 }),
      'CONNECT',
    );
    assert.match(
      err.message,
      /^cannot connect to NATS at nats:\/\/127\.0\.0\.1:1: .+ — start nats-server -js or pass --nats URL$/,
    );
  });

  it('says so when the server has no JetStream', async () => {
    const plain = await startNatsServer({ jetstream: false });
    try {
      const err = await rejectsWith(connectNatsBus({ url: plain.url }), 'CONNECT');
      assert.match(err.message, /has no JetStream .* nats-server -js/);
    } finally {
      await plain.dispose();
    }
  });

  it('refuses a message larger than the server max_payload, naming both sizes', async () => {
    const bus = await connect();
    assert.equal(bus.maxPayloadBytes, MAX_PAYLOAD - 1024);
    const big = { data: new Uint8Array(MAX_PAYLOAD + 1) };
    const err = await rejectsWith(() => bus.publish('t.big', big), 'PAYLOAD_TOO_LARGE');
    assert.match(err.message, new RegExp(`is (\\d+) bytes encoded.*at most ${MAX_PAYLOAD} bytes`));
    assert.ok(Number(/is (\d+) bytes/.exec(err.message)?.[1]) > MAX_PAYLOAD);
    await rejectsWith(bus.send(`t.work.big`, big), 'PAYLOAD_TOO_LARGE');
    await rejectsWith(bus.request('t.big', big), 'PAYLOAD_TOO_LARGE');
  });

  it('a durable message survives a nats-server restart on the same store, and the client reconnects', async () => {
    const srv = server as NatsServerHandle;
    const bus = await connect();
    const u = uniq();
    await bus.send(`t.work.${u}`, { survives: true, bytes: new Uint8Array([7, 8, 9]) });
    await srv.stop('SIGKILL'); // a crash, not a clean shutdown
    await srv.restart();
    const got: unknown[] = [];
    // No waiting for the reconnect here: the bus must hold JetStream calls until it is back.
    await bus.consume(`t.work.${u}`, `d${u}`, (m) => void got.push(m));
    await waitFor('message after restart', () => got.length === 1, 10_000);
    assert.deepEqual(got, [{ survives: true, bytes: new Uint8Array([7, 8, 9]) }]);
    // The same connection keeps working for core messaging after the restart.
    await bus.reply(`t.after.${u}`, () => ({ alive: true }));
    assert.deepEqual(await bus.request(`t.after.${u}`, {}), { alive: true });
  });

  it('a consumer killed mid-handling (no ack) has the message redelivered to the next consumer', async () => {
    const srv = server as NatsServerHandle;
    const bus = await connect();
    const u = uniq();
    const ackWaitMs = 1_000;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', FIXTURE, srv.url, `t.work.${u}`, `d${u}`, String(ackWaitMs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitFor('child consumer ready', () => out.includes('ready'), 15_000);
      await bus.send(`t.work.${u}`, { job: 'j1' });
      await waitFor('child got the job', () => out.includes('"job":"j1"'), 10_000);
      assert.match(out, /"deliveryCount":1/);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    const got: { msg: unknown; deliveryCount: number }[] = [];
    const t0 = Date.now();
    await bus.consume(
      `t.work.${u}`,
      `d${u}`,
      (msg, ctx) => void got.push({ msg, deliveryCount: ctx.deliveryCount }),
      {
        ackWaitMs,
      },
    );
    await waitFor('redelivery', () => got.length === 1, 10_000);
    assert.deepEqual(got, [{ msg: { job: 'j1' }, deliveryCount: 2 }]);
    assert.ok(Date.now() - t0 < 5_000 + ackWaitMs);
  });

  it('a handler slower than ack wait is not redelivered while its process is alive', async () => {
    const bus = await connect();
    const u = uniq();
    const counts: number[] = [];
    await bus.consume(
      `t.work.${u}`,
      `d${u}`,
      async (_m, ctx) => {
        counts.push(ctx.deliveryCount);
        await new Promise((r) => setTimeout(r, 2_500));
      },
      { ackWaitMs: 1_000 },
    );
    await bus.send(`t.work.${u}`, { slow: true });
    await waitFor('first delivery', () => counts.length === 1);
    await new Promise((r) => setTimeout(r, 3_500));
    assert.deepEqual(counts, [1]);
  });

  it('an executor killed mid-batch: on redelivery each job of the batch is executed once, finished ones answered from its store', async () => {
    const srv = server as NatsServerHandle;
    // The optinfer streams themselves (OPTINFER_WORK), as the roles use them.
    const bus = await connectNatsBus({ url: srv.url, pullExpiresMs: 1_000 });
    buses.push(bus);
    const registry = new ModelRegistry();
    const model = await registry.register(new Uint8Array(readFileSync(DEMO)));
    const id = Keypair.generate().publicKey.toBase58() as ExecutorId;
    const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-batch-kill-'));
    const ackWaitMs = 1_000;
    const n = 6;
    const hangAt = 4; // runs 1-3 finish (stored and answered), run 4 never ends
    const jobs = Array.from({ length: n }, (_, i) => ({
      jobId: `${(i + 1).toString(16).padStart(2, '0')}${randomBytes(31).toString('hex')}` as JobId,
      modelId: model.modelId as ModelId,
      fee: '0',
      inputs: { x: { dtype: 'int8' as const, dims: [1, 16], data: new Uint8Array(16).fill(i + 1) } },
    }));
    const results: ResultMessage[] = [];
    await messages.consume(bus, messages.RESULT, { of: id }, `seq-${id.slice(0, 12)}`, (m) => {
      results.push(m);
    });
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', BATCH_EXECUTOR, srv.url, id, dataDir, String(hangAt), String(ackWaitMs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await waitFor('child executor ready', () => out.includes('ready'), 30_000);
      // Sent in one tick: one batch message of six jobs.
      await Promise.all(
        jobs.map((j) => messages.send(bus, messages.ASSIGN, id, j, { msgId: `${j.jobId}:1` })),
      );
      await waitFor('the child hangs in run 4', () => out.includes('hang'), 20_000);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    const ranFirst = [...out.matchAll(/^ran (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ranFirst, [1, 2, 3]);
    assert.match(out, /^hang 4$/m);

    // The same executor comes back (same id, same result store): the whole batch is redelivered after ack wait.
    const ranSecond: number[] = [];
    const runner: ModelRunner = {
      ...IN_PROCESS,
      run: async (m, inputs) => {
        const r = await IN_PROCESS.run(m, inputs);
        ranSecond.push(inputs.x.data[0]);
        return r;
      },
    };
    const store = await ResultStore.open(join(dataDir, 'results'));
    const again = new AssignmentConsumer(
      id,
      bus,
      store,
      async () => model,
      HONEST_EXECUTOR,
      silentLogger,
      noopMetrics,
      runner,
    );
    const consumer = await again.start(1, ackWaitMs);
    try {
      const answered = () => new Set(results.map((r) => r.jobId)).size;
      await waitFor('a result for every job', () => answered() === n, 20_000);
      await new Promise((r) => setTimeout(r, 500));
      // Jobs 1-3 finished in the killed process and are not run again; 4 (killed inside its run), 5 and 6 run once.
      assert.deepEqual(ranSecond, [4, 5, 6]);
      // Every job executed to completion once in all: its results (a re-sent one included) carry one answer.
      for (const j of jobs) {
        const mine = results.filter((r) => r.jobId === j.jobId);
        assert.ok(mine.length >= 1, `job ${j.jobId} answered`);
        const expected = (await IN_PROCESS.run(model, j.inputs)).outputDigest;
        for (const r of mine) {
          assert.equal(r.error, undefined);
          assert.equal(r.outputDigest, expected);
          assert.equal(tensorSetDigest(r.outputs!), expected);
        }
        assert.equal((await store.get(j.jobId))?.outputDigest, expected);
      }
      // The killed process's answers for jobs 1-3 were on the bus already; the redelivery answered them again from
      // the store with the same digest, which JetStream drops as a duplicate when the batch id repeats (here it
      // does: one result per batch at capacity 1), and the sequencer ignores otherwise.
      assert.ok(results.length >= n && results.length <= n + 3, `${results.length} results`);
    } finally {
      await consumer.stop();
      await store.close();
      await registry.close();
    }
  });
});
