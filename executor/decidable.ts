// The executor's run of a job: refuses inputs on which an exact-mode layer has no hardware-independent result.
import { OptinferError } from '../state/errors.ts';
import type { Tensor } from '../state/tensor.ts';
import type { LoadedModel } from './model.ts';
import type { RunResult } from './run.ts';
import type { ModelRunner } from './sandbox/pool.ts';
import { hasUndecidableOps } from './trace.ts';

/**
 * The plain run, or, for a provable model with DynamicQuantizeLinear or Div, a traced run that refuses
 * (UNDECIDABLE_INPUT) inputs sending a NaN into a DynamicQuantizeLinear (its range scan keeps or drops the NaN by
 * vector lane) or INT_MIN / -1 into an int32 Div (INT_MIN in a vector lane, SIGFPE in the scalar loop): the referee
 * convicts the executor of any committed trace holding such a layer (PROTOCOL.md, "Undecidable operands"), and an
 * honest executor never signs one. Challengers re-execute with the plain run: they may still audit such a job.
 */
export async function runDecidable(
  runner: ModelRunner,
  model: LoadedModel,
  inputs: Record<string, Tensor>,
): Promise<RunResult> {
  // Only a provable model's layers are ever disputed; the others run plain (some cannot be traced).
  if (!model.provable || !hasUndecidableOps(model)) return runner.run(model, inputs);
  const t = await runner.trace(model, inputs, { checkPlain: false });
  if (t.undecidable.length > 0)
    throw new OptinferError(
      'UNDECIDABLE_INPUT',
      `model '${model.name}': ${t.undecidable.join('; ')}: its result depends on the CPU's vector lanes, so exact mode cannot decide it; the job is refused`,
      { undecidable: t.undecidable },
    );
  return { outputs: t.outputs, outputDigest: t.outputDigest };
}
