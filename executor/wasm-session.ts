// onnxruntime-web's wasm backend in Node behind onnxruntime-node's session shape (backend=wasm of `--profile`).
import ort from 'onnxruntime-node';
import { OptinferError } from '../state/errors.ts';
import type { RunConfig } from './run-config.ts';

type Web = typeof import('onnxruntime-web');

/** The subset of a session the executor uses, whatever the backend. */
export type ModelSession = Pick<ort.InferenceSession, 'run' | 'release' | 'inputNames' | 'outputNames'>;

let web: Promise<Web> | null = null;
/** The wasm thread count is process-wide in onnxruntime-web: fixed by the first session created. */
let wasmThreads: number | null = null;

/** Loads onnxruntime-web once; a clear INVALID_CONFIG when it is not installed. */
export async function loadWasmBackend(): Promise<Web> {
  web ??= import('onnxruntime-web').catch((e: unknown) => {
    web = null;
    throw new OptinferError(
      'INVALID_CONFIG',
      `backend=wasm: onnxruntime-web cannot be loaded (${(e as Error).message}); install it next to onnxruntime-node or choose backend=cpu`,
    );
  });
  return web;
}

function toWeb(w: Web, t: unknown): unknown {
  if (!(t instanceof ort.Tensor)) return t;
  return new w.Tensor(t.type as never, t.data as never, t.dims);
}

function fromWeb(w: Web, v: unknown): unknown {
  if (!(v instanceof w.Tensor)) return v;
  return new ort.Tensor(v.type as never, v.data as never, v.dims);
}

/** A wasm session whose feeds and results are onnxruntime-node tensors, bits unchanged (both hold the same arrays). */
export async function createWasmSession(bytes: Uint8Array, run: Readonly<RunConfig>): Promise<ModelSession> {
  const w = await loadWasmBackend();
  if (wasmThreads === null) {
    wasmThreads = run.threads;
    w.env.wasm.numThreads = run.threads;
    w.env.logLevel = 'error';
  } else if (wasmThreads !== run.threads) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `backend=wasm: threads=${run.threads} asked, but this process's wasm backend already runs threads=${wasmThreads} (onnxruntime-web fixes it per process)`,
    );
  }
  const s = await w.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: run.opt,
    logSeverityLevel: 3,
  });
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds: Record<string, unknown>) {
      const f = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toWeb(w, t)]));
      const r = await s.run(f as never);
      return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fromWeb(w, v)])) as never;
    },
    release: () => s.release(),
  } as ModelSession;
}
