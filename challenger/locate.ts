// Locate: with both traces, the first divergent layer (prefix-chain bisection) and the first divergent chunk in it.
import type { Bus } from '../bus/bus.ts';
import type { LoadedModel } from '../executor/model.ts';
import { IN_PROCESS, type ModelRunner } from '../executor/sandbox/pool.ts';
import * as messages from '../bus/messages.ts';
import type { ChunksReply, Location, TraceReply } from '../bus/messages.ts';
import { firstDivergence } from '../state/bisect.ts';
import { toHex } from '../state/hash.ts';
import { leafHash } from '../state/merkle.ts';
import { chunks, type Tensor } from '../state/tensor.ts';
import type { ExecutorId, Hash32, JobId } from '../state/types.ts';
import type { TensorMap } from '../state/tensor-map.ts';

export type { Location } from '../bus/messages.ts';

const TRACE_TIMEOUT_MS = 120_000;

/** What locate reads of our own trace. */
export interface OwnTrace {
  traceRoot: Hash32;
  layerCount: number;
  prefixes: Hash32[];
  layers: { name: string; op: string }[];
  tensors?: Tensor[];
}

export async function locate(opts: {
  bus: Bus;
  model: LoadedModel;
  inputs: TensorMap;
  jobId: JobId;
  executor: ExecutorId;
  /** Where our own trace runs (the challenger's sandbox); in-process by default. */
  runner?: ModelRunner;
  /** Our trace when already made (a partial one, for a job onnxruntime refuses: tensors end early). */
  ours?: OwnTrace;
  /**
   * Whether to ask the executor for its trace over the bus (default true). A challenger settling on chain does not:
   * the game locates the divergence from the executor's committed trace, and an executor that holds the request
   * would hold the finding, and every audit queued behind it, for minutes (review 24 "stalled trace").
   */
  askExecutor?: boolean;
}): Promise<Location> {
  const ours =
    opts.ours ?? (await (opts.runner ?? IN_PROCESS).trace(opts.model, opts.inputs, { keepTensors: true }));
  const base = { ourTraceRoot: ours.traceRoot, layerCount: ours.layerCount };
  if (opts.askExecutor === false)
    return {
      ...base,
      theirTraceRoot: null,
      firstDivergentLayer: null,
      firstDivergentChunk: null,
      executorError: 'not asked: the game on chain locates the divergence',
    };
  let theirs: TraceReply;
  try {
    theirs = await messages.request(
      opts.bus,
      messages.TRACE,
      opts.executor,
      { jobId: opts.jobId },
      { timeoutMs: TRACE_TIMEOUT_MS },
    );
  } catch (e) {
    // A silent executor loses the dispute by its clock; the finding is still recorded.
    return {
      ...base,
      theirTraceRoot: null,
      firstDivergentLayer: null,
      firstDivergentChunk: null,
      executorError: (e as Error).message,
    };
  }
  const k = firstDivergence(ours.prefixes, theirs.prefixes);
  if (k === null)
    return {
      ...base,
      theirTraceRoot: theirs.traceRoot,
      firstDivergentLayer: null,
      firstDivergentChunk: null,
    };
  const layer = ours.layers[k];
  const tensor = ours.tensors?.[k];
  let chunk: number | null = null;
  // A placeholder layer of a partial trace has no chunks to compare.
  if (!tensor)
    return {
      ...base,
      theirTraceRoot: theirs.traceRoot,
      firstDivergentLayer: k,
      layerName: layer?.name,
      layerOp: layer?.op,
      firstDivergentChunk: null,
    };
  try {
    const their: ChunksReply = await messages.request(
      opts.bus,
      messages.CHUNKS,
      opts.executor,
      { jobId: opts.jobId, layer: k },
      { timeoutMs: TRACE_TIMEOUT_MS },
    );
    const mine = chunks(tensor.data).map((c) => toHex(leafHash(c)));
    const n = Math.max(mine.length, their.chunkHashes.length);
    for (let i = 0; i < n && chunk === null; i++) if (mine[i] !== their.chunkHashes[i]) chunk = i;
  } catch (e) {
    return {
      ...base,
      theirTraceRoot: theirs.traceRoot,
      firstDivergentLayer: k,
      layerName: layer?.name,
      layerOp: layer?.op,
      firstDivergentChunk: null,
      executorError: (e as Error).message,
    };
  }
  return {
    ...base,
    theirTraceRoot: theirs.traceRoot,
    firstDivergentLayer: k,
    layerName: layer?.name,
    layerOp: layer?.op,
    firstDivergentChunk: chunk,
  };
}
