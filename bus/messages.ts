// The wire vocabulary: every message that crosses the bus, with its subject, payload type, delivery and readers.
import { consumeBatches, sendItem } from './batch.ts';
import { BusError } from './bus.ts';
import type {
  Bus,
  BusMessage,
  ConsumeOptions,
  Consumer,
  DurableHandler,
  MessageHandler,
  RequestHandler,
  RequestOptions,
  SendOptions,
  Subscription,
  SubscribeOptions,
} from './bus.ts';
import * as subjects from './subjects.ts';
import { decodeTensors, encodeTensors } from './tensors.ts';
import type { TensorMap } from '../state/tensor-map.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';

// ---- Payloads ---------------------------------------------------------------------------------------------

/** Sequencer → executor: one job to run. */
export interface AssignMessage {
  jobId: JobId;
  modelId: ModelId;
  inputs: TensorMap;
  fee: string;
}

/** Executor → sequencer: the result of an assigned job. Exactly one of outputs / error. */
export interface ResultMessage {
  jobId: JobId;
  executor: ExecutorId;
  outputDigest?: Hash32;
  outputs?: TensorMap;
  /** With outputs: the executor's Ed25519 signature over the job record (state/job.ts signResult), hex. */
  signature?: string;
  error?: string;
}

/** How often an executor announces itself, in milliseconds; the sequencer judges lapses against it. */
export const HEARTBEAT_INTERVAL_MS = 2_000;

/** Executor → sequencer: "I am alive and can take `capacity` jobs at once". */
export interface HeartbeatMessage {
  executorId: ExecutorId;
  capacity: number;
  models?: ModelId[];
}

/** Sequencer → challengers: a batch root was committed; its window ends at windowEndsAt (ms epoch). */
export interface BatchCommittedMessage {
  index: number;
  root: Hash32;
  jobCount: number;
  windowEndsAt: number;
}

/** Sequencer → whoever listens: a model was registered. */
export interface ModelRegisteredMessage {
  modelId: ModelId;
  name: string;
}

/** Executor → sequencer request, and its answer: a registered model's bytes. */
export interface ModelFetchRequest {
  modelId: string;
}
export interface ModelFetchReply {
  modelId: string;
  bytes: Uint8Array;
}

/** Challenger → executor request: the executor's committed layer trace of a job. */
export interface TraceRequest {
  jobId: string;
}
export interface TraceReply {
  jobId: JobId;
  traceRoot: Hash32;
  layerCount: number;
  outputDigest: Hash32;
  layers: { index: number; name: string; op: string; digest: Hash32 }[];
  prefixes: Hash32[];
}

/** Challenger → executor request: the chunk leaf hashes of one layer of a job's trace. */
export interface ChunksRequest {
  jobId: string;
  layer: number;
}
export interface ChunksReply {
  jobId: JobId;
  layer: number;
  /** Leaf hashes H(0x00 || chunk) of the layer tensor, in order. */
  chunkHashes: string[];
}

/** Where a re-execution first departs from the executor's claim. */
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

/**
 * Why an executor that signed an output for a job onnxruntime refuses is convicted, and where the game lands: the
 * first layer no honest run computes (challenger/unrunnable.ts). 'undecidable': an operand value the referee
 * refuses at `element` of the layer; 'input-header': the layer reads a job input off its registered header;
 * 'input-missing': the layer reads a model input the job does not have (fewer inputs than the model's).
 */
export interface UnrunnableCause {
  layer: number;
  op: string;
  kind: 'undecidable' | 'input-header' | 'input-missing';
  element?: number;
  why: string;
}

/** Challenger → anyone auditing it: a mismatch it found and located. */
export interface Finding {
  jobId: JobId;
  batchIndex: number;
  batchRoot: Hash32;
  position: number;
  modelId: ModelId;
  executor: ExecutorId;
  claimedOutputDigest: Hash32;
  ourOutputDigest: Hash32;
  /** Whether the on-chain referee can settle a dispute on this model. */
  provable: boolean;
  location: Location;
  /**
   * Set when onnxruntime refuses the job's inputs, so no honest output exists: the challenger plays a partial trace
   * and `ourOutputDigest` is the placeholder it ends in.
   */
  unrunnable?: UnrunnableCause;
  foundAt: number;
}

// ---- Descriptors ------------------------------------------------------------------------------------------

/**
 * A message kind on the bus. `to` names the party a subject is addressed to (an executor or challenger id;
 * `void` for a single shared subject). `P` exists only for typing: it is the payload.
 */
interface Described {
  /** Who sends it and who reads it, for the docs and for newcomers. */
  readonly from: string;
  readonly readers: string;
}

/** At-least-once through a JetStream stream: `send` persists before resolving, `consume` acks after the handler. */
export interface DurableKind<P extends object, To = void> extends Described {
  readonly delivery: 'durable';
  subject(to: To): string;
  /** The subject a consumer of every party's messages reads (a wildcard, or the subject itself). */
  readonly all: string;
  readonly payload?: P;
  /**
   * Batched kinds (bus/batch.ts): payloads sent in the same tick to one subject share one durable message, and each
   * is acked, deduplicated and redelivered on its own. `pack` gives a payload's wire form (tensors as one binary blob,
   * bus/tensors.ts), `unpack` checks and reverses it.
   */
  readonly batch?: {
    pack(p: P): BusMessage;
    unpack(wire: unknown, what: string): P;
  };
}

/** Fire-and-forget on core NATS: lost when nobody listens. */
export interface NotifyKind<P extends object, To = void> extends Described {
  readonly delivery: 'notify';
  subject(to: To): string;
  readonly all: string;
  readonly payload?: P;
}

/** Request/reply on core NATS with a timeout. */
export interface RequestKind<Req extends object, Res extends object, To = void> extends Described {
  readonly delivery: 'request';
  subject(to: To): string;
  readonly request?: Req;
  readonly reply?: Res;
}

const single = (s: string) => () => s;

/** A wire item must be a plain object; `field`, when present, must hold the bytes of an encoded tensor map. */
function unpackTensors<P>(wire: unknown, what: string, field: 'inputs' | 'outputs', required: boolean): P {
  if (wire === null || typeof wire !== 'object' || Array.isArray(wire)) {
    throw new BusError('INVALID_MESSAGE', `${what}: expected an object`);
  }
  const w = wire as Record<string, unknown>;
  const blob = w[field];
  if (blob === undefined && !required) return w as P;
  if (!(blob instanceof Uint8Array)) {
    throw new BusError('INVALID_MESSAGE', `${what}: ${field} must be an encoded tensor map (bytes)`);
  }
  return { ...w, [field]: decodeTensors(blob, `${what} ${field}`) } as P;
}

export const ASSIGN: DurableKind<AssignMessage, ExecutorId> = {
  delivery: 'durable',
  subject: (executor) => subjects.execAssign(executor),
  all: subjects.EXEC_ASSIGN_ALL,
  from: 'sequencer',
  readers: 'the addressed executor (work queue: removed once it acks every job in it)',
  batch: {
    pack: (m) => ({ ...m, inputs: encodeTensors(m.inputs, `job ${m.jobId} inputs`) }),
    unpack: (w, what) => unpackTensors<AssignMessage>(w, what, 'inputs', true),
  },
};

export const RESULT: DurableKind<ResultMessage, ExecutorId> = {
  delivery: 'durable',
  subject: (executor) => subjects.execResult(executor),
  all: subjects.RESULTS_ALL,
  from: 'executor',
  readers: "sequencer (work queue over every executor's subject)",
  batch: {
    pack: (m) =>
      m.outputs === undefined
        ? { ...m, outputs: undefined }
        : { ...m, outputs: encodeTensors(m.outputs, `result ${m.jobId} outputs`) },
    unpack: (w, what) => unpackTensors<ResultMessage>(w, what, 'outputs', false),
  },
};

export const BATCH_COMMITTED: DurableKind<BatchCommittedMessage> = {
  delivery: 'durable',
  subject: single(subjects.BATCH_COMMITTED),
  all: subjects.BATCH_COMMITTED,
  from: 'sequencer',
  readers: 'every challenger, each with its own durable (events stream: every reader sees every batch)',
};

export const FINDING: DurableKind<Finding, string> = {
  delivery: 'durable',
  subject: (challenger) => subjects.challengerFinding(challenger),
  all: subjects.FINDINGS_ALL,
  from: 'challenger',
  readers: 'no optinfer role; kept in the events stream for operators and tests auditing a challenger',
};

export const HEARTBEAT: NotifyKind<HeartbeatMessage, ExecutorId> = {
  delivery: 'notify',
  subject: (executor) => subjects.executorHeartbeat(executor),
  all: subjects.EXECUTOR_HEARTBEAT_ALL,
  from: 'executor',
  readers: 'sequencer',
};

export const MODEL_REGISTERED: NotifyKind<ModelRegisteredMessage> = {
  delivery: 'notify',
  subject: single(subjects.MODEL_REGISTERED),
  all: subjects.MODEL_REGISTERED,
  from: 'sequencer',
  readers:
    'no optinfer role (executors fetch models on demand); the events stream captures it for external watchers',
};

export const MODEL_FETCH: RequestKind<ModelFetchRequest, ModelFetchReply> = {
  delivery: 'request',
  subject: single(subjects.MODEL_FETCH),
  from: 'executor',
  readers: 'sequencer',
};

export const TRACE: RequestKind<TraceRequest, TraceReply, ExecutorId> = {
  delivery: 'request',
  subject: (executor) => subjects.execTrace(executor),
  from: 'challenger',
  readers: 'the addressed executor',
};

export const CHUNKS: RequestKind<ChunksRequest, ChunksReply, ExecutorId> = {
  delivery: 'request',
  subject: (executor) => subjects.execChunks(executor),
  from: 'challenger',
  readers: 'the addressed executor',
};

/** Every message kind, for docs and tests. */
export const MESSAGE_KINDS = {
  ASSIGN,
  RESULT,
  BATCH_COMMITTED,
  FINDING,
  HEARTBEAT,
  MODEL_REGISTERED,
  MODEL_FETCH,
  TRACE,
  CHUNKS,
} as const;

// ---- Typed operations -----------------------------------------------------------------------------------

/** Durable send of one message to `to`'s subject (batched with others of the same tick for batched kinds). */
export function send<P extends object, To>(
  bus: Bus,
  kind: DurableKind<P, To>,
  to: To,
  msg: P,
  opts?: SendOptions,
): Promise<void> {
  if (!kind.batch) return bus.send(kind.subject(to), msg, opts);
  try {
    return sendItem(bus, kind.subject(to), kind.batch.pack(msg), opts);
  } catch (e) {
    return Promise.reject(e as Error);
  }
}

/** Durable consumer of one party's subject (`{ of: id }`) or of every party's (`'all'`). */
export function consume<P extends object, To>(
  bus: Bus,
  kind: DurableKind<P, To>,
  scope: { of: To } | 'all',
  durableName: string,
  handler: DurableHandler<P>,
  opts?: ConsumeOptions,
): Promise<Consumer> {
  const subject = scope === 'all' ? kind.all : kind.subject(scope.of);
  if (kind.batch)
    return consumeBatches<P>(bus, subject, durableName, handler, { ...opts, decode: kind.batch.unpack });
  return bus.consume<P>(subject, durableName, handler, opts);
}

export function publish<P extends object, To>(bus: Bus, kind: NotifyKind<P, To>, to: To, msg: P): void {
  bus.publish(kind.subject(to), msg);
}

/** Subscribes to every party's notifications of this kind. */
export function subscribe<P extends object, To>(
  bus: Bus,
  kind: NotifyKind<P, To>,
  handler: MessageHandler<P>,
  opts?: SubscribeOptions,
): Promise<Subscription> {
  return bus.subscribe<P>(kind.all, handler, opts);
}

export function request<Req extends object, Res extends object, To>(
  bus: Bus,
  kind: RequestKind<Req, Res, To>,
  to: To,
  msg: Req,
  opts?: RequestOptions,
): Promise<Res> {
  return bus.request<Res>(kind.subject(to), msg, opts);
}

export function reply<Req extends object, Res extends object, To>(
  bus: Bus,
  kind: RequestKind<Req, Res, To>,
  at: To,
  handler: RequestHandler<Req, Res>,
  opts?: SubscribeOptions,
): Promise<Subscription> {
  return bus.reply<Req, Res>(kind.subject(at), handler, opts);
}
