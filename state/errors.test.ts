// The error vocabulary: every code has a kind, statuses and exit codes follow the kind, README lists the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CODES,
  CODE_FAMILIES,
  ERROR_KINDS,
  OptinferError,
  errorKind,
  exitCode,
  httpStatus,
  isOptinferError,
  isOptinferErrorCode,
  isUserError,
  type ErrorKind,
  type FixedErrorCode,
  type OptinferErrorCode,
} from './errors.ts';
import { BusError, type BusErrorCode } from '../bus/bus.ts';
import { programErrorCode } from '../settlement/errors.ts';

const FIXED = Object.keys(CODES) as FixedErrorCode[];

test('every fixed code and every family has one of the five kinds and says when it is thrown', () => {
  for (const [code, info] of [...Object.entries(CODES), ...Object.entries(CODE_FAMILIES)]) {
    assert.ok(ERROR_KINDS.includes(info.kind), `${code}: kind ${info.kind}`);
    assert.ok(info.means.length > 0, `${code}: no description`);
    assert.match(code, /^[A-Z][A-Z_]*$/, code);
  }
});

test('family codes take the family kind; a fixed code wins over a family prefix', () => {
  assert.equal(errorKind(programErrorCode('BadBatchIndex')), 'conflict');
  assert.equal(programErrorCode('BadBatchIndex'), 'PROGRAM_BAD_BATCH_INDEX');
  assert.equal(errorKind('TRANSACTION_BLOCKHASH_NOT_FOUND'), 'conflict');
  assert.equal(errorKind('TRANSACTION_TOO_LARGE'), 'bad-input');
  assert.equal(errorKind('TRANSACTION_RETRIES_EXHAUSTED'), 'unavailable');
});

test('isOptinferErrorCode accepts the table and the families, nothing else', () => {
  for (const c of FIXED) assert.ok(isOptinferErrorCode(c), c);
  assert.ok(isOptinferErrorCode('PROGRAM_CLOCK_EXPIRED'));
  assert.ok(isOptinferErrorCode('TRANSACTION_ACCOUNT_IN_USE'));
  for (const c of [
    'PROGRAM_',
    'TRANSACTION_',
    'FST_ERR_CTP_BODY_TOO_LARGE',
    'not_found',
    '',
    42,
    undefined,
  ]) {
    assert.ok(!isOptinferErrorCode(c), String(c));
  }
});

test('HTTP status by kind: 400, 404, 409, 503, 500; only the size, media-type, key, payment and rate codes refine theirs', () => {
  const byKind: Record<ErrorKind, number> = {
    'bad-input': 400,
    'not-found': 404,
    conflict: 409,
    unavailable: 503,
    internal: 500,
  };
  const refined: Partial<Record<FixedErrorCode, number>> = {
    PAYLOAD_TOO_LARGE: 413,
    UNSUPPORTED_MEDIA_TYPE: 415,
    UNAUTHORIZED: 401,
    PAYMENT_REQUIRED: 402,
    RATE_LIMITED: 429,
  };
  for (const c of FIXED) assert.equal(httpStatus(c), refined[c] ?? byKind[errorKind(c)], c);
  assert.equal(httpStatus('PROGRAM_CLOCK_EXPIRED'), 409);
  // The statuses the HTTP API answered before the table existed.
  assert.equal(httpStatus('INVALID_INPUT'), 400);
  assert.equal(httpStatus('INVALID_MODEL'), 400);
  assert.equal(httpStatus('INVALID_HASH'), 400);
  assert.equal(httpStatus('INVALID_BATCH_INDEX'), 400);
  assert.equal(httpStatus('UNPROVABLE_MODEL'), 400);
  assert.equal(httpStatus('NOT_FOUND'), 404);
  assert.equal(httpStatus('UNAVAILABLE'), 503);
  assert.equal(httpStatus('INTERNAL'), 500);
});

test('CLI exit code by kind: 2 for what the user can fix, the failure code (1, or 3) otherwise', () => {
  for (const c of FIXED) {
    const user = ['bad-input', 'not-found', 'conflict'].includes(errorKind(c));
    assert.equal(isUserError(c), user, c);
    assert.equal(exitCode(c), user ? 2 : 1, c);
    assert.equal(exitCode(c, 3), user ? 2 : 3, c);
  }
  // UNAVAILABLE used to exit 2 from the CLI as if the user had erred.
  assert.equal(exitCode('UNAVAILABLE'), 1);
  assert.equal(exitCode('UNAVAILABLE', 3), 3);
  assert.equal(exitCode('INVALID_INPUT'), 2);
  assert.equal(exitCode('PROGRAM_BAD_BATCH_INDEX'), 2);
});

test('BusError is an OptinferError with its own name, code, kind and cause', () => {
  // A Record keyed by the type makes the compiler list every bus code here.
  const busCodes: Record<BusErrorCode, true> = {
    CONNECT: true,
    CLOSED: true,
    TIMEOUT: true,
    NO_RESPONDERS: true,
    REMOTE: true,
    PAYLOAD_TOO_LARGE: true,
    INVALID_MESSAGE: true,
    INVALID_SUBJECT: true,
    NOT_DURABLE: true,
    CONSUMER_CONFLICT: true,
  };
  for (const code of Object.keys(busCodes) as BusErrorCode[]) assert.ok(Object.hasOwn(CODES, code), code);

  const cause = new Error('socket closed');
  const e = new BusError('TIMEOUT', 'request on x got no reply within 5 ms', { cause });
  assert.ok(e instanceof BusError);
  assert.ok(e instanceof OptinferError);
  assert.ok(isOptinferError(e, 'TIMEOUT'));
  assert.equal(e.name, 'BusError');
  assert.equal(e.code, 'TIMEOUT');
  assert.equal(e.kind, 'unavailable');
  assert.equal(e.message, 'request on x got no reply within 5 ms');
  assert.equal(e.cause, cause);
  assert.deepEqual(e.toJSON(), { code: 'TIMEOUT', message: 'request on x got no reply within 5 ms' });
  assert.equal(exitCode(new BusError('CLOSED', 'the bus is closed').code), 1);
});

test('OptinferError keeps code, message, details and cause', () => {
  const cause = new Error('low level');
  const e = new OptinferError('INVALID_INPUT', 'x: expected 1, got 2', { at: 'x' }, { cause });
  assert.equal(e.name, 'OptinferError');
  assert.equal(e.kind, 'bad-input');
  assert.equal(e.cause, cause);
  assert.deepEqual(e.toJSON(), {
    code: 'INVALID_INPUT',
    message: 'x: expected 1, got 2',
    details: { at: 'x' },
  });
  assert.ok(!isOptinferError(e, 'NOT_FOUND'));
});

test("README's Errors section lists exactly the table, with each kind's status and exit code", () => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Errors\n'));
  const body = section.slice(0, section.indexOf('\n## ', 1));
  assert.ok(body.length > 0, 'README has no "## Errors" section');
  const label = (k: ErrorKind) => k.replace('-', ' ');
  const listed = new Map<string, ErrorKind>();
  for (const kind of ERROR_KINDS) {
    const start = body.indexOf(`- **${label(kind)}**`);
    assert.ok(start >= 0, `README lists no ${label(kind)} codes`);
    const end = body.indexOf('\n- **', start + 1);
    const bullet = body.slice(start, end < 0 ? undefined : end);
    assert.match(
      bullet,
      new RegExp(`HTTP ${httpStatus(sample(kind))}, exit ${exitCode(sample(kind))}:`),
      kind,
    );
    for (const [, code] of bullet.matchAll(/`([A-Z][A-Z_]*[A-Z](?:_<NAME>)?)`/g)) {
      if (code === 'TRANSACTION_BLOCKHASH_NOT_FOUND') continue; // an example of a family
      listed.set(code.replace(/<NAME>$/, ''), kind);
    }
  }
  const table = new Map<string, ErrorKind>(
    [...Object.entries(CODES), ...Object.entries(CODE_FAMILIES)].map(([c, info]) => [c, info.kind]),
  );
  assert.deepEqual(new Map([...listed].sort()), new Map([...table].sort()));
});

function sample(kind: ErrorKind): OptinferErrorCode {
  return FIXED.find((c) => errorKind(c) === kind && !('status' in CODES[c]))!;
}
