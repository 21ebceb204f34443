// A reviewer's attacks on the public HTTP API, each one a break found in review and fixed: answers Node gives
// itself in its own shape, uploads trickled to hold every upload slot for ever, and job bodies piled up in memory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { startDev, type DevNode } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { buildModel, node as op } from '../../executor/onnx/builder.ts';
import { buildHttp, type HttpConfig } from '../../sequencer/http.ts';
import { createMemoryBus } from '../../bus/memory.ts';
import type { Bus } from '../../bus/bus.ts';
import * as messages from '../../bus/messages.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import { fromStored, fromWire } from '../../state/tensor-map.ts';
import type { ExecutedJob } from '../../sequencer/batcher.ts';
import { Dispatcher } from '../../sequencer/dispatch.ts';
import {
  RecordingMetrics,
  executorId,
  int8,
  recordingLogger,
  seedJob,
  signFor,
  tempLedger,
  waitFor,
} from '../../sequencer/testing.ts';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';

let dev: DevNode;
let dir: string;
const servers: FastifyInstance[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'optinfer-review-'));
  dev = await startDev({
    port: 0,
    host: '127.0.0.1',
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 64,
    batchMaxAgeMs: 100,
    challengeWindowMs: 300,
    cheat: { mode: 'none', rate: 0 },
    logger: silentLogger,
    dataDir: dir,
    chain: 'none',
  });
});

after(async () => {
  for (const s of servers) await s.close();
  await dev.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Another HTTP front on the dev node's sequencer, with settings a test can reach in seconds. */
async function front(config: Partial<HttpConfig>): Promise<string> {
  const app = buildHttp({ sequencer: dev.sequencer, config, logger: silentLogger });
  servers.push(app);
  return app.listen({ port: 0, host: '127.0.0.1' });
}

/** Sends raw bytes on a fresh connection; resolves with all the server wrote once it closes (or after waitMs). */
function raw(base: string, request: string | Buffer, opts: { localAddress?: string; waitMs?: number } = {}) {
  const { hostname, port } = new URL(base);
  return new Promise<string>((resolve, reject) => {
    const s = connect({ port: Number(port), host: hostname, localAddress: opts.localAddress }, () =>
      s.write(request),
    );
    let out = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(`${out}[no answer in ${opts.waitMs ?? 5000} ms]`);
    }, opts.waitMs ?? 5000);
    s.on('data', (d) => (out += d));
    s.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    s.on('error', reject);
  });
}

/** Opens a connection that sends headers and the first bytes of a body, then nothing more. */
function stall(
  base: string,
  head: string,
  localAddress?: string,
): Promise<{ socket: Socket; answer: Promise<string> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const s = connect({ port: Number(port), host: hostname, localAddress }, () => {
      s.write(head);
      let out = '';
      const answer = new Promise<string>((done) => {
        s.on('data', (d) => (out += d));
        s.on('close', () => done(out));
      });
      resolve({ socket: s, answer });
    });
    s.on('error', reject);
  });
}

/** What the promise gave, or a note that nothing came in time (so a hang fails instead of stalling the suite). */
function within(p: Promise<string>, ms: number): Promise<string> {
  return Promise.race([p, new Promise<string>((r) => setTimeout(() => r(`[no answer in ${ms} ms]`), ms))]);
}

function parse(response: string): { status: number; json: any; head: string } {
  const cut = response.indexOf('\r\n\r\n');
  const head = response.slice(0, cut);
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1]);
  let json: any;
  try {
    json = JSON.parse(response.slice(cut + 4));
  } catch {
    json = undefined;
  }
  return { status, json, head };
}

function assertShape(response: string, status: number, code: string, message?: RegExp): void {
  const a = parse(response);
  assert.equal(a.status, status, response);
  assert.ok(a.json, `not our JSON: ${JSON.stringify(response)}`);
  assert.deepEqual(Object.keys(a.json), ['error'], response);
  assert.deepEqual(Object.keys(a.json.error).sort(), ['code', 'message'], response);
  assert.equal(a.json.error.code, code, response);
  if (message) assert.match(a.json.error.message, message);
}

const model = (name: string) =>
  Buffer.from(
    buildModel({
      name,
      inputs: [{ name: 'x', dtype: 'float32', dims: [4] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: [4] }],
      nodes: [op('Abs', ['x'], ['y'])],
    }),
  );

const uploadRequest = (bytes: Buffer, name: string, auth = '') =>
  Buffer.concat([
    Buffer.from(
      `POST /v1/models?name=${name} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/octet-stream\r\n` +
        `Content-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`,
    ),
    bytes,
  ]);

/** Headers of an upload of `size` bytes and its first two, valid, bytes: the node waits for the rest. */
const stalledUpload = (auth = '', size = 100_000) =>
  `POST /v1/models HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n\x08\x08`;

const bearer = (k: string) => `Authorization: Bearer ${k}\r\n`;
const incoming = () => readdirSync(join(dir, 'models')).filter((f) => f.startsWith('incoming-'));

// ---- Answers Node's HTTP server writes itself unless the node takes them over --------------------------------

test('an HTTP/1.1 request without Host answers 400 in our shape, not Node’s bare 400', async () => {
  const out = await raw(dev.url, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n');
  assertShape(out, 400, 'INVALID_REQUEST', /Host/);
});

test('an Expect other than 100-continue answers 417 in our shape, not Node’s empty 417', async () => {
  const out = await raw(
    dev.url,
    'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: bogus\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
  );
  assertShape(out, 417, 'INVALID_REQUEST', /Expect/);
});

test('CONNECT is answered 404 in our shape instead of a dropped connection', async () => {
  const out = await raw(dev.url, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
  assertShape(out, 404, 'NOT_FOUND', /CONNECT/);
});

// ---- Uploads trickled in hold their slot only so long ------------------------------------------------------

test('a stalled upload is cut at the request timeout with a 408 in our shape; its slot and temp file are freed', async () => {
  const base = await front({ requestTimeoutMs: 1000, maxUploadsInFlight: 1, maxUploadsPerCaller: 1 });
  const slow = await stall(base, stalledUpload());
  // Fastify turns Node's request timeout off: before the fix the node waited for these bytes for ever.
  const answer = await within(slow.answer, 5000);
  slow.socket.destroy();
  assertShape(answer, 408, 'INVALID_REQUEST', /in time/);
  for (let i = 0; i < 40 && incoming().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(incoming(), [], 'the cut upload left no temp file');
  const ok = parse(await raw(base, uploadRequest(model('after-timeout'), 'after-timeout')));
  assert.equal(ok.status, 201, JSON.stringify(ok.json));
});

test('one API key cannot hold every upload slot: its own are capped, another key still uploads', async () => {
  const base = await front({ apiKeys: [KEY_A, KEY_B], maxUploadsInFlight: 4, maxUploadsPerCaller: 2 });
  const held = [];
  for (let i = 0; i < 2; i++) held.push(await stall(base, stalledUpload(bearer(KEY_A))));
  try {
    await new Promise((r) => setTimeout(r, 200));
    const third = await raw(base, uploadRequest(model('a3'), 'a3', bearer(KEY_A)));
    assertShape(third, 429, 'RATE_LIMITED', /this API key/);
    const b = parse(await raw(base, uploadRequest(model('b1'), 'b1', bearer(KEY_B))));
    assert.equal(b.status, 201, JSON.stringify(b.json));
  } finally {
    for (const h of held) h.socket.destroy();
  }
  // Its slots come back once its uploads are gone: the count per key does not leak.
  let again = parse('');
  for (let i = 0; i < 40 && again.status !== 201; i++) {
    await new Promise((r) => setTimeout(r, 50));
    again = parse(await raw(base, uploadRequest(model('a-again'), 'a-again', bearer(KEY_A))));
  }
  assert.equal(again.status, 201, JSON.stringify(again.json));
});

test('on an open node one address cannot hold every upload slot: another address still uploads', async () => {
  const base = await front({ maxUploadsInFlight: 4, maxUploadsPerCaller: 2 });
  const held = [];
  // Four stalled uploads from 127.0.0.2: before the fix they took all four slots and every other client got 429s.
  for (let i = 0; i < 4; i++) held.push(await stall(base, stalledUpload(), '127.0.0.2'));
  try {
    await new Promise((r) => setTimeout(r, 200));
    const refused = await Promise.all(held.slice(2).map((h) => within(h.answer, 3000)));
    for (const r of refused) assertShape(r, 429, 'RATE_LIMITED', /this address/);
    const other = parse(
      await raw(base, uploadRequest(model('other-addr'), 'other-addr'), { localAddress: '127.0.0.1' }),
    );
    assert.equal(other.status, 201, JSON.stringify(other.json));
  } finally {
    for (const h of held) h.socket.destroy();
  }
});

// ---- Job bodies being received are bounded in bytes, not only each one -------------------------------------

test('job bodies piling up at once are capped in bytes: past the budget a 429 before the body is read', async () => {
  const MiB = 1024 * 1024;
  const base = await front({ maxJobBytes: MiB, maxJobBytesInFlight: 3 * MiB });
  const head = (n: number) =>
    `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${n}\r\n\r\n{"inputs": [`;
  // Before the fix any number of 1 MiB bodies were buffered side by side: memory grew with the connections.
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await stall(base, head(MiB)));
  try {
    await new Promise((r) => setTimeout(r, 200));
    const fourth = await raw(base, `${head(MiB)}`, { waitMs: 3000 });
    assertShape(fourth, 429, 'RATE_LIMITED', /job bodies/);
  } finally {
    for (const h of held) h.socket.destroy();
  }
  await new Promise((r) => setTimeout(r, 200));
  const job = JSON.stringify({
    modelId: dev.demoModel.modelId,
    inputs: { x: { dtype: 'int8', dims: [1, 16], data: new Array(16).fill(1) } },
  });
  const ok = parse(
    await raw(
      base,
      `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(job)}\r\nConnection: close\r\n\r\n${job}`,
    ),
  );
  assert.equal(ok.status, 202, JSON.stringify(ok.json));
});

// ---- Dispatch: an assignment that fails after its job has moved on --------------------------------------------

test('an assignment whose send fails after the job moved on (lapse, re-run) leaves the re-run alone: executed once', async () => {
  const t = await tempLedger();
  const inner = createMemoryBus();
  const A = executorId('A');
  const B = executorId('B');
  let failSendToA!: () => void;
  const sendToAFails = new Promise<void>((r) => (failSendToA = r));
  // The bus hangs the send to A (a JetStream publish waiting on a server that is slow), then fails it.
  const bus = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return async (subject: string, msg: object, opts?: object) => {
          if (subject === messages.ASSIGN.subject(A)) {
            await sendToAFails;
            throw new Error('publish timed out');
          }
          return target.send(subject, msg, opts as never);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Bus;
  const executed: ExecutedJob[] = [];
  const d = new Dispatcher(
    { assignTimeoutMs: 60_000, executorTimeoutMs: 100, maxAttempts: 3 },
    t.ledger,
    bus,
    {},
    { add: (j) => executed.push(j) },
    recordingLogger().log,
    new RecordingMetrics(),
  );
  const subs = [await d.listenHeartbeats(), await d.consumeResults()];
  let runsOnB = 0;
  const onB = await messages.consume(bus, messages.ASSIGN, { of: B }, 'exec-B', async (m) => {
    runsOnB++;
    const outputs = { y: int8([7]) };
    await messages.send(bus, messages.RESULT, B, {
      jobId: m.jobId,
      executor: B,
      outputs,
      outputDigest: tensorSetDigest(outputs),
      signature: signFor(
        B,
        { ...m, inputDigest: tensorSetDigest(fromWire(m.inputs, 'inputs')) },
        tensorSetDigest(outputs),
      ),
    });
  });
  const ticker = setInterval(() => void d.expire(Date.now()), 10);
  let beatB: NodeJS.Timeout | undefined;
  try {
    messages.publish(bus, messages.HEARTBEAT, A, { executorId: A, capacity: 1 });
    await new Promise((r) => setImmediate(r));
    const j = await seedJob(t.ledger, 0);
    d.enqueue({ seq: 0, jobId: j.jobId, inputs: fromStored((await t.ledger.inputs.get(j.jobId))!) });
    // A falls silent with the send to it still pending; B is live and gets the job at A's lapse.
    beatB = setInterval(
      () => messages.publish(bus, messages.HEARTBEAT, B, { executorId: B, capacity: 1 }),
      10,
    );
    await waitFor(() => executed.length === 1, "B's run of the job");
    const done = (await t.ledger.stateOf(j.jobId))!;
    assert.equal(done.status, 'executed');
    // Now the old send to A fails: its clean-up must not touch the job B already ran.
    failSendToA();
    await new Promise((r) => setTimeout(r, 300));
    const after = (await t.ledger.stateOf(j.jobId))!;
    assert.equal(
      after.status,
      'executed',
      `the job went back to ${after.status}: the failed send rolled it back`,
    );
    assert.equal(runsOnB, 1, 'the job was run again');
    assert.equal(executed.length, 1, 'the job was handed to the batcher twice');
  } finally {
    clearInterval(ticker);
    clearInterval(beatB);
    d.close();
    await onB.stop();
    for (const sub of subs) {
      if ('stop' in sub) await sub.stop();
      else await sub.unsubscribe();
    }
    await bus.close();
    await t.close();
  }
});

// ---- Fees ------------------------------------------------------------------------------------------------------

test('a fee of 2^64 - 1 in a body that starts with a byte order mark is kept exact, not refused', async () => {
  const body =
    '\uFEFF' +
    JSON.stringify({
      modelId: dev.demoModel.modelId,
      inputs: { x: { dtype: 'int8', dims: [1, 16], data: new Array(16).fill(2) } },
    }).replace(/}$/, ',"fee":18446744073709551615}');
  // Before the fix the JSON parser took the BOM but the fee reader did not: a valid u64 was a 400.
  const res = await fetch(`${dev.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await res.text();
  assert.equal(res.status, 202, text);
  const job = await (
    await fetch(`${dev.url}/v1/jobs/${JSON.parse(text).jobId}?outputs=false&proof=false`)
  ).json();
  assert.equal(String(job.fee), '18446744073709551615');
});

test('the job-body budget is given back after every answer, over a kept-alive connection too', async () => {
  const base = await front({ maxJobBytesInFlight: 4096 });
  const job = JSON.stringify({
    modelId: dev.demoModel.modelId,
    inputs: { x: { dtype: 'int8', dims: [1, 16], data: new Array(16).fill(3) } },
  });
  // Forty sequential jobs through fetch's kept-alive connection: a reservation not given back would 429 by the 15th.
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: job.replace('"inputs"', `"fee":${i},"inputs"`),
    });
    assert.equal(res.status, 202, `job ${i}: ${await res.text()}`);
    await res.arrayBuffer().catch(() => {});
  }
});

test('a failed send of an old attempt leaves a newer attempt on the same executor alone: run once, not re-queued', async () => {
  const t = await tempLedger();
  const inner = createMemoryBus();
  const A = executorId('A');
  let failFirstSend!: () => void;
  const firstSendFails = new Promise<void>((r) => (failFirstSend = r));
  let sendsToA = 0;
  // Only the first send to A hangs, then fails; A's later assignments go through.
  const bus = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'send') {
        return async (subject: string, msg: object, opts?: object) => {
          if (subject === messages.ASSIGN.subject(A) && sendsToA++ === 0) {
            await firstSendFails;
            throw new Error('publish timed out');
          }
          return target.send(subject, msg, opts as never);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as Bus;
  const executed: ExecutedJob[] = [];
  const d = new Dispatcher(
    { assignTimeoutMs: 60_000, executorTimeoutMs: 100, maxAttempts: 3 },
    t.ledger,
    bus,
    {},
    { add: (j) => executed.push(j) },
    recordingLogger().log,
    new RecordingMetrics(),
  );
  const subs = [await d.listenHeartbeats(), await d.consumeResults()];
  const received: string[] = [];
  let answer!: () => void;
  const answered = new Promise<void>((r) => (answer = r));
  const onA = await messages.consume(bus, messages.ASSIGN, { of: A }, 'exec-A', async (m) => {
    received.push(m.jobId);
    await answered;
    const outputs = { y: int8([7]) };
    await messages.send(bus, messages.RESULT, A, {
      jobId: m.jobId,
      executor: A,
      outputs,
      outputDigest: tensorSetDigest(outputs),
      signature: signFor(
        A,
        { ...m, inputDigest: tensorSetDigest(fromWire(m.inputs, 'inputs')) },
        tensorSetDigest(outputs),
      ),
    });
  });
  const ticker = setInterval(() => void d.expire(Date.now()), 10);
  let beatA: NodeJS.Timeout | undefined;
  try {
    messages.publish(bus, messages.HEARTBEAT, A, { executorId: A, capacity: 1 });
    await new Promise((r) => setImmediate(r));
    const j = await seedJob(t.ledger, 0);
    d.enqueue({ seq: 0, jobId: j.jobId, inputs: fromStored((await t.ledger.inputs.get(j.jobId))!) });
    // A falls silent with attempt 1's send pending, lapses, then comes back and gets attempt 2.
    await new Promise((r) => setTimeout(r, 300));
    beatA = setInterval(
      () => messages.publish(bus, messages.HEARTBEAT, A, { executorId: A, capacity: 1 }),
      10,
    );
    await waitFor(() => received.length === 1, 'attempt 2 on A');
    assert.equal((await t.ledger.stateOf(j.jobId))!.attempts, 2);
    // Attempt 1's send fails now, while attempt 2 runs: its roll-back must not touch attempt 2.
    failFirstSend();
    await new Promise((r) => setTimeout(r, 300));
    const during = (await t.ledger.stateOf(j.jobId))!;
    assert.equal(during.status, 'executing', `attempt 2 was rolled back to ${during.status}`);
    assert.equal(during.attempts, 2);
    answer();
    await waitFor(() => executed.length === 1, 'the result of attempt 2');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(received.length, 1, 'the job was assigned again while attempt 2 ran');
    assert.equal(executed.length, 1, 'the job was handed to the batcher twice');
  } finally {
    clearInterval(ticker);
    clearInterval(beatA);
    answer();
    d.close();
    await onA.stop();
    for (const sub of subs) {
      if ('stop' in sub) await sub.stop();
      else await sub.unsubscribe();
    }
    await bus.close();
    await t.close();
  }
});
