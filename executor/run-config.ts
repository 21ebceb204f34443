// The executor's run configuration (`--profile`): backend, threads and graph optimization; its choice, never hashed.
import { OptinferError } from '../state/errors.ts';
import type { ExecutionProfile } from '../state/profile.ts';

/**
 * Where the sessions run: onnxruntime-node's CPU provider, onnxruntime-web's wasm backend inside Node, or
 * onnxruntime-node's CUDA provider (documented, refused here when the provider is not installed; never tested).
 */
export type Backend = 'cpu' | 'wasm' | 'cuda';
export type OptLevel = ExecutionProfile['graphOptimizationLevel'];

/**
 * How an executor runs models. The model's registered profile (state/profile.ts) stays the commitment; this is
 * logged and reported with traces, and is sound in exact mode only because every op exact mode accepts gives the
 * same bits under each configuration (measured: docs/BENCHMARKS.md, "Executor configurations"; run-guard.ts
 * refuses or de-optimizes where not). NaN payloads, which do depend on vector lanes, backend and thread blocks
 * (Add/Mul of two NaNs), are never committed: traces carry canonical NaNs (PROTOCOL.md, "Tensors").
 */
export interface RunConfig {
  backend: Backend;
  /** Intra-op threads (onnxruntime-node), or the wasm backend's thread count (process-wide). */
  threads: number;
  opt: OptLevel;
  /** The CUDA device (backend=cuda only). */
  device?: number;
}

export const BACKENDS: readonly Backend[] = ['cpu', 'wasm', 'cuda'];
export const OPT_LEVELS: readonly OptLevel[] = ['disabled', 'basic', 'extended', 'all'];
export const MAX_THREADS = 256;

/** The configuration of the canonical profile: what every party runs when nothing is chosen. */
export const CANONICAL_RUN: Readonly<RunConfig> = Object.freeze({
  backend: 'cpu',
  threads: 1,
  opt: 'disabled',
});

const KEYS = ['backend', 'threads', 'opt', 'device'] as const;
type Key = (typeof KEYS)[number];

const EXPECTED: Record<Key, string> = {
  backend: `one of ${BACKENDS.join(', ')}`,
  threads: `a whole number from 1 to ${MAX_THREADS}`,
  opt: `one of ${OPT_LEVELS.join(', ')}`,
  device: 'a whole number ≥ 0 (with backend=cuda)',
};

function bad(what: string, msg: string): OptinferError {
  return new OptinferError('INVALID_CONFIG', `${what}: ${msg}`);
}

/**
 * Parses a profile spec: comma-separated key=value pairs among backend, threads, opt (and device with cuda), or
 * the word `canonical`. Keys left out take the canonical value. Errors name the key or value and what is expected.
 */
export function parseRunConfig(spec: string, what = '--profile'): RunConfig {
  const s = spec.trim();
  if (s === '')
    throw bad(
      what,
      `expected key=value pairs (e.g. threads=4,opt=all,backend=cpu) or 'canonical', got an empty string`,
    );
  if (s === 'canonical') return { ...CANONICAL_RUN };
  const out: RunConfig = { ...CANONICAL_RUN };
  const seen = new Set<string>();
  for (const part of s.split(',')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq <= 0 || eq === p.length - 1)
      throw bad(what, `expected key=value (keys: ${KEYS.join(', ')}), got '${p}'`);
    const key = p.slice(0, eq).trim();
    const value = p.slice(eq + 1).trim();
    if (!(KEYS as readonly string[]).includes(key))
      throw bad(what, `unknown key '${key}': expected one of ${KEYS.join(', ')}`);
    if (seen.has(key)) throw bad(what, `key '${key}' given twice`);
    seen.add(key);
    const k = key as Key;
    const wrong = () => bad(what, `${k}=${value}: expected ${EXPECTED[k]}`);
    if (k === 'backend') {
      if (!(BACKENDS as readonly string[]).includes(value)) throw wrong();
      out.backend = value as Backend;
    } else if (k === 'opt') {
      if (!(OPT_LEVELS as readonly string[]).includes(value)) throw wrong();
      out.opt = value as OptLevel;
    } else {
      if (!/^\d+$/.test(value)) throw wrong();
      const n = Number(value);
      if (k === 'threads') {
        if (n < 1 || n > MAX_THREADS) throw wrong();
        out.threads = n;
      } else {
        out.device = n;
      }
    }
  }
  if (out.device !== undefined && out.backend !== 'cuda')
    throw bad(what, `device=${out.device}: only with backend=cuda, got backend=${out.backend}`);
  if (out.backend === 'cuda') out.device ??= 0;
  return out;
}

/** The spec form of a configuration, keys in a fixed order (parseRunConfig reads it back). */
export function formatRunConfig(r: Readonly<RunConfig>): string {
  const dev = r.backend === 'cuda' ? `,device=${r.device ?? 0}` : '';
  return `backend=${r.backend},threads=${r.threads},opt=${r.opt}${dev}`;
}

export function isCanonicalRun(r: Readonly<RunConfig>): boolean {
  return (
    r.backend === CANONICAL_RUN.backend && r.threads === CANONICAL_RUN.threads && r.opt === CANONICAL_RUN.opt
  );
}

/** The configuration a committed profile describes (the canonical one by default). */
export function runOfProfile(p: Readonly<ExecutionProfile>): RunConfig {
  return { backend: 'cpu', threads: p.intraOpNumThreads, opt: p.graphOptimizationLevel };
}

/** Help text for `--profile`, shared by `optinfer executor` and `optinfer dev`. */
export const RUN_CONFIG_HELP =
  'comma-separated key=value among ' +
  `backend (${BACKENDS.join('|')}; wasm is onnxruntime-web in Node), threads (1-${MAX_THREADS}), ` +
  `opt (${OPT_LEVELS.join('|')}); e.g. threads=4,opt=all or backend=wasm. ` +
  'Keys left out are canonical (backend=cpu,threads=1,opt=disabled). Logged and reported, not hashed into records; ' +
  'wasm refuses models with float-to-integer Cast or (Dynamic)QuantizeLinear, and opt falls back to disabled for a ' +
  'graph onnxruntime would rewrite';
