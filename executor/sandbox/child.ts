// A sandbox child process: loads models from the bytes its pool sends and runs or traces one job at a time.
import { isOptinferErrorCode, OptinferError } from '../../state/errors.ts';
import { profileHash } from '../../state/profile.ts';
import { loadModel, type LoadedModel } from '../model.ts';
import { runModel } from '../run.ts';
import { releaseTraceCache, traceModel } from '../trace.ts';
import type { FromChild, ModelRef, ToChild, WireError } from './protocol.ts';

/** Sessions kept per child; the least recently used one is released past this. */
const MAX_MODELS = 8;

const models = new Map<string, Promise<LoadedModel>>();

function send(m: FromChild): void {
  process.send!(m);
}

const keyOf = (ref: ModelRef) => `${ref.modelId}/${profileHash(ref.profile)}`;

/** The model for a request, or null when the pool must send its bytes first. */
async function modelFor(ref: ModelRef): Promise<LoadedModel | null> {
  const key = keyOf(ref);
  let p = models.get(key);
  if (!p) {
    if (!ref.bytes) return null;
    p = loadModel(ref.bytes, { name: ref.name, profile: ref.profile });
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
  } else {
    models.delete(key);
  }
  models.set(key, p);
  const m = await p;
  if (m.modelId !== ref.modelId) {
    models.delete(key);
    throw new OptinferError('INVALID_MODEL', `model ${ref.modelId}: the bytes sent hash to ${m.modelId}`);
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

async function handle(m: ToChild): Promise<void> {
  try {
    const model = await modelFor(m.model);
    if (!model) return send({ kind: 'need-model', id: m.id });
    const result =
      m.kind === 'run' ? await runModel(model, m.inputs) : await traceModel(model, m.inputs, m.opts);
    send({ kind: 'done', id: m.id, result });
  } catch (e) {
    send({ kind: 'failed', id: m.id, error: wireError(e) });
  }
}

process.on('message', (m: ToChild) => void handle(m));
// The pool owns this process: when it goes (crash, kill -9, exit), so does the child.
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready' });
