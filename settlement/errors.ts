// Maps program failures to OptinferError: custom codes through the IDL's errors (Anchor v2 logs no
// AnchorError line), Anchor's own constraint codes, and runtime instruction errors.
import { PublicKey } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { IDL, PROGRAM_ID } from './idl.ts';

/** Codes anchor-lang v2 itself returns as ProgramError::Custom (programs/anchor-lang/src/lib.rs). */
export const ANCHOR_ERRORS: Readonly<Record<number, string>> = {
  2000: 'ConstraintMut',
  2001: 'ConstraintHasOne',
  2003: 'ConstraintRaw',
  2005: 'ConstraintRentExempt',
  2007: 'ConstraintExecutable',
  2011: 'ConstraintClose',
  2012: 'ConstraintAddress',
  2013: 'ConstraintZero',
  2019: 'ConstraintSpace',
  2020: 'ConstraintAccountIsNone',
  2040: 'ConstraintDuplicateMutableAccount',
  2500: 'RequireViolated',
  2501: 'RequireEqViolated',
  2502: 'RequireKeysEqViolated',
  2503: 'RequireNeqViolated',
  2504: 'RequireKeysNeqViolated',
  2505: 'RequireGtViolated',
  2506: 'RequireGteViolated',
};

/** 'BadBatchIndex' -> 'BAD_BATCH_INDEX'. */
export const upperSnake = (name: string) =>
  name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z])([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();

/** The code an OptinferError from the program error `name` carries: `PROGRAM_<UPPER_SNAKE_NAME>` (kind conflict). */
export const programErrorCode = (name: string): `PROGRAM_${string}` => `PROGRAM_${upperSnake(name)}`;

const BY_CODE = new Map(IDL.errors.map((e) => [e.code, e]));

export interface ProgramErrorDetails {
  /**
   * 'program': an IDL error; 'anchor': an anchor-lang constraint; 'system': the system program in a
   * CPI (e.g. AccountAlreadyInUse when creating an existing PDA); 'runtime': an InstructionError;
   * 'transaction': a transaction-level error.
   */
  source: 'program' | 'anchor' | 'system' | 'runtime' | 'transaction';
  /** The IDL / anchor / runtime error name. */
  name: string;
  /** Custom error code, when there is one. */
  customCode?: number;
  /** Index of the failing instruction in the transaction, when known. */
  instruction?: number;
  logs?: string[];
}

/** The error for a custom error code returned by the program. */
export function errorForCustomCode(code: number, extra: Partial<ProgramErrorDetails> = {}): OptinferError {
  const idl = BY_CODE.get(code);
  if (idl) {
    return new OptinferError(programErrorCode(idl.name), idl.msg ?? idl.name, {
      ...extra,
      source: 'program',
      name: idl.name,
      customCode: code,
    } satisfies ProgramErrorDetails);
  }
  const anchor = ANCHOR_ERRORS[code];
  const name = anchor ?? `Custom${code}`;
  return new OptinferError(programErrorCode(name), `program error ${name} (custom code ${code})`, {
    ...extra,
    source: anchor ? 'anchor' : 'program',
    name,
    customCode: code,
  } satisfies ProgramErrorDetails);
}

/** System program errors (solana-system-interface SystemError), returned from a CPI the program made. */
export const SYSTEM_ERRORS: readonly string[] = [
  'AccountAlreadyInUse',
  'ResultWithNegativeLamports',
  'InvalidProgramId',
  'InvalidAccountDataLength',
  'MaxSeedLengthExceeded',
  'AddressWithSeedMismatch',
  'NonceNoRecentBlockhashes',
  'NonceBlockhashNotExpired',
  'NonceUnexpectedBlockhashValue',
];
export const SYSTEM_PROGRAM_ID = '11111111111111111111111111111111';

/**
 * The custom error code in the logs and the program that raised it: the first
 * `Program <id> failed: custom program error: 0x..` line is the innermost failing program.
 */
export function customErrorFromLogs(
  logs: readonly string[],
): { code: number; program: string | null } | null {
  for (const l of logs) {
    const m = l.match(/^Program (\S+) failed: custom program error: 0x([0-9a-fA-F]+)/);
    if (m) return { code: parseInt(m[2], 16), program: m[1] };
  }
  for (const l of logs) {
    const n = l.match(/custom program error: 0x([0-9a-fA-F]+)/);
    if (n) return { code: parseInt(n[1], 16), program: null };
  }
  return null;
}

/** The error for custom code `code`, given which program raised it (from the logs, when known). */
function errorForCustom(code: number, program: string | null, extra: Partial<ProgramErrorDetails>) {
  if (program === SYSTEM_PROGRAM_ID && SYSTEM_ERRORS[code]) {
    const name = SYSTEM_ERRORS[code];
    return new OptinferError(programErrorCode(name), `system program: ${name}`, {
      ...extra,
      source: 'system',
      name,
      customCode: code,
    } satisfies ProgramErrorDetails);
  }
  return errorForCustomCode(code, extra);
}

/**
 * Maps a transaction error, as JSON-RPC reports it (`{InstructionError: [i, {Custom: n}]}`,
 * `{InstructionError: [i, 'InvalidSeeds']}`, `'BlockhashNotFound'` ...), together with the
 * transaction's logs, to an OptinferError. Returns null when there is no error.
 */
export function mapTransactionError(
  err: unknown,
  logs: readonly string[] = [],
  programId: PublicKey = PROGRAM_ID,
): OptinferError | null {
  const fromLogs = customErrorFromLogs(logs);
  if (err === null || err === undefined) {
    return fromLogs === null ? null : errorForCustom(fromLogs.code, fromLogs.program, { logs: [...logs] });
  }
  const base = { logs: [...logs] };
  if (typeof err === 'object' && err !== null && 'InstructionError' in err) {
    const [instruction, inner] = (err as { InstructionError: [number, unknown] }).InstructionError;
    if (typeof inner === 'object' && inner !== null && 'Custom' in inner) {
      const code = Number((inner as { Custom: number }).Custom);
      const program = fromLogs?.code === code ? fromLogs.program : programId.toBase58();
      return errorForCustom(code, program, { ...base, instruction });
    }
    const name = typeof inner === 'string' ? inner : (Object.keys(inner as object)[0] ?? 'Unknown');
    return new OptinferError(programErrorCode(name), `instruction ${instruction} failed: ${name}`, {
      ...base,
      source: 'runtime',
      name,
      instruction,
    } satisfies ProgramErrorDetails);
  }
  const name = typeof err === 'string' ? err : (Object.keys(err as object)[0] ?? 'Unknown');
  const code: `TRANSACTION_${string}` = `TRANSACTION_${upperSnake(name)}`;
  return new OptinferError(code, `transaction failed: ${name}`, {
    ...base,
    source: 'transaction',
    name,
  } satisfies ProgramErrorDetails);
}

/**
 * Maps whatever a send threw (web3.js SendTransactionError with logs, an Error whose message
 * carries `custom program error: 0x..`) to an OptinferError, or null if it carries no program error.
 */
export function mapThrownError(e: unknown): OptinferError | null {
  if (e instanceof OptinferError) return e;
  const logs: string[] = Array.isArray((e as { logs?: unknown })?.logs)
    ? ((e as { logs: string[] }).logs as string[])
    : [];
  const fromLogs = customErrorFromLogs(logs);
  if (fromLogs !== null) return errorForCustom(fromLogs.code, fromLogs.program, { logs });
  const msg = e instanceof Error ? e.message : String(e);
  const m = msg.match(/custom program error: 0x([0-9a-fA-F]+)/);
  if (m) return errorForCustomCode(parseInt(m[1], 16), { logs });
  const ix = msg.match(/Error processing Instruction (\d+): (.+?)(?:\.|\n|$)/);
  if (ix) {
    const name = ix[2].trim().replace(/(?:^|\s+)(\w)/g, (_, c: string) => c.toUpperCase());
    return new OptinferError(programErrorCode(name), `instruction ${ix[1]} failed: ${ix[2]}`, {
      source: 'runtime',
      name,
      instruction: Number(ix[1]),
      logs,
    } satisfies ProgramErrorDetails);
  }
  return null;
}
