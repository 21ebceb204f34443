// onnxruntime's messages reach users without the node's paths or onnxruntime's source locations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userFacingOrtMessage } from './ort-message.ts';
import { buildModel, node, tensorOf } from './builder.ts';
import { loadModel } from '../model.ts';
import { runModel } from '../run.ts';
import { isOptinferError } from '../../state/errors.ts';

/** Messages onnxruntime-node 1.30 gave in this project's runs, with the working directory as it was. */
const cwd = process.cwd();
const seen: [string, string][] = [
  [
    '/onnxruntime_src/onnxruntime/core/graph/graph.cc:1295 onnxruntime::Graph::Graph(const onnxruntime::Model&, onnx::GraphProto*, const std::unordered_map<std::__cxx11::basic_string<char>, int>&, onnxruntime::Version, onnxruntime::IOnnxRuntimeOpSchemaCollectionPtr, onnxruntime::Graph*, const onnxruntime::Node*, const onnxruntime::logging::Logger&, bool) [ONNXRuntimeError] : 1 : FAIL : tensorprotoutils.cc:461 ValidateExternalDataPathFromDir External data path does not exist: "/srv/node/.optinfer/secret.bin"',
    'External data path does not exist: "<path>"',
  ],
  [
    `External data path validation failed for initializer: w. Error: External data path for model loaded from bytes escapes working directory. tensorprotoutils.cc:461 ValidateExternalDataPathFromDir External data path does not exist: "${cwd}/nothere.bin"`,
    'External data path validation failed for initializer: w. Error: External data path for model loaded from bytes escapes working directory. External data path does not exist: "./nothere.bin"',
  ],
  [
    'Exception during initialization: /onnxruntime_src/onnxruntime/core/optimizer/initializer.cc:44 onnxruntime::Initializer::Initializer(const onnx::TensorProto&, const std::filesystem::__cxx11::path&) !model_path.empty() was false. model_path must not be empty.\nmore lines',
    'Exception during initialization: !model_path.empty() was false. model_path must not be empty.',
  ],
  [
    'This is an invalid model. Error Data of TensorProto ( tensor name: w) should be stored in /home/op/node/w.bin, but it is not regular file.',
    'This is an invalid model. Error Data of TensorProto ( tensor name: w) should be stored in <path>, but it is not regular file.',
  ],
];

test('onnxruntime messages lose paths, source locations and C++ signatures, and keep their meaning', () => {
  for (const [raw, want] of seen) {
    const got = userFacingOrtMessage(new Error(raw));
    assert.equal(got, want);
    assert.ok(!got.includes(cwd) && !/\.(cc|h):\d/.test(got) && !/(^|[\s"'(])\//.test(got), got);
  }
});

test('a run that onnxruntime rejects reports the operator failure without the library internals', async () => {
  const m = await loadModel(
    buildModel({
      name: 'g',
      inputs: [{ name: 'x', dtype: 'float32', dims: ['n'] }],
      outputs: [{ name: 'y', dtype: 'float32', dims: [3] }],
      nodes: [node('Add', ['x', 'w'], ['y'])],
      initializers: { w: tensorOf('float32', [3], [1, 2, 3]) },
    }),
    { name: 'broadcast' },
  );
  try {
    await assert.rejects(runModel(m, { x: tensorOf('float32', [2], [1, 2]) }), (e: unknown) => {
      assert.ok(isOptinferError(e, 'EXECUTION_FAILED'), String(e));
      // The raw message names /onnxruntime_src/.../element_wise_ops.h and BroadcastIterator::Init(...).
      assert.match(String((e.cause as Error).message), /onnxruntime_src/);
      assert.equal(
        e.message,
        "model 'broadcast': onnxruntime failed to run (Non-zero status code returned while running Add node. Name:'Add_y' Status Message: axis == 1 || axis == largest was false. Attempting to broadcast an axis by a dimension other than 1. 2 by 3)",
      );
      return true;
    });
  } finally {
    await m.close();
  }
});
