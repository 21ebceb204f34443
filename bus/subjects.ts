// Every bus subject of optinfer, and the durable streams that capture the ones whose messages must not be lost.
// Payload types, delivery and readers of each are in messages.ts; roles send and receive through it.
import { BusError, type StreamSpec } from './bus.ts';

export const SUBJECT_ROOT = 'optinfer';

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** Ids used inside subjects (base58 executor ids, challenger ids) must be a single safe NATS token. */
function token(kind: string, id: string): string {
  if (typeof id !== 'string' || !TOKEN.test(id)) {
    throw new BusError(
      'INVALID_SUBJECT',
      `invalid ${kind} ${JSON.stringify(id)} for a subject: use [A-Za-z0-9_-]+ (base58 fits)`,
    );
  }
  return id;
}

// ---- Durable (JetStream, at-least-once): use bus.send / bus.consume -------------------------------

/** Sequencer → one executor: a job to run. Durable work queue; the executor consumes its own subject. */
export const execAssign = (executorId: string): string =>
  `optinfer.exec.${token('executor id', executorId)}.assign`;
/** Pattern over every executor's assignment subject. */
export const EXEC_ASSIGN_ALL = 'optinfer.exec.*.assign';

/** Executor → sequencer: the result of an assigned job. Durable work queue; the sequencer consumes RESULTS_ALL. */
export const execResult = (executorId: string): string =>
  `optinfer.results.${token('executor id', executorId)}`;
export const RESULTS_ALL = 'optinfer.results.*';

/** Sequencer → challengers: a batch was committed (index, root, ...). Durable, every challenger sees all. */
export const BATCH_COMMITTED = 'optinfer.batches.committed';

/** Challenger → sequencer/dispute game: a finding (mismatch located). Durable. */
export const challengerFinding = (challengerId: string): string =>
  `optinfer.findings.${token('challenger id', challengerId)}`;
export const FINDINGS_ALL = 'optinfer.findings.*';

/** A model was registered {modelId, name}: a plain publish no role consumes; the events stream keeps it for watchers. */
export const MODEL_REGISTERED = 'optinfer.models.registered';

// ---- Notifications (core NATS, fire-and-forget): use bus.publish / bus.subscribe ---------------------

/** Executor → sequencer: announcement and periodic heartbeat {executorId, models, capacity, ...}. */
export const executorHeartbeat = (executorId: string): string =>
  `optinfer.executors.${token('executor id', executorId)}.heartbeat`;
export const EXECUTOR_HEARTBEAT_ALL = 'optinfer.executors.*.heartbeat';

// ---- Request/reply: use bus.request / bus.reply -------------------------------------------------------

/** Executor → sequencer: fetch a registered model's bytes by modelId. */
export const MODEL_FETCH = 'optinfer.models.fetch';

/** Challenger → one executor: its committed layer trace for a job {jobId} (dispute: find the layer). */
export const execTrace = (executorId: string): string =>
  `optinfer.exec.${token('executor id', executorId)}.trace`;

/** Challenger → one executor: chunk digests of one layer {jobId, layer} (dispute: find the chunk). */
export const execChunks = (executorId: string): string =>
  `optinfer.exec.${token('executor id', executorId)}.chunks`;

// ---- Durable streams ------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;

/** Work that one party must process exactly once (modulo redelivery): removed from disk once acked. */
export const WORK_STREAM: StreamSpec = {
  name: 'OPTINFER_WORK',
  subjects: [EXEC_ASSIGN_ALL, RESULTS_ALL],
  retention: 'workqueue',
};

/** Events several independent durables (e.g. each challenger) read in full: kept by age and size. */
export const EVENTS_STREAM: StreamSpec = {
  name: 'OPTINFER_EVENTS',
  subjects: [BATCH_COMMITTED, FINDINGS_ALL, MODEL_REGISTERED],
  retention: 'limits',
  maxAgeMs: 7 * DAY_MS,
  maxBytes: 1024 ** 3,
};

export const STREAMS: readonly StreamSpec[] = [WORK_STREAM, EVENTS_STREAM];
