// Hostile models the tests share: built here, in a few hundred bytes, to attack a node that runs them.
import { buildModel, graph, node, tensorOf } from '../../executor/onnx/builder.ts';

/** 303 bytes: a Loop whose trip count is 1e15 and whose condition never turns false. */
export function loopForever(): Uint8Array {
  const body = graph({
    name: 'body',
    inputs: [
      { name: 'i', dtype: 'int64', dims: [] },
      { name: 'c', dtype: 'bool', dims: [] },
      { name: 'v', dtype: 'float32', dims: [1] },
    ],
    outputs: [
      { name: 'c_out', dtype: 'bool', dims: [] },
      { name: 'v_out', dtype: 'float32', dims: [1] },
    ],
    nodes: [node('Identity', ['c'], ['c_out']), node('Identity', ['v'], ['v_out'])],
  });
  return buildModel({
    name: 'loop_forever',
    inputs: [{ name: 'x', dtype: 'float32', dims: [1] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [1] }],
    initializers: { M: tensorOf('int64', [], [1e15]), C: tensorOf('bool', [], [1]) },
    nodes: [node('Loop', ['M', 'C', 'x'], ['y'], { body })],
  });
}
