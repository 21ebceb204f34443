// The API's edges, attacked through real HTTP on dev nodes: every error in our shape, 415s, exact fees, capped streamed uploads, API keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, DEMO_MODEL_PATH, type DevNode } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { buildModel, node as op } from '../../executor/onnx/builder.ts';
import { encodeModel, onnxTypes, type ModelProto } from '../../executor/onnx/schema.ts';

const MAX_MODEL = 1024 * 1024;
const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';

let open: DevNode;
let openDir: string;
let keyed: DevNode;
let modelId: string;

const x16 = { x: { dtype: 'int8', dims: [1, 16], data: new Array(16).fill(1) } };

before(async () => {
  openDir = mkdtempSync(join(tmpdir(), 'optinfer-edges-'));
  const common = {
    port: 0,
    host: '127.0.0.1',
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 64,
    batchMaxAgeMs: 100,
    challengeWindowMs: 300,
    cheat: { mode: 'none', rate: 0 } as const,
    logger: silentLogger,
  };
  // The real program in LiteSVM: provable uploads are registered on chain, where the 500 for huge dims came from.
  open = await startDev({ ...common, dataDir: openDir, chain: 'litesvm', maxModelBytes: MAX_MODEL });
  keyed = await startDev({
    ...common,
    dataDir: mkdtempSync(join(tmpdir(), 'optinfer-edges-keys-')),
    chain: 'none',
    apiKeys: [KEY_A, KEY_B],
    rateLimit: 5,
  });
  modelId = open.demoModel.modelId;
});

after(async () => {
  await open.close();
  await keyed.close();
});

type Answer = { status: number; headers: Headers; json: any; text: string };

async function call(base: string, path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

const postJson = (path: string, body: string, headers: Record<string, string> = {}) =>
  call(open.url, path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });

const upload = (bytes: Uint8Array, name = 'm', base = open.url, headers: Record<string, string> = {}) =>
  call(base, `/v1/models?name=${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: Buffer.from(bytes),
  });

/** Our shape and nothing else: {"error": {"code", "message"}}, with the status the code means. */
function assertShape(a: Answer, status: number, code: string, message?: RegExp): void {
  assert.equal(a.status, status, a.text);
  assert.ok(a.json, `not JSON: ${a.text}`);
  assert.deepEqual(Object.keys(a.json), ['error'], a.text);
  assert.deepEqual(Object.keys(a.json.error).sort(), ['code', 'message'], a.text);
  assert.equal(a.json.error.code, code, a.text);
  assert.equal(typeof a.json.error.message, 'string');
  assert.ok(a.json.error.message.length > 0);
  if (message) assert.match(a.json.error.message, message);
}

/** Sends raw bytes on a fresh connection and returns what the server wrote back before closing. */
function raw(base: string, request: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(request));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('close', () => resolve(out));
    s.on('error', reject);
  });
}

function rawAnswer(response: string): Answer {
  const [head, body] = response.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
  let json: any;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, headers: new Headers(), json, text: response };
}

const abs = (name: string, dims: number[] = [4]) =>
  buildModel({
    name,
    inputs: [{ name: 'x', dtype: 'float32', dims }],
    outputs: [{ name: 'y', dtype: 'float32', dims }],
    nodes: [op('Abs', ['x'], ['y'])],
  });

function modelFiles(dir: string): string[] {
  return readdirSync(join(dir, 'models')).sort();
}

// ---- Fastify's own errors ---------------------------------------------------------------------------------

test("431: headers over Node's limit answer in our shape, not Fastify's", async () => {
  const a = await call(open.url, '/healthz', { headers: { 'x-big': 'a'.repeat(20_000) } });
  assertShape(a, 431, 'INVALID_REQUEST', /headers/);
});

test('a malformed request line answers 400 in our shape', async () => {
  const a = rawAnswer(await raw(open.url, 'NOT AN HTTP REQUEST\r\n\r\n'));
  assertShape(a, 400, 'INVALID_REQUEST');
});

test("a URL that does not decode, and a too-long id, answer in our shape, not Fastify's", async () => {
  assertShape(await call(open.url, '/v1/jobs/%'), 400, 'INVALID_REQUEST', /URL/);
  assertShape(await call(open.url, `/v1/jobs/${'a'.repeat(300)}`), 414, 'INVALID_REQUEST');
  assertShape(await call(open.url, '/nowhere'), 404, 'NOT_FOUND', /no route GET \/nowhere/);
  assertShape(await call(open.url, '/v1/jobs', { method: 'DELETE' }), 404, 'NOT_FOUND');
});

test('body parse errors: bad JSON, an empty JSON body, a __proto__ key, a lying Content-Length', async () => {
  assertShape(await postJson('/v1/jobs', '{"modelId":'), 400, 'INVALID_REQUEST', /expected valid JSON/);
  assertShape(await postJson('/v1/jobs', ''), 400, 'INVALID_REQUEST', /empty/);
  assertShape(
    await postJson('/v1/jobs', `{"modelId":"${modelId}","inputs":{},"__proto__":{"x":1}}`),
    400,
    'INVALID_REQUEST',
    /__proto__/,
  );
  const lying = rawAnswer(
    await raw(
      open.url,
      'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"a":1}',
    ),
  );
  assert.ok(lying.status >= 400 && lying.status < 500, lying.text);
  assert.ok(lying.json?.error?.code, lying.text);
});

// ---- 415 ---------------------------------------------------------------------------------------------------

test('415: a job body that is not JSON, and a model upload that is not ONNX bytes', async () => {
  const job = JSON.stringify({ modelId, inputs: x16 });
  for (const ct of ['text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded']) {
    assertShape(
      await call(open.url, '/v1/jobs', { method: 'POST', headers: { 'content-type': ct }, body: job }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /application\/json/,
    );
  }
  const noType = await call(open.url, '/v1/jobs', { method: 'POST', body: new Uint8Array(Buffer.from(job)) });
  assertShape(noType, 415, 'UNSUPPORTED_MEDIA_TYPE');
  for (const ct of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
    assertShape(
      await call(open.url, '/v1/models', {
        method: 'POST',
        headers: { 'content-type': ct },
        body: '{"model": "x"}',
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /application\/octet-stream/,
    );
  }
});

// ---- fee ---------------------------------------------------------------------------------------------------

test('a fee beyond 2^53 is kept exact, as JSON digits or a decimal string; one that is not a u64 is a 400', async () => {
  const inputs = JSON.stringify(x16);
  for (const [feeJson, want] of [
    ['9007199254740993', '9007199254740993'],
    ['"18446744073709551615"', '18446744073709551615'],
    ['18446744073709551615', '18446744073709551615'],
    ['"1234"', '1234'],
  ]) {
    const r = await postJson('/v1/jobs', `{"modelId":"${modelId}","inputs":${inputs},"fee":${feeJson}}`);
    if (want !== '1234') {
      // The dev node's default payer holds 10 SOL: the 402 names the fee, exact.
      assertShape(r, 402, 'PAYMENT_REQUIRED', new RegExp(`job fee ${want} lamports`));
      continue;
    }
    assert.equal(r.status, 202, r.text);
    const job = await call(open.url, `/v1/jobs/${r.json.jobId}?outputs=false&proof=false`);
    assert.equal(job.json.fee, want, `fee ${feeJson}`);
  }
  // A fee below the node's minimum is refused (review 17, free ride), naming it.
  const free = await postJson('/v1/jobs', `{"modelId":"${modelId}","inputs":${inputs},"fee":0}`);
  assertShape(
    free,
    402,
    'PAYMENT_REQUIRED',
    /job fee 0 lamports is below this node's minimum of 1000 lamports/,
  );
  for (const feeJson of [
    '1.5',
    '-1',
    '1e3',
    '1.0',
    '18446744073709551616',
    '"18446744073709551616"',
    '"-5"',
    '""',
    '"0x10"',
    'true',
    'null',
    '[1]',
    `"${'9'.repeat(5000)}"`,
  ]) {
    const r = await postJson('/v1/jobs', `{"modelId":"${modelId}","inputs":${inputs},"fee":${feeJson}}`);
    assertShape(r, 400, 'INVALID_INPUT', /^fee: expected/);
    assert.ok(r.json.error.message.length < 300, 'the message does not echo a huge value');
  }
});

// ---- uploads: streamed, capped, refused ones deleted ---------------------------------------------------------

test('a model declaring dims [1e9, 1e9] is a 400 naming the input, not a 500, and leaves no file', async () => {
  const before = modelFiles(openDir);
  const big = buildModel({
    name: 'big',
    inputs: [{ name: 'x', dtype: 'int8', dims: [1e9, 1e9] }],
    outputs: [{ name: 'y', dtype: 'int8', dims: [1e9, 1e9] }],
    nodes: [op('Identity', ['x'], ['y'])],
  });
  const r = await upload(big, 'big');
  // The size estimate (executor/onnx/size-estimate.ts) answers first: a run could never hold that tensor.
  assertShape(
    r,
    400,
    'INVALID_MODEL',
    /tensor 'x' \(declared as input\) would take 888 PiB \(int8 \[1000000000, 1000000000\]\); expected at most/,
  );
  // Under the run's memory limit but over what a job body can carry: the sequencer's own check names it.
  const wide = buildModel({
    name: 'wide',
    inputs: [{ name: 'x', dtype: 'int8', dims: [10_000, 10_000] }],
    outputs: [{ name: 'y', dtype: 'int8', dims: [10_000, 10_000] }],
    nodes: [op('Identity', ['x'], ['y'])],
  });
  assertShape(
    await upload(wide, 'wide'),
    400,
    'INVALID_MODEL',
    /input 'x' declares dims \[10000,10000\].*expected at most/,
  );
  assert.deepEqual(modelFiles(openDir), before);
});

test('refused uploads leave nothing in the models dir: junk, truncated, over the cap', async () => {
  const before = modelFiles(openDir);
  const demo = new Uint8Array(readFileSync(DEMO_MODEL_PATH));
  assertShape(await upload(new TextEncoder().encode('this is not a model')), 400, 'INVALID_MODEL');
  assertShape(await upload(demo.subarray(0, demo.length >> 1)), 400, 'INVALID_MODEL');
  const noOp = buildModel({
    name: 'bad',
    inputs: [{ name: 'x', dtype: 'int8', dims: [1] }],
    outputs: [{ name: 'y', dtype: 'int8', dims: [1] }],
    nodes: [op('NoSuchOp', ['x'], ['y'])],
  });
  assertShape(await upload(noOp), 400, 'INVALID_MODEL');
  assertShape(await upload(new Uint8Array(MAX_MODEL + 1)), 413, 'PAYLOAD_TOO_LARGE', /at most 1048576 bytes/);
  assert.deepEqual(modelFiles(openDir), before);
});

/** A model-looking stream (ir_version, then one huge doc_string) that never ends by itself; counts what it sent. */
function endless(sent: { bytes: number }, head: Uint8Array): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024);
  let first = true;
  return new ReadableStream({
    pull(c) {
      const out = first ? head : chunk;
      first = false;
      sent.bytes += out.length;
      c.enqueue(out);
      if (sent.bytes > 64 * MAX_MODEL) c.close();
    },
  });
}

test('an upload streamed without Content-Length is cut at the cap with a 413 and never stored', async () => {
  const before = modelFiles(openDir);
  const sent = { bytes: 0 };
  // ir_version 8, then field 6 (doc_string) announcing 2^40 bytes: structurally fine until the cap.
  const head = new Uint8Array([0x08, 0x08, 0x32, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
  const r = await call(open.url, '/v1/models', {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: endless(sent, head),
    duplex: 'half',
  } as RequestInit);
  assertShape(r, 413, 'PAYLOAD_TOO_LARGE', /at most 1048576 bytes/);
  assert.ok(sent.bytes < 16 * MAX_MODEL, `the node stopped reading (the client sent ${sent.bytes} bytes)`);
  assert.deepEqual(modelFiles(openDir), before);
});

test('junk streamed as a model is refused within its first bytes, not read to the end', async () => {
  const before = modelFiles(openDir);
  const sent = { bytes: 0 };
  const r = await call(open.url, '/v1/models', {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: endless(sent, new TextEncoder().encode('GIF89a, not a model')),
    duplex: 'half',
  } as RequestInit);
  assertShape(r, 400, 'INVALID_MODEL', /protobuf ModelProto/);
  assert.ok(sent.bytes < 16 * MAX_MODEL, `the node stopped reading (the client sent ${sent.bytes} bytes)`);
  assert.deepEqual(modelFiles(openDir), before);
});

test('a Content-Length over the cap is refused before the body is read', async () => {
  const answer = await raw(
    open.url,
    `POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${300 * 1024 * 1024}\r\n\r\n` +
      '\x08\x08',
  );
  assertShape(rawAnswer(answer), 413, 'PAYLOAD_TOO_LARGE', /got 314572800/);
});

test('uploads in flight are capped: a fifth while four stream is a 429, and the four leave no file when dropped', async () => {
  const before = modelFiles(openDir);
  const { hostname, port } = new URL(open.url);
  const hanging = await Promise.all(
    [0, 1, 2, 3].map(
      (i) =>
        new Promise<import('node:net').Socket>((resolve) => {
          // From four addresses: one address may hold only maxUploadsPerCaller (2) of the slots.
          const s = connect({ port: Number(port), host: hostname, localAddress: `127.0.0.${2 + i}` }, () => {
            s.write(
              'POST /v1/models HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n\x08\x08',
            );
            resolve(s);
          });
        }),
    ),
  );
  try {
    await new Promise((r) => setTimeout(r, 200));
    const fifth = await upload(abs('fifth'), 'fifth');
    assertShape(fifth, 429, 'RATE_LIMITED', /4 uploads are in flight/);
    assert.equal(fifth.headers.get('retry-after'), '1');
  } finally {
    for (const s of hanging) s.destroy();
  }
  const after = await (async () => {
    for (let i = 0; i < 50 && modelFiles(openDir).length !== before.length; i++)
      await new Promise((r) => setTimeout(r, 50));
    return modelFiles(openDir);
  })();
  assert.deepEqual(after, before, 'dropped uploads left no temp file');
  const again = await upload(abs('after'), 'after');
  assert.equal(again.status, 201, again.text);
});

// ---- no paths, no library internals ------------------------------------------------------------------------

test('errors name no filesystem path and no onnxruntime source location', async () => {
  const ext = onnxTypes.ModelProto.create({
    ir_version: 8,
    opset_import: [{ domain: '', version: 13 }],
    graph: onnxTypes.GraphProto.create({
      name: 'g',
      input: [
        onnxTypes.ValueInfoProto.create({
          name: 'x',
          type: { tensor_type: { elem_type: 6, shape: { dim: [{ dim_value: 1 }] } } },
        }),
      ],
      output: [
        onnxTypes.ValueInfoProto.create({
          name: 'y',
          type: { tensor_type: { elem_type: 6, shape: { dim: [{ dim_value: 1 }] } } },
        }),
      ],
      node: [op('Add', ['x', 'w'], ['y'])],
      initializer: [
        onnxTypes.TensorProto.create({
          name: 'w',
          dims: [1],
          data_type: 6,
          data_location: 1,
          external_data: [{ key: 'location', value: 'no-such-file.bin' }],
        }),
      ],
    }),
  }) as unknown as ModelProto;
  const huge = buildModel({
    name: 'huge-init',
    inputs: [{ name: 'x', dtype: 'int32', dims: [1] }],
    outputs: [{ name: 'y', dtype: 'int32', dims: [1] }],
    nodes: [op('Add', ['x', 'w'], ['y'])],
    initializers: { w: { dtype: 'int32', dims: [1e9, 1e9], data: new Uint8Array(4) } },
  });
  const roots = [process.cwd(), openDir, tmpdir()];
  for (const [name, bytes] of [
    ['external', encodeModel(ext)],
    ['huge-init', huge],
  ] as const) {
    const r = await upload(bytes, name);
    assertShape(r, 400, r.json?.error?.code);
    for (const root of roots) assert.ok(!r.json.error.message.includes(root), r.json.error.message);
    assert.doesNotMatch(r.json.error.message, /\.(cc|cpp|h):\d+/, 'no onnxruntime source location');
  }

  // A stored file gone missing is the node's problem: the answer says so without naming the data dir.
  const m = await upload(abs('gone'), 'gone');
  assert.equal(m.status, 201, m.text);
  rmSync(join(openDir, 'models', `${m.json.modelId}.onnx`));
  const gone = await call(open.url, `/v1/models/${m.json.modelId}/file`);
  assertShape(gone, 500, 'STORE_CORRUPT');
  for (const root of roots) assert.ok(!gone.json.error.message.includes(root), gone.json.error.message);
});

// ---- API keys and rate limits ------------------------------------------------------------------------------

test('the dev node without keys stays open: jobs and uploads need no key', async () => {
  const r = await postJson('/v1/jobs', JSON.stringify({ modelId, inputs: x16 }));
  assert.equal(r.status, 202, r.text);
});

test('with API keys, jobs and uploads without a key or with a wrong one are 401; reads stay open', async () => {
  const job = JSON.stringify({ modelId: keyed.demoModel.modelId, inputs: x16 });
  const post = (headers: Record<string, string>) =>
    call(keyed.url, '/v1/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: job,
    });
  const none = await post({});
  assertShape(none, 401, 'UNAUTHORIZED', /expected an API key/);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  assertShape(
    await post({ authorization: 'Bearer not-a-key-of-this-node' }),
    401,
    'UNAUTHORIZED',
    /not known/,
  );
  assertShape(await post({ authorization: KEY_A }), 401, 'UNAUTHORIZED', /Bearer/);
  assertShape(await upload(abs('nokey'), 'nokey', keyed.url), 401, 'UNAUTHORIZED');
  assertShape(
    await upload(abs('badkey'), 'badkey', keyed.url, { authorization: 'Bearer wrong' }),
    401,
    'UNAUTHORIZED',
  );
  const ok = await post({ authorization: `Bearer ${KEY_A}` });
  assert.equal(ok.status, 202, ok.text);
  const up = await upload(abs('withkey'), 'withkey', keyed.url, { authorization: `Bearer ${KEY_B}` });
  assert.equal(up.status, 201, up.text);
  assert.equal((await call(keyed.url, `/v1/jobs/${ok.json.jobId}`)).status, 200);
  assert.equal((await call(keyed.url, '/v1/models')).status, 200);
});

test("a key over its rate gets 429 with Retry-After; another key's budget is untouched", async () => {
  const job = JSON.stringify({ modelId: keyed.demoModel.modelId, inputs: x16 });
  const post = (key: string) =>
    call(keyed.url, '/v1/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: job,
    });
  const answers = await Promise.all(Array.from({ length: 30 }, () => post(KEY_A)));
  const limited = answers.filter((a) => a.status === 429);
  assert.ok(limited.length >= 15, `only ${limited.length} of 30 were limited at 5/s`);
  assert.ok(answers.some((a) => a.status === 202));
  assertShape(limited[0], 429, 'RATE_LIMITED', /5 requests per second/);
  assert.ok(Number(limited[0].headers.get('retry-after')) >= 1);
  const other = await post(KEY_B);
  assert.equal(other.status, 202, other.text);
});
