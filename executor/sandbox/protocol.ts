// The messages between the sandbox pool and its child processes (node IPC, V8 serialization: tensors travel as bytes).
import type { ExecutionProfile } from '../../state/profile.ts';
import type { RunConfig } from '../run-config.ts';
import type { TensorMap } from '../../state/tensor-map.ts';
import type { Hash32, ModelId } from '../../state/types.ts';
import type { RunResult } from '../run.ts';
import type { TraceResult } from '../trace.ts';

/** Names a model and the hash of the profile it runs under; bytes and profile travel once per child. */
export interface ModelRef {
  modelId: ModelId;
  name: string;
  profileHash: Hash32;
}

/** The trace options a child honours (the logger stays with the parent). */
export interface ChildTraceOptions {
  keepTensors?: boolean;
  checkPlain?: boolean;
  inputDigest?: Hash32;
  prefixLayers?: number;
}

/** One job; a child runs the jobs of a message one after the other and answers them in one message. */
export type JobToChild =
  | { kind: 'run'; id: number; model: ModelRef; inputs: TensorMap }
  | { kind: 'trace'; id: number; model: ModelRef; inputs: TensorMap; opts: ChildTraceOptions };

export type ToChild =
  | { kind: 'jobs'; jobs: JobToChild[] }
  /** The bytes of a model the child asked for with `need-model`. */
  | {
      kind: 'model';
      model: ModelRef;
      profile: Readonly<ExecutionProfile>;
      /** The pool's run configuration (`--profile`); the profile's own when absent. */
      run?: Readonly<RunConfig>;
      bytes: Uint8Array;
    };

export interface WireError {
  code: string;
  message: string;
  details?: unknown;
}

/** A job's answer and how long it ran in the child (ms). */
export type Answer =
  { id: number; ms: number; result: RunResult | TraceResult } | { id: number; ms: number; error: WireError };

export type FromChild =
  | { kind: 'ready' }
  /** The child does not hold the model of job `id` (new, or evicted) and waits for its bytes. */
  | { kind: 'need-model'; id: number }
  | { kind: 'answers'; answers: Answer[] };
