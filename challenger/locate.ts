// Locate: with both traces, the first divergent layer (prefix-chain bisection) and the first divergent chunk in it.
import type { Bus } from '../bus/bus.ts';
import type { LoadedModel } from '../executor/model.ts';
import { traceModel } from '../executor/trace.ts';
import type { ChunksReply, TraceReply } from '../executor/worker.ts';
import * as subjects from '../bus/subjects.ts';
import { firstDivergence } from '../state/bisect.ts';
import { toHex } from '../state/hash.ts';
import { leafHash } from '../state/merkle.ts';
import { chunks } from '../state/tensor.ts';
import type { ExecutorId, Hash32, JobId } from '../state/types.ts';
import type { TensorMap } from '../sequencer/codec.ts';

export interface Location {
  ourTraceRoot: Hash32;
  theirTraceRoot: Hash32 | null;
  layerCount: number;
  /** First layer whose prefix differs; null when every layer agrees and only the claimed output differs. */
  firstDivergentLayer: number | null;
  layerName?: string;
  layerOp?: string;
  /** First chunk of that layer's tensor whose leaf hash differs. */
  firstDivergentChunk: number | null;
  /** Why the executor's side is missing, if it did not answer. */
  executorError?: string;
}

const TRACE_TIMEOUT_MS = 120_000;

export async function locate(opts: {
  bus: Bus;
  model: LoadedModel;
  inputs: TensorMap;
  jobId: JobId;
  executor: ExecutorId;
}): Promise<Location> {
  const ours = await traceModel(opts.model, opts.inputs, { keepTensors: true });
  const base = { ourTraceRoot: ours.traceRoot, layerCount: ours.layerCount };
  let theirs: TraceReply;
  try {
    theirs = await opts.bus.request<TraceReply>(
      subjects.execTrace(opts.executor),
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
  let chunk: number | null = null;
  try {
    const their = await opts.bus.request<ChunksReply>(
      subjects.execChunks(opts.executor),
      { jobId: opts.jobId, layer: k },
      { timeoutMs: TRACE_TIMEOUT_MS },
    );
    const mine = chunks(ours.tensors![k].data).map((c) => toHex(leafHash(c)));
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
