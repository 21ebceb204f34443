// The one error class of optinfer: a stable code, a short message naming what was wrong and what was expected.

/**
 * Codes are stable strings; callers (HTTP, CLI) map them to statuses and exit codes.
 * Codes used across the project: INVALID_INPUT, INVALID_MODEL, UNPROVABLE_MODEL, INVALID_HASH,
 * INVALID_EXECUTOR_ID, INVALID_BATCH_INDEX, INVALID_LAYER_INDEX, INVALID_CHUNK_INDEX, INVALID_PROOF,
 * NOT_FOUND, PAYLOAD_TOO_LARGE, INVALID_CONFIG, STORE_CORRUPT, INTERNAL.
 */
export class OptinferError extends Error {
  readonly code: string;
  readonly details?: unknown;

  constructor(code: string, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OptinferError';
    this.code = code;
    this.details = details;
  }

  toJSON(): { code: string; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isOptinferError(e: unknown, code?: string): e is OptinferError {
  return e instanceof OptinferError && (code === undefined || e.code === code);
}
