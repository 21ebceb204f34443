// A model of nothing but nodes (no big tensor for the size estimate to catch) is refused by its node count,
// on the wire, before it is decoded or handed to onnxruntime in the process that serves the API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ModelRegistry } from '../../executor/model.ts';
import { buildModel, node } from '../../executor/onnx/builder.ts';
import { MAX_MODEL_NODES } from '../../executor/onnx/closed.ts';
import { OrtInspector } from '../../executor/sequencer-adapters.ts';
import { isOptinferError } from '../../state/errors.ts';

function identityChain(n: number): Uint8Array {
  const nodes = [];
  for (let i = 0; i < n; i++)
    nodes.push(node('Identity', [i ? `t${i - 1}` : 'x'], [i === n - 1 ? 'y' : `t${i}`]));
  return buildModel({
    name: 'many',
    inputs: [{ name: 'x', dtype: 'float32', dims: [1] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [1] }],
    nodes,
  });
}

test('an upload of more nodes than the cap is refused by count, quickly, and nothing stays loaded', async () => {
  const registry = new ModelRegistry();
  try {
    const bytes = identityChain(MAX_MODEL_NODES + 1);
    const t0 = performance.now();
    await assert.rejects(
      new OrtInspector(registry).inspect(bytes, 'many'),
      (e: unknown) =>
        isOptinferError(e, 'INVALID_MODEL') &&
        new RegExp(`more than ${MAX_MODEL_NODES} nodes`).test((e as Error).message) &&
        !/self-contained/.test((e as Error).message),
    );
    const took = performance.now() - t0;
    // Loading 30,000 nodes into onnxruntime takes seconds here; refusing them on the wire takes milliseconds.
    assert.ok(took < 1_500, `refusal took ${took.toFixed(0)} ms`);
    assert.equal(registry.list().length, 0, 'the refused model is not registered');
  } finally {
    await registry.close();
  }
});

test('a model just under the cap still passes the wire check (no false refusal of a large real graph)', async () => {
  const { assertClosed } = await import('../../executor/onnx/closed.ts');
  assert.doesNotThrow(() => assertClosed(identityChain(MAX_MODEL_NODES), 'model'));
});
