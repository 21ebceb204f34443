// Hostile models that try to read files next to the node through ONNX external data: every route is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { onnxTypes, encodeModel, ATTR } from '../../executor/onnx/schema.ts';
import { graph, node, tensorOf } from '../../executor/onnx/builder.ts';
import { createSession, loadModel, ModelRegistry } from '../../executor/model.ts';
import { runModel } from '../../executor/run.ts';
import { OrtInspector } from '../../executor/sequencer-adapters.ts';
import { httpStatus, isOptinferError } from '../../state/errors.ts';
import { CANONICAL_PROFILE } from '../../state/profile.ts';
import { startDev } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { waitFor } from '../helpers/node-process.ts';

/** 32 bytes the node keeps next to it: read as int32[8] by the hostile models. */
const SECRET = Buffer.from('optinfer-secret-key-0123456789ab');
const FILE = 'executor-keypair.json';
const startDir = process.cwd();
let nodeDir: string;

before(() => {
  // The node's working directory, with a secret in it, as `optinfer dev` has .optinfer/ and package.json.
  nodeDir = mkdtempSync(join(tmpdir(), 'optinfer-hostile-'));
  writeFileSync(join(nodeDir, FILE), SECRET, { mode: 0o600 });
  process.chdir(nodeDir);
});

after(() => {
  process.chdir(startDir);
  rmSync(nodeDir, { recursive: true, force: true });
});

type Obj = Record<string, unknown>;

/** A TensorProto whose 32 bytes are "in" a file relative to wherever onnxruntime resolves it. */
function extTensor(name: string, location = FILE, extra: Obj = {}): Obj {
  return {
    name,
    dims: [8],
    data_type: 6, // int32
    data_location: 1, // EXTERNAL
    external_data: [
      { key: 'location', value: location },
      { key: 'offset', value: '0' },
      { key: 'length', value: '32' },
    ],
    ...extra,
  };
}

const OUT = { name: 'y', dtype: 'int32' as const, dims: [8] };
const idx8 = () => ({ name: 'i', dims: [8], data_type: 7, int64_data: [0, 1, 2, 3, 4, 5, 6, 7] });

function modelBytes(g: unknown, extra: Obj = {}): Uint8Array {
  return encodeModel(
    onnxTypes.ModelProto.create({
      ir_version: 8,
      producer_name: 'hostile',
      opset_import: [{ domain: '', version: 13 }],
      graph: g,
      ...extra,
    }) as never,
  );
}

function rawNode(n: Obj) {
  return onnxTypes.NodeProto.create(n) as never;
}

function constantNode(out: string, attr: Obj) {
  return rawNode({ op_type: 'Constant', name: `leak_${out}`, output: [out], attribute: [attr] });
}

/** y = Abs(w): one op after the leak, so the model loads and runs (whether Abs is provable is beside the point). */
function leakGraph(name: string, extra: Obj = {}, nodes: unknown[] = []) {
  const g = graph({
    name,
    inputs: [],
    outputs: [OUT],
    nodes: [...(nodes as never[]), node('Abs', ['w'], ['y'])],
  });
  return Object.assign(g, extra);
}

/** w = zeros: a harmless producer of w, so a model loads where the leak sits somewhere onnxruntime ignores. */
const zerosW = () => node('Constant', [], ['w'], { value: tensorOf('int32', [8], new Array(8).fill(0)) });

interface Hostile {
  label: string;
  bytes: Uint8Array;
  /** What the refusal must name: the tensor and where it sits. */
  names: RegExp;
}

function hostileModels(): Hostile[] {
  const cases: Hostile[] = [];
  cases.push({
    label: 'an initializer with external data at a cwd-relative path',
    bytes: modelBytes(leakGraph('g', { initializer: [onnxTypes.TensorProto.create(extTensor('w'))] })),
    names: /tensor 'w'.*initializer 'w'/,
  });
  cases.push({
    label: "a Constant node's value attribute with external data",
    bytes: modelBytes(
      leakGraph('g', {}, [constantNode('w', { name: 'value', type: ATTR.TENSOR, t: extTensor('secret') })]),
    ),
    names: /tensor 'secret'.*node 'leak_w' \(Constant\).*attribute 'value'/,
  });
  cases.push({
    label: "a Constant node's sparse_value whose values are external",
    bytes: modelBytes(
      leakGraph('g', {}, [
        constantNode('w', {
          name: 'sparse_value',
          type: 11,
          sparse_tensor: { dims: [8], values: extTensor('v'), indices: idx8() },
        }),
      ]),
    ),
    names: /tensor 'v'.*node 'leak_w' \(Constant\).*attribute 'sparse_value'.*values/,
  });
  cases.push({
    label: 'a sparse initializer whose values are external',
    bytes: modelBytes(
      leakGraph('g', { sparse_initializer: [{ dims: [8], values: extTensor('w'), indices: idx8() }] }),
    ),
    names: /tensor 'w'.*sparse_initializer/,
  });
  {
    const thenG = graph({
      name: 'then',
      inputs: [],
      outputs: [{ name: 'w2', dtype: 'int32', dims: [8] }],
      nodes: [node('Identity', ['hidden'], ['w2'])],
    });
    Object.assign(thenG, { initializer: [onnxTypes.TensorProto.create(extTensor('hidden'))] });
    const elseG = graph({
      name: 'else',
      inputs: [],
      outputs: [{ name: 'w3', dtype: 'int32', dims: [8] }],
      nodes: [node('Constant', [], ['w3'], { value: tensorOf('int32', [8], new Array(8).fill(0)) })],
    });
    cases.push({
      label: "an If's then_branch subgraph initializer",
      bytes: modelBytes(
        leakGraph('g', {}, [
          node('Constant', [], ['c'], { value: { dtype: 'bool', dims: [], data: new Uint8Array([1]) } }),
          node('If', ['c'], ['w'], { then_branch: thenG, else_branch: elseG }, 'branch'),
        ]),
      ),
      names:
        /tensor 'hidden'.*node 'branch' \(If\).*attribute 'then_branch'.*graph 'then'.*initializer 'hidden'/,
    });
  }
  {
    const body = graph({
      name: 'body',
      inputs: [
        { name: 'iter', dtype: 'int64', dims: [] },
        { name: 'cin', dtype: 'bool', dims: [] },
      ],
      outputs: [
        { name: 'cout', dtype: 'bool', dims: [] },
        { name: 's', dtype: 'int32', dims: [8] },
      ],
      nodes: [
        node('Identity', ['cin'], ['cout']),
        constantNode('s', { name: 'value', type: ATTR.TENSOR, t: extTensor('in_loop') }),
      ],
    });
    const g = graph({
      name: 'g',
      inputs: [],
      outputs: [{ name: 'y', dtype: 'int32', dims: [1, 8] }],
      nodes: [
        node('Constant', [], ['n'], { value: tensorOf('int64', [], [1]) }),
        node('Constant', [], ['go'], { value: { dtype: 'bool', dims: [], data: new Uint8Array([1]) } }),
        node('Loop', ['n', 'go'], ['y'], { body }, 'loop'),
      ],
    });
    cases.push({
      label: "a Loop body's Constant",
      bytes: modelBytes(g),
      names: /tensor 'in_loop'.*node 'loop' \(Loop\).*attribute 'body'.*node 'leak_s' \(Constant\)/,
    });
  }
  {
    const fn = {
      name: 'Leak',
      domain: 'hostile.local',
      input: [],
      output: ['o'],
      opset_import: [{ domain: '', version: 13 }],
      node: [constantNode('o', { name: 'value', type: ATTR.TENSOR, t: extTensor('in_function') })],
    };
    const g = graph({
      name: 'g',
      inputs: [],
      outputs: [OUT],
      nodes: [
        rawNode({ op_type: 'Leak', domain: 'hostile.local', name: 'call', output: ['w'] }),
        node('Abs', ['w'], ['y']),
      ],
    });
    cases.push({
      label: "a model-local function body's Constant",
      bytes: modelBytes(g, {
        functions: [fn],
        opset_import: [
          { domain: '', version: 13 },
          { domain: 'hostile.local', version: 1 },
        ],
      }),
      names: /tensor 'in_function'.*function 'Leak'/,
    });
  }
  cases.push({
    label: 'a training_info initialization graph',
    bytes: modelBytes(leakGraph('g', {}, [zerosW()]), {
      training_info: [
        {
          initialization: graph({
            name: 'init',
            inputs: [],
            outputs: [OUT],
            nodes: [constantNode('y', { name: 'value', type: ATTR.TENSOR, t: extTensor('trained') })],
          }),
        },
      ],
    }),
    names: /tensor 'trained'.*training_info/,
  });
  cases.push({
    label: 'a tensor list attribute (tensors) holding an external tensor',
    bytes: modelBytes(
      leakGraph('g', {}, [
        rawNode({
          op_type: 'Constant',
          name: 'c',
          output: ['w'],
          attribute: [
            {
              name: 'value',
              type: ATTR.TENSOR,
              t: { dims: [8], data_type: 6, int32_data: new Array(8).fill(0) },
            },
            { name: 'extra', type: 9, tensors: [extTensor('listed')] },
          ],
        }),
      ]),
    ),
    names: /tensor 'listed'.*attribute 'extra'/,
  });
  cases.push({
    label: 'external_data entries without data_location',
    bytes: modelBytes(
      leakGraph('g', {
        initializer: [onnxTypes.TensorProto.create(extTensor('w', FILE, { data_location: 0 }))],
      }),
    ),
    names: /tensor 'w'.*initializer 'w'/,
  });
  cases.push({
    label: "the in-memory address marker '*/_ORT_MEM_ADDR_/*'",
    bytes: modelBytes(
      leakGraph('g', { initializer: [onnxTypes.TensorProto.create(extTensor('w', '*/_ORT_MEM_ADDR_/*'))] }),
    ),
    names: /tensor 'w'.*initializer 'w'/,
  });
  {
    // Two copies of ModelProto.graph: protobuf merges them (onnxruntime sees both), protobufjs keeps the last.
    const hidden = encodeModel(
      onnxTypes.ModelProto.create({ graph: { initializer: [extTensor('w')] } }) as never,
    );
    const shown = modelBytes(leakGraph('g'));
    cases.push({
      label: 'a graph split in two copies that protobuf merges (the decoded tree shows only the second)',
      bytes: Buffer.concat([hidden, shown]),
      names: /tensor 'w'.*initializer 'w'/,
    });
  }
  cases.push({
    label: 'an EPContext node whose context is a file beside the node',
    bytes: modelBytes(
      leakGraph('g', {}, [
        rawNode({
          op_type: 'EPContext',
          domain: 'com.microsoft',
          name: 'ctx',
          output: ['w'],
          attribute: [
            { name: 'embed_mode', type: ATTR.INT, i: 0 },
            { name: 'ep_cache_context', type: ATTR.STRING, s: Buffer.from(FILE) },
          ],
        }),
      ]),
      {
        opset_import: [
          { domain: '', version: 13 },
          { domain: 'com.microsoft', version: 1 },
        ],
      },
    ),
    names: /node 'ctx' \(com\.microsoft\.EPContext\).*EPContext/,
  });
  {
    // producer_name first on the wire puts "ORTM" at bytes 4..8: a valid ONNX model onnxruntime reads as ORT format.
    const prefix = Buffer.from([0x12, 6, ...Buffer.from('xxORTM')]);
    cases.push({
      label: 'an ONNX model whose bytes onnxruntime would take for its ORT flatbuffer format',
      bytes: Buffer.concat([prefix, modelBytes(leakGraph('g', {}, [zerosW()]))]),
      names: /ORTM.*ORT-format/,
    });
  }
  {
    // A GraphProto field number the schema does not name, holding a tensor: invisible to the decoded tree.
    const w = onnxTypes.TensorProto.encode(onnxTypes.TensorProto.create(extTensor('w'))).finish();
    const hiddenField = Buffer.concat([Buffer.from([0xba, 0x06]), Buffer.from([w.length]), w]); // field 103, LEN
    const g = onnxTypes.GraphProto.encode(leakGraph('g', {}, [zerosW()]) as never).finish();
    const graphField = (b: Uint8Array) => Buffer.concat([Buffer.from([0x3a]), varint(b.length), b]); // field 7
    const head = encodeModel(
      onnxTypes.ModelProto.create({ ir_version: 8, opset_import: [{ domain: '', version: 13 }] }) as never,
    );
    cases.push({
      label: 'a tensor in a field the ONNX schema does not name',
      bytes: Buffer.concat([head, graphField(Buffer.concat([g, hiddenField]))]),
      names: /field 103 of onnx\.GraphProto at graph 'g'/,
    });
  }
  return cases;
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** Loads and runs a model as a node does; returns the output bytes when the model got that far. */
async function loadAndRun(bytes: Uint8Array): Promise<Buffer> {
  const m = await loadModel(bytes, { name: 'hostile' });
  try {
    const r = await runModel(m, {});
    return Buffer.from(r.outputs.y.data);
  } finally {
    await m.close();
  }
}

test('the threat is real: onnxruntime reads a cwd-relative external-data file from model bytes', async () => {
  // Straight onnxruntime, as a node used it before models were checked: the secret comes back as the output.
  const bytes = hostileModels()[0].bytes;
  const s = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 3,
  });
  const out = await s.run({});
  await s.release();
  assert.deepEqual(Buffer.from((out.y.data as Int32Array).buffer), SECRET);
});

for (const h of hostileModels()) {
  test(`hostile model: ${h.label} → refused INVALID_MODEL naming the tensor, the file never read`, async () => {
    let leaked: Buffer | undefined;
    try {
      leaked = await loadAndRun(h.bytes);
    } catch (e) {
      assert.ok(isOptinferError(e, 'INVALID_MODEL'), `expected INVALID_MODEL, got ${String(e)}`);
      assert.equal(httpStatus(e.code), 400);
      assert.match(e.message, h.names);
      assert.match(e.message, /expected a self-contained model/);
      assert.doesNotMatch(e.message, new RegExp(nodeDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.ok(!e.message.includes(SECRET.toString()));
      return;
    }
    assert.fail(
      `the model loaded and ran; its output ${leaked.equals(SECRET) ? 'IS the secret file' : `is ${leaked.toString('hex')}`}`,
    );
  });
}

test('hostile model through the registry and the sequencer inspector: refused, not registered', async () => {
  const registry = new ModelRegistry();
  const inspector = new OrtInspector(registry);
  const bytes = hostileModels()[0].bytes;
  await assert.rejects(inspector.inspect(bytes, 'leak'), (e: unknown) => {
    assert.ok(isOptinferError(e, 'INVALID_MODEL'), String(e));
    assert.match(e.message, /model 'leak': tensor 'w'.*self-contained/);
    return true;
  });
  await assert.rejects(registry.register(bytes), (e: unknown) => isOptinferError(e, 'INVALID_MODEL'));
  assert.deepEqual(registry.list(), []);
  await registry.close();
});

test("defence in depth: a session never resolves external data against the node's working directory", async () => {
  // Even if the refusal were skipped, createSession points onnxruntime at a folder where nothing can exist.
  const bytes = hostileModels()[0].bytes;
  await assert.rejects(createSession(bytes, CANONICAL_PROFILE, "model 'leak'"), (e: unknown) => {
    assert.ok(isOptinferError(e, 'INVALID_MODEL'), String(e));
    // No filesystem path reaches the caller: not the node's directory, not where onnxruntime looked.
    assert.ok(!e.message.includes(nodeDir), e.message);
    assert.doesNotMatch(e.message, /(^|[\s"'(])\/\w/, e.message);
    return true;
  });
});

test('hostile upload over HTTP (the reported attack): the executor key beside the node is never served', async () => {
  // `optinfer dev --chain none` with the default data dir: .optinfer/executor-0/executor-keypair.json under cwd.
  const dataDir = join(nodeDir, '.optinfer');
  mkdirSync(dataDir, { recursive: true });
  const dev = await startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 4,
    batchMaxAgeMs: 100,
    challengeWindowMs: 300,
    cheat: { mode: 'none', rate: 0 },
    chain: 'none',
    logger: silentLogger,
  });
  try {
    const keyFile = '.optinfer/executor-0/executor-keypair.json';
    const key = readFileSync(keyFile).subarray(0, 32);
    const bytes = modelBytes(
      leakGraph('g', { initializer: [onnxTypes.TensorProto.create(extTensor('w', keyFile))] }),
    );
    const up = await fetch(`${dev.url}/v1/models`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(bytes),
    });
    const body = (await up.json()) as { modelId?: string; error?: { code: string; message: string } };
    if (up.status !== 400) {
      // Before the fix: the model registers and a job returns the key's first 32 bytes.
      const job = await fetch(`${dev.url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ modelId: body.modelId, inputs: {} }),
      });
      const { jobId } = (await job.json()) as { jobId: string };
      const done = await waitFor('hostile job done', async () => {
        const j = (await (await fetch(`${dev.url}/v1/jobs/${jobId}`)).json()) as any;
        return !['queued', 'executing'].includes(j.status) && j;
      });
      const got = done.outputs ? Buffer.from(Int32Array.from(done.outputs.y.data).buffer) : undefined;
      assert.fail(
        `upload answered ${up.status}; the job output ${got?.equals(key) ? 'IS the executor secret key' : JSON.stringify(done)}`,
      );
    }
    assert.equal(body.error?.code, 'INVALID_MODEL');
    assert.match(body.error!.message, /tensor 'w'.*external.*self-contained/);
    assert.ok(!body.error!.message.includes(nodeDir));
  } finally {
    await dev.close();
  }
});
