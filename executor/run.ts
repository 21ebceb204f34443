// The hot path: validated inputs through the model's canonical session, outputs and their digest, no tracing.
import type ort from 'onnxruntime-node';
import { OptinferError } from '../state/errors.ts';
import { tensorSetDigest, type Tensor } from '../state/tensor.ts';
import type { Hash32 } from '../state/types.ts';
import { putNamed } from '../state/tensor-map.ts';
import type { LoadedModel } from './model.ts';
import { fromOrtValue, toOrtTensor } from './ort-tensor.ts';
import { validateInputs } from './validate.ts';
import type { ModelSession } from './wasm-session.ts';
import { userFacingOrtMessage } from './onnx/ort-message.ts';

export interface RunResult {
  outputs: Record<string, Tensor>;
  outputDigest: Hash32;
}

export function toFeeds(inputs: Record<string, Tensor>): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, toOrtTensor(t)]));
}

/** Runs a session and returns the named outputs in canonical form, in the model's declared output order. */
export async function runSession(
  session: ModelSession,
  feeds: Record<string, ort.Tensor>,
  outputNames: readonly string[],
  what: string,
): Promise<Record<string, Tensor>> {
  let res: ort.InferenceSession.OnnxValueMapType;
  try {
    res = await session.run(feeds);
  } catch (e) {
    // Shapes the declared signature allows can still be rejected by an operator (e.g. mismatched symbolic dims).
    const msg = userFacingOrtMessage(e);
    throw new OptinferError('EXECUTION_FAILED', `${what}: onnxruntime failed to run (${msg})`, undefined, {
      cause: e,
    });
  }
  const out: Record<string, Tensor> = {};
  for (const name of outputNames) putNamed(out, name, fromOrtValue(res[name], `${what} output '${name}'`));
  return out;
}

export async function runModel(model: LoadedModel, inputs: Record<string, Tensor>): Promise<RunResult> {
  validateInputs(model.inputs, inputs, `model '${model.name}'`);
  const outputs = await runSession(
    model.session,
    toFeeds(inputs),
    model.outputs.map((o) => o.name),
    `model '${model.name}'`,
  );
  return { outputs, outputDigest: tensorSetDigest(outputs) };
}
