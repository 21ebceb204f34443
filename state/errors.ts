// The one error vocabulary of optinfer: every code with its kind, and the HTTP status and CLI exit code each kind means.

/**
 * What went wrong, as the caller sees it. HTTP statuses and CLI exit codes follow from the kind alone,
 * so a new code needs one line in CODES and nothing else.
 */
export type ErrorKind =
  /** The caller gave something wrong (request, file, option, input, model): fix it and retry. */
  | 'bad-input'
  /** The thing named does not exist (yet). */
  | 'not-found'
  /** The request clashes with state elsewhere (the chain, a stream): retrying the same call will not help. */
  | 'conflict'
  /** A dependency (sequencer, cluster, bus, database) cannot be reached or is shutting down: retry later. */
  | 'unavailable'
  /** A bug or a broken invariant on this side. */
  | 'internal';

export const ERROR_KINDS: readonly ErrorKind[] = [
  'bad-input',
  'not-found',
  'conflict',
  'unavailable',
  'internal',
];

interface CodeInfo {
  readonly kind: ErrorKind;
  /** A finer HTTP status than the kind's, where HTTP has one. */
  readonly status?: number;
  /** When it is thrown. */
  readonly means: string;
}

/** Every fixed code. Codes are stable: never renamed or reused, only added. */
export const CODES = {
  INVALID_INPUT: { kind: 'bad-input', means: 'a request, file, option or tensor is malformed' },
  INVALID_REQUEST: { kind: 'bad-input', means: 'an HTTP request the server could not parse' },
  INVALID_MODEL: { kind: 'bad-input', means: 'not a valid ONNX model, or not the model its id names' },
  UNPROVABLE_MODEL: { kind: 'bad-input', means: 'the model uses an op the dispute game cannot check' },
  INVALID_HASH: {
    kind: 'bad-input',
    means: 'not the hex expected (a 64-digit hash, or bytes of a set length)',
  },
  INVALID_EXECUTOR_ID: { kind: 'bad-input', means: 'not a base58 Solana public key' },
  INVALID_BATCH_INDEX: { kind: 'bad-input', means: 'not a non-negative integer batch index' },
  INVALID_LAYER_INDEX: { kind: 'bad-input', means: 'a layer index outside the trace' },
  INVALID_CHUNK_INDEX: { kind: 'bad-input', means: 'not a non-negative integer chunk index' },
  INVALID_PROOF: { kind: 'bad-input', means: 'a Merkle leaf count or index out of range' },
  INVALID_CONFIG: { kind: 'bad-input', means: 'an option or OPTINFER_* variable is wrong' },
  INVALID_ACCOUNT: { kind: 'bad-input', means: 'account data on chain is not the account expected' },
  EXECUTION_FAILED: { kind: 'bad-input', means: 'onnxruntime failed to run the model on these inputs' },
  UNDECIDABLE_INPUT: {
    kind: 'bad-input',
    means:
      "inputs on which an exact-mode layer's result depends on the hardware (a NaN into DynamicQuantizeLinear)",
  },
  PAYLOAD_TOO_LARGE: { kind: 'bad-input', status: 413, means: 'a body or bus message over its size limit' },
  UNSUPPORTED_MEDIA_TYPE: { kind: 'bad-input', status: 415, means: 'an HTTP body of the wrong Content-Type' },
  UNAUTHORIZED: {
    kind: 'bad-input',
    status: 401,
    means: 'an API key is required and was missing or unknown',
  },
  PAYMENT_REQUIRED: {
    kind: 'bad-input',
    status: 402,
    means: "a job's fee is not covered: no voucher, or the user's deposit is short of it",
  },
  TRANSACTION_TOO_LARGE: { kind: 'bad-input', means: 'instruction data or a transaction over Solana limits' },
  NOT_FOUND: { kind: 'not-found', means: 'an unknown model, job, batch, file or route' },
  SETTLEMENT_CONFLICT: { kind: 'conflict', means: 'the chain holds a different batch root at that index' },
  CONSUMER_CONFLICT: { kind: 'conflict', means: 'a durable stream or consumer clashes with an existing one' },
  TRANSACTION_FAILED: {
    kind: 'conflict',
    means: 'the cluster refused a transaction without a program error',
  },
  UNAVAILABLE: {
    kind: 'unavailable',
    means: 'the sequencer or cluster cannot be reached, or is shutting down',
  },
  STORE_UNAVAILABLE: { kind: 'unavailable', means: 'the database cannot be opened (often: in use)' },
  TRANSACTION_RETRIES_EXHAUSTED: { kind: 'unavailable', means: 'a transaction was not confirmed in time' },
  CONNECT: { kind: 'unavailable', means: 'the bus server cannot be reached or has no JetStream' },
  CLOSED: { kind: 'unavailable', means: 'the bus was closed' },
  TIMEOUT: { kind: 'unavailable', means: 'a bus request or durable send was not answered in time' },
  NO_RESPONDERS: { kind: 'unavailable', means: 'a bus request found no subscriber' },
  RATE_LIMITED: { kind: 'unavailable', status: 429, means: "over the API key's (or address's) request rate" },
  INTERNAL: { kind: 'internal', means: 'a broken invariant; see the node log' },
  STORE_CORRUPT: { kind: 'internal', means: 'stored state contradicts itself' },
  NONDETERMINISTIC: { kind: 'internal', means: 'the tracing run and the plain run disagree' },
  REMOTE: { kind: 'internal', means: 'the other side failed without a code of ours' },
  INVALID_MESSAGE: { kind: 'internal', means: 'a bus message that is not plain JSON plus bytes' },
  INVALID_SUBJECT: { kind: 'internal', means: 'a malformed bus subject or durable name' },
  NOT_DURABLE: { kind: 'internal', means: 'a durable send or consume on a subject no stream captures' },
  TIME_LIMIT: { kind: 'bad-input', means: "a model run took longer than the executor's time limit" },
  MEMORY_LIMIT: { kind: 'bad-input', means: "a model run used more memory than the executor's limit" },
} as const satisfies Record<string, CodeInfo>;

/**
 * Families of codes named after the failure the cluster reports: `PROGRAM_<NAME>` for a program,
 * anchor, system or runtime error (settlement/errors.ts), `TRANSACTION_<NAME>` for a
 * transaction-level one (BlockhashNotFound ...). Fixed codes take precedence over a family.
 */
export const CODE_FAMILIES = {
  PROGRAM_: { kind: 'conflict', means: 'the program refused the instruction (the chain state says no)' },
  TRANSACTION_: { kind: 'conflict', means: 'the cluster refused the transaction' },
} as const satisfies Record<string, CodeInfo>;

export type FixedErrorCode = keyof typeof CODES;
export type OptinferErrorCode = FixedErrorCode | `PROGRAM_${string}` | `TRANSACTION_${string}`;

export function isOptinferErrorCode(s: unknown): s is OptinferErrorCode {
  return (
    typeof s === 'string' &&
    (Object.hasOwn(CODES, s) ||
      Object.keys(CODE_FAMILIES).some((p) => s.startsWith(p) && s.length > p.length))
  );
}

function infoOf(code: OptinferErrorCode): CodeInfo {
  if (Object.hasOwn(CODES, code)) return CODES[code as FixedErrorCode];
  const family = Object.entries(CODE_FAMILIES).find(([p]) => code.startsWith(p));
  // The type admits nothing else; a code forged past it (e.g. from the wire) is ours to explain.
  return family ? family[1] : CODES.INTERNAL;
}

export function errorKind(code: OptinferErrorCode): ErrorKind {
  return infoOf(code).kind;
}

const STATUS_OF_KIND: Record<ErrorKind, number> = {
  'bad-input': 400,
  'not-found': 404,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

/** The HTTP status of an error with this code: the kind's, or the code's finer one (401, 402, 413, 415, 429). */
export function httpStatus(code: OptinferErrorCode): number {
  const info = infoOf(code);
  return info.status ?? STATUS_OF_KIND[info.kind];
}

/** True when the user can fix the call: bad input, an unknown id, a clash with the chain's state. */
export function isUserError(code: OptinferErrorCode): boolean {
  const kind = errorKind(code);
  return kind === 'bad-input' || kind === 'not-found' || kind === 'conflict';
}

/** Exit code for a user error; every command shares it. */
export const EXIT_USER_ERROR = 2;

/**
 * The CLI exit code of an error with this code: 2 when the user can fix the call, else `failure`
 * (1 for most commands; trace and verify use 3 because their 1 means "refuted").
 */
export function exitCode(code: OptinferErrorCode, failure = 1): number {
  return isUserError(code) ? EXIT_USER_ERROR : failure;
}

/** The one error class of optinfer: a stable code, a short message naming what was wrong and what was expected. */
export class OptinferError extends Error {
  readonly code: OptinferErrorCode;
  readonly details?: unknown;

  constructor(code: OptinferErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OptinferError';
    this.code = code;
    this.details = details;
  }

  get kind(): ErrorKind {
    return errorKind(this.code);
  }

  toJSON(): { code: OptinferErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isOptinferError(e: unknown, code?: OptinferErrorCode): e is OptinferError {
  return e instanceof OptinferError && (code === undefined || e.code === code);
}
