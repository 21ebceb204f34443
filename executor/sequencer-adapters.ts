// What the sequencer's ports need from model handling, over onnxruntime: the model inspector and the program compiler.
import type { ModelRegistry } from './model.ts';
import { decodeModel } from './onnx/schema.ts';
import { checkTensorSizes } from './onnx/size-estimate.ts';
import { assertClosed } from './onnx/closed.ts';
import { DEFAULT_SANDBOX_LIMITS } from './sandbox/pool.ts';
import { compileForProgram } from './program-model.ts';
import { encodeOpEntry } from '../state/optable.ts';
import type { ShapeRecord } from '../state/shapes.ts';
import { validateInputs } from './validate.ts';
import { OptinferError } from '../state/errors.ts';
import type { ModelInfo } from '../state/model-info.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import type { Hash32, ModelId } from '../state/types.ts';

/** The sequencer's ModelInspector port: parses, loads and validates through the registry. */
export class OrtInspector {
  /** `maxTensorBytes`: a model whose largest tensor is estimated above this is refused (the run memory limit). */
  constructor(
    private readonly registry: ModelRegistry,
    private readonly maxTensorBytes = DEFAULT_SANDBOX_LIMITS.memoryBytes,
  ) {}

  /** An upload that is not a closed model (external data and the like, onnx/closed.ts) is INVALID_MODEL: a 400. */
  async inspect(bytes: Uint8Array, name: string): Promise<Omit<ModelInfo, 'registeredAt'>> {
    // Before anything decodes it: not closed, or too many nodes to load in this process, is a 400.
    assertClosed(bytes, `model '${name}'`);
    // Before onnxruntime sees it: a model that cannot fit an executor's memory limit is never registered.
    checkTensorSizes(decodeModel(bytes, `model '${name}'`), this.maxTensorBytes, `model '${name}'`);
    const m = await this.registry.register(bytes, { name });
    const spec = (v: {
      name: string;
      dtype: string | null;
      typeText: string;
      dims: (number | null)[] | null;
    }) => ({
      name: v.name,
      dtype: v.dtype ?? v.typeText,
      dims: v.dims ?? [],
    });
    // Provable only if the program would register it: every layer decidable within its limits.
    let refusals: string[] = [];
    if (m.provable) {
      refusals = await compileForProgram(m).then(
        (c) => c.refusals,
        (e: unknown) => [e instanceof Error ? e.message : String(e)],
      );
    }
    return {
      modelId: m.modelId,
      name: m.name,
      inputs: m.inputs.map(spec),
      outputs: m.outputs.map(spec),
      provable: m.provable && refusals.length === 0,
      unprovableOps: [...m.unprovableOps, ...m.untraceableOps, ...refusals],
      sizeBytes: bytes.length,
    };
  }

  validateInputs(model: ModelInfo, inputs: TensorMap): void {
    const m = this.registry.get(model.modelId);
    if (!m) throw new OptinferError('NOT_FOUND', `model ${model.modelId} is registered but not loaded`);
    validateInputs(m.inputs, inputs, `model '${m.name}'`);
  }
}

/** The sequencer's ProgramModelSource port: a loaded model's op table and weight root, as the program registers it. */
export function programModelSource(registry: ModelRegistry): (modelId: ModelId) => Promise<{
  profileHash: Hash32;
  weightRoot: Hash32;
  weightCount: number;
  opEntries: Uint8Array[];
  outputName: string;
  shapes: ShapeRecord;
}> {
  return async (modelId) => {
    const model = registry.get(modelId);
    if (!model) throw new OptinferError('NOT_FOUND', `model ${modelId} is not loaded`);
    const compiled = await compileForProgram(model);
    return {
      profileHash: model.profileHash,
      weightRoot: compiled.weightRoot,
      weightCount: compiled.weights.length,
      opEntries: compiled.layers.map(encodeOpEntry),
      outputName: compiled.outputName,
      shapes: compiled.shapes,
    };
  };
}
