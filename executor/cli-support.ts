// Shared plumbing of the trace and verify commands: reading files, JSON output, one-line errors and exit codes.
import { readFile } from 'node:fs/promises';
import { EXIT_USER_ERROR, isOptinferError, isUserError, OptinferError } from '../state/errors.ts';
import { parseInputsJson } from '../state/tensor-json.ts';
import type { Tensor } from '../state/tensor.ts';

/** Exit code of trace and verify for a failure the user cannot fix: 1 already means "refuted". */
const EXIT_FAILURE = 3;

export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new OptinferError(
      'INVALID_INPUT',
      `${what} '${path}': ${code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? (e as Error).message})`}`,
    );
  }
}

export function parseJsonText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new OptinferError(
      'INVALID_INPUT',
      `${what}: expected valid JSON, got a syntax error (${(e as Error).message})`,
    );
  }
}

export async function readInputsFile(path: string): Promise<Record<string, Tensor>> {
  return parseInputsJson(await readTextFile(path, 'input file'), `input file '${path}'`);
}

export function requireOption(value: unknown, flag: string, command: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new OptinferError('INVALID_INPUT', `${command}: missing required option ${flag}`);
  }
  return value;
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}

/** Prints one line on stderr (never a stack) and returns the exit code: 2 for bad usage or input, 3 otherwise. */
export function reportError(e: unknown, command: string): number {
  const message = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
  if (isOptinferError(e) && isUserError(e.code)) {
    process.stderr.write(`optinfer ${command}: ${message}\n`);
    return EXIT_USER_ERROR;
  }
  const code = isOptinferError(e) ? e.code : 'INTERNAL';
  process.stderr.write(`optinfer ${command}: internal error (${code}): ${message}\n`);
  return EXIT_FAILURE;
}
