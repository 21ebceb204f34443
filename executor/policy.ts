// What an executor answers for a job it ran: the outputs it returns, the trace it serves, whether it plays disputes.
import type { Logger } from '../common/log.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import type { Tensor } from '../state/tensor.ts';
import type { ExecutorId, JobId } from '../state/types.ts';
import type { LoadedModel, ModelRegistry } from './model.ts';
import type { TraceResult } from './trace.ts';

/** A job as the executor holds it: the model it asked for and the inputs it was given. */
export interface ExecutedJob {
  jobId: JobId;
  model: LoadedModel;
  inputs: TensorMap;
}

/** Who asks for a trace: the program, in a dispute, or a peer (a challenger) over the bus. */
export type Audience = 'chain' | 'peer';

/** A trace a policy serves instead of the model's own: what ran, its trace, and the layer tensors claimed. */
export interface ServedTrace {
  ran: LoadedModel;
  trace: TraceResult;
  tensors: Tensor[];
}

/** What a policy may use, given once the worker knows its key. */
export interface PolicyContext {
  id: ExecutorId;
  dataDir: string;
  registry: ModelRegistry;
  log: Logger;
}

/**
 * The executor's choices. One policy object serves one worker: the worker opens it on start and closes it on
 * close. The honest policy is the default; the others live in adversary/ and serve tests and demos.
 */
export interface ExecutorPolicy {
  open?(ctx: PolicyContext): Promise<void>;
  close?(): Promise<void>;
  /**
   * The outputs to return for a job just run, given the model's own. `again`: a redelivered assignment this
   * executor already answered and stored; the answer must be the one it committed to then.
   */
  answer(job: ExecutedJob, outputs: TensorMap, again: boolean): Promise<TensorMap>;
  /** The trace to serve for a stored job; null serves the model's own trace of the job. */
  serve(job: ExecutedJob, audience: Audience): Promise<ServedTrace | null>;
  /** False: bond, but never move in a dispute (not even to claim a timeout). */
  readonly playsDisputes: boolean;
}

export const HONEST_EXECUTOR: ExecutorPolicy = {
  answer: (_job, outputs) => Promise.resolve(outputs),
  serve: () => Promise.resolve(null),
  playsDisputes: true,
};
