// Protocol vocabulary: ids are checked where they cross a boundary, and one kind of id never passes for another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOptinferError } from './errors.ts';
import { asHash32, asJobId, asModelId, type Hash32, type JobId, type ModelId } from './types.ts';

const HEX = 'ab'.repeat(32);

test('asModelId and asJobId accept 64 lowercase hex characters and name what was wrong otherwise', () => {
  assert.equal(asModelId(HEX), HEX);
  assert.equal(asJobId(HEX), HEX);
  assert.throws(
    () => asModelId('AB'.repeat(32), 'model id'),
    (e: unknown) =>
      isOptinferError(e, 'INVALID_HASH') &&
      /^model id: expected 64 lowercase hex/.test(`${(e as Error).message}`),
  );
  assert.throws(
    () => asJobId(42),
    (e: unknown) =>
      isOptinferError(e, 'INVALID_HASH') && /jobId: .*number 42/.test(`${(e as Error).message}`),
  );
});

test('brands: a JobId is not a ModelId, a bare Hash32 is neither, both are Hash32s (checked by tsc)', () => {
  const job: JobId = asJobId(HEX);
  const model: ModelId = asModelId(HEX);
  const plain: Hash32 = asHash32(HEX);
  // @ts-expect-error a job id must not pass for a model id
  const wrong1: ModelId = job;
  // @ts-expect-error a model id must not pass for a job id
  const wrong2: JobId = model;
  // @ts-expect-error an unchecked hash is no model id
  const wrong3: ModelId = plain;
  const widened: Hash32[] = [job, model];
  assert.deepEqual([wrong1, wrong2, wrong3, ...widened], [HEX, HEX, HEX, HEX, HEX]);
});
