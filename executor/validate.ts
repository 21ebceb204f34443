// Input validation against a model's declared signature, before anything reaches onnxruntime.
import { OptinferError } from '../state/errors.ts';
import { checkTensor, type Tensor } from '../state/tensor.ts';
import type { ValueSpec } from './onnx/graph.ts';

function bad(message: string, input?: string): OptinferError {
  return new OptinferError('INVALID_INPUT', message, input === undefined ? undefined : { input });
}

const dimsText = (dims: readonly (number | null)[]) =>
  `[${dims.map((d) => (d === null ? '?' : d)).join(',')}]`;

/**
 * Checks names, dtypes, rank and dims (symbolic dims accept any positive size). Every error is INVALID_INPUT
 * and names the input, what was given and what the model expects.
 */
export function validateInputs(
  specs: readonly ValueSpec[],
  inputs: Record<string, Tensor>,
  modelName = 'model',
): void {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const expected = specs.map((s) => `'${s.name}'`).join(', ');
  for (const name of Object.keys(inputs)) {
    if (!byName.has(name)) {
      throw bad(
        `input '${name}': unknown input for ${modelName}, expected ${specs.length === 1 ? '' : 'one of '}${expected}`,
        name,
      );
    }
  }
  for (const spec of specs) {
    const t = inputs[spec.name];
    if (t === undefined)
      throw bad(`input '${spec.name}': missing, ${modelName} expects inputs ${expected}`, spec.name);
    if (spec.dtype === null) {
      throw bad(
        `input '${spec.name}': ${modelName} declares it as ${spec.typeText}, which optinfer does not support`,
        spec.name,
      );
    }
    if (t.dtype !== spec.dtype) {
      throw bad(`input '${spec.name}': expected dtype ${spec.dtype}, got ${t.dtype}`, spec.name);
    }
    checkTensor(t, `input '${spec.name}'`);
    if (spec.dims === null) continue;
    if (t.dims.length !== spec.dims.length) {
      throw bad(
        `input '${spec.name}': expected rank ${spec.dims.length} with dims ${dimsText(spec.dims)}, got rank ${t.dims.length} with dims [${t.dims.join(',')}]`,
        spec.name,
      );
    }
    spec.dims.forEach((want, i) => {
      const got = t.dims[i];
      if (want === null ? got < 1 : got !== want) {
        throw bad(
          `input '${spec.name}': expected dims ${dimsText(spec.dims!)}, got [${t.dims.join(',')}] (dim ${i} is ${got}, expected ${want === null ? 'any positive size' : want})`,
          spec.name,
        );
      }
    });
  }
}
