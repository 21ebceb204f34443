// What the sequencer's ports need from model handling, over onnxruntime: the model inspector and the program compiler.
import type { ModelRegistry } from './model.ts';
import { decodeModel } from './onnx/schema.ts';
import { checkTensorSizes } from './onnx/size-estimate.ts';
import { assertClosed } from './onnx/closed.ts';
import { DEFAULT_SANDBOX_LIMITS } from './sandbox/pool.ts';
import { compileForProgram } from './program-model.ts';
import { encodeOpEntry, type TensorHeader } from '../state/optable.ts';
import { DTYPE_CODES, dtypeFromCode } from '../state/tensor.ts';
import type { ShapeRecord } from '../state/shapes.ts';
import { validateInputs } from './validate.ts';
import { OptinferError } from '../state/errors.ts';
import type { ModelInfo } from '../state/model-info.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import type { Hash32, ModelId } from '../state/types.ts';

/** The sequencer's ModelInspector port: parses, loads and validates through the registry. */
export class OrtInspector {
  /** `maxTensorBytes`: a model whose largest tensor is estimated above this is refused (the run memory limit). */
  /** Per provable model, its graph inputs in name order with their registered headers. */
  private readonly registered = new Map<ModelId, (readonly [string, TensorHeader])[]>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly maxTensorBytes = DEFAULT_SANDBOX_LIMITS.memoryBytes,
    /** The program's dispute clock, read at each upload: a model whose games need longer is not provable. */
    private readonly clockSlots?: () => Promise<bigint>,
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
    // Provable only if the program would register it: every layer decidable within its limits. A
    // model with a symbolic input dim is not (the op table and shape record are of one static shape).
    let refusals: string[] = [];
    if (m.provable) {
      const clockSlots = await this.clockSlots?.();
      refusals = await compileForProgram(m, undefined, { clockSlots }).then(
        (c) => {
          if (c.refusals.length === 0) {
            this.registered.set(
              m.modelId,
              c.inputNames.map((n, i) => [n, c.shapes.inputs[i]] as const),
            );
          }
          return c.refusals;
        },
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

  /**
   * Against the declared signature, and for a provable model against its registered shape record
   * too: one_step convicts an executor whose job input is off the registered shapes, so such a job
   * must never be taken (INVALID_INPUT naming the input, its dims and the registered ones).
   */
  validateInputs(model: ModelInfo, inputs: TensorMap): void {
    const m = this.registry.get(model.modelId);
    if (!m) throw new OptinferError('NOT_FOUND', `model ${model.modelId} is registered but not loaded`);
    validateInputs(m.inputs, inputs, `model '${m.name}'`);
    if (!model.provable) return;
    const registered = this.registered.get(model.modelId);
    if (!registered) {
      throw new OptinferError('INTERNAL', `provable model '${m.name}' has no registered shape record loaded`);
    }
    for (const [name, h] of registered) {
      const t = inputs[name];
      const dtype = t && DTYPE_CODES[t.dtype];
      if (
        !t ||
        dtype !== h.dtype ||
        t.dims.length !== h.dims.length ||
        t.dims.some((d, i) => d !== h.dims[i])
      ) {
        throw new OptinferError(
          'INVALID_INPUT',
          `input '${name}': got ${t ? `${t.dtype} [${t.dims.join(',')}]` : 'nothing'}, expected the registered ` +
            `shape ${dtypeFromCode(h.dtype) ?? h.dtype} [${h.dims.join(',')}] of provable model '${m.name}'`,
          { input: name },
        );
      }
    }
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
