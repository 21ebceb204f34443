// The closed-model check: real models pass untouched; nesting, wire-type tricks and every reference are reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type protobuf from 'protobufjs';
import { assertClosed, openReferences } from './closed.ts';
import { buildModel, graph, node, tensorOf } from './builder.ts';
import { encodeModel, onnxTypes } from './schema.ts';
import { isOptinferError } from '../../state/errors.ts';

const dir = (d: string) => fileURLToPath(new URL(d, import.meta.url));
const realModels = [
  ...readdirSync(dir('../../test/fixtures/models/'))
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => dir(`../../test/fixtures/models/${f}`)),
  ...readdirSync(dir('../../node_modules/openwakeword-js/models/'))
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => dir(`../../node_modules/openwakeword-js/models/${f}`)),
  dir('../../models/demo-int8-mlp.onnx'),
];

test('real models (fixtures, openwakeword, the demo) are closed: no false refusals', () => {
  assert.ok(realModels.length >= 7, `found ${realModels.length} models`);
  for (const f of realModels) assert.deepEqual(openReferences(readFileSync(f)), [], f);
});

const OUT = { name: 'y', dtype: 'int32' as const, dims: [1] };

/** A length-delimited field on the wire, for messages protobufjs itself refuses to encode this deep. */
function field(id: number, body: Uint8Array): Buffer {
  const len: number[] = [];
  let n = body.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([(id << 3) | 2, ...len]), body]);
}

test('subgraphs nested past protobuf depth 100 are refused before the walk recurses further', () => {
  const enc = (t: protobuf.Type, v: object) => t.encode(t.create(v)).finish();
  let g: Uint8Array = enc(onnxTypes.GraphProto, { name: 'leaf' });
  for (let i = 0; i < 40; i++) {
    // graph { name, node { If, attribute { then_branch, g: <the level below> } } }
    const attr = Buffer.concat([
      enc(onnxTypes.AttributeProto, { name: 'then_branch', type: 5 }),
      field(6, g),
    ]);
    const n = Buffer.concat([enc(onnxTypes.NodeProto, { op_type: 'If', name: `if${i}` }), field(5, attr)]);
    g = Buffer.concat([enc(onnxTypes.GraphProto, { name: `level${i}` }), field(1, n)]);
  }
  const refs = openReferences(Buffer.concat([enc(onnxTypes.ModelProto, { ir_version: 8 }), field(7, g)]));
  assert.equal(refs.length, 1);
  assert.equal(refs[0].kind, 'too-deep');
  assert.match(
    refs[0].message,
    /nested more than 100 deep at graph 'level39' › node 'if39' \(If\) › attribute 'then_branch'/,
  );
});

test('an embedded message sent with another wire type (a group) is refused, not skipped', () => {
  const ok = buildModel({
    name: 'g',
    inputs: [],
    outputs: [OUT],
    nodes: [node('Constant', [], ['y'], { value: tensorOf('int32', [1], [0]) })],
  });
  // ModelProto.graph (field 7) as an empty group: start group 7 (wire 3), end group 7 (wire 4).
  const bytes = Buffer.concat([ok, Buffer.from([(7 << 3) | 3, (7 << 3) | 4])]);
  const refs = openReferences(bytes);
  assert.equal(refs.length, 1);
  assert.match(refs[0].message, /field 'graph' of onnx\.ModelProto at the model has wire type 3/);
});

test('every external reference is counted; the first is named with its path and the rest summed', () => {
  const ext = (name: string) => ({
    name,
    dims: [1],
    data_type: 6,
    data_location: 1,
    external_data: [{ key: 'location', value: 'w.bin' }],
  });
  const g = graph({ name: 'g', inputs: [], outputs: [OUT], nodes: [node('Add', ['a', 'b'], ['y'])] });
  Object.assign(g, { initializer: [ext('a'), ext('b')] });
  const bytes = encodeModel(
    onnxTypes.ModelProto.create({ ir_version: 8, opset_import: [{ version: 13 }], graph: g }) as never,
  );
  assert.deepEqual(
    openReferences(bytes).map((r) => r.path),
    ["graph 'g' › initializer 'a'", "graph 'g' › initializer 'b'"],
  );
  assert.throws(
    () => assertClosed(bytes, "model 'two'"),
    (e: unknown) =>
      isOptinferError(e, 'INVALID_MODEL') &&
      /^model 'two': tensor 'a' \(at graph 'g' › initializer 'a'\) keeps its bytes outside the model, in external data \(location "w\.bin"\) \(and 1 more such reference\); expected a self-contained model/.test(
        e.message,
      ),
  );
});

test('bytes that are not protobuf at all are INVALID_MODEL, not a crash', () => {
  assert.throws(
    () => assertClosed(new Uint8Array([0x0f, 0xff, 0xff]), "model 'junk'"),
    (e: unknown) =>
      isOptinferError(e, 'INVALID_MODEL') && /^model 'junk': expected well-formed ONNX/.test(e.message),
  );
});
