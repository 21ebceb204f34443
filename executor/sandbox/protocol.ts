// The messages between the sandbox pool and its child processes (node IPC, V8 serialization: tensors travel as bytes).
import type { ExecutionProfile } from '../../state/profile.ts';
import type { TensorMap } from '../../state/tensor-map.ts';
import type { Hash32, ModelId } from '../../state/types.ts';
import type { RunResult } from '../run.ts';
import type { TraceResult } from '../trace.ts';

/** Names a model; `bytes` is attached only when the child answered `need-model`. */
export interface ModelRef {
  modelId: ModelId;
  name: string;
  profile: Readonly<ExecutionProfile>;
  bytes?: Uint8Array;
}

/** The trace options a child honours (the logger stays with the parent). */
export interface ChildTraceOptions {
  keepTensors?: boolean;
  checkPlain?: boolean;
  inputDigest?: Hash32;
}

export type ToChild =
  | { kind: 'run'; id: number; model: ModelRef; inputs: TensorMap }
  | { kind: 'trace'; id: number; model: ModelRef; inputs: TensorMap; opts: ChildTraceOptions };

export interface WireError {
  code: string;
  message: string;
  details?: unknown;
}

export type FromChild =
  | { kind: 'ready' }
  /** The child does not hold this model (new, or evicted): resend the request with its bytes. */
  | { kind: 'need-model'; id: number }
  | { kind: 'done'; id: number; result: RunResult | TraceResult }
  | { kind: 'failed'; id: number; error: WireError };
