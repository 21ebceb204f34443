// Shared Bus conformance suite (node:test), run against the memory bus and against a real nats-server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { BusError, type Bus, type BusErrorCode, type DurableContext, type StreamSpec } from './bus.ts';
import { consumeBatches, sendItem, type ItemContext } from './batch.ts';

export const TEST_STREAMS: readonly StreamSpec[] = [
  { name: 'TEST_WORK', subjects: ['t.work.>'], retention: 'workqueue' },
  { name: 'TEST_EVENTS', subjects: ['t.events.>'], retention: 'limits', maxAgeMs: 3_600_000 },
];

export type BusFactory = (streams: readonly StreamSpec[]) => Promise<Bus>;

const TENSOR_BYTES = 3 * 1024 * 1024;

/** A fresh subject token per test so tests never see each other's messages on a shared server. */
const uniq = (): string => `u${randomBytes(6).toString('hex')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export async function rejectsWith(
  p: Promise<unknown> | (() => unknown),
  code: BusErrorCode,
): Promise<BusError> {
  let error: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof BusError, `expected BusError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  return error;
}

export function busConformance(label: string, factory: BusFactory, skip: string | false = false): void {
  describe(`Bus conformance: ${label}`, { skip }, () => {
    const buses: Bus[] = [];
    const make = async (): Promise<Bus> => {
      const b = await factory(TEST_STREAMS);
      buses.push(b);
      return b;
    };
    after(async () => {
      await Promise.all(buses.map((b) => b.close()));
    });

    it('pub/sub honours * and > wildcards and exact subjects', async () => {
      const bus = await make();
      const u = uniq();
      const got: Record<string, string[]> = { star: [], tail: [], exact: [] };
      await bus.subscribe(`t.ps.${u}.*`, (_m, ctx) => void got.star.push(ctx.subject));
      await bus.subscribe(`t.ps.${u}.>`, (_m, ctx) => void got.tail.push(ctx.subject));
      await bus.subscribe(`t.ps.${u}.a`, (_m, ctx) => void got.exact.push(ctx.subject));
      bus.publish(`t.ps.${u}.a`, { n: 1 });
      bus.publish(`t.ps.${u}.a.b`, { n: 2 });
      bus.publish(`t.ps.${u}`, { n: 3 });
      await waitFor(
        'deliveries',
        () => got.tail.length === 2 && got.star.length === 1 && got.exact.length === 1,
      );
      await sleep(50);
      assert.deepEqual(got.star, [`t.ps.${u}.a`]);
      assert.deepEqual(got.tail, [`t.ps.${u}.a`, `t.ps.${u}.a.b`]);
      assert.deepEqual(got.exact, [`t.ps.${u}.a`]);
    });

    it('a queue group gets each message exactly once; plain subscribers get all', async () => {
      const bus = await make();
      const other = await make();
      const u = uniq();
      const members: number[][] = [[], [], []];
      const plain: number[] = [];
      await bus.subscribe(`t.q.${u}`, (m: { i: number }) => void members[0].push(m.i), { queue: 'workers' });
      await bus.subscribe(`t.q.${u}`, (m: { i: number }) => void members[1].push(m.i), { queue: 'workers' });
      await other.subscribe(`t.q.${u}`, (m: { i: number }) => void members[2].push(m.i), {
        queue: 'workers',
      });
      await other.subscribe(`t.q.${u}`, (m: { i: number }) => void plain.push(m.i));
      const n = 60;
      for (let i = 0; i < n; i++) bus.publish(`t.q.${u}`, { i });
      const total = (): number => members.reduce((s, m) => s + m.length, 0);
      await waitFor('all messages', () => total() >= n && plain.length === n);
      await sleep(100);
      assert.equal(total(), n, 'no duplicates inside the group');
      assert.deepEqual(
        members.flat().sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i),
      );
      assert.equal(plain.length, n);
    });

    it('request/reply answers, and fails with NO_RESPONDERS, TIMEOUT and REMOTE', async () => {
      const bus = await make();
      const client = await make();
      const u = uniq();
      await bus.reply(`t.rr.${u}.double`, (m: { n: number }) => ({ n: m.n * 2 }));
      await bus.reply(`t.rr.${u}.boom`, () => {
        throw new Error('model not found: abc');
      });
      await bus.subscribe(`t.rr.${u}.silent`, () => undefined); // listens, never answers
      assert.deepEqual(await client.request(`t.rr.${u}.double`, { n: 21 }), { n: 42 });
      await rejectsWith(client.request(`t.rr.${u}.nobody`, {}, { timeoutMs: 2_000 }), 'NO_RESPONDERS');
      const t0 = Date.now();
      await rejectsWith(client.request(`t.rr.${u}.silent`, {}, { timeoutMs: 200 }), 'TIMEOUT');
      const waited = Date.now() - t0;
      assert.ok(waited >= 150 && waited < 2_000, `timeout after ${waited} ms`);
      const err = await rejectsWith(client.request(`t.rr.${u}.boom`, {}), 'REMOTE');
      assert.match(err.message, /model not found: abc/);
    });

    it('durable send/consume is at-least-once: a handler throw is redelivered, then acked', async () => {
      const bus = await make();
      const u = uniq();
      const seen: { i: number; ctx: DurableContext }[] = [];
      let thrown = false;
      const consumer = await bus.consume(
        `t.work.${u}`,
        `d${u}`,
        (m: { i: number }, ctx) => {
          seen.push({ i: m.i, ctx });
          if (m.i === 2 && !thrown) {
            thrown = true;
            throw new Error('transient failure');
          }
        },
        { redeliveryDelayMs: 10, ackWaitMs: 5_000 },
      );
      for (let i = 0; i < 5; i++) await bus.send(`t.work.${u}`, { i });
      await waitFor('6 deliveries', () => seen.length >= 6);
      await sleep(300);
      assert.equal(seen.length, 6, 'acked messages are not delivered again');
      assert.deepEqual([...new Set(seen.map((s) => s.i))].sort(), [0, 1, 2, 3, 4]);
      const twos = seen.filter((s) => s.i === 2);
      assert.deepEqual(
        twos.map((s) => [s.ctx.deliveryCount, s.ctx.redelivered]),
        [
          [1, false],
          [2, true],
        ],
      );
      assert.equal(twos[0].ctx.sequence, twos[1].ctx.sequence);
      assert.equal(twos[0].ctx.subject, `t.work.${u}`);
      await consumer.stop();
    });

    it('gives a message up after maxDeliver failures and calls onDeadLetter once', async () => {
      const bus = await make();
      const u = uniq();
      let attempts = 0;
      const dead: { msg: unknown; count: number; error: string }[] = [];
      await bus.consume(
        `t.work.${u}`,
        `d${u}`,
        () => {
          attempts++;
          throw new Error(`poison ${attempts}`);
        },
        {
          maxDeliver: 3,
          redeliveryDelayMs: 10,
          onDeadLetter: (msg, ctx, error) =>
            void dead.push({ msg, count: ctx.deliveryCount, error: (error as Error).message }),
        },
      );
      await bus.send(`t.work.${u}`, { job: 'poison' });
      await waitFor('dead letter', () => dead.length === 1);
      await sleep(300);
      assert.equal(attempts, 3);
      assert.deepEqual(dead, [{ msg: { job: 'poison' }, count: 3, error: 'poison 3' }]);
    });

    it('Uint8Array fields (a 3 MB tensor, empty, nested, Buffer) survive publish, request and send', async () => {
      const bus = await make();
      const u = uniq();
      const tensor = new Uint8Array(randomBytes(TENSOR_BYTES));
      const msg = {
        jobId: 'j1',
        inputs: { x: { dtype: 'float32', dims: [1, TENSOR_BYTES / 4], data: tensor } },
        list: [new Uint8Array([1, 2, 3]), new Uint8Array(0), null, 'text', 1.5, true],
        buf: Buffer.from('hello'),
      };
      const expected = { ...msg, buf: new Uint8Array(Buffer.from('hello')) };
      const check = (got: unknown): void => {
        const g = got as typeof msg;
        assert.ok(g.inputs.x.data instanceof Uint8Array);
        assert.equal(
          Object.getPrototypeOf(g.buf),
          Uint8Array.prototype,
          'Buffer arrives as a plain Uint8Array',
        );
        assert.equal(g.inputs.x.data.byteOffset, 0, 'bytes arrive in their own aligned buffer');
        assert.ok(Buffer.from(g.inputs.x.data).equals(tensor));
        assert.deepEqual({ ...g, buf: new Uint8Array(g.buf) }, expected);
      };
      let pub: unknown;
      await bus.subscribe(`t.bytes.${u}`, (m) => void (pub = m));
      bus.publish(`t.bytes.${u}`, msg);
      await waitFor('publish', () => pub !== undefined, 10_000);
      check(pub);
      await bus.reply(`t.bytes.${u}.echo`, (m) => m);
      check(await bus.request(`t.bytes.${u}.echo`, msg, { timeoutMs: 10_000 }));
      let durable: unknown;
      await bus.send(`t.work.${u}`, msg);
      await bus.consume(`t.work.${u}`, `d${u}`, (m) => void (durable = m));
      await waitFor('durable', () => durable !== undefined, 10_000);
      check(durable);
    });

    it('receivers get a copy: mutating the sent message afterwards changes nothing', async () => {
      const bus = await make();
      const u = uniq();
      const got: { data: Uint8Array; tags: string[] }[] = [];
      await bus.subscribe(`t.copy.${u}`, (m: { data: Uint8Array; tags: string[] }) => void got.push(m));
      await bus.subscribe(`t.copy.${u}`, (m: { data: Uint8Array; tags: string[] }) => {
        m.data[0] = 99; // a greedy receiver must not disturb the other one
        got.push(m);
      });
      const msg = { data: new Uint8Array([1, 2, 3]), tags: ['a'] };
      bus.publish(`t.copy.${u}`, msg);
      msg.data[1] = 42;
      msg.tags.push('b');
      await waitFor('both', () => got.length === 2);
      const untouched = got.find((m) => m.data[0] === 1);
      assert.ok(untouched, 'one receiver still sees the original first byte');
      assert.deepEqual([...untouched.data], [1, 2, 3]);
      assert.deepEqual(untouched.tags, ['a']);
    });

    it('rejects invalid subjects, messages, durable names and non-durable sends clearly', async () => {
      const bus = await make();
      await rejectsWith(() => bus.publish('t.bad.*', {}), 'INVALID_SUBJECT');
      await rejectsWith(() => bus.publish('t..x', {}), 'INVALID_SUBJECT');
      await rejectsWith(() => bus.publish('t.bad', { at: new Date() }), 'INVALID_MESSAGE');
      await rejectsWith(() => bus.publish('t.bad', { x: Number.NaN }), 'INVALID_MESSAGE');
      await rejectsWith(() => bus.publish('t.bad', { x: new Float32Array(2) }), 'INVALID_MESSAGE');
      await rejectsWith(() => bus.publish('t.bad', { $bytes: [0, 1] }), 'INVALID_MESSAGE');
      await rejectsWith(() => bus.publish('t.bad', [1, 2]), 'INVALID_MESSAGE');
      await rejectsWith(
        bus.subscribe('t.>.x', () => undefined),
        'INVALID_SUBJECT',
      );
      await rejectsWith(bus.send('t.notdurable.x', {}), 'NOT_DURABLE');
      await rejectsWith(
        bus.consume('t.notdurable.x', 'd', () => undefined),
        'NOT_DURABLE',
      );
      await rejectsWith(
        bus.consume('t.work.x', 'bad.name', () => undefined),
        'INVALID_SUBJECT',
      );
    });

    it('a message sent before any consumer exists is delivered when the consumer starts', async () => {
      const bus = await make();
      const u = uniq();
      await bus.send(`t.work.${u}`, { early: true });
      const got: unknown[] = [];
      await bus.consume(`t.work.${u}`, `d${u}`, (m) => void got.push(m));
      await waitFor('early message', () => got.length === 1);
      assert.deepEqual(got, [{ early: true }]);
    });

    it('consumers sharing a durable name split the work; a stopped durable resumes where it left off', async () => {
      const a = await make();
      const b = await make();
      const u = uniq();
      const seen = new Map<number, number>();
      const handler = (m: { i: number }): void => void seen.set(m.i, (seen.get(m.i) ?? 0) + 1);
      const ca = await a.consume(`t.work.${u}.*`, `d${u}`, handler, { maxInFlight: 4 });
      const cb = await b.consume(`t.work.${u}.*`, `d${u}`, handler, { maxInFlight: 4 });
      for (let i = 0; i < 40; i++) await a.send(`t.work.${u}.e${i % 3}`, { i });
      await waitFor('40 messages', () => seen.size === 40);
      await ca.stop();
      await cb.stop();
      for (let i = 40; i < 45; i++) await a.send(`t.work.${u}.e0`, { i });
      await sleep(100);
      assert.equal(seen.size, 40, 'no delivery while the durable has no running consumer');
      await b.consume(`t.work.${u}.*`, `d${u}`, handler);
      await waitFor('45 messages', () => seen.size === 45);
      await sleep(200);
      assert.deepEqual(
        [...seen.values()].filter((c) => c !== 1),
        [],
        'each message handled once',
      );
    });

    it('on a limits stream every durable sees every message; a work queue refuses an overlapping durable', async () => {
      const bus = await make();
      const u = uniq();
      const one: number[] = [];
      const two: number[] = [];
      await bus.consume(`t.events.${u}`, `one${u}`, (m: { i: number }) => void one.push(m.i));
      for (let i = 0; i < 3; i++) await bus.send(`t.events.${u}`, { i });
      await bus.consume(`t.events.${u}`, `two${u}`, (m: { i: number }) => void two.push(m.i));
      await waitFor('both durables', () => one.length === 3 && two.length === 3);
      assert.deepEqual(one, [0, 1, 2]);
      assert.deepEqual(two, [0, 1, 2]);

      await bus.consume(`t.work.${u}.*`, `w1${u}`, () => undefined);
      await rejectsWith(
        bus.consume(`t.work.${u}.x`, `w2${u}`, () => undefined),
        'CONSUMER_CONFLICT',
      );
    });

    it('send with a msgId drops a duplicate inside the window', async () => {
      const bus = await make();
      const u = uniq();
      await bus.send(`t.work.${u}`, { i: 1 }, { msgId: `job-${u}` });
      await bus.send(`t.work.${u}`, { i: 1 }, { msgId: `job-${u}` });
      await bus.send(`t.work.${u}`, { i: 2 }, { msgId: `job2-${u}` });
      const got: number[] = [];
      await bus.consume(`t.work.${u}`, `d${u}`, (m: { i: number }) => void got.push(m.i));
      await waitFor('two', () => got.length >= 2);
      await sleep(200);
      assert.deepEqual(got, [1, 2]);
    });

    it('batches: items sent in one tick travel as one durable message, and each reaches the handler once', async () => {
      const bus = await make();
      const u = uniq();
      const sends: number[] = [];
      const raw = await make();
      // A plain consumer of the same kind of subject sees the batch messages themselves.
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => sendItem(bus, `t.work.${u}.raw`, { i }, { msgId: `r${i}` })),
      );
      await raw.consume(
        `t.work.${u}.raw`,
        `raw${u}`,
        (m: { items: unknown[] }) => void sends.push(m.items.length),
      );
      await waitFor('the batch message', () => sends.length >= 1);
      await sleep(100);
      assert.deepEqual(sends, [10], 'ten sends in one tick are one message');

      const got: number[] = [];
      await consumeBatches<{ i: number }>(bus, `t.work.${u}.b`, `b${u}`, (m) => void got.push(m.i), {
        maxInFlight: 4,
      });
      await Promise.all(Array.from({ length: 25 }, (_, i) => sendItem(bus, `t.work.${u}.b`, { i })));
      await waitFor('25 items', () => got.length >= 25);
      await sleep(100);
      assert.deepEqual(
        [...got].sort((a, b) => a - b),
        Array.from({ length: 25 }, (_, i) => i),
      );
    });

    it('batches: a failing item alone is redelivered (its count grows) and the others are acked once', async () => {
      const bus = await make();
      const u = uniq();
      const seen: [number, number, boolean][] = [];
      const dead: unknown[] = [];
      await consumeBatches<{ i: number }>(
        bus,
        `t.work.${u}`,
        `d${u}`,
        (m, ctx: ItemContext) => {
          seen.push([m.i, ctx.deliveryCount, ctx.redelivered]);
          if (m.i === 1 && ctx.deliveryCount < 3) throw new Error('transient');
          if (m.i === 2) throw new Error('always');
        },
        { maxDeliver: 3, redeliveryDelayMs: 20, onDeadLetter: (m) => void dead.push(m) },
      );
      await Promise.all(
        [0, 1, 2, 3].map((i) => sendItem(bus, `t.work.${u}`, { i }, { msgId: `${u}-${i}` })),
      ).catch(() => undefined);
      await waitFor('item 2 given up', () => dead.length === 1, 10_000);
      await sleep(200);
      const of = (i: number) => seen.filter(([j]) => j === i).map(([, n, r]) => [n, r]);
      assert.deepEqual(of(0), [[1, false]]);
      assert.deepEqual(of(3), [[1, false]]);
      assert.deepEqual(of(1), [
        [1, false],
        [2, true],
        [3, true],
      ]);
      assert.deepEqual(of(2), [
        [1, false],
        [2, true],
        [3, true],
      ]);
      assert.deepEqual(dead, [{ i: 2 }]);
    });

    it('batches: a malformed batch or item is given up at once with a clear error, not redelivered', async () => {
      const bus = await make();
      const u = uniq();
      const errors: string[] = [];
      const got: unknown[] = [];
      await consumeBatches<{ n: number }>(bus, `t.work.${u}`, `d${u}`, (m) => void got.push(m), {
        onDeadLetter: (_m, _ctx, e) => void errors.push((e as Error).message),
        decode: (w, what) => {
          if (typeof (w as { n?: unknown }).n !== 'number')
            throw new BusError('INVALID_MESSAGE', `${what}: n must be a number`);
          return w as { n: number };
        },
      });
      await bus.send(`t.work.${u}`, { items: [{ n: 1 }] }); // no ids
      await bus.send(`t.work.${u}`, { items: [{ n: 'x' }, { n: 2 }], ids: [null, null] });
      await waitFor('two errors and one item', () => errors.length === 2 && got.length === 1);
      await sleep(200);
      assert.match(
        errors[0],
        /^batch on t\.work\.\w+: ids must list one id \(or null\) per item \(1 items\)$/,
      );
      assert.match(errors[1], /^item 0 of the batch on t\.work\.\w+: n must be a number$/);
      assert.deepEqual(got, [{ n: 2 }]);
    });

    it('close() rejects later calls with CLOSED', async () => {
      const bus = await factory(TEST_STREAMS);
      await bus.close();
      await rejectsWith(() => bus.publish('t.closed', {}), 'CLOSED');
      await rejectsWith(bus.send('t.work.closed', {}), 'CLOSED');
    });
  });
}
