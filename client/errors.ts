// Errors of the client library: the API's own codes (state/errors.ts), with the HTTP status and the URL called.
import { OptinferError, isOptinferErrorCode, type OptinferErrorCode } from '../state/errors.ts';

export { OptinferError, type OptinferErrorCode };

/**
 * A call the node refused (`status` set, `code` from its `{"error": {code, message}}` body) or could not make
 * (`status` undefined, code UNAVAILABLE). An OptinferError, so `err.code` and `err.kind` read as everywhere else.
 */
export class OptinferApiError extends OptinferError {
  /** The HTTP status; undefined when the node was not reached. */
  readonly status?: number;
  /** Method and URL of the call. */
  readonly request: string;

  constructor(
    code: OptinferErrorCode,
    message: string,
    o: { status?: number; request: string; details?: unknown; cause?: unknown },
  ) {
    super(code, message, o.details, { cause: o.cause });
    this.name = 'OptinferApiError';
    this.status = o.status;
    this.request = o.request;
  }
}

/** The error of a refused call: its body's code when it is one of ours, REMOTE otherwise. */
export function apiErrorOf(status: number, body: unknown, request: string): OptinferApiError {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code: OptinferErrorCode = isOptinferErrorCode(err?.code) ? err.code : 'REMOTE';
  const message =
    typeof err?.message === 'string'
      ? err.message
      : `HTTP ${status}${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}`;
  return new OptinferApiError(code, message, { status, request });
}

export function isOptinferApiError(e: unknown, code?: OptinferErrorCode): e is OptinferApiError {
  return e instanceof OptinferApiError && (code === undefined || e.code === code);
}
