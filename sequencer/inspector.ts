// The sequencer's model inspector over onnxruntime: parses, loads and validates through executor/'s registry.
import type { ModelRegistry } from '../executor/model.ts';
import { validateInputs } from '../executor/validate.ts';
import { OptinferError } from '../state/errors.ts';
import type { TensorMap } from './codec.ts';
import type { ModelInfo, ModelInspector } from './ports.ts';

export class OrtInspector implements ModelInspector {
  constructor(private readonly registry: ModelRegistry) {}

  async inspect(bytes: Uint8Array, name: string): Promise<Omit<ModelInfo, 'registeredAt'>> {
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
    return {
      modelId: m.modelId,
      name: m.name,
      inputs: m.inputs.map(spec),
      outputs: m.outputs.map(spec),
      provable: m.provable,
      unprovableOps: [...m.unprovableOps, ...m.untraceableOps],
      sizeBytes: bytes.length,
    };
  }

  validateInputs(model: ModelInfo, inputs: TensorMap): void {
    const m = this.registry.get(model.modelId);
    if (!m) throw new OptinferError('NOT_FOUND', `model ${model.modelId} is registered but not loaded`);
    validateInputs(m.inputs, inputs, `model '${m.name}'`);
  }
}
