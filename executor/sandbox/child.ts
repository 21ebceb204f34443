// A sandbox child process: loads models from the bytes its pool sends and runs or traces its jobs one at a time.
import { isOptinferErrorCode, OptinferError } from '../../state/errors.ts';
import { loadModel, type LoadedModel } from '../model.ts';
import { runModel } from '../run.ts';
import { releaseTraceCache, traceModel } from '../trace.ts';
import type { Answer, FromChild, JobToChild, ModelRef, ToChild, WireError } from './protocol.ts';

/** Sessions kept per child; the least recently used one is released past this. */
const MAX_MODELS = 8;

const models = new Map<string, Promise<LoadedModel>>();
/** Jobs waiting for their model's bytes, by model key. */
const awaitingBytes = new Map<string, (m: Extract<ToChild, { kind: 'model' }>) => void>();

function send(m: FromChild): void {
  // A pool that has gone (killed, closed) leaves nobody to answer: the 'disconnect' handler ends this process.
  if (process.connected) process.send!(m);
}

const keyOf = (ref: ModelRef) => `${ref.modelId}/${ref.profileHash}`;

async function modelFor(job: JobToChild): Promise<LoadedModel> {
  const ref = job.model;
  const key = keyOf(ref);
  let p = models.get(key);
  if (p) {
    models.delete(key);
  } else {
    const { bytes, profile, run } = await new Promise<Extract<ToChild, { kind: 'model' }>>((resolve) => {
      awaitingBytes.set(key, resolve);
      send({ kind: 'need-model', id: job.id });
    });
    p = loadModel(bytes, { name: ref.name, profile, run });
    p.catch(() => models.delete(key));
    if (models.size >= MAX_MODELS) {
      const [oldKey, old] = models.entries().next().value!;
      models.delete(oldKey);
      old
        .then(async (m) => {
          await releaseTraceCache(m);
          await m.close();
        })
        .catch(() => undefined);
    }
  }
  models.set(key, p);
  const m = await p;
  if (m.modelId !== ref.modelId || m.profileHash !== ref.profileHash) {
    models.delete(key);
    throw new OptinferError(
      'INVALID_MODEL',
      `model ${ref.modelId}: the bytes sent load as ${m.modelId} under profile ${m.profileHash}`,
    );
  }
  return m;
}

function wireError(e: unknown): WireError {
  if (e instanceof OptinferError && isOptinferErrorCode(e.code)) {
    return { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) };
  }
  return {
    code: 'INTERNAL',
    message: `internal error in the sandbox: ${(e as Error)?.message ?? String(e)}`,
  };
}

async function answer(m: JobToChild): Promise<Answer> {
  // The time reported is the run's alone: loading the model once must not mark its runs as long.
  let t0 = performance.now();
  try {
    const model = await modelFor(m);
    t0 = performance.now();
    const result =
      m.kind === 'run' ? await runModel(model, m.inputs) : await traceModel(model, m.inputs, m.opts);
    return { id: m.id, ms: performance.now() - t0, result };
  } catch (e) {
    return { id: m.id, ms: performance.now() - t0, error: wireError(e) };
  }
}

// The jobs of a message run one after the other, in order; the pool sends the next message once answered.
let queue: Promise<void> = Promise.resolve();
process.on('message', (m: ToChild) => {
  if (m.kind === 'model') {
    const key = keyOf(m.model);
    awaitingBytes.get(key)?.(m);
    awaitingBytes.delete(key);
    return;
  }
  queue = queue.then(async () => {
    const answers: Answer[] = [];
    for (const job of m.jobs) answers.push(await answer(job));
    send({ kind: 'answers', answers });
  });
});
// The pool owns this process: when it goes (crash, kill -9, exit), so does the child.
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready' });
