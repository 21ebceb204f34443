// Re-execute: run a job again on the canonical profile, from the committed model and inputs.
import type { LoadedModel } from '../executor/model.ts';
import type { ModelRunner } from '../executor/sandbox/pool.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import type { Hash32 } from '../state/types.ts';
import { OptinferError } from '../state/errors.ts';

export interface Reexecution {
  inputDigest: Hash32;
  outputDigest: Hash32;
}

export async function reexecute(
  model: LoadedModel,
  inputs: TensorMap,
  committedInputDigest: Hash32,
  runner: ModelRunner,
  /** What the model runs on: the inputs as the referee reads them (unrunnable.ts refereeFeed), by default `inputs`. */
  feed: TensorMap = inputs,
): Promise<Reexecution> {
  const inputDigest = tensorSetDigest(inputs);
  if (inputDigest !== committedInputDigest) {
    // The sequencer served inputs other than the committed ones: nothing about the executor can be concluded.
    throw new OptinferError(
      'INVALID_INPUT',
      `inputs served for the job hash to ${inputDigest}, but the committed record says ${committedInputDigest}`,
    );
  }
  const { outputDigest } = await runner.run(model, feed);
  return { inputDigest, outputDigest };
}
