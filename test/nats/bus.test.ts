// NATS bus against a real nats-server -js: the shared conformance suite plus durability across restarts and crashes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Bus } from '../../bus/bus.ts';
import { busConformance, rejectsWith, TEST_STREAMS, waitFor } from '../../bus/conformance.ts';
import { connectNatsBus } from '../../bus/nats.ts';
import { natsSkipReason, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';

const skip = natsSkipReason();
const MAX_PAYLOAD = 8 * 1024 * 1024;
const FIXTURE = fileURLToPath(new URL('./fixtures/hang-consumer.ts', import.meta.url));
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
});
