// The ONNX schema is complete enough that decoding and re-encoding real models reproduces their bytes exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeModel, encodeModel } from './schema.ts';
import { modelInfo } from './graph.ts';

const files = [
  '../../node_modules/openwakeword-js/models/hello_deepa.onnx',
  '../../node_modules/openwakeword-js/models/namaste_deepa.onnx',
  '../../node_modules/openwakeword-js/models/hello_deepa_old.onnx',
  '../../test/fixtures/models/int8_mlp.onnx',
  '../../test/fixtures/models/float_cnn.onnx',
  '../../test/fixtures/models/if_model.onnx',
  '../../test/fixtures/models/silero_vad.onnx',
].map((f) => fileURLToPath(new URL(f, import.meta.url)));

for (const f of files) {
  test(`re-encoding ${f.split('/').pop()} reproduces the file byte for byte`, () => {
    const bytes = readFileSync(f);
    const re = encodeModel(decodeModel(bytes));
    assert.equal(Buffer.compare(Buffer.from(re), bytes), 0);
  });
}

test('model info: inputs exclude initializers, symbolic dims are null, subgraph ops are listed', () => {
  const hello = modelInfo(decodeModel(readFileSync(files[0])));
  assert.deepEqual(hello.inputs, [
    { name: 'onnx::Flatten_0', dtype: 'float32', typeText: 'tensor(float32)', dims: [1, 25, 96] },
  ]);
  assert.deepEqual(hello.opset, [{ domain: '', version: 13 }]);
  assert.equal(hello.nodes.length, 29);
  const cnn = modelInfo(decodeModel(readFileSync(files[4])));
  assert.deepEqual(cnn.inputs[0].dims, [null, 3, 8, 8]);
  const iff = modelInfo(decodeModel(readFileSync(files[5])));
  assert.equal(iff.hasSubgraphs, true);
  assert.deepEqual(iff.ops, [
    'Abs',
    'Add',
    'Greater',
    'If',
    'Mul',
    'Neg',
    'ReduceMax',
    'ReduceSum',
    'Relu',
    'Sub',
  ]);
});
