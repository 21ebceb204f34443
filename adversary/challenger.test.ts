// The dishonest challenger policy: a false alarm contests every audit and defends a trace with its last layer changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HONEST_CHALLENGER } from '../challenger/policy.ts';
import type { Tensor } from '../state/tensor.ts';
import type { JobId } from '../state/types.ts';
import { challengerPolicy, FALSE_ALARM, SQUATTER } from './challenger.ts';

const jobId = '00'.repeat(32) as JobId;
const t = (b: number[]): Tensor => ({ dtype: 'uint8', dims: [b.length], data: Uint8Array.from(b) });

test('--cheat none (or none given) is the honest challenger; false-alarm is the adversary', () => {
  assert.equal(challengerPolicy(), HONEST_CHALLENGER);
  assert.equal(challengerPolicy('none'), HONEST_CHALLENGER);
  assert.equal(challengerPolicy('false-alarm'), FALSE_ALARM);
  assert.equal(challengerPolicy('squat'), SQUATTER);
});

test('the honest challenger contests only mismatches and defends its own trace unchanged', () => {
  assert.equal(HONEST_CHALLENGER.contests({ jobId, agree: true }), false);
  assert.equal(HONEST_CHALLENGER.contests({ jobId, agree: false }), true);
  const layers = [t([1]), t([2])];
  assert.equal(HONEST_CHALLENGER.defend(layers), layers);
});

test('a false alarm contests agreeing jobs too and flips one bit of the last layer only', () => {
  assert.equal(FALSE_ALARM.contests({ jobId, agree: true }), true);
  const layers = [t([1, 1]), t([2, 2]), t([6, 7])];
  const defended = FALSE_ALARM.defend(layers);
  assert.deepEqual(
    defended.map((x) => [...x.data]),
    [
      [1, 1],
      [2, 2],
      [7, 7],
    ],
  );
  assert.equal(defended[0], layers[0]);
  assert.equal(layers[2].data[0], 6, 'its own trace is left as it was');
});

test('a squatter contests the wrong jobs an honest audit finds, then abandons its game', () => {
  assert.equal(SQUATTER.contests({ jobId, agree: false }), true);
  assert.equal(SQUATTER.contests({ jobId, agree: true }), false);
  assert.equal(SQUATTER.abandons, true);
  assert.equal(HONEST_CHALLENGER.abandons ?? false, false);
});
